"""The recipe graph (read from crafter's data.yaml) and the task catalogue."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rlgpt_cli.errors import NotFound
from rlgpt_cli.worlds import tasks
from rlgpt_cli.worlds.crafter import recipes


@pytest.fixture(scope="module")
def constants():
    """crafter's own parse of data.yaml: the reference the recipe graph must agree with."""
    from crafter import constants

    return constants


# --- recipes ---------------------------------------------------------------


def test_recipes_match_crafter_data(constants):
    for name, info in constants.make.items():
        r = recipes.requirements(name)
        assert (r.kind, r.action) == ("make", f"make_{name}")
        assert dict(r.uses) == info["uses"] and r.nearby == tuple(info["nearby"])
        assert dict(r.gives) == {name: info["gives"]}
    for name, info in constants.place.items():
        r = recipes.requirements(f"place_{name}")
        assert (r.kind, dict(r.uses), r.where) == ("place", info["uses"], tuple(info["where"]))
    for source, info in constants.collect.items():
        for item in info["receive"]:
            r = recipes.requirements(f"collect_{item}")
            assert (r.source, dict(r.tools), r.leaves) == (source, info["require"], info["leaves"])
            assert r.probability == info.get("probability", 1)
    assert recipes.actions() == constants.actions
    assert recipes.achievements() == constants.achievements and len(recipes.achievements()) == 22


def test_stone_pickaxe_needs_wood_stone_and_a_table():
    r = recipes.requirements("stone_pickaxe")
    assert set(r.uses) == {"wood", "stone"} and r.nearby == ("table",)
    assert recipes.requirements("iron").tools == {"stone_pickaxe": 1}
    assert set(recipes.requirements("iron_pickaxe").nearby) == {"table", "furnace"}
    assert recipes.requirements("table").kind == "place"
    assert recipes.requirements("stone").kind == "collect"  # the item, not place_stone
    assert recipes.requirements("place_stone").kind == "place"


def test_requirements_unknown_names_a_neighbour():
    with pytest.raises(NotFound, match="did you mean"):
        recipes.requirements("diamnod")
    with pytest.raises(NotFound):
        recipes.requirements("food")  # eaten, not crafted


def _simulate(plan, inventory, constants):
    """Replay a plan against crafter's rules; fail on any unmet precondition or cap overflow."""
    inv = dict(inventory)
    stations = set()
    for step in plan:
        r = step.recipe
        for _ in range(step.count):
            assert all(inv.get(k, 0) >= v for k, v in r.needs.items()), (step.describe(), inv)
            assert all(s in stations for s in r.nearby), step.describe()
            for k, v in r.uses.items():
                inv[k] -= v
            for k, v in r.gives.items():
                inv[k] = inv.get(k, 0) + v
                assert inv[k] <= constants.items[k]["max"], step.describe()
            if r.kind == "place":
                stations.add(r.name)
    return inv, stations


def test_plan_for_diamond_is_the_tech_tree(constants):
    plan = recipes.plan_for("diamond")
    kinds = [(s.kind, s.target) for s in plan]
    assert kinds[0] == ("collect", "wood")
    order = [k for k in kinds if k[0] != "collect" or k[1] in ("diamond",)]
    assert order == [("place", "table"), ("make", "wood_pickaxe"), ("make", "stone_pickaxe"),
                     ("place", "furnace"), ("make", "iron_pickaxe"), ("collect", "diamond")]
    wood = sum(s.count for s in plan if s.target == "wood")
    expected_wood = (constants.place["table"]["uses"]["wood"]
                     + sum(constants.make[t]["uses"]["wood"]
                           for t in ("wood_pickaxe", "stone_pickaxe", "iron_pickaxe")))
    assert wood == expected_wood and kinds.count(("collect", "wood")) == 1  # merged
    stone = sum(s.count for s in plan if s.target == "stone")
    assert stone == constants.place["furnace"]["uses"]["stone"] + constants.make["stone_pickaxe"]["uses"]["stone"]
    inv, _ = _simulate(plan, {k: v["initial"] for k, v in constants.items.items()}, constants)
    assert inv["diamond"] == 1
    step = next(s for s in plan if s.target == "iron_pickaxe")
    assert step.preconditions == {"wood": 1, "coal": 1, "iron": 1}
    assert step.effects == {"iron_pickaxe": 1, "wood": -1, "coal": -1, "iron": -1}
    assert step.to_dict()["nearby"] == ["table", "furnace"]


@pytest.mark.parametrize("target", ["iron_sword", "stone_sword", "place_stone", "place_plant",
                                    "make_wood_pickaxe", "coal"])
def test_every_plan_is_executable(target, constants):
    plan = recipes.plan_for(target)
    assert plan, target
    _simulate(plan, {k: v["initial"] for k, v in constants.items.items()}, constants)
    assert plan == recipes.plan_for(target)  # deterministic


def test_plan_uses_inventory_and_stations():
    assert recipes.plan_for("wood_pickaxe", {"wood_pickaxe": 1}) == []
    plan = recipes.plan_for("stone_pickaxe", {"wood": 1, "wood_pickaxe": 1}, placed=("table",))
    assert [(s.kind, s.target) for s in plan] == [("collect", "stone"), ("make", "stone_pickaxe")]
    # An achievement name asks for the act itself, even when the item is held.
    assert [s.action for s in recipes.plan_for("collect_drink")] == ["do"]


# --- tasks -----------------------------------------------------------------


def test_all_22_achievements_are_tasks():
    names = {t.name for t in tasks.list_tasks("crafter")}
    assert set(recipes.achievements()) <= names
    for name in recipes.achievements():
        task = tasks.resolve_task(name)
        assert task.achievements == (name,)
        assert task.success({"achievements": {name: 1}})
        assert not task.success({"achievements": {name: 0}})
        assert 0 < task.max_steps <= 10_000 and task.description


def test_composite_tasks_and_budgets():
    every = tasks.resolve_task("all achievements")
    assert len(every.achievements) == 22
    pick = tasks.resolve_task("all_pickaxes")
    assert not pick.success({"achievements": {"make_wood_pickaxe": 1}})
    assert tasks.resolve_task("obtain_diamond").max_steps > tasks.resolve_task("collect_wood").max_steps


@pytest.mark.parametrize("text, name", [
    ("obtain diamond", "collect_diamond"),
    ("make a stone pickaxe", "make_stone_pickaxe"),
    ("Collect Wood", "collect_wood"),
    ("harvest log", "collect_wood"),
    ("harvest_log", "collect_wood"),
    ("mine_stone", "collect_stone"),
    ("mine_iron_ore", "collect_iron"),
    ("mine diamond", "collect_diamond"),
    ("craft_wooden_pickaxe", "make_wood_pickaxe"),
    ("Craft Wooden Pickaxes", "make_wood_pickaxe"),
    ("techtree_from_barehand_to_iron_pickaxe", "make_iron_pickaxe"),
    ("place a crafting table", "place_table"),
    ("drink water", "collect_drink"),
    ("kill the zombies", "defeat_zombie"),
    ("diamond", "collect_diamond"),
    ("furnace", "place_furnace"),
    ("  PLACE_TABLE ", "place_table"),
])
def test_natural_language_resolves(text, name):
    assert tasks.resolve_task(text).name == name


def test_counted_tasks():
    task = tasks.resolve_task("collect 5 logs")
    assert task.inventory == {"wood": 5} and task.name == "collect_5_wood"
    assert task.success({"inventory": {"wood": 5}}) and not task.success({"inventory": {"wood": 4}})
    assert tasks.resolve_task("harvest_8_log").inventory == {"wood": 8}
    with pytest.raises(NotFound, match="at most 9"):
        tasks.resolve_task("collect 12 wood")


@pytest.mark.parametrize("text, hint", [
    ("pickaxe", "ambiguous.*make_stone_pickaxe"),
    ("sword", "ambiguous.*make_wood_sword"),
    ("diamnod", "nearest:.*collect_diamond"),
    ("fly to the moon", "nearest: "),
])
def test_unknown_or_ambiguous_names_suggest(text, hint):
    with pytest.raises(NotFound, match=hint) as err:
        tasks.resolve_task(text)
    assert "\n" not in err.value.message


def test_register_task_for_another_world():
    task = tasks.Task(name="harvest_milk", world="minedojo-test", description="Milk a cow.",
                      inventory={"milk_bucket": 1}, aliases=("milk_cow",))
    try:
        tasks.register_task(task)
        assert tasks.resolve_task("milk cow", world="minedojo-test") is task
        assert tasks.list_tasks("minedojo-test") == [task]
        with pytest.raises(ValueError):
            tasks.register_task(task)
        with pytest.raises(NotFound):
            tasks.resolve_task("harvest milk")  # crafter has no milk
    finally:
        tasks._registered.pop(("minedojo-test", "harvest_milk"), None)
    with pytest.raises(NotFound, match="no tasks for world"):
        tasks.resolve_task("x", world="nowhere")


def test_tasks_import_and_list_without_heavy_modules():
    code = ("import sys; from rlgpt_cli.worlds import tasks; tasks.list_tasks(); "
            "tasks.resolve_task('obtain diamond'); "
            "print(sorted(m for m in ('numpy', 'crafter') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
