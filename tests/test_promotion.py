"""Safe promotion: a new skill version runs only if it beats the running one on the same
promotion seeds (paired, one-sided exact sign test); a changed contract gets a new name;
version pins; experiments that store nothing. Judged in the real world, no runner mocks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rlgpt_cli import seeds as seed_policy
from rlgpt_cli.errors import ExitCode, NotFound, UsageError
from rlgpt_cli.library import Library, parse_code_skill, renamed_source
from rlgpt_cli.resources import builtin_skills_dir
from rlgpt_cli.runner import promotion

SUB = {"name": "fetch_wood", "effects": ["wood >= 1"], "success": "wood increased by 1"}
PROMOTION_SEEDS = seed_policy.promotion(0, 6)


def wood_skill(body: str, description: str = "Fetch one wood.") -> str:
    return (f"def act(api, max_steps=300):\n{body}\n\n"
            f'SKILL = {{"name": "fetch_wood", "description": "{description}", "world": "crafter",\n'
            f'         "effects": {{"inventory": {{"wood": 1}}}}, "params": {{"max_steps": 300}}}}\n')


GOOD = wood_skill('    return (yield from api.collect("wood", 1))')
GIVES_UP = wood_skill('    yield "noop"\n    return False', "Gives up at once.")


@pytest.fixture
def library(tmp_path):
    return Library(tmp_path / "library", builtin_dirs=[builtin_skills_dir()])


def save_code(library, source: str, seeds=PROMOTION_SEEDS):
    meta = parse_code_skill(source)
    return promotion.save(
        library, lambda name, record: library.add_code_skill(source, metrics={"promotion": record}),
        SUB, [], kind="code", params=meta["params"], effects=meta["effects"], task="collect_wood",
        world="crafter", seeds=seeds)


def untrained_policy(library):
    """A policy with random weights (the worst a short training can leave), same contract as fetch_wood."""
    import torch

    from rlgpt_cli.learn.ppo import Agent
    from rlgpt_cli.runner.skills import MACRO_STEP_CAP, observation_space
    from rlgpt_cli.worlds.base import get_kit

    torch.manual_seed(0)
    kit = get_kit("crafter")
    agent = Agent(observation_space(kit, 0), len(kit.action_names))
    config = {"world": "crafter", "network": agent.spec(), "native_actions": len(kit.action_names),
              "macro_actions": [], "macro_versions": {}, "macro_step_cap": MACRO_STEP_CAP,
              "reward_code": "def reward(prev, obs, info):\n    return 0.0\n",
              "termination": {"success": 'info["inventory"]["wood"] >= 1', "max_episode_steps": 100},
              "deterministic": False}
    params, effects = {"max_steps": 100}, {"inventory": {"wood": 1}}
    return promotion.save(
        library, lambda name, record: library.add_policy_skill(
            name, agent.state_dict(), config, description="Untrained policy.", effects=effects, params=params,
            metrics={"promotion": record}),
        SUB, [], kind="policy", params=params, effects=effects, task="collect_wood", world="crafter",
        seeds=PROMOTION_SEEDS)


def test_sign_test_is_the_exact_one_sided_binomial_tail():
    assert promotion.sign_test(5, 0) == 1 / 32 < promotion.ALPHA  # 5 clean wins: significant
    assert promotion.sign_test(4, 0) == 1 / 16 > promotion.ALPHA  # 4 are not
    assert promotion.sign_test(7, 1) == 9 / 256 and promotion.sign_test(6, 2) == 37 / 256
    assert promotion.sign_test(0, 0) == 1.0 and promotion.sign_test(0, 3) == 1.0


def test_a_worse_policy_version_never_becomes_the_running_one(library):
    from rlgpt_cli.agents.loops import evaluate
    from rlgpt_cli.runner.episode import stage_from_subaction

    first, record = save_code(library, GOOD)
    assert first.version == 1 and record["promoted"] and "first version" in record["reason"]
    policy, record = untrained_policy(library)
    assert (policy.name, policy.version, policy.kind) == ("fetch_wood", 2, "policy")
    assert not record["promoted"] and not policy.best
    assert record["against"] == "fetch_wood v1" and record["old_successes"] == 6 and record["seeds"] == PROMOTION_SEEDS
    assert "kept as a candidate" in record["reason"] and "fetch_wood@2" in record["reason"]
    assert library.get("fetch_wood").kind == "code"  # the coded skill keeps running
    # Recorded where a rebuild finds it, and the decision survives one.
    assert library.get("fetch_wood", 2).metrics["promotion"]["promoted"] is False
    library.rebuild()
    assert library.get("fetch_wood").version == 1
    # The candidate is runnable with a pin, and on real seeds it really is worse.
    seeds = seed_policy.held_out(2)
    env = {"length": 2000}
    pinned = evaluate("crafter", "collect_wood", [], stage_from_subaction(SUB, library.get("fetch_wood@2")), seeds,
                      library, env=env)
    running = evaluate("crafter", "collect_wood", [], stage_from_subaction(SUB, library.get("fetch_wood")), seeds,
                       library, env=env)
    assert running["success_rate"] == 1.0 > pinned["success_rate"]


def test_a_clearly_better_version_is_promoted_and_a_weaker_one_is_not(library):
    save_code(library, GIVES_UP)
    better, record = save_code(library, GOOD)
    assert record["promoted"] and better.best and library.get("fetch_wood").version == 2
    assert (record["wins"], record["losses"], record["pairs"]) == (6, 0, 6)
    assert record["p_value"] == pytest.approx(1 / 64) and record["test"].startswith("one-sided exact sign test")
    # Judged against the version running now (v2), the quitter again loses: v2 keeps running.
    worse, record = save_code(library, GIVES_UP.replace("Gives up at once.", "Gives up again."))
    assert worse.version == 3 and not record["promoted"] and record["against"] == "fetch_wood v2"
    assert library.get("fetch_wood").version == 2
    # With fewer pairs than the test needs, even a clear improvement is not promoted.
    save_code(library, GIVES_UP.replace("Gives up at once.", "Quits."))
    other = Library(library.path.parent / "other", builtin_dirs=[builtin_skills_dir()])
    save_code(other, GIVES_UP)
    _, record = save_code(other, GOOD, seeds=PROMOTION_SEEDS[:4])
    assert not record["promoted"] and record["wins"] == 0 and other.get("fetch_wood").version == 1


def test_a_changed_contract_gets_a_new_name_and_never_shadows_the_built_in(library):
    builtin = library.get("collect_wood")
    assert builtin.params == {"n": 1} and builtin.version == 1
    effects = {"inventory": {"wood": 1}, "nearby": []}
    assert promotion.placement(library, "collect_wood", "policy", {"max_steps": 60}, effects) == \
        ("collect_wood_rl", None)
    name, running = promotion.placement(library, "collect_wood", "code", {"n": 3}, effects)
    assert (name, running.version) == ("collect_wood", 1)  # the same contract: a version of it
    source = GOOD.replace('"fetch_wood"', '"collect_wood"')
    library.add_code_skill(renamed_source(source, "collect_wood_rl"), metrics={"promotion": {"promoted": True}})
    assert promotion.placement(library, "collect_wood", "code", {"count": 1}, effects)[0] == "collect_wood_code"
    # collect_wood_rl now runs a code skill with max_steps: a policy with the same contract joins it.
    assert promotion.placement(library, "collect_wood", "policy", {"max_steps": 60}, effects) == \
        ("collect_wood_rl", library.get("collect_wood_rl"))
    assert promotion.placement(library, "collect_wood", "policy", {"max_steps": 6, "x": 1}, effects)[0] == \
        "collect_wood_rl_2"
    assert library.get("collect_wood").kind == "code" and library.get("collect_wood").version == 1


def test_renamed_source_changes_only_the_metadata():
    renamed = renamed_source(GOOD, "fetch_wood_code")
    assert parse_code_skill(renamed)["name"] == "fetch_wood_code"
    assert renamed.splitlines()[:2] == GOOD.splitlines()[:2]  # the model's code keeps its line numbers
    assert {k: v for k, v in parse_code_skill(renamed).items() if k != "name"} == \
        {k: v for k, v in parse_code_skill(GOOD).items() if k != "name"}


def test_which_version_runs(library):
    source = GOOD.replace('"fetch_wood"', '"collect_wood"').replace('"max_steps": 300', '"count": 1')
    # Never judged (an older library) and a changed contract: the built-in still runs.
    library.add_code_skill(source, metrics={"success_rate": 1.0})
    assert library.get("collect_wood").provenance == {"source": "builtin"}
    assert [s.version for s in library.list(all_versions=True) if s.name == "collect_wood"] == [1, 2]
    # Never judged with the built-in's contract: it hides the built-in (as before).
    same = source.replace('"count": 1', '"n": 1')
    assert library.add_code_skill(same, metrics={"success_rate": 1.0}).version == 3
    assert library.get("collect_wood").version == 3
    library.remove("collect_wood")
    # Only candidates: the built-in runs; a promoted version runs until it is removed.
    lost = library.add_code_skill(same, metrics={"promotion": {"promoted": False, "reason": "lost"}})
    assert lost.version == 2 and not lost.best and library.get("collect_wood").version == 1
    won = library.add_code_skill(same, metrics={"promotion": {"promoted": True}})
    assert library.get("collect_wood").version == won.version == 3
    library.remove("collect_wood", 3)
    assert library.get("collect_wood").version == 1
    # A candidate-only name with nothing provided still runs something: the best measured.
    library.add_code_skill(GOOD, metrics={"success_rate": 0.4, "promotion": {"promoted": False}})
    library.add_code_skill(GOOD, metrics={"success_rate": 0.9, "promotion": {"promoted": False}})
    assert library.get("fetch_wood").version == 2


def test_imported_versions_drop_a_foreign_promotion(library, tmp_path):
    library.add_code_skill(GOOD, metrics={"success_rate": 1.0, "promotion": {"promoted": True, "reason": "x"}})
    archive = library.export("fetch_wood", tmp_path / "s.zip")
    other = Library(tmp_path / "other")
    imported = other.import_(archive)
    assert "promotion" not in imported.metrics and imported.metrics["success_rate"] == 1.0 and imported.best


def test_version_pins(library, cli):
    from rlgpt_cli.runner.episode import plan_stages
    from rlgpt_cli.runner.skills import load_macros

    assert library.get("collect_wood@1").provenance == {"source": "builtin"}
    with pytest.raises(NotFound, match=r"collect_wood has no version 9 \(versions: 1\)"):
        library.get("collect_wood@9")
    for bad in ("collect_wood@x", "collect_wood@0"):
        with pytest.raises(UsageError, match="NAME@N"):
            library.get(bad)
    with pytest.raises(UsageError, match="pins version 1"):
        library.get("collect_wood@1", 2)
    candidate = library.add_code_skill(GOOD.replace('"fetch_wood"', '"collect_wood"').replace(
        '"max_steps": 300', '"n": 1'), metrics={"promotion": {"promoted": False}})
    stages = plan_stages([{"name": "collect_wood", "skill": "collect_wood@2"}, {"name": "place_table"}], library)
    assert [(s.skill.name, s.skill.version) for s in stages] == [("collect_wood", candidate.version), ("place_table", 1)]
    assert library.get("collect_wood").version == 1
    with pytest.raises(NotFound, match="sub-action collect_wood: skill collect_wood has no version 4"):
        plan_stages([{"name": "collect_wood", "skill": "collect_wood@4"}], library)
    assert [(s.name, s.version) for s in load_macros(library, ["goto_tree@1"])] == [("goto_tree", 1)]
    # Plans validate pins; the CLI shows a pinned version and refuses an unknown one.
    from pydantic import ValidationError

    from rlgpt_cli.models.schemas import SubAction

    assert SubAction(name="collect_wood", kind="reuse", skill="Collect_Wood@2").skill == "collect_wood@2"
    with pytest.raises(ValidationError):
        SubAction(name="collect_wood", kind="reuse", skill="collect_wood@v2")
    assert cli("--json", "skills", "show", "collect_wood@1").json()["source"] == "builtin"
    r = cli("skills", "show", "collect_wood@7")
    assert r.exit_code == ExitCode.USAGE and "has no version 7" in r.stderr


def test_code_no_save_stores_nothing_but_records_the_run(cli, isolated_home):
    r = cli("--json", "code", "--subtask", "place_table", "--episodes", "2", "--no-save")
    assert r.exit_code == 0, r.stderr
    report = r.json()
    assert report["saved"] is False and report["skill"] is None and report["success_rate"] == 1.0
    assert not (isolated_home / "library" / "manifest.json").exists()
    runs = cli("--json", "logs", "list").json()
    assert runs[0]["command"] == "code" and runs[0]["status"] == "ok"


def test_learn_no_save_then_learn_never_shadows_the_coded_skill(cli, tmp_path, isolated_home):
    from test_learn import write_config

    config = write_config(tmp_path / "rl.json")
    r = cli("--json", "learn", "--subtask", "harvest_log", "--config", config, "--num-envs", "1", "--episodes", "2",
            "--no-save")
    assert r.exit_code in (0, 1), r.stderr
    report = r.json()
    assert report["skill"] is None and report["saved"] is False and report["promotion"] is None
    assert not (isolated_home / "library" / "manifest.json").exists()
    assert cli("--json", "logs", "list").json()[0]["command"] == "learn"
    # The experiment, saved: the policy gets its own name and the coded skill keeps running.
    r = cli("--json", "learn", "--subtask", "harvest_log", "--config", config, "--num-envs", "1", "--episodes", "2",
            "--promotion-episodes", "4")
    assert r.exit_code in (0, 1), r.stderr
    assert r.json()["skill"] == "collect_wood_rl v1"
    r = cli("--json", "run", "make", "wood", "pickaxe", "--episodes", "2")
    assert r.exit_code == 0, r.stderr
    assert r.json()["success_rate"] == 1.0 and r.json()["skills"]["collect_wood"] == "collect_wood v1"


def test_iterate_leaves_every_running_version_unchanged_or_promoted(cli):
    before = {s["name"]: s["version"] for s in cli("--json", "skills", "list").json()}
    seeds = "1000000-1000002"
    start = cli("--json", "run", "make", "wood", "pickaxe", "--seeds", seeds).json()["success_rate"]
    r = cli("--json", "iterate", "make", "wood", "pickaxe", "--episodes", "2")
    assert r.exit_code == 0, r.stderr
    saved = [s for s in cli("--json", "skills", "list", "--all-versions").json() if s["source"] == "library"]
    assert saved, "iterate saved the skills it wrote"
    for skill in cli("--json", "skills", "list").json():
        promoted = (skill["metrics"].get("promotion") or {}).get("promoted")
        assert skill["version"] == before.get(skill["name"]) or promoted, skill["name"]
    assert all(s["metrics"]["promotion"]["reason"] for s in saved)
    candidates = [s for s in saved if not s["best"]]
    assert candidates and all(not s["metrics"]["promotion"]["promoted"] for s in candidates)
    listing = cli("skills", "list", "--all-versions").stdout
    assert all(f"{s['name']}" in listing for s in candidates) and "candidate" in listing
    end = cli("--json", "run", "make", "wood", "pickaxe", "--seeds", seeds).json()
    assert end["success_rate"] >= start == 1.0
    # collect_wood_code was no better than the built-in collect_wood: the validated plan kept it.
    assert end["skills"]["collect_wood"] == "collect_wood v1"


def test_iterate_runs_a_renamed_skill_only_where_it_beats_the_one_it_replaces(cli, isolated_home, fresh_pm):
    # A plugin's collect_wood(n) that gives up at once: the fast agent's collect_wood(count) has
    # another contract, so it is saved as collect_wood_code, judged against the plugin's on the
    # promotion seeds, and the plan takes it up because it is better.
    folder = isolated_home / "plugins"
    folder.mkdir(parents=True)
    (folder / "weak_wood.py").write_text(
        "from rlgpt_cli.hookspecs import hookimpl\nfrom rlgpt_cli.library import Skill\n\n"
        "def quit(api, n=1):\n    yield 'noop'\n    return False\n\n"
        "@hookimpl\ndef register_skills(register):\n"
        "    register(Skill(name='collect_wood', version=1, kind='code', world='crafter', description='Gives up.',\n"
        "                   effects={'inventory': {'wood': 1}}, params={'n': 1}, entry=quit))\n")
    def running_collect_wood():
        return next(s for s in cli("--json", "skills", "list").json() if s["name"] == "collect_wood")["source"]

    assert running_collect_wood() == "plugin"
    r = cli("--json", "iterate", "collect", "wood", "--episodes", "2")
    assert r.exit_code == 0, r.stderr
    assert r.json()["status"] == "succeeded"
    state = json.loads(Path(r.json()["state_path"]).read_text())
    outcome = next(f for f in state["feedback"] if f.get("subaction") == "collect_wood")
    assert outcome["skill"] == "collect_wood_code v1" and outcome["promotion"]["better"]
    assert outcome["promotion"]["renamed_from"] == "collect_wood"
    # The plugin's skill is not shadowed; the validated plan names the better skill, and run uses it.
    assert running_collect_wood() == "plugin"
    r = cli("--json", "run", "collect", "wood", "--episodes", "2")
    assert r.exit_code == 0, r.stderr
    assert r.json()["skills"]["collect_wood"] == "collect_wood_code v1" and r.json()["success_rate"] == 1.0


def test_out_of_reach_tells_when_no_new_version_could_be_promoted(library):
    assert promotion.out_of_reach(library, SUB, [], task="collect_wood", world="crafter",
                                  seeds=PROMOTION_SEEDS) is None  # nothing runs for it yet
    save_code(library, GIVES_UP)
    running = promotion.out_of_reach(library, SUB, [], task="collect_wood", world="crafter", seeds=PROMOTION_SEEDS)
    assert not running["out_of_reach"] and running["old_successes"] == 0  # 6 clean wins would be significant
    assert running["env_steps"] > 0 and "reason" not in running
    save_code(library, GOOD)
    kept = promotion.out_of_reach(library, SUB, [], task="collect_wood", world="crafter", seeds=PROMOTION_SEEDS)
    assert kept["out_of_reach"] and kept["against"] == "fetch_wood v2" and kept["old_successes"] == 6
    assert kept["env_steps"] > 0 and "could win at most 0" in kept["reason"]


def test_iterate_trains_no_policy_that_could_not_replace_the_running_skill(cli):
    # eat_cow is reactive, so the slow agent plans it as rl; the built-in eat_cow succeeds on
    # every promotion seed, so no learned version could be promoted: nothing is trained.
    plan = cli("--json", "plan", "eat", "cow").json()["plan"]["subactions"]
    assert next(s for s in plan if s["name"] == "eat_cow")["kind"] == "rl"
    r = cli("--json", "iterate", "eat", "cow", "--episodes", "2")
    assert r.exit_code == 0, r.stderr
    state = json.loads(Path(r.json()["state_path"]).read_text())
    outcome = next(f for f in state["feedback"] if f.get("subaction") == "eat_cow")
    assert outcome["kind"] == "rl" and outcome["success"] and outcome["skill"] is None
    assert "eat_cow v1 succeeded in 20 of 20 promotion episodes" in outcome["promotion"]["reason"]
    assert not any(s["name"].startswith("eat_cow") for s in cli("--json", "skills", "list", "--all-versions").json()
                   if s["source"] == "library")
    assert r.json()["env_steps"] < 20_000  # the promotion episodes and the task's, no PPO budget


def test_iterate_trains_no_policy_whose_judging_the_budget_could_not_pay_for(cli):
    # eat_plant waits, so it is planned as rl; the built-in eat_plant can still be beaten, but the
    # validations, held-out evaluation and promotion of a policy (up to 1,000 steps an episode)
    # would take more than the 60k-step budget leaves: nothing is trained.
    r = cli("--json", "iterate", "eat", "plant", "--outer", "1", "--episodes", "2", "--max-steps", "60000")
    assert r.exit_code in (0, 1), r.stderr  # the task's 2 episodes may or may not reach the target
    state = json.loads(Path(r.json()["state_path"]).read_text())
    outcome = next(f for f in state["feedback"] if f.get("subaction") == "eat_plant")
    assert outcome["kind"] == "rl" and outcome["skill"] is None
    assert "env steps are left of the budget, and judging a policy may take" in outcome["promotion"]["reason"]
    assert not any(s["name"].startswith("eat_plant") for s in cli("--json", "skills", "list", "--all-versions").json()
                   if s["source"] == "library")
