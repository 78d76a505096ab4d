"""Bad environments end with one line and a documented exit code, and nothing is lost silently.

A library, RLGPT_HOME or output folder that is a file, sits under a file or is read-only; a
damaged run store; a manifest of the wrong shape; garbage policy weights; leftovers of killed
writers; absurd numbers; SIGTERM in the middle of a command. Read-only is made real: chmod for a
normal user, and for root (whom chmod does not stop) a read-only bind mount in a private mount
namespace.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from rlgpt_cli.errors import ExitCode, LibraryError
from rlgpt_cli.library import Library, _file_lock, content_hash
from rlgpt_cli.seeds import MAX_SEED, MAX_SEEDS

HUGE = str(10**30)
USAGE, LIBRARY = ExitCode.USAGE, ExitCode.LIBRARY


def _stored_library(cli, tmp_path) -> tuple[Path, Path]:
    """A library holding one stored skill (the built-in collect_wood, imported as v2), and its archive."""
    archive, library = tmp_path / "collect_wood.zip", tmp_path / "lib"
    assert cli("skills", "export", "collect_wood", "-o", str(archive)).exit_code == 0
    assert cli("--library", str(library), "skills", "import", str(archive)).exit_code == 0
    return library, archive


def _manifest(tmp_path, skills) -> None:
    (tmp_path / "lib").mkdir(exist_ok=True)
    (tmp_path / "lib" / "manifest.json").write_text(json.dumps({"format": 1, "skills": skills}))


def _record(**changes) -> dict:
    return {"kind": "code", "world": "crafter", "description": "d", "sha256": "", **changes}


def _store_with_garbled_pages(home: Path) -> Path:
    """A run store with some history whose pages past the first few were overwritten."""
    from rlgpt_cli.store import Store

    store = Store(home / "rlgpt.db")
    for i in range(40):
        run = store.start_run("plan", {"task": "x" * 500, "i": i})
        store.record_model_call("openai/x", prompt="slow_agent", response="y" * 2000, run_id=run)
    store.close()
    path = home / "rlgpt.db"
    with open(path, "r+b") as f:
        f.seek(4096 * 3)
        f.write(b"\xff" * 4096 * 2)
    return path


def _setup_file(tmp_path, monkeypatch):
    (tmp_path / "afile").write_text("not a folder")


def _setup_home_file(tmp_path, monkeypatch):
    _setup_file(tmp_path, monkeypatch)
    monkeypatch.setenv("RLGPT_HOME", str(tmp_path / "afile"))


def _setup_home_under_file(tmp_path, monkeypatch):
    _setup_file(tmp_path, monkeypatch)
    monkeypatch.setenv("RLGPT_HOME", str(tmp_path / "afile" / "home"))


def _setup_empty_store(tmp_path, monkeypatch):
    home = Path(os.environ["RLGPT_HOME"])
    home.mkdir(parents=True)
    (home / "rlgpt.db").write_bytes(b"")


def _setup_garbage_store(tmp_path, monkeypatch):
    home = Path(os.environ["RLGPT_HOME"])
    home.mkdir(parents=True)
    (home / "rlgpt.db").write_bytes(b"SQLite format 3\0" + os.urandom(8000))


def _setup_garbled_pages(tmp_path, monkeypatch):
    home = Path(os.environ["RLGPT_HOME"])
    home.mkdir(parents=True)
    _store_with_garbled_pages(home)


def _manifest_setup(skills):
    return lambda tmp_path, monkeypatch: _manifest(tmp_path, skills)


def _setup_record_dir(tmp_path, monkeypatch):
    (tmp_path / "out.gif").mkdir()


LIB = ("--library", "{tmp}/lib")
# (id, setup, argv with {tmp}, exit code, text the one error line holds)
CASES = [
    ("library-is-a-file-list", _setup_file, ("--library", "{tmp}/afile", "skills", "list"), LIBRARY,
     "a file is in its place"),
    ("library-is-a-file-verify", _setup_file, ("--library", "{tmp}/afile", "skills", "verify"), LIBRARY,
     "cannot be read"),
    ("library-under-a-file-show", _setup_file, ("--library", "{tmp}/afile/lib", "skills", "show", "collect_wood"),
     LIBRARY, "a file is in its place or on its path"),
    ("library-is-a-file-rm", _setup_file, ("--library", "{tmp}/afile", "skills", "rm", "collect_wood"), LIBRARY,
     "library"),
    ("library-is-a-file-rebuild", _setup_file, ("--library", "{tmp}/afile", "skills", "rebuild"), LIBRARY,
     "cannot be written"),
    ("library-is-a-file-code", _setup_file, ("--library", "{tmp}/afile", "code", "--subtask", "place_table"),
     LIBRARY, "library"),
    ("library-is-a-file-learn", _setup_file, ("--library", "{tmp}/afile", "learn", "--subtask", "collect_wood"),
     LIBRARY, "cannot be written"),
    ("library-is-a-file-iterate", _setup_file, ("--library", "{tmp}/afile", "iterate", "collect wood"),
     LIBRARY, "cannot be written"),
    ("home-is-a-file-logs", _setup_home_file, ("logs", "list"), USAGE, "RLGPT_HOME"),
    ("home-is-a-file-skills", _setup_home_file, ("skills", "list"), USAGE, "RLGPT_HOME"),
    ("home-under-a-file-plan", _setup_home_under_file, ("plan", "collect", "wood"), USAGE, "RLGPT_HOME"),
    ("home-under-a-file-models", _setup_home_under_file, ("models", "default", "openai/gpt-4o"), USAGE, "RLGPT_HOME"),
    ("empty-store-logs", _setup_empty_store, ("logs", "list"), LIBRARY, "empty (0 bytes)"),
    ("empty-store-plan", _setup_empty_store, ("plan", "collect", "wood"), LIBRARY, "move it aside"),
    ("garbage-store-logs", _setup_garbage_store, ("logs", "show", "1"), LIBRARY, "is damaged"),
    ("garbled-pages-logs", _setup_garbled_pages, ("logs", "list"), LIBRARY, "malformed"),
    ("garbled-pages-plan", _setup_garbled_pages, ("plan", "collect", "wood"), LIBRARY, "move it aside"),
    ("garbled-pages-iterate", _setup_garbled_pages, ("iterate", "collect", "wood"), LIBRARY, "is damaged"),
    ("manifest-versions-list", _manifest_setup({"chop": {"versions": [1]}}), (*LIB, "skills", "list"), LIBRARY,
     "no versions table"),
    ("manifest-record-int", _manifest_setup({"chop": {"versions": {"1": 5}}}), (*LIB, "skills", "list"), LIBRARY,
     "kind must be code or policy"),
    ("manifest-version-key", _manifest_setup({"chop": {"versions": {"x": _record()}}}), (*LIB, "skills", "verify"),
     LIBRARY, "version 'x'"),
    ("manifest-metrics-list", _manifest_setup({"chop": {"versions": {"1": _record(metrics=[])}}}),
     (*LIB, "skills", "show", "chop"), LIBRARY, "metrics must be an object"),
    ("manifest-best-text", _manifest_setup({"chop": {"best": "1", "versions": {"1": _record()}}}),
     (*LIB, "skills", "list"), LIBRARY, "best must be a version number"),
    ("manifest-description", _manifest_setup({"chop": {"versions": {"1": _record(description=7)}}}),
     (*LIB, "run", "collect wood"), LIBRARY, "description must be a string"),
    ("manifest-bad-name", _manifest_setup({"Chop Tree": {"versions": {"1": _record()}}}),
     (*LIB, "skills", "list"), LIBRARY, "invalid"),
    ("seeds-range-too-long", None, ("run", "collect wood", "--seeds", "0-100000000000"), USAGE, "at most"),
    ("seeds-too-many", None, ("run", "collect wood", "--seeds", f"0-{MAX_SEEDS}"), USAGE, f"at most {MAX_SEEDS}"),
    ("seed-above-32-bits", None, ("run", "collect wood", "--seeds", str(MAX_SEED + 1)), USAGE, str(MAX_SEED)),
    ("seeds-empty-range", None, ("run", "collect wood", "--seeds", "5-3"), USAGE, "names no seed"),
    ("run-max-steps", None, ("run", "collect wood", "--max-steps", HUGE), USAGE, "--max-steps"),
    ("run-record-steps", None, ("run", "collect wood", "--record-steps", HUGE), USAGE, "--record-steps"),
    ("run-plan-id", None, ("run", "collect wood", "--plan", HUGE), USAGE, "--plan"),
    ("run-record-under-a-file", _setup_file, ("run", "collect wood", "--record", "{tmp}/afile/x.gif"), USAGE,
     "--record's folder"),
    ("run-record-is-a-folder", _setup_record_dir, ("run", "collect wood", "--record", "{tmp}/out.gif"), USAGE,
     "is a folder"),
    ("run-stats-dir-a-file", _setup_file, ("run", "collect wood", "--stats-dir", "{tmp}/afile"), USAGE,
     "--stats-dir"),
    ("global-seed", None, ("--seed", HUGE, "plan", "collect", "wood"), USAGE, "at most"),
    ("logs-show-id", None, ("logs", "show", HUGE), USAGE, "ID"),
    ("logs-list-limit", None, ("logs", "list", "-n", HUGE), USAGE, "--limit"),
    ("iterate-max-steps", None, ("iterate", "collect wood", "--max-steps", HUGE), USAGE, "--max-steps"),
    ("iterate-max-cost-inf", None, ("iterate", "collect wood", "--max-cost", "inf"), USAGE, "--max-cost"),
    ("iterate-resume", None, ("iterate", "--resume", HUGE), USAGE, "--resume"),
    ("iterate-rl-steps", None, ("iterate", "collect wood", "--rl-steps", HUGE), USAGE, "--rl-steps"),
    ("learn-steps", None, ("learn", "--subtask", "collect_wood", "--steps", HUGE), USAGE, "--steps"),
    ("learn-num-envs", None, ("learn", "--subtask", "collect_wood", "--num-envs", HUGE), USAGE, "--num-envs"),
    ("learn-seed", None, ("learn", "--subtask", "collect_wood", "--seed", str(2**40)), USAGE, "--seed"),
    ("learn-resume", None, ("learn", "--resume", HUGE), USAGE, "--resume"),
    ("code-plan-id", None, ("code", "--subtask", "place_table", "--plan", HUGE), USAGE, "--plan"),
    ("plan-max-calls", None, ("plan", "collect", "wood", "--max-calls", HUGE), USAGE, "--max-calls"),
    ("skills-show-version", None, ("skills", "show", "collect_wood", "--version", HUGE), USAGE, "--version"),
]


def _error_lines(stderr: str) -> list[str]:
    """stderr without Click's usage block (``Usage: ...``, ``Try 'rlgpt ... -h'``)."""
    return [line for line in stderr.splitlines()
            if line.strip() and not line.startswith(("Usage: ", "Try 'rlgpt", "  "))]


@pytest.mark.parametrize("setup, argv, code, needle", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_bad_invocation_is_one_line_a_documented_code_and_one_json_document(
        setup, argv, code, needle, cli, tmp_path, monkeypatch):
    if setup is not None:
        setup(tmp_path, monkeypatch)
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    r = cli("--json", *argv)
    assert r.exit_code == code, r.stderr
    [line] = _error_lines(r.stderr)  # one line: no traceback, nothing else
    assert line.startswith("Error: ") and "internal error" not in line and needle in line, line
    doc = r.json()  # the whole of stdout is one document
    assert doc["exit_code"] == code and needle in doc["error"]


def test_there_are_at_least_30_bad_invocations():
    assert len(CASES) >= 30 and len({c[0] for c in CASES}) == len(CASES)


# -- the run store is never re-created, repaired or written into -------------------------


@pytest.mark.parametrize("argv", [("logs", "list"), ("plan", "collect", "wood"), ("iterate", "collect", "wood")])
def test_an_empty_store_is_kept_as_it_is(argv, cli, isolated_home):
    isolated_home.mkdir()
    (isolated_home / "rlgpt.db").write_bytes(b"")
    r = cli(*argv)
    assert r.exit_code == LIBRARY and "mv " in r.stderr
    assert (isolated_home / "rlgpt.db").stat().st_size == 0  # not silently re-created
    assert sorted(p.name for p in isolated_home.iterdir()) == ["rlgpt.db"]


@pytest.mark.parametrize("argv", [("logs", "list"), ("plan", "collect", "wood"), ("iterate", "collect", "wood")])
def test_a_store_with_garbled_pages_is_refused_the_same_way_and_not_written(argv, cli, isolated_home):
    isolated_home.mkdir()
    path = _store_with_garbled_pages(isolated_home)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    r = cli(*argv)
    assert r.exit_code == LIBRARY, r.stderr
    assert f"run store {path} is damaged" in r.stderr and f"mv {path} {path}.damaged" in r.stderr
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_a_moved_aside_store_starts_again_and_a_new_store_is_never_seen_half_made(cli, isolated_home):
    isolated_home.mkdir()
    (isolated_home / "rlgpt.db").write_bytes(b"")
    os.rename(isolated_home / "rlgpt.db", isolated_home / "rlgpt.db.damaged")
    assert cli("plan", "collect", "wood").exit_code == 0
    assert cli("--json", "logs", "list").json()[0]["status"] == "ok"
    # Only the store itself is left: the one built beside it was linked in and removed.
    assert sorted(p.name for p in isolated_home.glob("*rlgpt.db*") if "-wal" not in p.name and "-shm" not in p.name) \
        == ["rlgpt.db", "rlgpt.db.damaged"]


# -- files in the library ------------------------------------------------------------------


def test_verify_loads_policy_weights_even_when_the_hash_was_rewritten(cli, tmp_path):
    torch = pytest.importorskip("torch")
    library = Library(tmp_path / "lib")
    skill = library.add_policy_skill("harvest_log", {"w": torch.ones(2)}, {"macro_actions": []},
                                     description="Harvest logs.")
    (skill.path / "policy.pt").write_bytes(b"not torch weights at all" * 10)
    # Someone who can write the library rewrites the hash too: the hash is content, not trust.
    files = {n: (skill.path / n).read_bytes() for n in ("config.json", "policy.pt", "skill.json")}
    manifest = json.loads(library.manifest_path.read_text())
    manifest["skills"]["harvest_log"]["versions"]["1"]["sha256"] = content_hash(files)
    library.manifest_path.write_text(json.dumps(manifest))
    r = cli("--json", "--library", str(tmp_path / "lib"), "skills", "verify")
    assert r.exit_code == LIBRARY
    [policy] = [s for s in r.json() if s["name"] == "harvest_log"]
    assert policy["status"] == "broken"
    assert policy["problem"] == "policy harvest_log v1: weights do not load safely: UnpicklingError: Unsupported operand 110"
    assert r.stderr.strip().splitlines() == ["Error: 1 of %d skills broken: harvest_log v1" % len(r.json())]


def test_leftovers_of_killed_writers_are_cleaned_when_the_library_is_next_written(tmp_path):
    library = Library(tmp_path / "lib")
    library.add_code_skill(_code_skill("chop_tree"))
    staging = library.skills_dir / "chop_tree" / ".staging-0123abcd"
    trash = library.skills_dir / ".trash-4567ef"
    manifest_tmp = library.path / ".manifest.json.999.abcd1234.tmp"
    meta_tmp = library.skills_dir / "chop_tree" / "v1" / ".meta.json.999.abcd1234.tmp"
    for folder in (staging, trash):
        folder.mkdir()
        (folder / "skill.py").write_text("half written")
    for file in (manifest_tmp, meta_tmp):
        file.write_text("half written")
    leftovers = (staging, trash, manifest_tmp, meta_tmp)
    library.list()  # reading touches nothing
    assert all(p.exists() for p in leftovers)
    # While a writer holds the lock, its staged files are its own: nothing is taken from it.
    with _file_lock(library.lock_path, timeout=1):
        with pytest.raises(LibraryError, match="locked by another process"):
            Library(tmp_path / "lib", lock_timeout=0.2).add_code_skill(_code_skill("make_plank"))
        assert all(p.exists() for p in leftovers)
    library.add_code_skill(_code_skill("make_plank"))  # the next write, with the lock: they were a dead writer's
    assert not any(p.exists() for p in leftovers)
    assert sorted(s.name for s in library.list() if s.path and library.skills_dir in s.path.parents) \
        == ["chop_tree", "make_plank"]
    assert (library.skills_dir / "chop_tree" / "v1" / "skill.py").exists()


def _code_skill(name: str) -> str:
    return (f'SKILL = {{"name": "{name}", "description": "Do it.", "world": "crafter"}}\n'
            'def act(api):\n    yield "do"\n')


def test_rebuild_skips_a_meta_json_of_the_wrong_shape(cli, tmp_path):
    library = Library(tmp_path / "lib")
    skill = library.add_code_skill(_code_skill("chop_tree"))
    meta = json.loads((skill.path / "meta.json").read_text())
    (skill.path / "meta.json").write_text(json.dumps({**meta, "metrics": [1, 2]}))
    r = cli("--json", "--library", str(tmp_path / "lib"), "skills", "rebuild")
    assert r.exit_code == 0, r.stderr
    assert r.json()["problems"] == ["chop_tree/v1: meta.json unusable (ValueError: chop_tree v1: metrics must be "
                                    "an object)"]
    assert cli("--library", str(tmp_path / "lib"), "skills", "list").exit_code == 0


# -- read-only, for real --------------------------------------------------------------------


def _tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(root.rglob("*"))}


def _rlgpt_read_only(read_only: Path, argv: list[str], env: dict) -> subprocess.CompletedProcess:
    """Run rlgpt with ``read_only`` (a folder) really read-only for it."""
    cmd = [sys.executable, "-m", "rlgpt_cli", *argv]
    if os.geteuid() != 0:
        paths = [read_only, *read_only.rglob("*")]
        modes = {p: p.stat().st_mode for p in paths}
        for p in paths:
            p.chmod(modes[p] & ~0o222)
        try:
            return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
        finally:
            for p in reversed(paths):
                p.chmod(modes[p])
    q = shlex.quote(str(read_only))
    script = f'mount --bind {q} {q} && mount -o remount,bind,ro {q} && exec "$@"'
    return subprocess.run(["unshare", "--mount", "sh", "-c", script, "sh", *cmd], capture_output=True, text=True,
                          env=env, timeout=300)


@pytest.mark.parametrize("argv, code, needle", [
    (("skills", "rm", "collect_wood", "--version", "2"), LIBRARY, "cannot be written"),
    (("skills", "import", "{archive}"), LIBRARY, "cannot be written"),
    (("skills", "rebuild"), LIBRARY, "cannot be written"),
    (("code", "--subtask", "place_table", "-n", "1", "--attempts", "1"), LIBRARY, "cannot be written"),
], ids=["rm", "import", "rebuild", "code"])
def test_a_read_only_library_is_one_line_exit_7_and_left_as_it_was(argv, code, needle, cli, tmp_path, isolated_home):
    library, archive = _stored_library(cli, tmp_path)
    before = _tree_digest(library)
    env = {**os.environ, "RLGPT_LIBRARY": str(library)}
    r = _rlgpt_read_only(library, [a.replace("{archive}", str(archive)) for a in argv], env)
    assert r.returncode == code, r.stderr
    [line] = _error_lines(r.stderr)
    assert line.startswith(f"Error: library {library} {needle}") and "Traceback" not in r.stderr, r.stderr
    assert _tree_digest(library) == before
    assert cli("--library", str(library), "skills", "show", "collect_wood", "--version", "2").exit_code == 0


@pytest.mark.parametrize("argv, needle", [
    (("plan", "collect", "wood"), "RLGPT_HOME {ro}/home is not a writable folder"),
    (("run", "collect wood", "-n", "1", "--record", "{ro}/clip.gif"), "--record's folder {ro} is not a writable"),
], ids=["home", "record"])
def test_a_read_only_home_or_output_folder_is_refused_before_any_work(argv, needle, tmp_path, isolated_home):
    ro = tmp_path / "ro"
    ro.mkdir()
    env = dict(os.environ)
    if argv[0] == "plan":
        env["RLGPT_HOME"] = str(ro / "home")
    r = _rlgpt_read_only(ro, [a.replace("{ro}", str(ro)) for a in argv], env)
    assert r.returncode == USAGE, r.stderr
    [line] = _error_lines(r.stderr)
    assert needle.replace("{ro}", str(ro)) in line, r.stderr
    assert list(ro.iterdir()) == []


# -- SIGTERM is Ctrl-C ----------------------------------------------------------------------


@pytest.mark.parametrize("argv", [("run", "collect wood", "-n", "200"),
                                  ("code", "--subtask", "place_table", "-n", "50")], ids=["run", "code"])
def test_sigterm_mid_command_exits_130_and_says_what_was_kept(argv, isolated_home):
    proc = subprocess.Popen([sys.executable, "-m", "rlgpt_cli", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    first = proc.stderr.readline()  # the command is running (progress or the fast agent's line)
    assert first, proc.communicate()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == ExitCode.INTERRUPTED == 130, first + err
    assert "Error: interrupted; run 1 is recorded as interrupted (rlgpt logs show 1)" in err
    assert "run the same command again" in err and "Traceback" not in err
    row = sqlite3.connect(isolated_home / "rlgpt.db").execute("SELECT status, exit_code FROM runs").fetchone()
    assert row == ("interrupted", 130)
