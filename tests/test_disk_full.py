"""A full (or over-quota, or read-only) disk under the library, the run store or a run folder:
one line and exit 7, never "internal error", and nothing already written is lost."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import sqlite3
from pathlib import Path

import pytest

from rlgpt_cli.errors import ExitCode

LIBRARY = ExitCode.LIBRARY


def _full_disk(monkeypatch, where: str = "", code: int = errno.ENOSPC) -> list[str]:
    """Every atomic write whose path contains ``where`` fails as a full disk does (at its
    ``open``, the first write rlgpt makes to a file); returns the paths refused."""
    from rlgpt_cli import atomic

    refused: list[str] = []

    def full_open(file, mode="r", *args, **kwargs):
        if "w" in mode and where in str(file):
            refused.append(str(file))
            raise OSError(code, os.strerror(code), str(file))
        return open(file, mode, *args, **kwargs)

    monkeypatch.setattr(atomic, "open", full_open, raising=False)
    return refused


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(root.rglob("*"))}


def _errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("Error:") or "Traceback" in line]


@pytest.fixture
def stored(cli, tmp_path):
    """A library with one stored skill (collect_wood v2) and that skill's archive."""
    archive, library = tmp_path / "collect_wood.zip", tmp_path / "lib"
    assert cli("skills", "export", "collect_wood", "-o", str(archive)).exit_code == 0
    assert cli("--library", str(library), "skills", "import", str(archive)).exit_code == 0
    return library, archive


@pytest.mark.parametrize("where, code", [("", errno.ENOSPC), ("manifest", errno.ENOSPC), ("", errno.EDQUOT),
                                         ("manifest", errno.EROFS)],
                         ids=["skill-files", "manifest", "quota", "read-only"])
def test_a_full_disk_under_the_library_is_exit_7_and_the_library_is_as_it_was(where, code, cli, stored,
                                                                              monkeypatch):
    library, archive = stored
    before = _digest(library)
    refused = _full_disk(monkeypatch, where, code)
    r = cli("--json", "--library", str(library), "skills", "import", str(archive))
    assert refused and r.exit_code == LIBRARY, r.stderr
    [line] = _errors(r.stderr)
    assert line.startswith(f"Error: library {library} cannot be written ({os.strerror(code)}"), line
    assert r.json()["exit_code"] == LIBRARY
    monkeypatch.undo()
    # The manifest case: v3 was renamed into place before its manifest write failed; it went too.
    assert _digest(library) == before
    listed = cli("--json", "--library", str(library), "skills", "list").json()
    assert [s["version"] for s in listed if s["name"] == "collect_wood"] == [2]
    assert cli("--library", str(library), "skills", "verify").exit_code == 0


def test_a_full_disk_for_a_file_beside_the_library_is_one_line_exit_7(cli, tmp_path, monkeypatch):
    _full_disk(monkeypatch)
    out = tmp_path / "out.zip"
    r = cli("--json", "skills", "export", "collect_wood", "-o", str(out))
    assert r.exit_code == LIBRARY, r.stderr
    [line] = _errors(r.stderr)
    assert line.startswith("Error: cannot write ") and "No space left on device" in line and "internal" not in line
    assert r.json()["exit_code"] == LIBRARY and not out.exists()


def test_a_full_disk_under_the_run_store_is_exit_7_and_the_store_is_as_it_was(cli, isolated_home, monkeypatch):
    from rlgpt_cli.store import Store

    assert cli("plan", "collect", "wood").exit_code == 0
    db = isolated_home / "rlgpt.db"
    rows = sqlite3.connect(db).execute("SELECT count(*) FROM plans").fetchone()
    connect = Store._connect

    def full(path):
        # SQLite's own "database or disk is full" (SQLITE_FULL): the store may not grow a page.
        conn = connect(path)
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")
        return conn

    monkeypatch.setattr(Store, "_connect", staticmethod(full))
    r = cli("--json", "plan", "make", "wood", "pickaxe")
    assert r.exit_code == LIBRARY, r.stderr
    [line] = _errors(r.stderr)
    assert f"run store {db} cannot be written: database or disk is full" in line and "damaged" not in line, line
    monkeypatch.undo()
    assert sqlite3.connect(db).execute("SELECT count(*) FROM plans").fetchone() == rows
    assert cli("logs", "list").exit_code == 0 and Store(db, writer=True).db is not None


def test_a_full_disk_under_a_training_run_is_exit_7_and_the_run_marked_failed(cli, tmp_path, monkeypatch):
    from rlgpt_cli.settings import Settings
    from rlgpt_cli.store import Store

    config = tmp_path / "rl.json"
    config.write_text(json.dumps({
        "subtask": "collect_wood", "macro_actions": [], "total_steps": 128,
        "reward_code": "def reward(prev, obs, info):\n    return 0.0\n",
        "termination": {"success": "False", "max_episode_steps": 20}}))
    refused = _full_disk(monkeypatch, "checkpoint")  # the first update's checkpoint
    r = cli("learn", "--subtask", "harvest_log", "--config", str(config), "--num-envs", "1", "--no-save")
    assert refused and r.exit_code == LIBRARY, r.stderr
    [line] = _errors(r.stderr)
    assert line.startswith("Error: cannot write ") and "No space left on device" in line, line
    assert "training run 1 marked failed" in line
    assert Store(Settings.resolve().db_path).get_training(1)["status"] == "failed"
    assert not any(Path(p).exists() for p in refused)
