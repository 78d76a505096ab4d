"""`rlgpt doctor`: what this machine has for rlgpt."""

from __future__ import annotations

import importlib.util
import os
import platform
import shutil
import subprocess

import typer

from rlgpt_cli import __version__
from rlgpt_cli.commands import state
from rlgpt_cli.output import console, emit
from rlgpt_cli.settings import PROVIDERS

# Provider key names litellm reads; we report which are set, never their values.
API_KEY_VARS = [var for _, var, _ in PROVIDERS] + ["OPENAI_API_BASE"]


def _version_of(module: str) -> str | None:
    if importlib.util.find_spec(module) is None:
        return None
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(module)
    except PackageNotFoundError:
        return "installed"


def _java() -> dict:
    java = shutil.which("java")
    if not java:
        return {"installed": False, "version": None}
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=10)
        line = (out.stderr or out.stdout).splitlines()[0] if (out.stderr or out.stdout) else ""
    except (OSError, subprocess.TimeoutExpired):
        line = ""
    return {"installed": True, "version": line, "jdk8": '"1.8' in line}


def collect(st) -> dict:
    torch_info: dict = {"installed": False}
    if importlib.util.find_spec("torch") is not None:
        import torch

        torch_info = {
            "installed": True,
            "version": torch.__version__,
            "cuda_available": torch.cuda.is_available(),
            "cuda_devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
            "threads": torch.get_num_threads(),
        }
    s = st.settings
    from rlgpt_cli.worlds.minedojo import availability

    java = _java()
    minedojo = _version_of("minedojo")
    ready, why = availability()
    return {
        "rlgpt": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch_info,
        "crafter": _version_of("crafter"),
        "litellm": _version_of("litellm"),
        "minedojo": {
            "installed": minedojo is not None,
            "version": minedojo,
            "java": java,
            "ready": ready,
            "missing": why,
        },
        "api_keys_set": [k for k in API_KEY_VARS if os.environ.get(k)],
        "model": s.model,
        "world": s.world,
        "home": str(s.home),
        "library": str(s.library_path),
        "database": str(s.db_path),
    }


def doctor(ctx: typer.Context) -> None:
    """Report Python, torch and devices, worlds, Java, API keys (names only) and paths."""
    st = state(ctx)
    data = collect(st)

    def human(d):
        c = console()
        t = d["torch"]
        c.print(f"rlgpt {d['rlgpt']}  Python {d['python']}  ({d['platform']})")
        if t["installed"]:
            cuda = ", ".join(t["cuda_devices"]) if t["cuda_available"] else "no CUDA device"
            c.print(f"torch {t['version']}  {cuda}  threads={t['threads']}")
        else:
            c.print("torch: not installed")
        c.print(f"crafter: {d['crafter'] or 'not installed'}   litellm: {d['litellm'] or 'not installed'}")
        md = d["minedojo"]
        c.print(
            f"minedojo: {md['version'] or 'not installed'}   java: {md['java'].get('version') or 'not found'}"
            f"   ready: {'yes' if md['ready'] else 'no: ' + md['missing']}"
        )
        keys = ", ".join(d["api_keys_set"]) or "none (the offline model answers)"
        c.print(f"model: {d['model']}   API keys set: {keys}")
        c.print(f"home: {d['home']}\nlibrary: {d['library']}\ndatabase: {d['database']}")

    emit(st, data, human)


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)
