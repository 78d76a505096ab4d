"""The world seam and honest plugins: a world from a plugin file runs plan, code, iterate and
run end to end with the offline model; a plugin file's skill is listed, planned and reused;
no module outside worlds/ imports Crafter, and no import cycle exists among rlgpt's modules."""

from __future__ import annotations

import ast
import shutil
import textwrap
from pathlib import Path

import pytest

PLUGIN = Path(__file__).with_name("tiny_world_plugin.py")
SRC = Path(__file__).resolve().parent.parent / "src" / "rlgpt_cli"


@pytest.fixture
def plugins_dir(isolated_home, fresh_pm, monkeypatch):
    """RLGPT_HOME/plugins holding the tiny world, with the world and task registries loading anew."""
    from rlgpt_cli.worlds import base, tasks

    folder = isolated_home / "plugins"
    folder.mkdir(parents=True)
    shutil.copy(PLUGIN, folder / "tiny_world.py")
    monkeypatch.setattr(base, "_REGISTRY", dict(base._REGISTRY))
    monkeypatch.setattr(base, "_KITS", {})
    monkeypatch.setattr(base, "_plugin_worlds_loaded", False)
    monkeypatch.setattr(tasks, "_registered", dict(tasks._registered))
    monkeypatch.setattr(tasks, "_plugin_tasks_loaded", False)
    return folder


def test_a_plugin_world_runs_plan_code_iterate_and_run(cli, plugins_dir):
    r = cli("--json", "--world", "tiny", "plan", "make_plank")
    assert r.exit_code == 0, r.stderr
    plan = r.json()
    assert plan["world"] == "tiny"
    assert [(s["name"], s["kind"]) for s in plan["plan"]["subactions"]] == [("collect_log", "code"),
                                                                           ("make_plank", "code")]

    r = cli("--json", "--world", "tiny", "code", "--subtask", "collect_log", "--episodes", "3")
    assert r.exit_code == 0, r.stderr
    coded = r.json()
    assert coded["success_rate"] == 1.0 and coded["skill"]["world"] == "tiny"

    r = cli("--json", "--world", "tiny", "iterate", "make_plank", "--episodes", "3")
    assert r.exit_code == 0, r.stderr
    built = r.json()
    assert built["status"] == "succeeded" and built["world"] == "tiny"
    # The skill `code` saved is reused; the second sub-action was coded in the inner loop.
    kinds = {s["name"]: s["kind"] for s in built["iterations"][0]["subactions"]}
    assert kinds == {"collect_log": "reuse", "make_plank": "code"}

    r = cli("--json", "--world", "tiny", "run", "make_plank", "--episodes", "4")
    assert r.exit_code == 0, r.stderr
    report = r.json()
    assert report["world"] == "tiny" and report["success_rate"] == 1.0
    assert report["skills"] == {"collect_log": "collect_log v1", "make_plank": "make_plank v1"}
    assert report["achievements"] == {"collect_log": 1.0, "make_plank": 1.0} and report["scores"] == []

    # The tiny world's skills never reach a Crafter plan.
    crafter = cli("--json", "plan", "make wood pickaxe").json()
    assert all(s["kind"] != "reuse" for s in crafter["plan"]["subactions"])


def test_a_plugin_file_skill_is_listed_planned_and_reused(cli, plugins_dir):
    (plugins_dir / "tiny_skills.py").write_text(textwrap.dedent('''
        from rlgpt_cli.hookspecs import hookimpl
        from rlgpt_cli.library import Skill


        def chop(api, count=1):
            done = yield from api.collect("log", count)
            return done


        @hookimpl
        def register_skills(register):
            register(Skill(name="collect_log", version=1, kind="code", world="tiny",
                           description="Chop logs (trusted plugin code).", effects={"inventory": {"log": 1}},
                           params={"count": 1}, metrics={"success_rate": 1.0, "episodes": 20}, entry=chop))
    '''))
    listed = {s["name"]: s for s in cli("--json", "skills", "list").json()}
    assert listed["collect_log"]["world"] == "tiny" and listed["collect_log"]["source"] == "plugin"
    assert listed["collect_log"]["provenance"] == {"source": "plugin", "plugin": "rlgpt_plugin_file.tiny_skills"}
    assert "collect_wood" in listed  # the built-in pack still comes through its own plugin

    plan = cli("--json", "--world", "tiny", "plan", "collect_log").json()
    assert [(s["name"], s["kind"], s["skill"]) for s in plan["plan"]["subactions"]] == [
        ("collect_log", "reuse", "collect_log")]

    r = cli("--json", "--world", "tiny", "run", "collect_log", "--episodes", "3")
    assert r.exit_code == 0, r.stderr
    report = r.json()
    assert report["success_rate"] == 1.0 and report["skills"] == {"collect_log": "collect_log v1"}
    assert cli("skills", "rm", "collect_log").exit_code == 2  # not the library's to remove


def _imports(path: Path, module: str, modules) -> set[str]:
    """Every rlgpt_cli module ``path`` imports, function-local imports included (``from P import
    M`` imports module ``P.M`` when there is one, else names from ``P``)."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found |= {f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names}
    return {name for name in found if name.startswith("rlgpt_cli")}


def _modules() -> dict[str, Path]:
    modules = {}
    for path in SRC.rglob("*.py"):
        parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def test_nothing_outside_worlds_imports_crafter():
    modules = _modules()
    offenders = sorted(name for name, path in modules.items()
                       if not name.startswith("rlgpt_cli.worlds")
                       and any(m.startswith("rlgpt_cli.worlds.crafter") for m in _imports(path, name, modules)))
    assert offenders == []


def test_no_import_cycles():
    modules = _modules()
    graph = {name: {m for m in _imports(path, name, modules) if m in modules and m != name}
             for name, path in modules.items()}
    cycles, state = [], {}

    def visit(node, trail):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(trail[trail.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_minedojo_plans_here_and_stops_only_where_minedojo_is_missing(cli):
    r = cli("--json", "--world", "minedojo", "plan", "harvest log")
    assert r.exit_code == 0, r.stderr
    plan = r.json()
    assert plan["world"] == "minedojo" and plan["plan"]["subactions"][0]["name"] == "collect_log"
    # Running anything needs MineDojo itself (not installable here): one line, the world's exit code.
    r = cli("--env", "minedojo", "code", "--subtask", "harvest log", "--episodes", "1")
    errors = [line for line in r.stderr.splitlines() if line.startswith("Error:")]
    assert r.exit_code == 5 and len(errors) == 1 and errors[0].startswith("Error: MineDojo cannot start: needs")


def test_world_option_value_is_not_taken_for_the_command():
    from rlgpt_cli.cli import _command_word

    assert _command_word(["--world", "tiny", "plan", "x"]) == "plan"
    assert _command_word(["-w", "minedojo", "--json", "run", "x"]) == "run"
    assert _command_word(["--env", "crafter", "tasks"]) == "tasks"
