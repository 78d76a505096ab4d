"""How commands end: one --json document for every exit, iterate's summary and resume command
on failure, and Ctrl-C / SIGTERM saving state and saying how to resume (exit 130)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from rlgpt_cli.errors import ExitCode


def test_json_iterate_out_of_calls_is_one_document_with_exit_code_6(cli):
    r = cli("--json", "iterate", "obtain diamond", "--max-calls", "1")
    assert r.exit_code == ExitCode.BUDGET == 6
    doc = r.json()  # the whole of stdout parses as one document
    assert doc["exit_code"] == 6 and doc["status"] == "budget"
    assert "model call budget reached" in doc["error"]
    assert doc["resume"] == f"rlgpt iterate --resume {doc['iterate_run']} --max-calls 1"
    assert doc["resume"] in doc["error"] and isinstance(doc["run_id"], int)
    assert [s["status"] for s in doc["current"]] == ["pending"] * len(doc["current"]) and doc["current"]
    # The resume command it printed is accepted and goes on from the saved state.
    again = cli("--json", *doc["resume"].split()[1:])
    assert again.exit_code == ExitCode.BUDGET, again.stderr
    assert again.json()["iterate_run"] == doc["iterate_run"] and again.json()["run_id"] != doc["run_id"]


def test_iterate_failure_prints_the_summary_and_resume_command(cli):
    r = cli("--seed", "3", "iterate", "obtain diamond", "--max-calls", "1")
    assert r.exit_code == ExitCode.BUDGET
    assert "not finished" in r.stdout and "collect_wood" in r.stdout  # the summary table
    assert "resume: rlgpt --seed 3 iterate --resume 1 --max-calls 1" in r.stdout
    assert r.stderr.strip().splitlines()[-1].startswith("Error: model call budget reached")
    assert "resume with: rlgpt --seed 3 iterate --resume 1 --max-calls 1" in r.stderr


def test_json_usage_and_not_found_errors_are_documents(cli):
    r = cli("--json", "iterate", "--bogus")
    assert r.exit_code == ExitCode.USAGE
    assert r.json() == {"exit_code": 2, "error": "No such option: --bogus"}
    r = cli("--json", "iterate", "obtain unobtainium")
    assert r.exit_code == ExitCode.USAGE
    doc = r.json()
    assert doc["exit_code"] == 2 and "unobtainium" in doc["error"] and isinstance(doc["run_id"], int)


def test_json_success_carries_exit_code_0_and_null_error(cli):
    r = cli("--json", "plan", "collect", "wood")
    assert r.exit_code == 0, r.stderr
    doc = r.json()
    assert doc["exit_code"] == 0 and doc["error"] is None and isinstance(doc["run_id"], int)
    assert doc["plan"]["subactions"]


def _as_in_a_terminal() -> None:
    # A shell without job control starts background commands with SIGINT ignored, and Python
    # then keeps it ignored (a CI runner may start the suite so): the child gets Ctrl-C as it
    # would in a terminal.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_saves_iterate_and_prints_the_resume_command(sig, isolated_home):
    proc = subprocess.Popen([sys.executable, "-m", "rlgpt_cli", "iterate", "obtain diamond"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "RLGPT_HOME": str(isolated_home)}, preexec_fn=_as_in_a_terminal)
    lines = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until the loops are inside a sub-action
        line = proc.stderr.readline()
        lines.append(line)
        if "fast agent writes code" in line or not line:
            break
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    err = "".join(lines) + err
    assert proc.returncode == ExitCode.INTERRUPTED == 130, err
    assert "Error: interrupted; saved " in err and "resume with: rlgpt iterate --resume 1" in err
    assert "resume: rlgpt iterate --resume 1" in out  # the summary table is printed too
    state = json.loads((isolated_home / "runs" / "iterate-1" / "state.json").read_text())
    assert state["status"] == "interrupted" and state["plan"] is not None
