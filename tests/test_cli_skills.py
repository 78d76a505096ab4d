"""`rlgpt skills ...` and `rlgpt plugins` through the real entry point."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
import types

import pytest

from rlgpt_cli import hookspecs
from rlgpt_cli.library import Library

CHOP = textwrap.dedent(
    '''
    SKILL = {"name": "chop", "description": "Chop the tree in front.", "effects": {"inventory": {"wood": 1}}}


    def act(api, hits=3):
        for _ in range(hits):
            yield "do"
    '''
)


@pytest.fixture
def library(isolated_home):
    return Library(isolated_home / "library")


@pytest.fixture
def pm(fresh_pm, monkeypatch):
    """A fresh plugin manager with the built-in plugins and no installed packages' plugins."""
    monkeypatch.setenv("RLGPT_LOAD_PLUGINS", "")
    return fresh_pm


def names(result):
    return [s["name"] for s in result.json()]


def test_list_shows_the_builtin_pack(cli):
    r = cli("--json", "skills", "list")
    assert r.exit_code == 0, r.stderr
    skills = {s["name"]: s for s in r.json()}
    assert {"collect_wood", "place_table", "make_wood_pickaxe", "goto_tree", "explore"} <= set(skills)
    wood = skills["collect_wood"]
    assert (wood["kind"], wood["world"], wood["source"], wood["status"]) == ("code", "crafter", "builtin", "ok")
    assert wood["params"] == {"n": 1}


def test_list_filters_and_human_table(cli, library):
    library.add_code_skill(CHOP)
    assert names(cli("--json", "skills", "list", "--kind", "policy")) == []
    assert names(cli("--json", "skills", "list", "--world", "minedojo")) == []
    r = cli("skills", "list")
    assert r.exit_code == 0
    assert "chop" in r.stdout and "goto_water" in r.stdout and "library" in r.stdout
    assert cli("skills", "list", "--kind", "bogus").exit_code == 2


def test_show_builtin_prints_its_source(cli):
    r = cli("skills", "show", "collect_wood")
    assert r.exit_code == 0, r.stderr
    assert "collect_wood v1" in r.stdout and "def act(api, n=1):" in r.stdout
    data = cli("--json", "skills", "show", "collect_wood").json()
    assert 'api.collect("wood", n)' in data["code"]
    assert data["source"] == "builtin" and data["preconditions"] == {"inventory": {}, "nearby": []}


def test_show_unknown_is_a_one_line_error(cli):
    r = cli("skills", "show", "no_such_skill")
    assert r.exit_code == 2
    assert r.stdout == ""
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("Error: no skill named 'no_such_skill'")
    near = cli("skills", "show", "colect_wood")
    assert near.exit_code == 2 and "did you mean collect_wood" in near.stderr
    assert cli("skills", "show", "collect_wood", "--version", "4").exit_code == 2


def test_added_skill_is_listed_by_a_new_process(library, rlgpt_exe, isolated_home):
    library.add_code_skill(CHOP, metrics={"success_rate": 0.75, "episodes": 8})
    proc = subprocess.run([rlgpt_exe, "--json", "skills", "list"], capture_output=True, text=True,
                          env={**os.environ, "RLGPT_HOME": str(isolated_home)}, timeout=60)
    assert proc.returncode == 0, proc.stderr
    chop = next(s for s in json.loads(proc.stdout) if s["name"] == "chop")
    assert (chop["source"], chop["version"], chop["metrics"]["success_rate"]) == ("library", 1, 0.75)


def test_export_rm_import_round_trip(cli, library, tmp_path):
    library.add_code_skill(CHOP)
    archive = tmp_path / "chop.zip"
    r = cli("skills", "export", "chop", "-o", str(archive))
    assert r.exit_code == 0 and archive.is_file(), r.stderr
    assert cli("skills", "rm", "chop").exit_code == 0
    assert "chop" not in names(cli("--json", "skills", "list"))
    r = cli("--json", "skills", "import", str(archive))
    assert r.exit_code == 0, r.stderr
    imported = r.json()
    assert (imported["name"], imported["source"], imported["provenance"]["imported_from"]) == ("chop", "library", "chop.zip")
    assert cli("--json", "skills", "show", "chop").json()["code"] == CHOP


def test_rm_refuses_builtins_and_unknown_names(cli):
    r = cli("skills", "rm", "collect_wood")
    assert r.exit_code == 2 and "built-in" in r.stderr
    assert cli("skills", "rm", "no_such_skill").exit_code == 2
    assert cli("skills", "import", "missing.zip").exit_code == 2


def test_rm_one_version(cli, library):
    library.add_code_skill(CHOP)
    library.add_code_skill(CHOP.replace("hits=3", "hits=4"))
    assert cli("skills", "rm", "chop", "--version", "1").exit_code == 0
    listed = cli("--json", "skills", "list", "--all-versions").json()
    assert [s["version"] for s in listed if s["name"] == "chop"] == [2]


def test_verify_names_a_tampered_skill(cli, library):
    skill = library.add_code_skill(CHOP)
    r = cli("skills", "verify")
    assert r.exit_code == 0 and r.stdout.strip().endswith("skills ok"), r.stderr
    (skill.path / "skill.py").write_text(CHOP.replace('yield "do"', 'yield "noop"'))
    r = cli("skills", "verify")
    assert r.exit_code == 7
    assert "chop v1" in r.stderr and r.stderr.count("\n") == 1
    assert "broken: chop v1" in r.stdout
    report = cli("--json", "skills", "verify")
    assert report.exit_code == 7
    assert [s["name"] for s in report.json() if s["status"] == "broken"] == ["chop"]


def test_rebuild_recovers_a_lost_manifest(cli, library):
    library.add_code_skill(CHOP)
    library.manifest_path.unlink()
    assert "chop" not in names(cli("--json", "skills", "list"))
    r = cli("--json", "skills", "rebuild")
    assert r.exit_code == 0 and r.json() == {"versions": 1, "problems": [], "exit_code": 0, "error": None}
    assert "chop" in names(cli("--json", "skills", "list"))


def test_names_complete_from_library_and_builtins(library):
    from rlgpt_cli.cli import app
    from typer.main import get_command

    library.add_code_skill(CHOP)
    group = get_command(app)
    ctx = group.make_context("rlgpt", ["skills", "show"], resilient_parsing=True)
    show = group.get_command(ctx, "skills").get_command(ctx, "show")
    name = next(p for p in show.params if p.name == "name")
    assert [c.value for c in name.shell_complete(ctx, "c")][:2] == ["chop", "collect_coal"]
    assert [c.value for c in name.shell_complete(ctx, "goto_w")] == ["goto_water"]


def test_plugins_lists_defaults_hooks_and_library_skills(cli, pm, library):
    library.add_code_skill(CHOP)
    r = cli("--json", "plugins")
    assert r.exit_code == 0, r.stderr
    listed = {p["name"]: p["hooks"] for p in r.json()}
    assert listed["rlgpt_cli.default_plugins.worlds"] == ["register_worlds"]
    assert listed["rlgpt_cli.default_plugins.minedojo_tasks"] == ["register_tasks"]
    assert listed["rlgpt_cli.default_plugins.builtin_skills"] == ["register_skills"]
    assert listed["library"] == ["register_skills"]
    assert next(p for p in r.json() if p["name"] == "library")["skills"] == ["chop"]
    assert "register_worlds" in cli("plugins").stdout


def test_registered_third_party_plugin_shows_up(cli, pm):
    fake = types.ModuleType("rlgpt_fake")
    fake.register_worlds = hookspecs.hookimpl(lambda register: register("fakeland", dict, description="fake"))
    pm.register(fake, name="rlgpt_fake")
    listed = {p["name"]: p["hooks"] for p in cli("--json", "plugins").json()}
    assert listed["rlgpt_fake"] == ["register_worlds"]


def test_plugin_file_adds_a_world_and_a_command(rlgpt_exe, isolated_home):
    folder = isolated_home / "plugins"
    folder.mkdir(parents=True)
    (folder / "gridland.py").write_text(textwrap.dedent(
        '''
        import typer

        from rlgpt_cli.hookspecs import hookimpl


        @hookimpl
        def register_worlds(register):
            register("gridland", dict, description="A tiny grid world")


        @hookimpl
        def register_commands(app):
            @app.command()
            def hello(name: str):
                """Say hello."""
                typer.echo(f"hello {name}")
        '''
    ))
    env = {**os.environ, "RLGPT_HOME": str(isolated_home), "RLGPT_LOAD_PLUGINS": ""}

    def run(*args):
        return subprocess.run([rlgpt_exe, *args], capture_output=True, text=True, env=env, timeout=60)

    listed = {p["name"]: p["hooks"] for p in json.loads(run("--json", "plugins").stdout)}
    assert listed["rlgpt_plugin_file.gridland"] == ["register_commands", "register_worlds"]
    assert "gridland" in [w["name"] for w in json.loads(run("--json", "envs", "list").stdout)]
    hello = run("hello", "world")
    assert (hello.returncode, hello.stdout) == (0, "hello world\n"), hello.stderr
