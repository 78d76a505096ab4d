"""The survival guard: the runner hands control to it mid-stage and the stage resumes; the
Crafter API's danger trigger and the guard's first moves; the swords a deep plan makes; the
offline planner's reuse of a running version a candidate lost to."""

from __future__ import annotations

import numpy as np

from rlgpt_cli.agents import offline
from rlgpt_cli.agents.planner import knowledge, relevant
from rlgpt_cli.library import Skill
from rlgpt_cli.runner import checks
from rlgpt_cli.runner.episode import Stage, run_stages
from rlgpt_cli.runner.skills import GUARD_QUIET, GUARD_STEPS, Guard
from rlgpt_cli.worlds.crafter import goals
from rlgpt_cli.worlds.tasks import resolve_task


class World:
    """A world with a food counter that falls one a step; ``eat`` refills it; ``die`` ends it."""

    action_names = ["noop", "walk", "eat", "die"]

    def __init__(self, food: int = 5):
        self.food, self.walked = food, 0

    def step(self, action):
        name = self.action_names[action]
        self.food = 9 if name == "eat" else max(0, self.food - 1)
        self.walked += name == "walk"
        info = {"achievements": {}, "inventory": {"food": self.food, "walked": self.walked}}
        return {"food": self.food}, 0.0, name == "die", False, info


class Api:
    """What the runner asks of a world API: observe, step, danger."""

    def __init__(self, world):
        self.world, self.step = world, 0

    def observe(self, obs, info=None):
        self.step += 1

    def danger(self):
        return "food" if self.world.food <= 1 else None


def skill(name, entry, **params):
    return Skill(name, 1, "code", "tiny", name, params=params, entry=entry)


def walker(api, n=10):
    walker.starts += 1  # resumed, not restarted: one start per stage
    for _ in range(n):
        yield "walk"
    return True


def eater(api):
    yield "eat"
    return True


def stage(check="alive", n=10):
    return Stage("walk_far", skill("walk_far", walker, n=n), check=checks.parse(check))


def test_guard_takes_over_on_low_food_and_the_stage_resumes():
    walker.starts = 0
    world = World(food=3)
    guard = Guard(skill("survival_guard", eater))
    run = run_stages(world, Api(world), [stage("walked >= 10")], {}, guard=guard)
    result = run.results[0]
    assert walker.starts == 1 and world.walked == 10  # every walk of the one generator happened
    assert guard.calls == 2 and guard.reasons == {"food": 2} and guard.steps == 2  # food 1 after 2 walks, then 8 more
    assert result.success and result.outcome == "success" and result.steps == 12  # the guard's steps count


def test_without_a_guard_nothing_changes():
    walker.starts = 0
    world = World(food=3)
    run = run_stages(world, Api(world), [stage("walked >= 10")], {})
    assert run.results[0].success and run.results[0].steps == 10 and world.food == 0


def test_a_guard_that_cannot_help_goes_quiet_and_the_stage_still_ends():
    walker.starts = 0

    def idle(api):
        while True:
            yield "noop"

    world = World(food=1)  # danger every step: the guard never makes it safe
    guard = Guard(skill("survival_guard", idle))
    run = run_stages(world, Api(world), [stage("walked >= 10")], {}, guard=guard)
    assert run.results[0].success and world.walked == 10
    assert guard.steps == GUARD_STEPS * guard.calls
    assert guard.calls == 1 and 10 < GUARD_QUIET  # then quiet while the stage walks its 10 steps


def test_a_death_during_the_guard_is_the_stage_death():
    def reckless(api):
        yield "die"

    world = World(food=2)
    run = run_stages(world, Api(world), [stage(), stage()], {}, guard=Guard(skill("survival_guard", reckless)))
    assert [r.outcome for r in run.results] == ["died"] and run.died and run.ended


# --- Crafter: the trigger and the guard's moves --------------------------------------------


def crafter_obs(objects=(), food=9, drink=9, facing=(0, 1), daylight=1.0):
    from rlgpt_cli.worlds.crafter.primitives import ITEMS, OBJECT_IDS

    view = np.zeros((2, 9, 7), np.uint8)
    view[0] = 2  # grass all round
    for name, (dx, dy) in objects:
        view[1, 4 + dx, 3 + dy] = OBJECT_IDS[name]
    inventory = np.zeros(len(ITEMS), np.uint8)
    inventory[:4] = (9, food, drink, 9)
    return {"view": view, "inventory": inventory, "daylight": np.array([daylight], np.float32),
            "facing": np.array(facing, np.int8), "pos": np.array([32, 32], np.int16),
            "sleeping": np.array([0], np.uint8)}


def test_danger_names_an_adjacent_zombie_and_an_empty_stomach():
    from rlgpt_cli.worlds.crafter.primitives import CrafterAPI

    api = CrafterAPI()
    api.observe(crafter_obs())
    assert api.danger() is None
    api.observe(crafter_obs([("zombie", (1, 0))]))
    assert api.danger() == "zombie"
    api.observe(crafter_obs([("zombie", (3, 0)), ("cow", (1, 0))]))
    assert api.danger() is None  # a zombie three tiles off is the stage's business
    api.observe(crafter_obs(food=0))
    assert api.danger() == "food"


def test_the_guard_hits_the_zombie_next_to_the_player():
    from rlgpt_cli.worlds.crafter.primitives import CrafterAPI

    api = CrafterAPI()
    api.observe(crafter_obs([("zombie", (1, 0))], facing=(1, 0)))
    assert next(api.guard()) == "do"
    api.observe(crafter_obs([("zombie", (1, 0))], facing=(0, 1)))
    assert next(api.guard()) == "move_right"  # the zombie's cell is taken: this only turns


# --- Plans: swords on the way down --------------------------------------------------------


def step_names(task):
    return [d.get("name") or d["achievement"] for d in goals.steps(resolve_task(task))]


def test_tasks_past_the_stone_pickaxe_make_a_sword_after_each_pickaxe():
    chain = step_names("collect iron")
    assert chain[chain.index("make_wood_pickaxe") + 1] == "make_wood_sword"
    assert chain[chain.index("make_stone_pickaxe") + 1] == "make_stone_sword"
    wood = next(d for d in goals.steps(resolve_task("collect iron")) if d["target"] == "wood")
    assert wood["count"] == 6  # table, two pickaxes, two swords: the first collect takes it all
    assert "make_wood_sword" not in step_names("make stone pickaxe")  # the task ends there
    assert step_names("make stone sword").count("make_stone_sword") == 1


# --- The offline planner and the library's running versions -----------------------------


def offline_plan(task, library=(), feedback=()):
    t = resolve_task(task)
    return offline.answer_plan({"task": t.to_dict(), "world": "crafter", "knowledge": knowledge(t),
                                "library": list(library), "feedback": list(feedback)})


def kinds(plan):
    return {s["name"]: s["kind"] for s in plan["subactions"]}


LIBRARY = [{"name": "collect_wood", "version": 1, "kind": "code", "gives": ["wood >= 1"]},
           {"name": "place_table", "version": 1, "kind": "code", "gives": ["near table"]}]
LOST = {"subaction": "collect_wood", "kind": "code", "success": True, "success_rate": 0.9,
        "promotion": {"promoted": False}}


def test_a_sub_action_whose_candidate_lost_promotion_reuses_the_running_version():
    assert kinds(offline_plan("place table", LIBRARY))["collect_wood"] == "code"  # unmeasured: coded
    plan = offline_plan("place table", LIBRARY, [LOST])
    wood = next(s for s in plan["subactions"] if s["name"] == "collect_wood")
    assert wood["kind"] == "reuse" and wood["skill"] == "collect_wood"
    assert "did not beat it on paired seeds" in wood["reason"]
    assert kinds(plan)["place_table"] == "code"  # no candidate of its own was judged


def test_the_task_critic_asking_to_change_the_stage_codes_it_again():
    critic = {"kind": "task", "success_rate": 0.2, "critic": {"stage": "collect_wood", "change": "code"}}
    assert kinds(offline_plan("place table", LIBRARY, [LOST, critic]))["collect_wood"] == "code"
    elsewhere = {**critic, "critic": {"stage": "place_table"}}
    assert kinds(offline_plan("place table", LIBRARY, [LOST, elsewhere]))["collect_wood"] == "reuse"


def test_relevant_skills_include_those_named_like_a_sub_action():
    know = {"steps": [{"kind": "survive", "target": "days", "name": "stay_alive", "skill": "stay_alive"}]}
    skills = [{"name": "stay_alive", "gives": ["health >= 1"]}, {"name": "collect_iron", "gives": ["iron >= 1"]}]
    assert [s["name"] for s in relevant(skills, know)] == ["stay_alive"]


def test_run_with_the_guard_counts_its_hand_offs(cli):
    # On seed 1000000 a zombie steps next to the player twice while it gathers its wood.
    plain = cli("--json", "run", "collect", "9", "wood", "--seeds", "1000000").json()
    guarded = cli("--json", "run", "collect", "9", "wood", "--seeds", "1000000", "--guard").json()
    assert plain["guard"] is None
    assert guarded["guard"]["calls"] >= 1 and guarded["guard"]["steps"] >= 1
    assert guarded["success_rate"] == 1.0 and guarded["episodes"] == 1


def test_only_the_last_stage_of_a_plan_may_outlast_the_stage_cap():
    from rlgpt_cli.runner.episode import STAGE_STEPS, plan_stages

    class Library:  # plan_stages asks the library for each sub-action's running skill
        def get(self, name):
            return skill(name, walker, n=STAGE_STEPS + 100)

    walker.starts = 0
    plan = [{"name": "walk_far", "success": "walked >= 1550"}, {"name": "walk_on", "success": "walked >= 1550"}]
    world = World(food=9)
    run = run_stages(world, Api(world), plan_stages(plan, Library()), {})
    # A long search before another stage is cut off at the cap; as the plan's last stage it
    # runs on (nothing after it needs the steps).
    assert [(r.outcome, r.steps) for r in run.results][0] == ("step_cap", STAGE_STEPS)
    world = World(food=9)
    run = run_stages(world, Api(world), plan_stages(plan[1:], Library()), {})
    assert [(r.outcome, r.steps) for r in run.results] == [("success", STAGE_STEPS + 100)]
