"""One settings object for every command.

Precedence, highest first: command-line flag > environment variable > default.

| setting | flag | environment variable | default |
|---|---|---|---|
| model | `--model` | `RLGPT_MODEL` | `rlgpt/offline` (the built-in offline planner) |
| world | `--world` (alias `--env`) | `RLGPT_WORLD` (alias `RLGPT_ENV`) | `crafter` |
| home | – | `RLGPT_HOME` | the platform's user data dir for `rlgpt` |
| library | `--library` | `RLGPT_LIBRARY` | `<home>/library` |
| seed | `--seed` | `RLGPT_SEED` | `0` |
| timeout | `--timeout` | `RLGPT_TIMEOUT` | `60` seconds per model request |
| retries | `--retries` | `RLGPT_RETRIES` | `3` retries after a transient model fault |
| num_ctx | `--num-ctx` | `RLGPT_NUM_CTX` | the server's (Ollama models only) |
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from rlgpt_cli.errors import UsageError

OFFLINE_MODEL = "rlgpt/offline"
DEFAULT_WORLD = "crafter"
# Model names that take Ollama's context size (litellm's ``num_ctx``).
OLLAMA_PREFIXES = ("ollama/", "ollama_chat/")
# Accepted ranges of the model options: (low, high), both included. Anything outside is a
# typo (seconds for minutes, tokens for thousands), refused before any work starts.
LIMITS = {"timeout": (1, 3600), "retries": (0, 10), "num_ctx": (256, 1_048_576)}


def default_home() -> Path:
    """The platform's per-user data directory (XDG on Linux)."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("rlgpt", appauthor=False))


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value else None


def _number(name: str, value, source: str, kind: type):
    """``value`` (a flag's, or an environment variable's text) as ``kind``, inside LIMITS."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = kind(value)
        except ValueError:
            raise UsageError(f"{source} must be {'an integer' if kind is int else 'a number'}, got {value!r}") from None
    low, high = LIMITS[name]
    if not low <= value <= high:
        what = f"--{name.replace('_', '-')}" if source == "flag" else source
        raise UsageError(f"{what} must be between {low} and {high}, got {value:g}")
    return value


@dataclass
class Settings:
    model: str = OFFLINE_MODEL
    world: str = DEFAULT_WORLD  # the registered world tasks run in (not a gymnasium env)
    home: Path = field(default_factory=default_home)
    library: Path | None = None
    seed: int = 0
    timeout: float = 60.0  # seconds per model request
    retries: int = 3  # attempts after the first on transient model faults
    num_ctx: int | None = None  # Ollama's context size; None: the server's default
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
        timeout: float | None = None,
        retries: int | None = None,
        num_ctx: int | None = None,
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
        timeout = _number("timeout", pick("timeout", timeout, "RLGPT_TIMEOUT"), sources["timeout"], float)
        retries = _number("retries", pick("retries", retries, "RLGPT_RETRIES"), sources["retries"], int)
        num_ctx = _number("num_ctx", pick("num_ctx", num_ctx, "RLGPT_NUM_CTX"), sources["num_ctx"], int)
        return cls(
            model=pick("model", model, "RLGPT_MODEL") or OFFLINE_MODEL,
            world=pick("world", world, "RLGPT_WORLD", "RLGPT_ENV") or DEFAULT_WORLD,
            home=home,
            library=Path(library).expanduser() if library else None,
            seed=seed if seed is not None else 0,
            timeout=timeout if timeout is not None else 60.0,
            retries=retries if retries is not None else 3,
            num_ctx=num_ctx,
            sources=sources,
        )
