"""The run store: migrations on fresh and existing databases, run records, concurrency."""

from __future__ import annotations

import sqlite3

import pytest

from rlgpt_cli import store as store_mod
from rlgpt_cli.errors import ExitCode, NotFound, StoreError
from rlgpt_cli.store import MIGRATIONS, Store


def test_fresh_database_applies_every_migration(tmp_path):
    s = Store(tmp_path / "db.sqlite")
    names = [r[0] for r in s.db.execute("SELECT name FROM migrations ORDER BY name")]
    assert names == sorted(fn.__name__ for fn in MIGRATIONS)
    tables = {r[0] for r in s.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"runs", "model_calls", "training_runs", "evaluations", "plans"} <= tables
    assert s.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert s.migrate() == []  # idempotent


def test_existing_database_is_upgraded_in_place(tmp_path, monkeypatch):
    path = tmp_path / "db.sqlite"
    monkeypatch.setattr(store_mod, "MIGRATIONS", MIGRATIONS[:1])
    old = Store(path)
    run_id = old.start_run("plan", {"task": "obtain diamond"})
    old.close()
    monkeypatch.setattr(store_mod, "MIGRATIONS", MIGRATIONS)
    new = Store(path)
    assert new.get_run(run_id)["args"] == {"task": "obtain diamond"}
    applied = {r[0] for r in new.db.execute("SELECT name FROM migrations")}
    assert applied == {fn.__name__ for fn in MIGRATIONS}


def test_run_lifecycle_and_model_call_totals(tmp_path):
    s = Store(tmp_path / "db.sqlite")
    run_id = s.start_run("code", {"subtask": "place_table"})
    token = store_mod.current_run.set(run_id)
    try:
        s.record_model_call("openai/x", prompt="fast_agent_code", tokens_in=10, tokens_out=5, cost_usd=0.25)
        s.record_model_call("openai/x", prompt="critic", cost_usd=0.5, cache_hit=True)
    finally:
        store_mod.current_run.reset(token)
    s.finish_run(run_id, ExitCode.BUDGET, "budget exhausted")
    run = s.get_run(run_id)
    assert run["status"] == "failed" and run["exit_code"] == 6
    assert run["cost_usd"] == pytest.approx(0.75)
    assert [c["prompt"] for c in run["calls"]] == ["fast_agent_code", "critic"]
    listed = s.list_runs()[0]
    assert listed["model_calls"] == 2 and listed["cost_usd"] == pytest.approx(0.75)
    with pytest.raises(NotFound):
        s.get_run(run_id + 1)


def test_unreadable_database_is_a_clear_error(tmp_path):
    path = tmp_path / "db.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError) as exc:
        Store(path)
    assert exc.value.exit_code == ExitCode.LIBRARY and "is damaged" in exc.value.message
    assert f"mv {path} {path}.damaged" in exc.value.message


def test_two_connections_write_at_once(tmp_path):
    a, b = Store(tmp_path / "db.sqlite"), Store(tmp_path / "db.sqlite")
    ids = [a.start_run("x", {}) if i % 2 else b.start_run("y", {}) for i in range(20)]
    assert len(set(ids)) == 20
    assert len(sqlite3.connect(tmp_path / "db.sqlite").execute("SELECT * FROM runs").fetchall()) == 20
