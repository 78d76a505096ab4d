"""One settings object for every command.

Precedence, highest first: command-line flag > environment variable > default.

| setting | flag | environment variable | default |
|---|---|---|---|
| model | `--model` | `RLGPT_MODEL` | `rlgpt models default`, else `rlgpt/offline` (the built-in offline planner) |
| world | `--world` (alias `--env`) | `RLGPT_WORLD` (alias `RLGPT_ENV`) | `crafter` |
| home | – | `RLGPT_HOME` | the platform's user data dir for `rlgpt` |
| library | `--library` | `RLGPT_LIBRARY` | `<home>/library` |
| seed | `--seed` | `RLGPT_SEED` | `0` |
| timeout | `--timeout` | `RLGPT_TIMEOUT` | `60` seconds per model request |
| retries | `--retries` | `RLGPT_RETRIES` | `3` retries after a transient model fault |
| num_ctx | `--num-ctx` | `RLGPT_NUM_CTX` | the server's (Ollama models only) |
| executor | `--executor` | `RLGPT_EXECUTOR` | `local` (worker processes here; `ray`: Ray actors) |
| workers | `--workers` | `RLGPT_WORKERS` | the number of cores |
| ray_address | `--ray-address` | `RLGPT_RAY_ADDRESS` | none: a local Ray that rlgpt starts |

A model name may be an alias (`rlgpt models alias NAME MODEL`), kept with the default
model in `<home>/models.json`.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from rlgpt_cli.errors import UsageError, nearest
from rlgpt_cli.seeds import MAX_SEED

OFFLINE_MODEL = "rlgpt/offline"
DEFAULT_WORLD = "crafter"
# Model names that take Ollama's context size (litellm's ``num_ctx``).
OLLAMA_PREFIXES = ("ollama/", "ollama_chat/")
# Accepted ranges of the model options: (low, high), both included. Anything outside is a
# typo (seconds for minutes, tokens for thousands), refused before any work starts.
LIMITS = {"timeout": (1, 3600), "retries": (0, 10), "num_ctx": (256, 1_048_576), "workers": (1, 1024),
          # Commands' numeric options, refused at parse time past these (ids: SQLite's integers).
          "id": (1, 2**63 - 1), "version": (1, 1_000_000), "steps": (1, 1_000_000_000),
          "episode_steps": (1, 10_000_000), "calls": (1, 1_000_000), "cost": (0, 1_000_000),
          "num_envs": (1, 1_000_000), "limit": (1, 1_000_000)}

# Providers litellm reads a key (or, for Ollama, a server address) for from the environment:
# (provider, variable, an example model name).
PROVIDERS = [
    ("openai", "OPENAI_API_KEY", "openai/gpt-4o"),
    ("anthropic", "ANTHROPIC_API_KEY", "anthropic/claude-3-5-sonnet-latest"),
    ("gemini", "GEMINI_API_KEY", "gemini/gemini-1.5-pro"),
    ("mistral", "MISTRAL_API_KEY", "mistral/mistral-large-latest"),
    ("groq", "GROQ_API_KEY", "groq/llama-3.1-70b-versatile"),
    ("deepseek", "DEEPSEEK_API_KEY", "deepseek/deepseek-chat"),
    ("openrouter", "OPENROUTER_API_KEY", "openrouter/openai/gpt-4o"),
    ("together_ai", "TOGETHERAI_API_KEY", "together_ai/deepseek-ai/DeepSeek-V3"),
    ("azure", "AZURE_API_KEY", "azure/DEPLOYMENT"),
    ("ollama", "OLLAMA_API_BASE", "ollama_chat/llama3.1"),
]
MODELS_FILE = "models.json"
# Where worker processes run (rlgpt_cli.workers): processes on this machine, or Ray actors.
EXECUTORS = ("local", "ray")
# A model is "provider/name" (litellm's form); an alias is one word, so it never reads as a model.
_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9_.:@+/-]+")
_ALIAS_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")


def default_home() -> Path:
    """The platform's per-user data directory (XDG on Linux)."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("rlgpt", appauthor=False))


def default_workers() -> int:
    """The cores this process may run on: the default number of worker processes."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


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


def check_model_name(name: str, source: str | None = None, aliases=()) -> str:
    if len(name) > 200 or not _MODEL_NAME.fullmatch(name):
        if "/" not in name and (close := nearest(name, aliases)):
            raise UsageError(f"no model alias {name!r}{close}")
        where = {None: "", "flag": " (--model)", "models default": f" (the default in {MODELS_FILE})"}.get(
            source, f" ({source})")
        raise UsageError(f"not a model name or alias{where}: {name!r}; give provider/model, e.g. openai/gpt-4o "
                         f"(`rlgpt models list` shows providers and aliases)")
    return name


def check_alias_name(name: str) -> str:
    if not _ALIAS_NAME.fullmatch(name):
        raise UsageError(f"not an alias name: {name!r}; use a letter, then letters, digits, '.', '_' or '-' "
                         "(no '/': aliases must not read as provider/model names)")
    return name


def usable_dir(path: Path, what: str) -> Path:
    """``path`` as a folder rlgpt can write in (made if missing), else a UsageError naming
    ``what`` (``RLGPT_HOME``, ``--record``'s folder): one line before any work starts."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        import tempfile

        with tempfile.TemporaryFile(dir=path):  # writing is what is needed; os.access says yes to root
            pass
    except OSError as exc:
        why = "a file is in its place" if path.is_file() else exc.strerror
        raise UsageError(f"{what} {path} is not a writable folder ({why})") from None
    return path


def read_models(home: Path) -> dict:
    """The stored default model and aliases: ``{"default": str | None, "aliases": {name: model}}``."""
    path = home / MODELS_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {"default": None, "aliases": {}}
    except NotADirectoryError:  # RLGPT_HOME, or a folder above it, is a file
        raise UsageError(f"RLGPT_HOME {home} is not a folder (a file is in its place or on its path)") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path} is unreadable ({exc}); fix it or delete it") from None
    if not (isinstance(data, dict) and isinstance(data.get("aliases", {}), dict)):
        raise UsageError(f"{path} is not a models file (an object with default and aliases); fix it or delete it")
    return {"default": data.get("default"), "aliases": dict(data.get("aliases", {}))}


def write_models(home: Path, data: dict) -> Path:
    """Save ``data`` (as ``read_models`` returns it), atomically: a crash leaves the old file."""
    from rlgpt_cli.atomic import atomic_write

    path = usable_dir(home, "RLGPT_HOME") / MODELS_FILE
    text = json.dumps({"default": data["default"], "aliases": dict(sorted(data["aliases"].items()))}, indent=2)
    atomic_write(path, (text + "\n").encode())
    return path


@dataclass
class Settings:
    model: str = OFFLINE_MODEL  # a model name; an alias given is resolved to its model
    world: str = DEFAULT_WORLD  # the registered world tasks run in (not a gymnasium env)
    home: Path = field(default_factory=default_home)
    library: Path | None = None
    seed: int = 0
    timeout: float = 60.0  # seconds per model request
    retries: int = 3  # attempts after the first on transient model faults
    num_ctx: int | None = None  # Ollama's context size; None: the server's default
    executor: str = "local"  # where worker processes run (rlgpt_cli.workers.EXECUTORS)
    workers: int = 1  # worker processes (resolve: the number of cores)
    ray_address: str | None = None  # an existing Ray cluster; None: a local Ray for --executor ray
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
        executor: str | None = None,
        workers: int | None = None,
        ray_address: str | None = None,
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
        if seed is not None and seed > MAX_SEED:
            raise UsageError(f"seed must be at most {MAX_SEED} (a 32-bit number), got {seed}")
        timeout = _number("timeout", pick("timeout", timeout, "RLGPT_TIMEOUT"), sources["timeout"], float)
        retries = _number("retries", pick("retries", retries, "RLGPT_RETRIES"), sources["retries"], int)
        num_ctx = _number("num_ctx", pick("num_ctx", num_ctx, "RLGPT_NUM_CTX"), sources["num_ctx"], int)
        workers = _number("workers", pick("workers", workers, "RLGPT_WORKERS"), sources["workers"], int)
        executor = pick("executor", executor, "RLGPT_EXECUTOR") or "local"
        if executor not in EXECUTORS:
            what = "--executor" if sources["executor"] == "flag" else sources["executor"]
            raise UsageError(f"{what} must be one of {', '.join(EXECUTORS)}, got {executor!r}")
        model = pick("model", model, "RLGPT_MODEL")
        stored = read_models(home)
        if model is None and stored["default"]:
            model, sources["model"] = stored["default"], "models default"
        model = stored["aliases"].get(model, model)
        if model is not None:
            check_model_name(model, source=sources["model"], aliases=stored["aliases"])
        return cls(
            model=model or OFFLINE_MODEL,
            world=pick("world", world, "RLGPT_WORLD", "RLGPT_ENV") or DEFAULT_WORLD,
            home=home,
            library=Path(library).expanduser() if library else None,
            seed=seed if seed is not None else 0,
            timeout=timeout if timeout is not None else 60.0,
            retries=retries if retries is not None else 3,
            num_ctx=num_ctx,
            executor=executor,
            workers=workers if workers is not None else default_workers(),
            ray_address=pick("ray_address", ray_address, "RLGPT_RAY_ADDRESS"),
            sources=sources,
        )
