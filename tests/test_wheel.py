"""A non-editable wheel ships skills/ and prompts/ and finds them at run time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        check=True, capture_output=True,
    )
    wheel = next(out.glob("rlgpt_cli-*.whl"))
    target = out / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True, capture_output=True,
    )
    return target


def run_from(target: Path, *args: str, env=None):
    # PYTHONPATH puts the wheel's copy ahead of the editable checkout.
    env = {**os.environ, **(env or {}), "PYTHONPATH": str(target)}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=target)


def test_wheel_finds_its_data_folders(installed_wheel):
    code = (
        "import json, rlgpt_cli, rlgpt_cli.resources as r;"
        "print(json.dumps([rlgpt_cli.__file__, str(r.builtin_skills_dir()), str(r.builtin_prompts_dir())]))"
    )
    r = run_from(installed_wheel, "-c", code)
    assert r.returncode == 0, r.stderr
    pkg, skills, prompts = json.loads(r.stdout)
    assert pkg.startswith(str(installed_wheel))
    assert skills == str(installed_wheel / "rlgpt_cli" / "data" / "skills")
    assert prompts == str(installed_wheel / "rlgpt_cli" / "data" / "prompts")
    shipped = sorted(p.name for p in (installed_wheel / "rlgpt_cli" / "data" / "prompts").iterdir())
    assert shipped == sorted(p.name for p in (ROOT / "prompts").iterdir())
    # pip byte-compiles installed .py files, so only the installed side has __pycache__
    shipped = sorted(p.name for p in (installed_wheel / "rlgpt_cli" / "data" / "skills").iterdir()
                     if p.name != "__pycache__")
    assert shipped == sorted(p.name for p in (ROOT / "skills").iterdir() if p.name != "__pycache__")


def test_wheel_cli_commands(installed_wheel, tmp_path):
    env = {"RLGPT_HOME": str(tmp_path / "home")}
    r = run_from(installed_wheel, "-m", "rlgpt_cli", "--help", env=env)
    assert r.returncode == 0 and "Usage" in r.stdout
    r = run_from(installed_wheel, "-m", "rlgpt_cli", "--json", "doctor", env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["home"] == str(tmp_path / "home")
    r = run_from(installed_wheel, "-m", "rlgpt_cli", "--json", "logs", "list", env=env)
    assert r.returncode == 0 and json.loads(r.stdout) == []
    r = run_from(installed_wheel, "-m", "rlgpt_cli", "no-such-command", env=env)
    assert r.returncode == 2 and "Traceback" not in r.stderr
