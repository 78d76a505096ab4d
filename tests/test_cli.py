"""The CLI frame: help, version, --json, exit codes, one-line errors, fast start."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from rlgpt_cli import __version__
from rlgpt_cli.cli import app
from rlgpt_cli.errors import ExitCode

HEAVY = ["torch", "litellm", "gymnasium", "crafter", "numba", "matplotlib"]


def test_help_through_clirunner():
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for noun in ("logs", "doctor"):
        assert noun in result.output


def test_version(cli):
    r = cli("--version")
    assert r.exit_code == 0
    assert r.stdout.strip() == f"rlgpt {__version__}"


def test_unknown_command_is_usage_error_without_traceback(cli):
    r = cli("no-such-command")
    assert r.exit_code == ExitCode.USAGE == 2
    assert "No such command" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def test_bad_option_value_is_usage_error(cli):
    r = cli("logs", "list", "--limit", "zero")
    assert r.exit_code == 2
    r = cli("--seed", "-3", "logs", "list")
    assert r.exit_code == 2
    assert r.stderr.strip() == "Error: seed must be a non-negative integer, got -3"


def test_domain_error_is_one_line(cli):
    r = cli("logs", "show", "12345")
    assert r.exit_code == ExitCode.USAGE
    assert r.stderr == "Error: no run with id 12345\n"
    assert r.stdout == ""


def test_verbose_shows_traceback(cli):
    r = cli("-v", "logs", "show", "12345")
    assert r.exit_code == ExitCode.USAGE
    assert "Traceback" in r.stderr


def test_doctor_json_names_keys_never_values(cli, monkeypatch, isolated_home):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value")
    r = cli("--json", "doctor")
    assert r.exit_code == 0
    data = json.loads(r.stdout)
    assert data["api_keys_set"] == ["OPENAI_API_KEY"]
    assert "sk-secret-value" not in r.stdout
    assert data["home"] == str(isolated_home)
    assert data["model"] == "rlgpt/offline"
    assert data["torch"]["installed"] is True
    assert set(data["minedojo"]) >= {"installed", "java", "ready"}


def test_settings_precedence(cli, monkeypatch, tmp_path):
    monkeypatch.setenv("RLGPT_MODEL", "openai/from-env")
    monkeypatch.setenv("RLGPT_LIBRARY", str(tmp_path / "env-lib"))
    data = cli("--json", "doctor").json()
    assert data["model"] == "openai/from-env"
    assert data["library"] == str(tmp_path / "env-lib")
    data = cli("--json", "--model", "openai/from-flag", "--library", str(tmp_path / "flag-lib"), "doctor").json()
    assert data["model"] == "openai/from-flag"
    assert data["library"] == str(tmp_path / "flag-lib")


def test_installed_script_runs_and_exits_2_on_unknown(rlgpt_exe):
    ok = subprocess.run([rlgpt_exe, "--json", "logs", "list"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == []
    bad = subprocess.run([rlgpt_exe, "no-such-command"], capture_output=True, text=True)
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr


def test_python_dash_m_works():
    r = subprocess.run([sys.executable, "-m", "rlgpt_cli", "--version"], capture_output=True, text=True)
    assert r.returncode == 0
    assert r.stdout.strip() == f"rlgpt {__version__}"


def test_fast_commands_import_no_heavy_modules():
    code = (
        "import sys\n"
        "from rlgpt_cli.cli import main\n"
        "args = sys.argv[1:]\n"
        "try:\n    main(args)\nexcept SystemExit:\n    pass\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "sys.stderr.write('HEAVY=' + ','.join(heavy) + '\\n')\n"
    )
    for args in (["--help"], ["--version"], ["logs", "list"], ["skills", "list"]):
        r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
        line = [ln for ln in r.stderr.splitlines() if ln.startswith("HEAVY=")]
        assert line == ["HEAVY="], (args, r.stderr[-2000:])
