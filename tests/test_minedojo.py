"""The MineDojo adapter, against a stand-in that follows MineDojo's documented spaces.

No test here runs Minecraft (it needs JDK 8 and Python <=3.9; see docs/minedojo.md).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import minedojo_standin as standin
from rlgpt_cli.errors import ExitCode, WorldError
from rlgpt_cli.worlds import minedojo as md

# An inventory holding every item our equip/place actions name, spaced the way MineDojo spells them.
FULL_INVENTORY = np.array(
    [i.replace("_", " ") for i in (*md.EQUIP_ITEMS, *md.PLACE_ITEMS)]
    + ["air"] * (36 - len(md.EQUIP_ITEMS) - len(md.PLACE_ITEMS)))


@pytest.fixture
def fake(monkeypatch):
    return standin.install(monkeypatch)


@pytest.fixture
def world(fake):
    env = md.MineDojoWorld("collect_wood", seed=3, image_size=(48, 80), check_java=False)
    yield env
    env.close()


def act(name: str) -> int:
    return md.ACTIONS.index(name)


# --- actions ---------------------------------------------------------------------------

def test_every_named_action_is_a_valid_minedojo_vector():
    space = standin.MultiDiscrete(standin.NVEC)
    assert tuple(space.nvec) == md.NVEC == (3, 3, 4, 25, 25, 8, 244, 36)
    assert len(set(md.ACTIONS)) == len(md.ACTIONS)
    vectors = set()
    for name in md.ACTIONS:
        vec = md.to_minedojo(name, FULL_INVENTORY)
        assert vec.shape == (8,) and space.contains(vec), name
        vectors.add(tuple(vec))
    assert len(vectors) == len(md.ACTIONS)  # no two names do the same thing
    assert tuple(md.to_minedojo("noop")) == tuple(space.no_op())


@pytest.mark.parametrize("name", md.ACTIONS)
def test_actions_round_trip(name):
    assert md.from_minedojo(md.to_minedojo(name, FULL_INVENTORY), FULL_INVENTORY) == name


def test_camera_turns_one_15_degree_step():
    def degrees(name):
        vec = md.to_minedojo(name)
        return vec[3] * 15 - 180, vec[4] * 15 - 180  # MineDojo's bin -> degrees

    assert degrees("camera_up") == (-15, 0) and degrees("camera_down") == (15, 0)
    assert degrees("camera_left") == (0, -15) and degrees("camera_right") == (0, 15)
    assert degrees("forward") == (0, 0)


def test_craft_arguments_are_minedojo_craft_indices():
    for item, (index, _, _) in standin.RECIPES.items():
        vec = md.to_minedojo(f"craft:{item}")
        assert (vec[5], vec[6]) == (4, index)


def test_equip_and_place_use_the_slot_holding_the_item():
    names = np.array(["air", "dirt", "crafting table"] + ["air"] * 33)
    assert list(md.to_minedojo("place:crafting_table", names)[5:]) == [6, 0, 2]
    assert list(md.to_minedojo("place:dirt", names)[5:]) == [6, 0, 1]
    with pytest.raises(ValueError, match="not in the inventory"):
        md.to_minedojo("place:furnace", names)
    with pytest.raises(ValueError, match="needs the inventory"):
        md.to_minedojo("equip:wooden_pickaxe")


def test_unknown_action_names_the_nearest():
    with pytest.raises(ValueError, match="did you mean.*camera_left"):
        md.to_minedojo("camera_lft")


@pytest.mark.parametrize("vector", [
    [0, 0, 0, 12, 12, 2, 0, 0],    # drop
    [0, 0, 0, 12, 12, 7, 0, 1],    # destroy
    [1, 0, 0, 12, 12, 3, 0, 0],    # walk and attack at once
    [0, 0, 2, 12, 12, 0, 0, 0],    # sneak
    [0, 0, 0, 10, 12, 0, 0, 0],    # two camera steps
    [0, 0, 0, 12, 12, 4, 0, 0],    # craft an item we do not name
    [1, 0, 0, 12, 12, 4, 29, 0],   # craft while walking
    [0, 0, 0, 12, 12, 6, 0, 20],   # place from an empty slot
])
def test_vectors_outside_our_actions_map_to_none(vector):
    assert md.from_minedojo(vector, FULL_INVENTORY) is None


def test_from_minedojo_ignores_arguments_minedojo_ignores_and_checks_bounds():
    assert md.from_minedojo([0, 0, 0, 12, 12, 3, 100, 17]) == "attack"
    assert md.from_minedojo([0, 0, 0, 12, 12, 5, 0, 0]) is None  # equip, slot unknown
    with pytest.raises(ValueError, match="MultiDiscrete"):
        md.from_minedojo([0, 0, 0, 25, 12, 0, 0, 0])
    with pytest.raises(ValueError, match="MultiDiscrete"):
        md.from_minedojo([0, 0, 0])


# --- observations and the env ----------------------------------------------------------

def test_inventory_counts_sum_slots_and_use_underscored_names():
    inventory = {"name": np.array(["log", "crafting table", "air", "log"] + ["air"] * 32),
                 "quantity": np.array([3, 1, 0, 61] + [0] * 32, dtype=np.float32)}
    assert md.inventory_counts(inventory) == {"log": 64, "crafting_table": 1}


def test_nearby_blocks_fold_block_variants():
    blocks = np.full((3, 3, 3), "air", dtype="<U32")
    blocks[0, 0, 0], blocks[2, 1, 0], blocks[0, 2, 2] = "log2", "flowing water", "iron_ore"
    assert md.nearby_blocks({"block_name": blocks}) == ["iron_ore", "log", "water"]
    assert md.nearby_blocks(None) == []


def test_reset_and_step_give_gymnasium_tuples_and_our_spaces(world, fake):
    obs, info = world.reset()
    assert world.observation_space.contains(obs)
    assert obs["pixels"].shape == (48, 80, 3) and obs["pixels"].dtype == np.uint8
    raw = fake.made[-1].last_obs["rgb"]  # channels first, as MineDojo sends it
    assert np.array_equal(obs["pixels"], np.transpose(raw, (1, 2, 0)))
    sym = obs["symbolic"]
    assert list(sym["vitals"]) == [20.0, 17.0]
    assert list(sym["pos"]) == [0.5, 64.0, 0.5]
    assert sym["nearby"][md.NEARBY_BLOCKS.index("log")] == 1
    assert sym["nearby"][md.NEARBY_BLOCKS.index("grass")] == 1
    assert info["inventory"] == {} and info["unlocked"] == []
    assert set(info["achievements"]) == set(md.TECH_TREE_ITEMS)
    assert world.action_space.n == len(md.ACTIONS)

    out = world.step(act("camera_right"))
    assert len(out) == 5
    obs, reward, terminated, truncated, info = out
    assert world.observation_space.contains(obs)
    assert isinstance(reward, float) and terminated is False and truncated is False
    assert list(obs["symbolic"]["orientation"]) == [0.0, 15.0]
    assert world.render() is obs["pixels"]
    assert list(fake.made[-1].actions[-1]) == [0, 0, 0, 12, 13, 0, 0, 0]


def test_make_gets_the_minedojo_id_size_and_seeds(world, fake):
    env = fake.made[-1]
    assert env.task_id == "harvest_1_log"
    assert env.image_size == (48, 80)
    assert (env.seed, env.world_seed) == (3, "3")
    assert world.max_steps == md.MINEDOJO_TASKS["collect_wood"]["max_steps"]


def test_tech_tree_progress_shows_in_inventory_and_achievements(fake):
    world = md.MineDojoWorld("make_wood_pickaxe", image_size=(8, 8), check_java=False)
    world.reset()
    inv_index = {item: i for i, item in enumerate(md.INVENTORY_ITEMS)}

    obs, _, _, _, info = world.step(act("attack"))
    assert info["unlocked"] == ["log"] and info["achievements"]["log"] == 1
    assert obs["symbolic"]["inventory"][inv_index["log"]] == 1
    for _ in range(2):
        world.step(act("attack"))
    for _ in range(3):
        world.step(act("craft:planks"))
    _, _, _, _, info = world.step(act("craft:stick"))
    assert info["inventory"] == {"planks": 10, "stick": 4}
    assert world.action_mask()[act("craft:wooden_pickaxe")] == 0  # no table in reach yet
    _, _, _, _, info = world.step(act("craft:crafting_table"))
    assert info["unlocked"] == ["crafting_table"]
    assert world.action_mask()[act("place:crafting_table")]
    obs, _, _, _, info = world.step(act("place:crafting_table"))
    assert info["action_ok"] and list(obs["symbolic"]["nearby_tools"]) == [1, 0]
    assert "crafting_table" in info["nearby_blocks"]
    assert world.action_mask()[act("craft:wooden_pickaxe")]
    obs, reward, terminated, _, info = world.step(act("craft:wooden_pickaxe"))
    assert info["unlocked"] == ["wooden_pickaxe"] and reward == 1.0
    assert terminated and info["minedojo_success"]
    assert {k for k, v in info["achievements"].items() if v} == {
        "log", "planks", "crafting_table", "wooden_pickaxe"}


def test_equip_or_place_of_an_item_not_held_is_a_noop(world, fake):
    world.reset()
    assert not world.action_mask()[act("place:furnace")]
    _, _, _, _, info = world.step(act("place:furnace"))
    assert info["action_ok"] is False
    assert list(fake.made[-1].actions[-1]) == list(md.to_minedojo("noop"))


def test_success_terminates_and_budget_truncates(fake):
    world = md.MineDojoWorld("harvest_milk", max_steps=2, image_size=(8, 8), check_java=False)
    world.reset()
    assert world.step(act("noop"))[2:4] == (False, False)
    assert world.step(act("noop"))[2:4] == (False, True)

    world = md.MineDojoWorld("harvest_1_log", image_size=(8, 8), check_java=False)
    assert world.task_name == "collect_wood"
    world.reset()
    _, _, terminated, truncated, info = world.step(act("attack"))
    assert terminated and not truncated and info["minedojo_success"]


def test_reset_with_another_seed_restarts_minedojo(world, fake):
    world.reset(seed=3)
    assert len(fake.made) == 1
    world.reset(seed=4)
    assert len(fake.made) == 2 and fake.made[0].closed and fake.made[1].world_seed == "4"


def test_passes_gymnasiums_env_checker(world):
    from gymnasium.utils.env_checker import check_env

    check_env(world, skip_render_check=True)


def test_step_before_reset_and_crashes_are_world_errors(world, fake):
    with pytest.raises(WorldError, match="before reset"):
        world.step(0)
    world.reset()
    fake.made[-1].fail_on_step = True
    with pytest.raises(WorldError, match="MineDojo step failed: RuntimeError: Minecraft crashed$"):
        world.step(0)


def test_unknown_minedojo_task_is_a_world_error(fake):
    with pytest.raises(WorldError, match="no task 'harvest_1_unobtainium'"):
        md.MineDojoWorld("harvest_1_unobtainium", check_java=False)


def test_a_minedojo_with_other_craft_indices_is_refused(monkeypatch):
    table = [f"item_{i}" for i in range(244)]
    standin.install(monkeypatch, craft_items=table)
    with pytest.raises(WorldError, match="craft items differ.*planks"):
        md.MineDojoWorld("collect_wood", check_java=False)
    for item, index in md.CRAFT_ITEMS.items():
        table[index] = item
    standin.install(monkeypatch, craft_items=table)
    md.MineDojoWorld("collect_wood", check_java=False).close()


# --- availability ----------------------------------------------------------------------

def _no_minedojo(monkeypatch, java_line: str | None):
    real = md.importlib.util.find_spec
    monkeypatch.delitem(sys.modules, "minedojo", raising=False)
    monkeypatch.setattr(md.importlib.util, "find_spec",
                        lambda name, *a: None if name == "minedojo" else real(name, *a))
    monkeypatch.setattr(md, "_java_version", lambda: java_line)


def test_missing_minedojo_is_a_one_line_world_error(monkeypatch):
    _no_minedojo(monkeypatch, None)
    with pytest.raises(WorldError) as caught:
        md.MineDojoWorld("collect_wood")
    message = caught.value.message
    assert "\n" not in message and caught.value.exit_code == ExitCode.WORLD
    assert "minedojo package" in message and "JDK 8" in message and "1.8" in message
    if sys.version_info[:2] > (3, 9):
        assert "Python <=3.9" in message
    ok, reason = md.availability()
    assert not ok and "\n" not in reason and "no java on PATH" in reason


def test_availability_reports_the_java_found(monkeypatch, fake):
    monkeypatch.setattr(md, "_java_version", lambda: 'openjdk version "17.0.15" 2025-04-15')
    ok, reason = md.availability()
    assert not ok and "minedojo package" not in reason and '"17.0.15"' in reason
    monkeypatch.setattr(md, "_java_version", lambda: 'openjdk version "1.8.0_392"')
    assert md.availability() == (True, "ready")


def test_importing_the_adapter_stays_light():
    code = ("import sys, rlgpt_cli.worlds.minedojo as m; m.availability; m.MINEDOJO_TASKS; "
            "print(sorted(k for k in ('numpy', 'gymnasium', 'minedojo') if k in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- tasks -----------------------------------------------------------------------------

def test_task_ids_cover_harvest_milk_wool_and_the_pickaxe_tech_tree():
    ids = {name: spec["task_id"] for name, spec in md.MINEDOJO_TASKS.items()}
    assert ids["collect_wood"] == "harvest_1_log"
    assert ids["harvest_milk"] == "harvest_milk_with_empty_bucket_and_cow"
    assert ids["harvest_wool"] == "harvest_wool_with_shears_and_sheep"
    for tool in ("wooden", "stone", "iron", "diamond"):
        assert f"techtree_from_barehand_to_{tool}_pickaxe" in ids.values()
    assert ids["make_wood_pickaxe"] == "techtree_from_barehand_to_wooden_pickaxe"
    assert ids["collect_diamond"] == "harvest_1_diamond"
    assert len(set(ids.values())) == len(ids)
    for spec in md.MINEDOJO_TASKS.values():
        assert set(spec) == {"task_id", "description", "success_item", "quantity", "max_steps", "aliases"}
    assert md.minedojo_task_id("harvest_log") == "harvest_1_log"
    assert md.minedojo_task_id("collect_wood") == "harvest_1_log"
    assert md.minedojo_task_id("combat_cow_plains_barehand") == "combat_cow_plains_barehand"


def test_register_minedojo_tasks_with_a_callback():
    seen = []
    tasks = md.register_minedojo_tasks(seen.append)
    assert seen == tasks and len(tasks) == len(md.MINEDOJO_TASKS)
    wood = next(t for t in tasks if t.name == "collect_wood")
    assert wood.world == "minedojo" and "harvest_1_log" in wood.aliases
    assert wood.success({"inventory": {"log": 1}}) and not wood.success({"inventory": {}})
    eight = next(t for t in tasks if t.name == "collect_8_wood")
    assert not eight.success({"inventory": {"log": 7}}) and eight.success({"inventory": {"log": 8}})


def test_registered_tasks_resolve_in_the_catalogue(monkeypatch):
    from rlgpt_cli.worlds import tasks

    monkeypatch.setattr(tasks, "_registered", {})
    md.register_minedojo_tasks()
    md.register_minedojo_tasks()  # a second registration replaces, not fails
    assert len(tasks.list_tasks("minedojo")) == len(md.MINEDOJO_TASKS)
    assert tasks.resolve_task("harvest_log", world="minedojo").name == "collect_wood"
    milk = tasks.resolve_task("harvest_milk_with_empty_bucket_and_cow", world="minedojo")
    assert milk.name == "harvest_milk"
    assert tasks.resolve_task("techtree_from_barehand_to_diamond_pickaxe",
                              world="minedojo").name == "make_diamond_pickaxe"
    assert tasks.resolve_task("collect_wood").world == "crafter"  # Crafter's own is untouched


def test_world_built_from_our_name_succeeds_when_the_task_does(fake):
    from rlgpt_cli.worlds import tasks

    task = next(t for t in md.register_minedojo_tasks(lambda t: None) if t.name == "collect_wood")
    world = md.MineDojoWorld(task.name, image_size=(8, 8), check_java=False)
    _, info = world.reset()
    assert not task.success(info)
    _, _, _, _, info = world.step(act("attack"))
    assert task.success(info) and isinstance(task, tasks.Task)
