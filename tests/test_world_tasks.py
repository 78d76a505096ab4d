"""The slow agent plans every task of the Crafter world: each achievement, the composites, the
whole benchmark, survival goals, and tasks that need waiting; each sub-action's kind follows
its nature (reactive, waiting, survival → rl; deterministic → code), with the reason."""

from __future__ import annotations

import pytest

from rlgpt_cli.worlds.crafter import recipes

ACHIEVEMENTS = recipes.achievements()
LEARNED = {"eat_cow": "reactive", "defeat_zombie": "reactive", "defeat_skeleton": "reactive",
           "eat_plant": "waiting", "stay_alive": "survival"}


def _plan(cli, *words):
    r = cli("--json", "plan", *words)
    assert r.exit_code == 0, r.stderr
    return r.json()["plan"]["subactions"]


def _assert_kinds(subs):
    names = [s["name"] for s in subs]
    assert len(names) == len(set(names)), names  # unique: the loops and the report key by name
    for s in subs:
        nature = LEARNED.get(s.get("skill") or s["name"])
        if s.get("skill") and s["skill"] != s["name"]:
            assert s["kind"] == "reuse" and "again" in s["reason"]
        elif nature:
            assert s["kind"] == "rl" and s["reason"].startswith(nature + ":"), s
        else:
            assert s["kind"] == "code" and s["reason"].startswith("deterministic"), s


@pytest.mark.parametrize("achievement", ACHIEVEMENTS)
def test_every_achievement_plans_with_kinds_by_nature(cli, achievement):
    subs = _plan(cli, achievement)
    assert subs[-1]["name"] == achievement and subs[-1]["success"] == f"achievement {achievement} unlocked"
    _assert_kinds(subs)


@pytest.mark.parametrize("task, needed", [
    ("defeat skeleton", ["make_wood_pickaxe", "make_wood_sword"]),  # tunnels are dug to; a sword is advised
    ("eat plant", ["collect_sapling", "place_plant"]),  # the sapling is planted first, then waited for
    ("defeat zombie", ["make_wood_sword"]),
])
def test_goals_come_after_what_they_need(cli, task, needed):
    names = [s["name"] for s in _plan(cli, *task.split())]
    assert all(names.index(n) < len(names) - 1 for n in needed), names


@pytest.mark.parametrize("task", ["all_pickaxes", "all_swords"])
def test_composites_collect_each_material_once_where_the_cap_allows(cli, task):
    subs = _plan(cli, task)
    _assert_kinds(subs)
    assert [s["name"] for s in subs].count("collect_wood") == 1


@pytest.mark.parametrize("words", [["crafter"], ["all", "achievements"]])
def test_the_whole_benchmark_is_one_episode_of_all_22(cli, words):
    subs = _plan(cli, *words)
    _assert_kinds(subs)
    names = [s["name"] for s in subs]
    assert set(names) == set(ACHIEVEMENTS) and len(names) == 22
    # Prerequisites first; the sapling early (it ripens meanwhile), the luck-bound goals last.
    assert names.index("place_plant") < names.index("collect_stone") and names[-4:] == [
        "defeat_zombie", "eat_plant", "collect_diamond", "defeat_skeleton"]
    assert names.index("make_wood_pickaxe") < names.index("defeat_skeleton")


def test_survive_days_is_a_survival_task_judged_alive(cli):
    subs = _plan(cli, "survive", "3", "days")
    assert [(s["name"], s["kind"], s["params"], s["success"]) for s in subs] == [
        ("stay_alive", "rl", {"steps": 900}, "alive")]
    assert subs[0]["reason"].startswith("survival:")
    # Longer than one stage can run: several stages, the later ones reusing the first's skill.
    subs = _plan(cli, "survive", "for", "12", "days")
    assert [(s["name"], s["params"]["steps"]) for s in subs] == [
        ("stay_alive", 1500), ("stay_alive_2", 1500), ("stay_alive_3", 600)]
    _assert_kinds(subs)
    r = cli("plan", "survive", "40", "days")
    assert r.exit_code == 2 and "1 to 33 days" in r.stderr


def test_survival_success_needs_the_player_alive_at_the_end():
    from rlgpt_cli.worlds.tasks import resolve_task

    task = resolve_task("survive 3 days")
    assert (task.name, task.max_steps, task.alive_steps) == ("survive_3_days", 900, 900)
    assert resolve_task("survive a day").alive_steps == 300
    assert task.success({"steps": 900, "alive": True})
    assert not task.success({"steps": 900, "alive": False})
    assert not task.success({"steps": 400, "alive": True})  # a skill that stopped early is no survival
    assert not task.success({})


def test_measured_library_skills_are_reused_whatever_their_nature():
    from rlgpt_cli.agents import offline
    from rlgpt_cli.agents.planner import knowledge
    from rlgpt_cli.worlds.tasks import resolve_task

    task = resolve_task("eat cow")
    ctx = {"task": task.to_dict(), "world": "crafter", "knowledge": knowledge(task), "feedback": []}
    good = [{"name": "eat_cow", "success_rate": 0.9, "version": 3}]
    [sub] = offline.answer_plan({**ctx, "library": good})["subactions"]
    assert sub["kind"] == "reuse" and sub["skill"] == "eat_cow" and "90%" in sub["reason"]
    [sub] = offline.answer_plan({**ctx, "library": [{**good[0], "success_rate": 0.3}]})["subactions"]
    assert sub["kind"] == "rl" and sub["reason"].startswith("reactive:")


def test_tasks_list_shows_the_survival_task(cli):
    r = cli("--json", "tasks", "list")
    assert r.exit_code == 0, r.stderr
    listed = {t["name"]: t for t in r.json()}
    assert listed["survive_3_days"]["alive_steps"] == 900


@pytest.mark.parametrize("words", [["eat", "cow"], ["collect", "drink"]])
def test_run_composes_the_built_in_skills(cli, words):
    r = cli("--json", "run", *words, "--episodes", "3")
    assert r.exit_code in (0, 1), r.stderr
    report = r.json()
    [(name, stage)] = report["subtasks"].items()
    assert stage["success_rate"] >= 2 / 3, report["subtasks"]  # the skill does what the plan checks
