"""`rlgpt envs` and `rlgpt tasks` through the CLI."""

from __future__ import annotations

from rlgpt_cli.errors import ExitCode


def test_envs_list_json(cli):
    r = cli("envs", "list", "--json")
    assert r.exit_code == 0, r.stderr
    rows = {w["name"]: w for w in r.json()}
    assert rows["crafter"]["available"] is True
    assert rows["minedojo"]["available"] is False
    assert "minedojo" in rows["minedojo"]["note"].lower()


def test_envs_show_and_unknown(cli):
    data = cli("--json", "envs", "show", "crafter").json()
    assert len(data["actions"]) == 17 and "collect_diamond" in data["tasks"]
    r = cli("envs", "show", "craftr")
    assert r.exit_code == ExitCode.USAGE
    assert r.stderr.strip() == "Error: unknown world 'craftr'; did you mean crafter?"


def test_tasks_list_has_achievements_and_composites(cli):
    names = {t["name"] for t in cli("tasks", "list", "--env", "crafter", "--json").json()}
    assert len({n for n in names if n.startswith(("collect_", "place_", "make_", "eat_", "defeat_", "wake_"))}) >= 22
    assert {"all_achievements", "collect_diamond"} <= names


def test_tasks_show_resolves_phrases(cli):
    assert cli("--json", "tasks", "show", "harvest_log").json()["name"] == "collect_wood"
    assert cli("--json", "tasks", "show", "obtain diamond").json()["name"] == "collect_diamond"
    r = cli("tasks", "show", "obtain unicorn")
    assert r.exit_code == ExitCode.USAGE and r.stderr.count("\n") == 1


def test_minedojo_tasks_come_from_the_default_plugin(cli):
    tasks = {t["name"]: t for t in cli("--json", "tasks", "list", "--env", "minedojo").json()}
    assert "collect_wood" in tasks and all(t["world"] == "minedojo" for t in tasks.values())
    shown = cli("--json", "--env", "minedojo", "tasks", "show", "harvest_log").json()
    assert shown["world"] == "minedojo"
