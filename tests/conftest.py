"""Shared fixtures: every test gets its own RLGPT_HOME and no model or API settings."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    home = tmp_path / "rlgpt-home"
    monkeypatch.setenv("RLGPT_HOME", str(home))
    for var in ("RLGPT_MODEL", "RLGPT_WORLD", "RLGPT_ENV", "RLGPT_LIBRARY", "RLGPT_SEED", "RLGPT_LOAD_PLUGINS",
                "OPENAI_API_KEY", "OPENAI_API_BASE", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    return home


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    def json(self):
        import json

        return json.loads(self.stdout)


@pytest.fixture
def cli(capsys):
    """Run `rlgpt ARGS...` in-process through the real entry point (exit-code mapping included)."""
    from rlgpt_cli.cli import main

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out, err = capsys.readouterr()
        return CliResult(code, out, err)

    return run


@pytest.fixture
def rlgpt_exe():
    """The installed `rlgpt` console script of this environment."""
    exe = os.path.join(os.path.dirname(sys.executable), "rlgpt")
    assert os.path.exists(exe), "rlgpt is not installed in this environment"
    return exe


@pytest.fixture
def fresh_pm(monkeypatch):
    """A fresh plugin manager in place of the process-wide one, loading plugins anew."""
    import pluggy

    from rlgpt_cli import hookspecs, plugins

    manager = pluggy.PluginManager("rlgpt")
    manager.add_hookspecs(hookspecs)
    monkeypatch.setattr(plugins, "pm", manager)
    monkeypatch.setattr(plugins, "_loaded", False)
    return manager
