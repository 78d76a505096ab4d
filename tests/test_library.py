"""The skill library: versions, hashes, tamper and corruption handling, safe concurrent
writes, archives, built-ins and the skill runner."""

from __future__ import annotations

import json
import multiprocessing
import tarfile
import zipfile

import pytest

from rlgpt_cli.errors import LibraryError, NotFound, SandboxError
from rlgpt_cli.library import Library, _file_lock, parse_code_skill
from rlgpt_cli.runner.skills import SkillResult, run_skill, start
from rlgpt_cli.sandbox import Limits


def code_skill(name="chop_tree", description="Chop a tree for wood.", body='    yield "do"\n', extra=""):
    return (
        f'SKILL = {{"name": "{name}", "description": "{description}", "world": "crafter",\n'
        f'         "preconditions": {{"nearby": ["tree"]}}, "effects": {{"inventory": {{"wood": 1}}}},\n'
        f'         "params": {{"times": 1}}}}\n{extra}\n'
        f"def act(api, times=1):\n{body}"
    )


@pytest.fixture
def library(tmp_path):
    return Library(tmp_path / "library")


def test_add_and_get_code_skill(library):
    skill = library.add_code_skill(code_skill(), metrics={"success_rate": 0.5}, provenance={"model": "m", "plan_id": 3})
    assert (skill.name, skill.version, skill.kind, skill.world) == ("chop_tree", 1, "code", "crafter")
    assert skill.preconditions == {"nearby": ["tree"]} and skill.effects == {"inventory": {"wood": 1}}
    assert skill.params == {"times": 1} and skill.provenance == {"model": "m", "plan_id": 3}
    assert skill.best and skill.status == "ok" and len(skill.sha256) == 64 and skill.created_at
    assert (library.path / "skills" / "chop_tree" / "v1" / "skill.py").read_text() == code_skill()
    manifest = json.loads((library.path / "manifest.json").read_text())
    assert manifest["skills"]["chop_tree"]["best"] == 1
    assert manifest["skills"]["chop_tree"]["versions"]["1"]["sha256"] == skill.sha256
    assert [s.name for s in library.list()] == ["chop_tree"]
    assert library.list(kind="policy") == [] and library.list(world="minedojo") == []
    assert library.get("chop_tree").to_dict()["metrics"] == {"success_rate": 0.5}


def test_versions_and_best_by_success(library):
    library.add_code_skill(code_skill(), metrics={"success_rate": 0.8})
    v2 = library.add_code_skill(code_skill(description="Second try."), metrics={"success_rate": 0.3})
    assert v2.version == 2 and not v2.best
    assert library.get("chop_tree").version == 1  # best measured wins
    assert [s.version for s in library.list(all_versions=True)] == [1, 2]
    library.update_metrics("chop_tree", 2, {"success_rate": 0.9, "episodes": 20})
    assert library.get("chop_tree").version == 2
    assert library.get("chop_tree", 1).description == "Chop a tree for wood."
    v3 = library.add_code_skill(code_skill(description="Unmeasured."))
    assert v3.version == 3 and library.get("chop_tree").version == 2


def test_metadata_is_read_without_executing(library, tmp_path):
    sentinel = tmp_path / "ran"
    evil = f'SKILL = dict(name=open("{sentinel}", "w").write("x"))\ndef act(api):\n    yield "do"\n'
    with pytest.raises(LibraryError, match="SKILL must be a literal dict"):
        library.add_code_skill(evil)
    assert not sentinel.exists()
    with pytest.raises(LibraryError, match="no act"):
        parse_code_skill('SKILL = {"name": "x", "description": "d"}\ndef act(api):\n    return 1\n')
    with pytest.raises(LibraryError, match="name 'Bad-Name' is invalid"):
        library.add_code_skill(code_skill(name="Bad-Name"))


def test_sandbox_refuses_bad_skill(library):
    with pytest.raises(SandboxError, match='importing "os" is not allowed'):
        library.add_code_skill(code_skill(extra="import os"))
    assert library.list() == []


def test_unknown_name_suggests_nearest(library):
    library.add_code_skill(code_skill())
    with pytest.raises(NotFound, match="did you mean chop_tree"):
        library.get("chop_tre")
    with pytest.raises(NotFound, match="no version 7"):
        library.get("chop_tree", 7)


def test_tampered_skill_is_broken_and_never_runs(library):
    skill = library.add_code_skill(code_skill())
    path = skill.path / "skill.py"
    path.write_text(path.read_text().replace('yield "do"', 'yield "noop"'))
    report = library.verify()
    assert report == [{"name": "chop_tree", "version": 1, "kind": "code", "status": "broken",
                       "problem": report[0]["problem"]}]
    assert "do not match the recorded hash" in report[0]["problem"]
    broken = library.get("chop_tree")
    assert broken.status == "broken"
    with pytest.raises(LibraryError, match="tampered"):
        broken.load()
    with pytest.raises(LibraryError, match="tampered"):
        run_skill(broken, FakeEnv(), FakeAPI(), max_steps=5)
    offered = []
    library.register_skills(register=offered.append)
    assert [(s.name, s.status) for s in offered] == [("chop_tree", "broken")]


def test_verify_reports_sandbox_violations_and_missing_files(library):
    ok = library.add_code_skill(code_skill())
    other = library.add_code_skill(code_skill(name="dig"))
    (other.path / "skill.py").unlink()
    statuses = {r["name"]: r for r in library.verify()}
    assert statuses["chop_tree"]["status"] == "ok"
    assert statuses["dig"]["status"] == "broken" and "No such file" in statuses["dig"]["problem"]
    assert ok.load().has("act")


def test_corrupt_manifest_is_a_clear_error_and_rebuilds(library):
    library.add_code_skill(code_skill(), metrics={"success_rate": 0.7})
    library.add_code_skill(code_skill(name="dig"))
    library.manifest_path.write_text("{ not json")
    with pytest.raises(LibraryError, match="manifest .* is corrupt .*rlgpt skills rebuild"):
        library.list()
    assert library.rebuild() == []
    assert [s.name for s in library.list()] == ["chop_tree", "dig"]
    assert library.get("chop_tree").metrics == {"success_rate": 0.7}


def test_rebuild_keeps_tampered_skills_broken(library):
    skill = library.add_code_skill(code_skill())
    (skill.path / "skill.py").write_text(code_skill(body='    yield "noop"\n'))
    library.manifest_path.unlink()
    library.rebuild()
    assert library.get("chop_tree").status == "broken"


def test_crash_between_folder_and_manifest_keeps_previous_state(library, monkeypatch):
    library.add_code_skill(code_skill())
    before = library.manifest_path.read_bytes()

    def crash(manifest):
        raise KeyboardInterrupt  # the process dies after the version folder is in place

    monkeypatch.setattr(library, "_write_manifest", crash)
    with pytest.raises(KeyboardInterrupt):
        library.add_code_skill(code_skill(description="Lost in a crash."))
    monkeypatch.undo()
    assert library.manifest_path.read_bytes() == before
    assert [s.version for s in library.list(all_versions=True)] == [1]
    # The orphan v2 is never overwritten: the next version is 3, and rebuild recovers v2.
    assert library.add_code_skill(code_skill(description="Third.")).version == 3
    library.rebuild()
    assert [s.version for s in library.list(all_versions=True)] == [1, 2, 3]
    assert not list((library.path / "skills" / "chop_tree").glob(".staging-*"))


def test_locked_library_times_out(tmp_path):
    library = Library(tmp_path / "library", lock_timeout=0.2)
    library.skills_dir.mkdir(parents=True)
    with _file_lock(library.lock_path, 1.0):
        with pytest.raises(LibraryError, match="library is locked by another process"):
            library.add_code_skill(code_skill())


def _writer(path: str, worker: int) -> None:
    library = Library(path, lock_timeout=60)
    for i in range(5):
        library.add_code_skill(code_skill(name=f"skill_{worker}_{i}"))
        library.add_code_skill(code_skill(name="shared", description=f"From worker {worker}."))


def test_concurrent_writers_lose_nothing(tmp_path):
    path = str(tmp_path / "library")
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(path, w)) for w in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert all(w.exitcode == 0 for w in workers)
    library = Library(path)
    names = {s.name for s in library.list()}
    assert names == {f"skill_{w}_{i}" for w in range(4) for i in range(5)} | {"shared"}
    assert [s.version for s in library.list(all_versions=True) if s.name == "shared"] == list(range(1, 21))
    json.loads(library.manifest_path.read_text())
    assert all(r["status"] == "ok" for r in library.verify())


@pytest.mark.parametrize("suffix", [".zip", ".tar.gz"])
def test_export_import_round_trip(library, tmp_path, suffix):
    library.add_code_skill(code_skill(), metrics={"success_rate": 0.5}, provenance={"model": "m"})
    archive = library.export("chop_tree", tmp_path / f"chop{suffix}")
    other = Library(tmp_path / "other")
    imported = other.import_(archive)
    assert (imported.name, imported.version, imported.status) == ("chop_tree", 1, "ok")
    assert imported.sha256 == library.get("chop_tree").sha256
    assert imported.provenance == {"model": "m", "imported_from": f"chop{suffix}"}
    assert other.import_(archive).version == 2  # importing again adds a version


def _zip_with(tmp_path, members: dict[str, bytes]):
    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_import_rejects_path_traversal_and_tampering(library, tmp_path):
    library.add_code_skill(code_skill())
    good = library.export("chop_tree", tmp_path / "good.zip")
    with zipfile.ZipFile(good) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    target = Library(tmp_path / "target")
    evil = _zip_with(tmp_path, {**members, "../../escape.py": b"x"})
    with pytest.raises(LibraryError, match=r"member '../../escape.py' is not allowed"):
        target.import_(evil)
    assert not (tmp_path / "escape.py").exists()
    evil = _zip_with(tmp_path, {**members, "files/skill.py": code_skill(body='    yield "noop"\n').encode()})
    with pytest.raises(LibraryError, match="do not match the archive's recorded hash"):
        target.import_(evil)
    tar_path = tmp_path / "evil.tar.gz"
    with tarfile.open(tar_path, "w:gz") as archive:
        link = tarfile.TarInfo("files/skill.py")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        archive.addfile(link)
    with pytest.raises(LibraryError, match="is not allowed"):
        target.import_(tar_path)
    assert target.list() == []


def test_policy_skill(library, tmp_path):
    torch = pytest.importorskip("torch")
    state = {"layer.weight": torch.ones(2, 3)}
    config = {"observation": "symbolic", "actions": ["noop", "do"], "macro_actions": ["chop_tree"],
              "reward_code": "def reward(prev, obs, info):\n    return 1.0\n"}
    skill = library.add_policy_skill("harvest_log", state, config, description="Harvest logs.",
                                     metrics={"success_rate": 0.6, "steps_trained": 10000},
                                     provenance={"training_run": "r1"})
    assert skill.kind == "policy" and skill.version == 1
    assert sorted(p.name for p in skill.path.iterdir()) == ["config.json", "meta.json", "policy.pt", "skill.json"]
    weights, loaded_config = skill.load_policy()
    assert torch.equal(weights["layer.weight"], state["layer.weight"]) and loaded_config == config
    archive = library.export("harvest_log", tmp_path / "policy.tar.gz")
    assert Library(tmp_path / "other").import_(archive).load_policy()[1] == config
    with pytest.raises(SandboxError, match="reward code refused"):
        library.add_policy_skill("bad", state, {"reward_code": "import os"}, description="x")
    with pytest.raises(LibraryError, match="do not load safely"):
        library.add_policy_skill("bad", b"not a checkpoint", {}, description="x")


def test_builtin_pack(tmp_path):
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "chop_tree.py").write_text(code_skill(description="Built-in chop."))
    (pack / "README.md").write_text("not a skill")
    library = Library(tmp_path / "library", builtin_dirs=[pack])
    builtin = library.get("chop_tree")
    assert builtin.provenance == {"source": "builtin"} and builtin.status == "ok"
    assert list(start(builtin, FakeAPI())) == ["do"]
    assert library.verify()[0]["status"] == "ok"
    with pytest.raises(NotFound):
        library.remove("chop_tree")  # read-only
    library.add_code_skill(code_skill(description="Learned chop."))
    assert library.get("chop_tree").description == "Learned chop."  # the library hides the built-in


def test_remove(library):
    library.add_code_skill(code_skill())
    library.add_code_skill(code_skill())
    library.remove("chop_tree", 1)
    assert [s.version for s in library.list(all_versions=True)] == [2]
    library.remove("chop_tree")
    assert library.list() == [] and not (library.path / "skills" / "chop_tree").exists()
    with pytest.raises(NotFound):
        library.remove("chop_tree")


# ---------------------------------------------------------------------------------------
# The runner


class FakeEnv:
    action_names = ["noop", "move_left", "do"]

    def __init__(self, episode_length=100):
        self.episode_length = episode_length
        self.actions = []

    def step(self, action):
        self.actions.append(self.action_names[action])
        done = len(self.actions) >= self.episode_length
        return {"t": len(self.actions)}, 1.0, done, False, {"step": len(self.actions)}


class FakeAPI:
    __sandbox_attrs__ = frozenset({"seen", "wood"})

    def __init__(self):
        self.seen = []
        self.wood = 0

    def observe(self, obs, info):
        self.seen.append(obs["t"])
        self.wood += 1


def test_run_skill_until_return(library):
    body = "    for i in range(times):\n        yield 'move_left'\n        yield 'do'\n    return api.wood\n"
    skill = library.add_code_skill(code_skill(body=body))
    env, api = FakeEnv(), FakeAPI()
    result = run_skill(skill, env, api, max_steps=100, params={"times": 2})
    assert result == SkillResult(steps=4, reward=4.0, terminated=False, truncated=False, info={"step": 4},
                                 finished=True, error=None, returned=4)
    assert env.actions == ["move_left", "do", "move_left", "do"] and api.seen == [1, 2, 3, 4]


def test_run_skill_stops_at_step_cap_and_episode_end(library):
    skill = library.add_code_skill(code_skill(body="    while True:\n        yield 'do'\n"))
    capped = run_skill(skill, FakeEnv(), FakeAPI(), max_steps=7)
    assert (capped.steps, capped.finished, capped.terminated, capped.error) == (7, False, False, None)
    ended = run_skill(skill, FakeEnv(episode_length=3), FakeAPI(), max_steps=50)
    assert (ended.steps, ended.terminated) == (3, True)


def test_run_skill_reports_sandbox_stops_and_bad_actions(library):
    looping = library.add_code_skill(code_skill(name="spin", body="    yield 'do'\n    while True:\n        pass\n"))
    result = run_skill(looping, FakeEnv(), FakeAPI(), max_steps=10, limits=Limits(max_lines=1000))
    assert result.steps == 1 and "step cap exceeded" in result.error
    crashing = library.add_code_skill(code_skill(name="crash", body="    yield api.missing\n"))
    assert "not accessible" in run_skill(crashing, FakeEnv(), FakeAPI(), max_steps=10).error
    wrong = library.add_code_skill(code_skill(name="wrong", body="    yield 'fly'\n"))
    assert "yielded 'fly', not an action name" in run_skill(wrong, FakeEnv(), FakeAPI(), max_steps=10).error

