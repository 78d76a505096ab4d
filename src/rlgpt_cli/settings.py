"""One settings object for every command.

Precedence, highest first: command-line flag > environment variable > default.

| setting | flag | environment variable | default |
|---|---|---|---|
| model | `--model` | `RLGPT_MODEL` | `rlgpt/offline` (the built-in offline planner) |
| world | `--world` (alias `--env`) | `RLGPT_WORLD` (alias `RLGPT_ENV`) | `crafter` |
| home | – | `RLGPT_HOME` | the platform's user data dir for `rlgpt` |
| library | `--library` | `RLGPT_LIBRARY` | `<home>/library` |
| seed | `--seed` | `RLGPT_SEED` | `0` |
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from rlgpt_cli.errors import UsageError

OFFLINE_MODEL = "rlgpt/offline"
DEFAULT_WORLD = "crafter"


def default_home() -> Path:
    """The platform's per-user data directory (XDG on Linux)."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("rlgpt", appauthor=False))


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value else None


@dataclass
class Settings:
    model: str = OFFLINE_MODEL
    world: str = DEFAULT_WORLD  # the registered world tasks run in (not a gymnasium env)
    home: Path = field(default_factory=default_home)
    library: Path | None = None
    seed: int = 0

    @property
    def library_path(self) -> Path:
        return self.library or self.home / "library"

    @property
    def db_path(self) -> Path:
        return self.home / "rlgpt.db"

    @property
    def runs_dir(self) -> Path:
        return self.home / "runs"

    @classmethod
    def resolve(
        cls,
        model: str | None = None,
        world: str | None = None,
        library: str | Path | None = None,
        seed: int | None = None,
    ) -> "Settings":
        """Merge flags (given here) over environment variables over defaults."""
        home = Path(_env("RLGPT_HOME") or default_home()).expanduser()
        library = library or _env("RLGPT_LIBRARY")
        if seed is None:
            raw = _env("RLGPT_SEED")
            if raw is not None:
                try:
                    seed = int(raw)
                except ValueError:
                    raise UsageError(f"RLGPT_SEED must be an integer, got {raw!r}") from None
        if seed is not None and seed < 0:
            raise UsageError(f"seed must be a non-negative integer, got {seed}")
        return cls(
            model=model or _env("RLGPT_MODEL") or OFFLINE_MODEL,
            world=world or _env("RLGPT_WORLD") or _env("RLGPT_ENV") or DEFAULT_WORLD,
            home=home,
            library=Path(library).expanduser() if library else None,
            seed=seed if seed is not None else 0,
        )
