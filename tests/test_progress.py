"""Progress on long work: plain lines with the elapsed time when stderr is not a terminal, the
live count in env steps (not decisions), and stdout left to the one --json document."""

from __future__ import annotations

import io
import json
import re
import time

import pytest

from test_learn import write_config

from rlgpt_cli.progress import Phase, Progress, clock

LINE = re.compile(r"^\[(\d+):(\d\d)\] (.*)$")


def test_clock_and_a_phase_line_with_rate_and_eta():
    assert (clock(0), clock(83), clock(3723)) == ("0:00", "1:23", "1:02:03")
    steps = [0]
    ph = Phase("learn x", total=1000, poll=lambda: steps[0])
    ph.started -= 10  # ten seconds in, 250 env steps done
    steps[0] = 250
    ph.update(success="40%")
    assert ph.stats() == "250/1,000 env steps (25%), 25 env steps/s, ETA 0:30, success 40%, 0:10 elapsed"
    steps[0] = 1200  # the last update may run past the budget: the count is not clamped
    assert ph.stats().startswith("1,200/1,000 env steps (120%)") and "ETA" not in ph.stats()


def test_plain_heartbeat_names_the_running_phases_at_each_interval():
    out = io.StringIO()
    steps = [0]
    with Progress(live=False, interval=0.2, stream=out) as progress:
        with progress.phase("iterate t"), progress.phase("learn x", total=200, poll=lambda: steps[0]):
            for _ in range(12):
                time.sleep(0.1)
                steps[0] += 10
            progress.log("a message")
    lines = out.getvalue().splitlines()
    assert all(LINE.match(line) for line in lines), lines
    beats = [line for line in lines if "iterate t > learn x: " in line and "/200 env steps" in line]
    assert len(beats) >= 4, lines  # 1.2 s at one line per 0.2 s of silence
    counts = [int(re.search(r"(\d+)/200", b).group(1)) for b in beats]
    assert counts == sorted(counts) and counts[-1] > counts[0]
    # Each phase that lasted a second or more ends with its final count.
    assert lines[-3].endswith("] a message")
    assert lines[-2].startswith("[0:01] iterate t > learn x: done, 120/200 env steps (60%)")
    assert lines[-1] == "[0:01] iterate t: done, 0:01 elapsed"


def test_quiet_progress_prints_nothing():
    out = io.StringIO()
    with Progress(enabled=False, stream=out) as progress, progress.phase("x", total=3) as ph:
        ph.update(2)
        progress.log("hidden")
    assert out.getvalue() == ""


def test_learn_to_a_file_shows_env_steps_periodically_and_json_stays_one_document(cli, tmp_path, monkeypatch):
    # A short interval: on a fast machine the 1,500 steps take about a second, and validation
    # lines in between also count as output, so a longer one could leave a single heartbeat.
    monkeypatch.setenv("RLGPT_PROGRESS_SECONDS", "0.1")
    config = write_config(tmp_path / "rl.json", total_steps=1500)
    r = cli("--json", "learn", "--subtask", "harvest_log", "--config", config, "--num-envs", "2",
            "--episodes", "2")
    assert r.exit_code in (0, 1), r.stderr
    report = json.loads(r.stdout)  # progress never reaches stdout
    lines = r.stderr.splitlines()
    training = [line for line in lines if "learn harvest_log > PPO collect_wood: " in line and "env steps (" in line]
    assert len(training) >= 3, r.stderr  # heartbeats, done
    counts = [int(re.search(r"([\d,]+)/1,500 env steps", line).group(1).replace(",", "")) for line in training]
    assert counts == sorted(counts)
    # The last line counts env steps (macro-actions by the steps they took), not decisions.
    assert counts[-1] == report["env_steps"] > report["steps_trained"]
    assert "env steps/s" in training[-1] and "success" in training[-1]
    stamps = [int(m.group(1)) * 60 + int(m.group(2)) for m in map(LINE.match, lines) if m]
    assert stamps and max(b - a for a, b in zip(stamps, stamps[1:])) <= 2  # never silent for long
    assert any("] trained collect_wood: " in line for line in lines)  # log lines carry the time too


# --- tracking like CleanRL ----------------------------------------------------------------


def test_learn_tracks_like_cleanrl(cli, tmp_path, monkeypatch, isolated_home):
    """--name, --track (W&B offline), TensorBoard against env steps with the hyperparameters
    table, periodic validation keeping the best policy, checkpoint history, --record-every."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    config = write_config(tmp_path / "rl.json", total_steps=1500)
    r = cli("--json", "learn", "--subtask", "harvest_log", "--config", config, "--num-envs", "2",
            "--episodes", "2", "--name", "wood-run", "--track", "--record-every", "1")
    assert r.exit_code in (0, 1), r.stderr
    report = r.json()
    run = isolated_home / "runs" / "wood-run"
    assert report["run_dir"] == str(run)
    assert list((run / "wandb").glob("offline-run-*/run-*.wandb"))  # the W&B run, synced from tb/

    tb = EventAccumulator(str(run / "tb"))
    tb.Reload()
    decisions = tb.Scalars("charts/decisions")
    # x-axis: env steps; the last point is where training stopped, after all its decisions.
    assert decisions[-1].step == report["env_steps"] and decisions[-1].value == report["steps_trained"]
    assert all(e.step >= e.value for e in decisions)  # macro-actions: env steps >= decisions
    assert "hyperparameters/text_summary" in tb.Tags()["tensors"]
    text = tb.Tensors("hyperparameters/text_summary")[0].tensor_proto.string_val[0].decode()
    assert text.startswith("|param|value|\n|-|-|\n") and "|learning_rate|0.00025|" in text

    validations = tb.Scalars("charts/validation_success_rate")
    assert validations and validations[-1].step == report["env_steps"]  # one after the last update
    best = report["best"]
    assert best["validation_success"] == pytest.approx(max(v.value for v in validations))  # TensorBoard: float32
    assert (run / "best.pt").exists() and json.loads((run / "best.json").read_text())["metadata"] == {
        "validation_success": best["validation_success"], "env_steps": best["env_steps"]}
    assert sorted(p.name for p in (run / "checkpoints").iterdir())[-1] == f"step-{report['env_steps']:09d}.pt"

    # --record-every 1: an episode of the policy after each update, at 512 px.
    videos = sorted((run / "videos").iterdir())
    assert [str(v) for v in videos] == report["recordings"] and len(videos) == decisions[-1].value // 256
    assert videos[-1].name == f"step-{report['env_steps']:09d}.mp4"

    again = cli("--json", "learn", "--subtask", "harvest_log", "--config", config, "--name", "wood-run")
    assert again.exit_code == 2 and "wood-run exists" in again.json()["error"]


def test_checkpoint_history_keeps_the_newest(tmp_path):
    from rlgpt_cli.learn.ppo import _keep_history

    latest = tmp_path / "checkpoint.pt"
    for step in (100, 2000, 350, 40_000):
        latest.write_bytes(str(step).encode())
        _keep_history(latest, step, keep=3)
    kept = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert kept == ["step-000000350.pt", "step-000002000.pt", "step-000040000.pt"]
    assert (tmp_path / "checkpoints" / "step-000040000.pt").read_bytes() == b"40000"


def test_the_live_view_fits_80_columns():
    from rich.console import Console
    from rich.table import Table

    out = io.StringIO()
    progress = Progress(live=True, stream=out)
    progress.header = Table(title="plan")
    steps = [0]
    with progress.phase("iterate obtain_diamond"), progress.phase("outer 1/3"), \
            progress.phase("PPO collect_wood", total=50_000, poll=lambda: steps[0]) as ph:
        ph.started -= 60
        steps[0] = 12_345
        ph.update(success="40%", return_="1.25")
        Console(file=out, width=80).print(progress._render())
    lines = out.getvalue().splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert "iterate obtain_diamond > outer 1/3 > PPO collect_wood" in out.getvalue()
    assert "12,345/50,000 env steps (25%)" in out.getvalue() and "ETA 3:03" in out.getvalue()
