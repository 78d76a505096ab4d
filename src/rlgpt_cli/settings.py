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
    # Where each setting came from: "flag", an environment variable's name, or "default".
    sources: dict[str, str] = field(default_factory=dict)

    def given(self, name: str) -> bool:
        """Whether the user chose this setting (a flag or the environment), not the default."""
        return self.sources.get(name, "default") != "default"

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
        sources: dict[str, str] = {}

        def pick(name: str, flag, *env_vars: str):
            if flag is not None and flag != "":
                sources[name] = "flag"
                return flag
            for var in env_vars:
                if _env(var) is not None:
                    sources[name] = var
                    return _env(var)
            sources[name] = "default"
            return None

        home = Path(_env("RLGPT_HOME") or default_home()).expanduser()
        library = pick("library", library, "RLGPT_LIBRARY")
        seed = pick("seed", seed, "RLGPT_SEED")
        if isinstance(seed, str):
            try:
                seed = int(seed)
            except ValueError:
                raise UsageError(f"RLGPT_SEED must be an integer, got {seed!r}") from None
        if seed is not None and seed < 0:
            raise UsageError(f"seed must be a non-negative integer, got {seed}")
        return cls(
            model=pick("model", model, "RLGPT_MODEL") or OFFLINE_MODEL,
            world=pick("world", world, "RLGPT_WORLD", "RLGPT_ENV") or DEFAULT_WORLD,
            home=home,
            library=Path(library).expanduser() if library else None,
            seed=seed if seed is not None else 0,
            sources=sources,
        )
