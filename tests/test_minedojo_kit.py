"""MineDojo's kit: its recipe graph and knowledge, its primitive API, and the seam.

Observations come from the adapter over the MineDojo stand-in (tests/minedojo_standin.py);
no test here runs Minecraft, and none needs the network.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

import minedojo_standin as standin
from rlgpt_cli.errors import WorldError
from rlgpt_cli.worlds import minedojo as md
from rlgpt_cli.worlds import minedojo_kit as mk
from rlgpt_cli.worlds.base import WorldKit, get_kit, get_world
from rlgpt_cli.worlds.tasks import list_tasks, resolve_task


@pytest.fixture(scope="module")
def kit():
    return get_kit("minedojo")


@pytest.fixture
def fake(monkeypatch):
    return standin.install(monkeypatch)


def _world(task="make_wood_pickaxe"):
    return md.MineDojoWorld(task, image_size=(8, 8), check_java=False)


def _started(kit):
    """A stand-in world just reset, and a fresh API that has observed it."""
    world = _world()
    api = kit.new_api()
    api.observe(*world.reset())
    return world, api


def drive(world, api, gen, limit=2_000):
    """Run a primitive against the world as the runner does: step each yielded name, then observe."""
    names = []
    try:
        while len(names) < limit:
            name = next(gen)
            names.append(name)
            obs, _, _, _, info = world.step(md.ACTIONS.index(name))
            api.observe(obs, info)
    except StopIteration as stop:
        return stop.value, names
    raise AssertionError(f"primitive did not return within {limit} actions")


def assert_valid_plan(steps, start):
    """Each step's preconditions are held and its stations placed, from ``start`` and earlier effects."""
    inv, placed = dict(start), set()
    for i, step in enumerate(steps):
        for item, n in step["preconditions"].items():
            assert inv.get(item, 0) >= n, f"step {i} {step['kind']} {step['target']} lacks {item}: {inv}"
        assert set(step["nearby"]) <= placed, f"step {i} needs {step['nearby']} placed first"
        for item, delta in step["effects"].items():
            inv[item] = inv.get(item, 0) + delta
        if step["placed"]:
            placed.add(step["placed"])
    return inv


# --- the seam ----------------------------------------------------------------------------

def test_the_registry_returns_the_minedojo_kit(kit):
    assert isinstance(kit, mk.MineDojoKit) and isinstance(kit, WorldKit)
    assert kit.name == "minedojo" and get_kit("minedojo") is kit
    assert kit.action_names == list(md.ACTIONS)
    assert kit.achievements() == list(md.TECH_TREE_ITEMS)
    assert kit.scores({"log": 0.5}) == {} and kit.reference_scores() == {}


def test_make_env_raises_a_world_error_without_minedojo(kit, monkeypatch):
    real = md.importlib.util.find_spec
    monkeypatch.delitem(sys.modules, "minedojo", raising=False)
    monkeypatch.setattr(md.importlib.util, "find_spec",
                        lambda name, *a: None if name == "minedojo" else real(name, *a))
    monkeypatch.setattr(md, "_java_version", lambda: None)
    with pytest.raises(WorldError) as caught:
        kit.make_env(length=100)
    assert "\n" not in caught.value.message and "minedojo package" in caught.value.message
    with pytest.raises(WorldError):  # the registry's factory fails the same way
        get_world("minedojo", length=100)


def test_make_env_builds_the_world(kit, fake):
    world = kit.make_env(task="collect_wood", length=5, image_size=(8, 8), check_java=False)
    assert world.task_id == "harvest_1_log" and world.max_steps == 5
    assert fake.made[-1].task_id == "harvest_1_log"
    world.close()


def test_observation_space_and_docs_match_the_adapter(kit, fake):
    world = _world()
    obs, _ = world.reset()
    space = kit.observation_space()
    assert space.contains(obs["symbolic"])
    docs = kit.observation_docs()
    assert docs["keys"] == sorted(obs) and docs["symbolic"] == list(obs["symbolic"])
    assert docs["inventory"] == list(md.INVENTORY_ITEMS) and docs["nearby"] == list(md.NEARBY_BLOCKS)


def test_api_docs_list_the_primitives_with_their_docstrings(kit):
    docs = {d["name"].split("(")[0]: d for d in kit.api_docs()}
    for name in ("collect", "make", "place", "explore", "survive", "seen", "has", "near"):
        assert f"api.{name}" in docs and docs[f"api.{name}"]["doc"]
    assert "api.observe" not in docs
    assert any(d["name"].startswith("api.collect(material") for d in kit.api_docs())


def test_importing_the_kit_stays_light():
    code = ("import sys; from rlgpt_cli.worlds.tasks import Task; import rlgpt_cli.worlds.minedojo_kit as k; "
            "kit = k.MineDojoKit(); kit.action_names; kit.api_docs(); "
            "kit.knowledge(Task('t', 'minedojo', '', inventory={'iron_pickaxe': 1})); "
            "print(sorted(m for m in ('numpy', 'gymnasium', 'minedojo') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- knowledge ---------------------------------------------------------------------------

def test_harvest_log_is_one_collect(kit):
    task = resolve_task("harvest log", world="minedojo")
    knowledge = kit.knowledge(task)
    assert [(s["kind"], s["target"], s["count"]) for s in knowledge["steps"]] == [("collect", "log", 1)]
    step = knowledge["steps"][0]
    assert step == {"kind": "collect", "target": "log", "action": "attack", "count": 1, "source": "log",
                    "preconditions": {}, "nearby": [], "effects": {"log": 1}, "placed": None,
                    "achievement": None}
    assert knowledge["facts"] == ["collect log"]
    eight = kit.knowledge(resolve_task("harvest_8_log", world="minedojo"))
    assert [(s["target"], s["count"]) for s in eight["steps"]] == [("log", 8)]


def test_wooden_pickaxe_plan_is_the_minecraft_tech_tree(kit):
    task = resolve_task("techtree_from_barehand_to_wooden_pickaxe", world="minedojo")
    steps = kit.knowledge(task)["steps"]
    assert [f"{s['kind']}_{s['target']}" for s in steps] == [
        "collect_log", "make_planks", "make_crafting_table", "place_crafting_table", "make_stick",
        "make_wooden_pickaxe"]
    assert steps[0]["count"] == 3 and steps[1]["effects"] == {"planks": 12, "log": -3}
    assert steps[3]["placed"] == "crafting_table" and steps[-1]["nearby"] == ["crafting_table"]
    assert assert_valid_plan(steps, {})["wooden_pickaxe"] == 1


@pytest.mark.parametrize("name, goal", [("techtree_from_barehand_to_iron_pickaxe", "iron_pickaxe"),
                                        ("harvest_1_diamond", "diamond"),
                                        ("techtree_from_barehand_to_diamond_pickaxe", "diamond_pickaxe")])
def test_deep_tech_tree_plans_are_ordered_and_valid(kit, name, goal):
    task = resolve_task(name, world="minedojo")
    knowledge = kit.knowledge(task)
    steps = knowledge["steps"]
    order = [f"{s['kind']}_{s['target']}" for s in steps]
    for earlier, later in [("collect_log", "make_planks"), ("make_wooden_pickaxe", "collect_cobblestone"),
                           ("collect_cobblestone", "make_stone_pickaxe"),
                           ("make_stone_pickaxe", "collect_iron_ore"),
                           ("place_furnace", "make_iron_ingot"), ("make_iron_ingot", "make_iron_pickaxe")]:
        assert order.index(earlier) < order.index(later)
    if goal != "iron_pickaxe":
        assert order.index("make_iron_pickaxe") < order.index("collect_diamond")
    assert order[0] == "collect_log" and order.count("collect_log") == 1  # all the wood first
    final = assert_valid_plan(steps, mk.starting_inventory(task))
    assert final[goal] >= 1
    iron = next(s for s in steps if s["target"] == "iron_ingot")
    assert iron["count"] == 3 and iron["nearby"] == ["furnace"] and iron["action"] == "craft:iron_ingot"
    assert len(knowledge["facts"]) == len(steps) and all("\n" not in f for f in knowledge["facts"])


def test_facts_use_the_shared_format(kit):
    from rlgpt_cli.worlds.describe import knowledge_facts

    knowledge = kit.knowledge(resolve_task("make_iron_pickaxe", world="minedojo"))
    assert knowledge["facts"] == knowledge_facts(knowledge["steps"])
    assert "make wooden_pickaxe needs {'planks': 3, 'stick': 2} near crafting_table" in knowledge["facts"]


def test_every_registered_minedojo_task_resolves_to_a_valid_plan(kit):
    tasks = list_tasks("minedojo")
    assert {t.name for t in tasks} >= set(md.MINEDOJO_TASKS)
    for task in tasks:
        steps = kit.knowledge(task)["steps"]
        assert steps, task.name
        final = assert_valid_plan(steps, mk.starting_inventory(task))
        assert task.success({"inventory": final, "achievements": {}}), task.name
        for step in steps:
            assert step["action"] in md.ACTIONS, step
            assert step["achievement"] is None  # MineDojo counts items: plans check item gains


def test_tasks_starting_with_tools_skip_what_they_hold(kit):
    milk = kit.knowledge(resolve_task("harvest_milk", world="minedojo"))["steps"]
    assert [(s["target"], s["action"], s["preconditions"]) for s in milk] == [
        ("milk_bucket", "use", {"bucket": 1})]
    from_stone = kit.knowledge(resolve_task("techtree_from_stone_to_iron_pickaxe", world="minedojo"))["steps"]
    targets = [s["target"] for s in from_stone]
    assert "wooden_pickaxe" not in targets and "stone_pickaxe" not in targets
    cobble = next(s for s in from_stone if s["target"] == "cobblestone")
    assert cobble["preconditions"] == {"stone_pickaxe": 1}  # a better pickaxe does the job


def test_unknown_items_name_the_nearest_recipe():
    from rlgpt_cli.errors import NotFound
    from rlgpt_cli.worlds.tasks import Task

    with pytest.raises(NotFound, match="iron_ingot"):
        mk.knowledge(Task("t", "minedojo", "", inventory={"iron_ingots": 1}))


def test_the_offline_planner_names_minedojo_subactions(kit):
    from rlgpt_cli.agents.offline import answer_plan

    task = resolve_task("make_iron_pickaxe", world="minedojo")
    plan = answer_plan({"task": task.to_dict(), "knowledge": kit.knowledge(task),
                        "library": [], "feedback": []})
    names = [s["name"] for s in plan["subactions"]]
    assert names[:6] == ["collect_log", "make_planks", "make_crafting_table", "place_crafting_table",
                         "make_stick", "make_wooden_pickaxe"]
    assert names[-1] == "make_iron_pickaxe" and "collect_iron_ore" in names
    assert all(s["kind"] == "code" for s in plan["subactions"])
    pickaxe = plan["subactions"][5]
    assert pickaxe["preconditions"] == ["planks >= 3", "stick >= 2", "near crafting_table"]
    assert pickaxe["effects"] == ["wooden_pickaxe >= 1"]


# --- the primitive API -------------------------------------------------------------------

def test_observe_reads_the_symbolic_observation_and_info(kit, fake):
    world = _world()
    api = kit.new_api()
    obs, info = world.reset()
    api.observe(obs, info)
    assert api.step == 0 and api.last_obs is obs and api.inventory["log"] == 0
    assert api.near("log") and api.near("wood") and not api.near("crafting_table")
    assert api.seen("log") and not api.seen("table") and not api.seen("iron_ore")
    assert api.health == 20 and api.food == 17 and api.pitch == 0
    api.observe(obs["symbolic"])  # the symbolic part alone works too
    assert api.step == 1


def test_primitives_build_a_wooden_pickaxe_in_the_standin(kit, fake):
    """The plan's steps as primitives, against the stand-in's toy world: only named actions."""
    world, api = _started(kit)
    allowed = set(kit.action_names)
    for step in kit.knowledge(resolve_task("make_wood_pickaxe", world="minedojo"))["steps"]:
        if step["kind"] == "collect":
            gen = api.collect(step["target"], step["count"])
        elif step["kind"] == "make":
            gen = api.make(step["target"], step["effects"][step["target"]])
        else:
            gen = api.place(step["target"])
        ok, names = drive(world, api, gen)
        assert ok, (step, names)
        assert set(names) <= allowed
    assert api.inventory["wooden_pickaxe"] == 1 and api.table_in_reach
    assert api.seen("crafting_table") and api.achievements["wooden_pickaxe"] == 1
    assert fake.made[-1].is_successful


def test_primitives_give_up_honestly(kit, fake):
    world, api = _started(kit)
    ok, names = drive(world, api, api.collect("cobblestone", 1))  # no pickaxe
    assert ok is False and names == ["noop"]
    ok, names = drive(world, api, api.make("wooden_pickaxe"))  # no materials, no table
    assert ok is False and names == ["noop"]
    ok, names = drive(world, api, api.place("furnace"))
    assert ok is False and names == ["noop"]
    with pytest.raises(ValueError, match="cannot collect"):
        next(api.collect("unobtainium"))


def test_explore_and_survive_yield_only_named_actions(kit, fake):
    world = _world()
    api = kit.new_api()
    obs, info = world.reset()
    api.observe(obs, info)
    allowed = set(kit.action_names)
    ok, names = drive(world, api, api.explore(30))
    assert ok and len(names) >= 30 and set(names) <= allowed and "forward" in names
    ok, names = drive(world, api, api.explore(30, hint="log"))  # logs are all around: at once
    assert ok and names == []
    ok, names = drive(world, api, api.survive())
    assert ok and names == []  # safe and healthy: nothing to do
    # Lava in the voxels: back away and turn round.
    lava = dict(obs["symbolic"], nearby=obs["symbolic"]["nearby"].copy())
    lava["nearby"][md.NEARBY_BLOCKS.index("lava")] = 1
    api.observe(lava, info)
    gen = api.survive(max_steps=8)
    first = [next(gen) for _ in range(8)]
    assert first[:2] == ["back", "back"] and set(first) <= allowed


def test_the_sandbox_runs_a_code_skill_on_the_api(kit, fake):
    from rlgpt_cli.errors import SandboxError
    from rlgpt_cli.sandbox import load_module

    world, api = _started(kit)
    source = ("def act(api, count=1):\n"
              "    done = yield from api.collect(\"log\", count)\n"
              "    return done and api.inventory[\"log\"] >= count\n")
    ok, names = drive(world, api, load_module(source, "collect_log").start("act", api, count=2))
    assert ok is True and names == ["attack", "attack"]
    for attr in ("last_obs", "observe"):
        gen = load_module(f"def act(api):\n    yield api.{attr}\n", "peek").start("act", api)
        with pytest.raises(SandboxError):
            next(gen)
    assert "observe" not in mk.MineDojoAPI.__sandbox_attrs__
    assert "last_obs" not in mk.MineDojoAPI.__sandbox_attrs__
    assert {"collect", "make", "place", "explore", "survive", "seen", "inventory", "step"} \
        <= mk.MineDojoAPI.__sandbox_attrs__
