"""The agents and the commands that use them: plan, code, run, iterate — offline, and through
the real litellm path against a fake OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import json

import pytest

from fake_openai import FakeOpenAI, Reply
from rlgpt_cli.agents import offline
from rlgpt_cli.agents.planner import knowledge
from rlgpt_cli.errors import ExitCode
from rlgpt_cli.worlds.tasks import resolve_task

# The recipe graph's chain, with a sword after each pickaxe (the way down crosses monsters).
TECH_TREE = ["collect_wood", "place_table", "make_wood_pickaxe", "make_wood_sword", "collect_stone",
             "make_stone_pickaxe", "make_stone_sword", "collect_iron", "place_furnace", "collect_coal",
             "make_iron_pickaxe", "collect_diamond"]


def offline_plan(task: str, library=(), feedback=()):
    t = resolve_task(task)
    return offline.answer_plan({"task": t.to_dict(), "world": "crafter", "knowledge": knowledge(t),
                                "library": list(library), "feedback": list(feedback)})


def names(plan):
    return [s["name"] for s in plan["subactions"]]


def test_offline_plans_follow_the_recipe_graph():
    assert names(offline_plan("obtain diamond")) == TECH_TREE
    stone = names(offline_plan("make a stone pickaxe"))
    assert stone[-1] == "make_stone_pickaxe" and stone.index("make_wood_pickaxe") < stone.index("collect_stone")
    # tasks no prompt example mentions
    assert names(offline_plan("make_iron_sword"))[-1] == "make_iron_sword"
    assert names(offline_plan("collect_drink")) == ["collect_drink"]
    assert names(offline_plan("place furnace"))[-1] == "place_furnace"


def test_planner_reuses_good_library_skills_and_moves_failing_code_to_rl():
    plan = offline_plan("make wood pickaxe", library=[{"name": "collect_wood", "success_rate": 0.95, "version": 2}])
    first = plan["subactions"][0]
    assert first["kind"] == "reuse" and first["skill"] == "collect_wood"
    assert plan["subactions"][1]["kind"] == "code"
    failed = {"subaction": "place_table", "kind": "code", "success": False, "success_rate": 0.2,
              "attempts": [{"attempt": 1, "success_rate": 0.2}, {"attempt": 2, "success_rate": 0.4}]}
    kinds = {s["name"]: s["kind"] for s in offline_plan("make wood pickaxe", feedback=[failed])["subactions"]}
    assert kinds["place_table"] == "code"  # two failed attempts: the fast agent tries again
    kinds = {s["name"]: s["kind"] for s in offline_plan("make wood pickaxe", feedback=[failed, failed])["subactions"]}
    assert kinds["place_table"] == "rl" and kinds["collect_wood"] == "code"


def test_critic_rules_and_coder_applies_its_suggestions():
    verdict = offline.answer_critic({"kind": "code", "attempt": {"number": 1},
                                     "results": {"success_rate": 0.4, "episodes": 5,
                                                 "failures": {"died": 2, "gave_up": 1}}})
    assert verdict["success"] is False and verdict["revise"] == "code"
    sub = {"name": "collect_stone", "effects": ["stone >= 3"]}
    plain = offline.answer_code({"subaction": sub, "feedback": []})
    assert 'api.collect("stone", count)' in plain["source"] and plain["params"] == {"count": 3}
    fixed = offline.answer_code({"subaction": sub, "feedback": [{"suggestions": verdict["suggestions"]}]})
    assert "api.survive()" in fixed["source"] and "api.explore(" in fixed["source"]
    ok = offline.answer_critic({"kind": "code", "results": {"success_rate": 1.0, "episodes": 5}})
    assert ok == {**ok, "success": True, "revise": "none"}


def test_plan_command_json_and_show(cli):
    r = cli("plan", "obtain", "diamond", "--json")
    assert r.exit_code == 0, r.stderr
    data = r.json()
    assert data["model"] == "rlgpt/offline"
    assert [s["name"] for s in data["plan"]["subactions"]] == TECH_TREE
    shown = cli("--json", "plan", "show", str(data["id"])).json()
    assert shown["plan"] == data["plan"]
    human = cli("plan", "obtain", "diamond")
    assert "not an LLM" in human.stdout
    assert cli("plan", "show", "999").exit_code == ExitCode.USAGE


def test_code_command_adds_a_working_skill(cli):
    r = cli("--json", "code", "--subtask", "place_table", "--episodes", "3")
    assert r.exit_code == 0, r.stderr
    report = r.json()
    assert report["skill"]["name"] == "place_table" and report["success_rate"] >= 0.8
    assert report["skill"]["metrics"]["seeds"] == report["seeds"]
    # The built-in place_table is v1 and never fails: the new version is stored as a candidate.
    assert report["skill"]["version"] == 2 and not report["promotion"]["promoted"]
    assert report["promotion"]["against"] == "place_table v1" and report["promotion"]["old_successes"] == 20
    listed = {(s["name"], s["version"]): s for s in cli("--json", "skills", "list", "--all-versions").json()}
    assert listed[("place_table", 2)]["provenance"]["model"] == "rlgpt/offline"
    assert listed[("place_table", 1)]["best"] and listed[("place_table", 1)]["source"] == "builtin"
    calls = cli("--json", "logs", "show", str(cli("--json", "logs", "list").json()[0]["id"])).json()["calls"]
    assert {c["prompt"] for c in calls} >= {"slow_agent", "fast_agent_code", "critic"}


def test_run_command_reports_achievements_and_score(cli, tmp_path):
    assert cli("code", "--subtask", "collect_wood", "-n", "2").exit_code == 0
    gif = tmp_path / "ep.gif"
    r = cli("--json", "run", "collect", "wood", "--episodes", "2", "--record", str(gif))
    assert r.exit_code == 0, r.stderr
    report = r.json()
    assert report["success_rate"] == 1.0 and len(report["achievements"]) == 22
    assert report["achievements"]["collect_wood"] == 1.0 and report["crafter_score"] > 0
    assert min(report["seeds"]) >= 1_000_000  # held out from the seeds skills were judged on
    assert gif.stat().st_size > 0
    assert cli("run", "collect", "wood", "--seeds", "x-y").exit_code == ExitCode.USAGE


def test_iterate_killed_midway_resumes_and_finishes(cli, monkeypatch):
    from rlgpt_cli import iterate as it

    real = it.Loops.code_subaction
    calls = {"n": 0}

    def killed_after_two(self, sub, prefix):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(self, sub, prefix)

    monkeypatch.setattr(it.Loops, "code_subaction", killed_after_two)
    r = cli("iterate", "make", "wood", "pickaxe", "--episodes", "2")
    assert r.exit_code == ExitCode.INTERRUPTED
    run_id = cli("--json", "logs", "list").json()[0]["id"]
    monkeypatch.setattr(it.Loops, "code_subaction", real)
    r = cli("--json", "iterate", "--resume", str(run_id))
    assert r.exit_code == 0, r.stderr
    report = r.json()
    assert report["status"] == "succeeded"
    assert report["iterations"][0]["task_success_rate"] >= 0.8
    assert [s["name"] for s in report["iterations"][0]["subactions"]] == TECH_TREE[:3]


@pytest.fixture
def openai_env(monkeypatch):
    def use(server):
        monkeypatch.setenv("OPENAI_API_BASE", server.url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    return use


def test_plan_through_a_real_openai_compatible_server(cli, openai_env):
    answer = {"task": "collect_wood", "subactions": [
        {"name": "collect_wood", "kind": "code", "reason": "easy", "effects": ["wood >= 1"]}]}
    with FakeOpenAI([Reply("Sure! ```json\n" + json.dumps(answer) + "\n```")]) as server:
        openai_env(server)
        r = cli("--json", "--model", "openai/test-model", "plan", "harvest", "log")
        assert r.exit_code == 0, r.stderr
        assert r.json()["model"] == "openai/test-model"
        assert '<rlgpt-context prompt=\\"slow_agent\\">' in json.dumps(server.requests[0]["messages"])


def test_prose_instead_of_json_is_a_model_error(cli, openai_env):
    with FakeOpenAI([Reply("I think you should chop a tree first.")]) as server:
        openai_env(server)
        r = cli("--model", "openai/test-model", "plan", "harvest", "log")
    assert r.exit_code == ExitCode.MODEL
    assert r.stderr.startswith("Error: ") and r.stderr.count("\n") == 1
    runs = cli("--json", "logs", "list").json()
    assert runs[0]["status"] == "failed" and runs[0]["model_calls"] >= 1


def test_server_errors_end_with_model_exit_code(cli, openai_env):
    with FakeOpenAI([Reply(status=401, error="bad key")]) as server:
        openai_env(server)
        r = cli("--model", "openai/test-model", "plan", "harvest", "log")
    assert r.exit_code == ExitCode.MODEL and "Traceback" not in r.stderr


def test_hostile_code_answer_is_refused_and_never_runs(cli, openai_env, tmp_path):
    sentinel = tmp_path / "pwned"
    plan = {"task": "collect_wood", "subactions": [{"name": "collect_wood", "kind": "code", "effects": ["wood >= 1"]}]}
    hostile = {"skill": "collect_wood", "description": "x", "source":
               f"def act(api):\n    import os\n    os.system('touch {sentinel}')\n    yield 'do'\n"}
    escape = {"skill": "collect_wood", "description": "x", "source":
              "def act(api):\n    yield ().__class__.__bases__[0].__subclasses__()\n"}
    with FakeOpenAI([Reply(json.dumps(plan)), Reply(json.dumps(hostile)), Reply(json.dumps(escape))]) as server:
        openai_env(server)
        r = cli("--model", "openai/test-model", "code", "--subtask", "harvest_log", "--attempts", "2")
    assert r.exit_code == ExitCode.SANDBOX
    errors = [line for line in r.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "refused by the sandbox" in errors[0]
    assert r.stderr.splitlines()[-1] == errors[0]
    assert not sentinel.exists()
    # nothing was saved: every skill listed is still a built-in one
    assert all(s["provenance"].get("source") == "builtin" for s in cli("--json", "skills", "list").json())


def test_rl_configuration_inserts_precondition_skills_and_trains_longer_after_feedback():
    library = [{"name": "collect_wood", "kind": "code", "gives": ["wood >= 1"], "params": {"n": 1}},
               {"name": "place_table", "kind": "code", "gives": ["near table"], "needs": ["wood >= 2"]},
               {"name": "goto_table", "kind": "code", "gives": ["near table"], "params": {"max_steps": 300}},
               {"name": "explore", "kind": "code", "gives": []},
               {"name": "collect_stone", "kind": "code", "gives": ["stone >= 1"]}]
    sub = {"name": "make_wood_pickaxe", "preconditions": ["wood >= 1", "near table"]}
    first = offline.answer_rl({"subaction": sub, "library": library, "feedback": [], "total_steps": 1000})
    # The table is placed where the wood was collected, so no walk to it; collect_wood explores
    # for trees itself; it fetches the pickaxe's wood and the table's in one go.
    assert first["macro_actions"] == ["collect_wood", "place_table"]
    assert first["macro_params"] == {"collect_wood": {"n": 3}}
    # Without a skill that searches by itself, explore is the way to find things.
    alone = offline.answer_rl({"subaction": {"name": "collect_wood", "preconditions": []}, "library": library,
                               "feedback": [], "total_steps": 1000})
    assert alone["macro_actions"] == ["explore"] and alone["macro_params"] == {}
    again = offline.answer_rl({"subaction": sub, "library": library, "total_steps": 1000,
                               "feedback": [{"subaction": "make_wood_pickaxe", "kind": "rl", "success_rate": 0.3}]})
    assert again["total_steps"] == 2 * first["total_steps"]


def test_rl_reward_pays_progress_toward_the_check_and_no_loop_of_gathering_and_spending():
    """make_wood_pickaxe from scratch: wood up to the 1 it needs, the table placed, the pickaxe
    made pay; spending the wood takes back what it gave; every env step costs a little."""
    import numpy as np

    from rlgpt_cli.runner.rewards import RewardSpec
    from rlgpt_cli.worlds.base import get_kit

    kit = get_kit("crafter")
    sub = {"name": "make_wood_pickaxe", "preconditions": ["wood >= 1", "near table"]}
    config = offline.answer_rl({"subaction": sub, "library": [], "feedback": [], "total_steps": 1000,
                                "observation": kit.observation_docs()})
    spec = RewardSpec(config["reward_code"], config["termination"]["success"], sub["name"])
    slots = kit.observation_docs()["inventory"]

    def obs(**items):
        inv = np.zeros(len(slots), np.int64)
        inv[slots.index("health")] = 9
        for k, v in items.items():
            inv[slots.index(k)] = v
        return {"inventory": inv}

    def reward(before, after, unlocked=()):
        return spec.reward(obs(**before), obs(**after), {"unlocked": list(unlocked)}) + offline.STEP_COST

    assert reward({}, {}) == pytest.approx(0.0)
    assert reward({}, {"wood": 1}, ["collect_wood"]) == pytest.approx(1.0)
    assert reward({"wood": 1}, {"wood": 2}) == pytest.approx(0.0)  # more than the check needs
    assert reward({"wood": 1}, {}, ["place_table"]) == pytest.approx(0.0)  # spent, but the table stands
    assert reward({"wood": 1}, {"wood_pickaxe": 1}, ["make_wood_pickaxe"]) == pytest.approx(1.0)
    gather_and_spend = reward({}, {"wood": 1}) + reward({"wood": 1}, {})
    assert gather_and_spend == pytest.approx(0.0)
    assert spec.reward(obs(), obs(), {"unlocked": []}) == pytest.approx(-offline.STEP_COST)
    assert reward({}, {"health": 7}) == pytest.approx(-0.2)  # health lost


def test_success_checks_parse_and_judge_from_the_world_state():
    from rlgpt_cli.runner import checks

    check = checks.parse("Inventory wood >= 3 and stone increased by 2 and achievement place_table")
    assert str(check) == "inventory wood >= 3 and stone increased by 2 and achievement place_table unlocked"
    before = {"inventory": {"wood": 1, "stone": 0}, "achievements": {"place_table": 0}}
    after = {"inventory": {"wood": 3, "stone": 2}, "achievements": {"place_table": 1}}
    assert check.failed(before, after) == []
    assert check.failed(before, {**after, "inventory": {"wood": 2, "stone": 1}}) == [
        "inventory wood >= 3", "stone increased by 2"]
    assert checks.parse("stone increased by 2").failed({"inventory": {"stone": 8}}, {"inventory": {"stone": 9}},
                                                       cap=9) == []  # at the cap it cannot grow
    assert checks.parse("near table").failed({}, {}, near=lambda t: t == "table") == []
    assert checks.parse("alive").failed({}, {"alive": False}) == ["alive"]
    with pytest.raises(checks.CheckError, match="'a table is in view' is not a success check"):
        checks.parse("a table is in view")
    with pytest.raises(checks.CheckError, match="'wod' in 'inventory wod >= 1' is not a known item"):
        checks.validate(checks.parse("wod >= 1"), items=["wood"], achievements=[], targets=[])


def test_every_sandbox_violation_is_listed_with_the_models_own_line_numbers():
    from rlgpt_cli import sandbox
    from rlgpt_cli.agents.coder import binds_skill, skill_source
    from rlgpt_cli.models.schemas import CodeAnswer

    source = "def act(api):\n    import os\n    x = api._secret\n    yield 'noop'\n"
    reasons = sandbox.check_source(source)
    assert any("Line 2" in r and "os" in r for r in reasons) and any("Line 3" in r and "_secret" in r for r in reasons)
    answer = CodeAnswer(skill="place_table", description="d", source=source)
    full = skill_source(answer, "crafter")
    assert full.startswith(source)  # the model's lines first: file line numbers are its own
    assert binds_skill("SKILL = {'name': 'collect_wood'}\ndef act(api):\n    yield 'noop'\n")
    assert not binds_skill(source)


def test_code_skills_call_library_skills_by_name(tmp_path):
    from rlgpt_cli.library import Library, candidate_skill
    from rlgpt_cli.runner.episode import Stage, run_episode
    from rlgpt_cli.worlds.base import get_kit

    library = Library(tmp_path / "lib", plugins=True)
    source = ('def act(api):\n    ok = yield from skill("collect_wood", n=2)\n    return ok\n\n'
              "SKILL = {'name': 'two_wood', 'description': 'd', 'world': 'crafter', 'params': {},\n"
              "         'preconditions': {'inventory': {}, 'nearby': []},\n"
              "         'effects': {'inventory': {'wood': 2}, 'nearby': []}}\n")
    kit = get_kit("crafter")
    stage = Stage("two_wood", candidate_skill(source), {"inventory": {"wood": 2}, "nearby": []})
    episode = run_episode(lambda: kit.make_env(), kit.new_api, 1, [stage], library=library)
    assert episode.stages[0].success and episode.inventory["wood"] >= 2


def test_reward_code_cannot_fake_success_by_editing_info():
    from rlgpt_cli.runner.rewards import RewardSpec

    cheat = "def reward(prev, obs, info):\n    info['inventory']['wood'] = 9\n    return 0.0\n"
    spec = RewardSpec(cheat, "info['inventory']['wood'] >= 1", "harvest")
    obs = {"inventory": [9, 9, 9, 9, 0, 0]}
    info = {"inventory": {"wood": 0}, "achievements": {}}
    spec.reward(obs, obs, info)
    assert info["inventory"]["wood"] == 0 and spec.success(obs, info) is False
