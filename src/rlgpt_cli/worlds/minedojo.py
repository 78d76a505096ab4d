"""MineDojo adapter: real Minecraft behind the same interface as our Crafter world.

MineDojo (``minedojo`` 0.1) runs Minecraft 1.11.2 through Malmo. It needs JDK 8, a
Gradle build that downloads Minecraft on first use, and ``gym==0.21`` (which in practice
installs only on Python <= 3.9). None of that exists on the machines this project is
built on, so this module is tested against a stand-in that follows MineDojo's documented
spaces (``tests/minedojo_standin.py``), never against a live Minecraft. See docs/minedojo.md.

What this module maps:

* actions: MineDojo's ``MultiDiscrete([3, 3, 4, 25, 25, 8, 244, 36])`` to a ``Discrete``
  set of named actions (:data:`ACTIONS`), with :func:`to_minedojo` / :func:`from_minedojo`;
* observations: MineDojo's dict to ``{"pixels": (H, W, 3) uint8, "symbolic": {...}}``
  built only from what an agent perceives (RGB, its inventory, vitals, position and
  orientation, the 3x3x3 blocks around it, whether a table/furnace is in reach);
* tasks: MineDojo's programmatic task ids to our catalogue names (:data:`MINEDOJO_TASKS`,
  :func:`register_minedojo_tasks`).

Only the standard library is imported at module level: ``rlgpt doctor`` and
``rlgpt envs list`` read :func:`availability` and :data:`MINEDOJO_TASKS` without paying
for numpy or gymnasium. :class:`MineDojoWorld` (a ``gymnasium.Env``) is built on first
access.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import shutil
import subprocess
import sys
from typing import Any, Callable, Mapping, Sequence

from rlgpt_cli.errors import WorldError, nearest

# --- MineDojo's action space ------------------------------------------------------------

#: MineDojo's action vector: forward/back, left/right (strafe), jump/sneak/sprint, camera
#: pitch, camera yaw, functional action, craft argument, inventory-slot argument.
NVEC = (3, 3, 4, 25, 25, 8, 244, 36)
CAMERA_STEP_DEGREES = 15
# Camera bins are absolute deltas: bin b turns by b * 15 - 180 degrees, so bin 12 keeps still.
_CAMERA_STILL = (NVEC[3] - 1) // 2
_NOOP_VECTOR = (0, 0, 0, _CAMERA_STILL, _CAMERA_STILL, 0, 0, 0)

# Indices into the vector, and the functional actions of index 5.
_MOVE, _STRAFE, _JUMP, _PITCH, _YAW, _FN, _CRAFT_ARG, _SLOT_ARG = range(8)
_FN_USE, _FN_DROP, _FN_ATTACK, _FN_CRAFT, _FN_EQUIP, _FN_PLACE, _FN_DESTROY = range(1, 8)

# Craft/smelt argument: the item's index in MineDojo 0.1's ``mc.ALL_CRAFT_SMELT_ITEMS``
# (hand-craftable items, then table-only items, then smeltable items; 244 in all), computed
# from the wheel's ``sim/mc_meta/mc_constants.json``. MineDojoWorld checks these against the
# installed package, because a different MineDojo build could order them differently.
CRAFT_ITEMS: dict[str, int] = {
    "planks": 29,           # hand: 1 log -> 4 planks
    "stick": 41,            # hand: 2 planks -> 4 sticks
    "crafting_table": 7,    # hand: 4 planks
    "wooden_pickaxe": 219,  # table: 3 planks + 2 sticks
    "wooden_sword": 222,    # table
    "stone_pickaxe": 207,   # table: 3 cobblestone + 2 sticks
    "stone_sword": 212,     # table
    "furnace": 119,         # table: 8 cobblestone
    "iron_ingot": 239,      # smelt: iron ore + fuel, next to a furnace
    "iron_pickaxe": 146,    # table: 3 iron ingots + 2 sticks
    "iron_sword": 148,      # table
    "diamond_pickaxe": 104,  # table: 3 diamonds + 2 sticks
}
# Items worth equipping (tools; bucket and shears for the milk and wool tasks).
EQUIP_ITEMS = ("wooden_pickaxe", "stone_pickaxe", "iron_pickaxe", "diamond_pickaxe",
               "wooden_sword", "stone_sword", "iron_sword", "bucket", "shears")
# Blocks worth placing (stations; cobblestone and dirt to pillar up or bridge).
PLACE_ITEMS = ("crafting_table", "furnace", "cobblestone", "dirt")
_SLOT_ITEMS = {"equip": EQUIP_ITEMS, "place": PLACE_ITEMS}

# name -> {vector index: value}, on top of the no-op vector.
_SIMPLE_ACTIONS: dict[str, dict[int, int]] = {
    "noop": {},
    "forward": {_MOVE: 1},
    "back": {_MOVE: 2},
    "left": {_STRAFE: 1},
    "right": {_STRAFE: 2},
    "jump": {_JUMP: 1},
    # Jumping alone does not climb: a step up needs forward and jump together.
    "forward_jump": {_MOVE: 1, _JUMP: 1},
    "attack": {_FN: _FN_ATTACK},
    "use": {_FN: _FN_USE},
    # Minecraft's pitch grows downwards and its yaw grows to the right.
    "camera_up": {_PITCH: _CAMERA_STILL - 1},
    "camera_down": {_PITCH: _CAMERA_STILL + 1},
    "camera_left": {_YAW: _CAMERA_STILL - 1},
    "camera_right": {_YAW: _CAMERA_STILL + 1},
}

#: Our named actions, in ``Discrete`` order.
ACTIONS: tuple[str, ...] = (
    *_SIMPLE_ACTIONS,
    *(f"craft:{item}" for item in CRAFT_ITEMS),
    *(f"equip:{item}" for item in EQUIP_ITEMS),
    *(f"place:{item}" for item in PLACE_ITEMS),
)

# --- items, blocks and achievements -----------------------------------------------------

#: The tech-tree items whose first gain is an achievement (``info["achievements"]``).
TECH_TREE_ITEMS = ("log", "planks", "crafting_table", "wooden_pickaxe", "cobblestone",
                   "stone_pickaxe", "iron_ore", "furnace", "iron_ingot", "iron_pickaxe",
                   "diamond")
#: Items counted in ``symbolic["inventory"]``, in this order (every item is in ``info``).
INVENTORY_ITEMS = (*TECH_TREE_ITEMS[:4], "stick", *TECH_TREE_ITEMS[4:], "coal",
                   "diamond_pickaxe", "wooden_sword", "stone_sword", "iron_sword", "dirt")
#: Block kinds flagged in ``symbolic["nearby"]`` when any of the 27 voxels holds one.
NEARBY_BLOCKS = ("log", "leaves", "stone", "cobblestone", "coal_ore", "iron_ore",
                 "diamond_ore", "crafting_table", "furnace", "dirt", "grass", "sand",
                 "gravel", "water", "lava")
# Minecraft 1.11 splits some blocks into two ids; flowing liquids have their own.
_BLOCK_ALIASES = {"log2": "log", "leaves2": "leaves", "flowing_water": "water",
                  "flowing_lava": "lava"}
_MAX_STACKED = 36 * 64  # every slot full of one stackable item


def _item_name(minedojo_name: str) -> str:
    """MineDojo reports 'crafting table'; our names (and Minecraft's ids) use underscores."""
    return str(minedojo_name).replace(" ", "_")


def _slot_of(item: str, inventory_names: Sequence[str]) -> int | None:
    """The first inventory slot holding ``item`` (MineDojo equips/places by slot), or None."""
    for slot, name in enumerate(inventory_names):
        if _item_name(name) == item:
            return slot
    return None


def to_minedojo(action: str, inventory_names: Sequence[str] | None = None):
    """The MineDojo action vector (``numpy`` int64, shape (8,)) for one of :data:`ACTIONS`.

    ``equip:<item>`` and ``place:<item>`` need ``inventory_names`` (MineDojo's
    ``obs["inventory"]["name"]``, 36 slots) because MineDojo takes a slot, not an item.
    Raises ValueError for an unknown action, or for equip/place of an item not held
    (MineDojo itself raises when asked to equip or place an empty slot).
    """
    import numpy as np

    vector = np.array(_NOOP_VECTOR, dtype=np.int64)
    if action in _SIMPLE_ACTIONS:
        for index, value in _SIMPLE_ACTIONS[action].items():
            vector[index] = value
        return vector
    kind, _, item = action.partition(":")
    if kind == "craft" and item in CRAFT_ITEMS:
        vector[_FN], vector[_CRAFT_ARG] = _FN_CRAFT, CRAFT_ITEMS[item]
        return vector
    if item in _SLOT_ITEMS.get(kind, ()):
        if inventory_names is None:
            raise ValueError(f"{action!r} needs the inventory: MineDojo equips and places by slot")
        slot = _slot_of(item, inventory_names)
        if slot is None:
            raise ValueError(f"cannot {kind} {item}: not in the inventory")
        vector[_FN], vector[_SLOT_ARG] = (_FN_EQUIP if kind == "equip" else _FN_PLACE), slot
        return vector
    raise ValueError(f"unknown MineDojo action {action!r}{nearest(action, ACTIONS)}")


def from_minedojo(vector: Sequence[int], inventory_names: Sequence[str] | None = None) -> str | None:
    """The named action a MineDojo vector performs, or None where it is not one of ours.

    Arguments MineDojo ignores are ignored here too (the craft argument unless crafting,
    the slot unless equipping/placing/destroying). Vectors that combine several of our
    actions (e.g. walking while attacking), turn by other than one 15-degree step, drop,
    destroy, sneak, sprint, or craft/equip/place other items map to None. Equip and place
    need ``inventory_names`` to tell which item the slot holds. Raises ValueError for a
    vector outside the MultiDiscrete bounds.
    """
    vec = [int(v) for v in vector]
    if len(vec) != len(NVEC) or any(not 0 <= v < n for v, n in zip(vec, NVEC)):
        raise ValueError(f"not a MineDojo action (MultiDiscrete{list(NVEC)}): {vec}")
    fn = vec[_FN]
    body = tuple(vec[:_FN])
    if fn in (_FN_CRAFT, _FN_EQUIP, _FN_PLACE):
        if body != _NOOP_VECTOR[:_FN]:
            return None
        if fn == _FN_CRAFT:
            names = [name for name, index in CRAFT_ITEMS.items() if index == vec[_CRAFT_ARG]]
            return f"craft:{names[0]}" if names else None
        if inventory_names is None:
            return None
        item = _item_name(inventory_names[vec[_SLOT_ARG]])
        kind = "equip" if fn == _FN_EQUIP else "place"
        return f"{kind}:{item}" if item in _SLOT_ITEMS[kind] else None
    return _simple_by_vector().get((*body, fn))


@functools.cache
def _simple_by_vector() -> dict[tuple[int, ...], str]:
    """The first six vector entries (movement, camera, functional action) of each simple action."""
    return {tuple(int(v) for v in to_minedojo(name)[:_FN + 1]): name for name in _SIMPLE_ACTIONS}


# --- observations -----------------------------------------------------------------------

def inventory_counts(inventory: Mapping[str, Any]) -> dict[str, int]:
    """Item name -> count held, summed over MineDojo's 36 inventory slots (empty slots are 'air')."""
    counts: dict[str, int] = {}
    for name, quantity in zip(inventory["name"], inventory["quantity"]):
        item = _item_name(name)
        if item != "air" and quantity > 0:
            counts[item] = counts.get(item, 0) + int(quantity)
    return counts


def nearby_blocks(voxels: Mapping[str, Any] | None) -> list[str]:
    """Distinct block kinds in the 3x3x3 voxels around the agent (air left out), sorted."""
    if voxels is None:
        return []
    names = {_item_name(n) for n in voxels["block_name"].reshape(-1)}
    return sorted({_BLOCK_ALIASES.get(n, n) for n in names} - {"air"})


def _observation_space(image_size: tuple[int, int]):
    import numpy as np
    from gymnasium import spaces

    height, width = image_size
    return spaces.Dict({
        "pixels": spaces.Box(0, 255, (height, width, 3), np.uint8),
        "symbolic": spaces.Dict({
            "inventory": spaces.Box(0, _MAX_STACKED, (len(INVENTORY_ITEMS),), np.int32),
            "vitals": spaces.Box(0, 20, (2,), np.float32),
            "nearby": spaces.Box(0, 1, (len(NEARBY_BLOCKS),), np.uint8),
            "nearby_tools": spaces.Box(0, 1, (2,), np.uint8),
            "pos": spaces.Box(-640_000, 640_000, (3,), np.float32),
            "orientation": spaces.Box(-180, 180, (2,), np.float32),
        }),
    })


def convert_observation(obs: Mapping[str, Any]) -> dict:
    """Our observation from MineDojo's dict (which fields feed what: docs/minedojo.md)."""
    import numpy as np

    counts = inventory_counts(obs["inventory"])
    near = set(nearby_blocks(obs.get("voxels")))
    life, location, tools = obs["life_stats"], obs["location_stats"], obs["nearby_tools"]
    return {
        # MineDojo renders channels first; every other world here is channels last.
        "pixels": np.ascontiguousarray(np.transpose(obs["rgb"], (1, 2, 0)), dtype=np.uint8),
        "symbolic": {
            "inventory": np.array([min(counts.get(i, 0), _MAX_STACKED) for i in INVENTORY_ITEMS],
                                  dtype=np.int32),
            "vitals": np.array([np.ravel(life["life"])[0], np.ravel(life["food"])[0]],
                               dtype=np.float32).clip(0, 20),
            "nearby": np.array([b in near for b in NEARBY_BLOCKS], dtype=np.uint8),
            "nearby_tools": np.array([bool(tools["table"]), bool(tools["furnace"])], dtype=np.uint8),
            "pos": np.asarray(location["pos"], dtype=np.float32).reshape(3),
            "orientation": np.array([np.ravel(location["pitch"])[0], np.ravel(location["yaw"])[0]],
                                    dtype=np.float32),
        },
    }


# --- tasks ------------------------------------------------------------------------------

def _task(task_id: str, prompt: str, item: str, max_steps: int, *aliases: str,
          quantity: int = 1) -> dict:
    return {"task_id": task_id, "description": prompt, "success_item": item,
            "quantity": quantity, "max_steps": max_steps, "aliases": (task_id, *aliases)}


#: Our task name -> MineDojo programmatic task. Ids and prompts are MineDojo 0.1's
#: (``tasks/description_files/programmatic_tasks.yaml``); names follow Crafter's where the
#: goal matches, so "collect_wood" means the same in both worlds. Success for us is holding
#: ``quantity`` of ``success_item``; MineDojo's harvest tasks count the gain since the start
#: (the same here: no task starts with its item), its techtree tasks also want the tool used
#: once (``info["minedojo_success"]`` reports MineDojo's own verdict). ``max_steps`` is our
#: budget, at 20 steps per second of game time.
MINEDOJO_TASKS: dict[str, dict] = {
    "collect_wood": _task("harvest_1_log", "obtain log", "log", 2_000,
                          "harvest_log", "obtain_log", "mine_log", "chop_tree"),
    "collect_8_wood": _task("harvest_8_log", "obtain 8 log", "log", 4_000,
                            "harvest_8_logs", "collect_8_logs", quantity=8),
    "make_planks": _task("harvest_1_planks", "find material and craft to obtain planks",
                         "planks", 2_000, "harvest_planks", "craft_planks"),
    "make_stick": _task("harvest_1_stick", "find material and craft to obtain stick",
                        "stick", 2_000, "harvest_stick", "craft_stick"),
    "place_table": _task("harvest_1_crafting_table",
                         "find material and craft to obtain crafting table", "crafting_table",
                         3_000, "harvest_crafting_table", "craft_crafting_table", "make_table"),
    "make_wood_pickaxe": _task("techtree_from_barehand_to_wooden_pickaxe",
                               "find material and craft a wooden pickaxe", "wooden_pickaxe",
                               6_000, "make_wooden_pickaxe", "craft_wooden_pickaxe"),
    "make_wood_sword": _task("techtree_from_barehand_to_wooden_sword",
                             "find material and craft a wooden sword", "wooden_sword",
                             6_000, "make_wooden_sword", "craft_wooden_sword"),
    "collect_stone": _task("harvest_1_cobblestone", "obtain cobblestone", "cobblestone", 6_000,
                           "harvest_cobblestone", "mine_cobblestone", "obtain_cobblestone"),
    "collect_coal": _task("harvest_1_coal", "obtain coal", "coal", 6_000,
                          "harvest_coal", "mine_coal"),
    "make_stone_pickaxe": _task("techtree_from_barehand_to_stone_pickaxe",
                                "find material and craft a stone pickaxe", "stone_pickaxe",
                                9_000, "craft_stone_pickaxe"),
    "make_stone_sword": _task("techtree_from_barehand_to_stone_sword",
                              "find material and craft a stone sword", "stone_sword",
                              9_000, "craft_stone_sword"),
    "make_stone_pickaxe_from_wood_tools": _task(
        "techtree_from_wood_to_stone_pickaxe",
        "starting from wood tools, craft and use a stone pickaxe", "stone_pickaxe", 6_000),
    "place_furnace": _task("harvest_1_furnace", "find material and craft to obtain furnace",
                           "furnace", 9_000, "harvest_furnace", "craft_furnace"),
    "collect_iron": _task("harvest_1_iron_ore", "obtain iron ore", "iron_ore", 12_000,
                          "harvest_iron_ore", "mine_iron_ore", "obtain_iron_ore"),
    "make_iron_ingot": _task("harvest_1_iron_ingot", "find material and smelt to obtain iron ingot",
                             "iron_ingot", 12_000, "harvest_iron_ingot", "smelt_iron_ingot"),
    "make_iron_pickaxe": _task("techtree_from_barehand_to_iron_pickaxe",
                               "find material and craft a iron pickaxe", "iron_pickaxe",
                               18_000, "craft_iron_pickaxe"),
    "make_iron_sword": _task("techtree_from_barehand_to_iron_sword",
                             "find material and craft a iron sword", "iron_sword",
                             18_000, "craft_iron_sword"),
    "make_iron_pickaxe_from_stone_tools": _task(
        "techtree_from_stone_to_iron_pickaxe",
        "starting from stone tools, craft and use a iron pickaxe", "iron_pickaxe", 12_000),
    "collect_diamond": _task("harvest_1_diamond", "obtain diamond", "diamond", 18_000,
                             "harvest_diamond", "mine_diamond", "obtain_diamond"),
    "make_diamond_pickaxe": _task("techtree_from_barehand_to_diamond_pickaxe",
                                  "find material and craft a diamond pickaxe", "diamond_pickaxe",
                                  36_000, "craft_diamond_pickaxe"),
    "make_diamond_pickaxe_from_iron_tools": _task(
        "techtree_from_iron_to_diamond_pickaxe",
        "starting from iron tools, craft and use a diamond pickaxe", "diamond_pickaxe", 18_000),
    "collect_beef": _task("harvest_1_beef", "obtain beef", "beef", 2_000,
                          "harvest_beef", "hunt_cow"),
    "harvest_milk": _task("harvest_milk_with_empty_bucket_and_cow",
                          "obtain milk from a cow with an empty bucket and a cow nearby",
                          "milk_bucket", 1_000, "milk_cow", "collect_milk"),
    "harvest_wool": _task("harvest_wool_with_shears_and_sheep",
                          "shear a sheep with shears and a sheep nearby", "wool", 1_000,
                          "shear_sheep", "collect_wool"),
}
_BY_MINEDOJO_ID = {spec["task_id"]: name for name, spec in MINEDOJO_TASKS.items()}


def minedojo_task_id(name: str) -> str:
    """MineDojo's task id for one of our task names or aliases; anything else is passed as is
    (MineDojo has 1572 programmatic tasks; ``minedojo.make`` judges the rest)."""
    if name in MINEDOJO_TASKS:
        return MINEDOJO_TASKS[name]["task_id"]
    for spec in MINEDOJO_TASKS.values():
        if name in spec["aliases"]:
            return spec["task_id"]
    return name


def register_minedojo_tasks(register_task: Callable | None = None) -> list:
    """Add :data:`MINEDOJO_TASKS` to the task catalogue as ``Task``s of world "minedojo".

    ``register_task`` is called with each ``rlgpt_cli.worlds.tasks.Task``; by default the
    catalogue's own ``register_task`` (replacing earlier registrations, so calling this
    twice is harmless). Returns the tasks.
    """
    from rlgpt_cli.worlds import tasks

    register = register_task or functools.partial(tasks.register_task, replace=True)
    made = []
    for name, spec in MINEDOJO_TASKS.items():
        task = tasks.Task(
            name=name, world="minedojo",
            description=f"{spec['description'][0].upper()}{spec['description'][1:]} "
                        f"(MineDojo {spec['task_id']}).",
            inventory={spec["success_item"]: spec["quantity"]},
            max_steps=spec["max_steps"], aliases=spec["aliases"])
        register(task)
        made.append(task)
    return made


# --- availability -----------------------------------------------------------------------

def _java_version() -> str | None:
    """First line of ``java -version`` (e.g. 'openjdk version "1.8.0_392"'), or None."""
    java = shutil.which("java")
    if java is None:
        return None
    try:
        done = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = (done.stderr or done.stdout).splitlines()
    return lines[0] if lines else None


def _is_jdk8(version_line: str | None) -> bool:
    return bool(version_line and re.search(r'version "1\.8', version_line))


def _missing(check_java: bool = True) -> list[str]:
    missing = []
    if importlib.util.find_spec("minedojo") is None:
        # On a new Python, say why it is probably missing rather than just "pip install".
        where = "" if sys.version_info[:2] <= (3, 9) else (
            " (its gym==0.21 pin installs in practice only on Python <=3.9;"
            f" this is {sys.version.split()[0]})")
        missing.append(f"the minedojo package: pip install minedojo==0.1{where}")
    if check_java:
        version = _java_version()
        if not _is_jdk8(version):
            found = f"found {version!r}" if version else "no java on PATH"
            missing.append(f"JDK 8 (`java -version` must show 1.8; {found})")
    return missing


def availability() -> tuple[bool, str]:
    """Whether MineDojo can start here, and why not: (True, 'ready') or (False, one line)."""
    missing = _missing()
    if missing:
        return False, "MineDojo needs " + "; and ".join(missing)
    return True, "ready"


# --- the world --------------------------------------------------------------------------

def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


@functools.cache
def _world_class():
    import gymnasium
    import numpy as np
    from gymnasium import spaces

    class MineDojoWorld(gymnasium.Env):
        """A MineDojo task as a gymnasium Env with our named actions and observations.

        ``task_id`` is one of our names (``collect_wood``), an alias, or any MineDojo
        task id. ``seed`` fixes MineDojo's world generation and its own randomness;
        ``reset(seed=s)`` with another seed restarts MineDojo with that world.
        ``image_size`` is (height, width). ``max_steps`` truncates an episode (default:
        the task's budget, else 10,000). ``check_java`` pre-checks JDK 8 so a missing
        JDK is one clear error rather than a Gradle failure; turn it off only when the
        ``minedojo`` module does not launch Java itself (a stand-in). Other keyword
        arguments go to ``minedojo.make`` unchanged (e.g. ``break_speed_multiplier``).
        """

        metadata = {"render_modes": ["rgb_array"]}

        def __init__(self, task_id: str, seed: int | None = None,
                     image_size: tuple[int, int] = (160, 256), max_steps: int | None = None,
                     check_java: bool = True, render_mode: str | None = None, **make_kwargs):
            missing = _missing(check_java=check_java)
            if missing:
                raise WorldError("MineDojo cannot start: needs " + "; and ".join(missing))
            try:
                import minedojo
            except ImportError as exc:  # installed, but its own dependencies (gym 0.21...) are not
                raise WorldError(
                    f"MineDojo cannot start: import minedojo failed: {_first_line(exc)}") from exc

            self._minedojo = minedojo
            _check_craft_indices()
            self.task_id = minedojo_task_id(task_id)
            name = _BY_MINEDOJO_ID.get(self.task_id)
            self.task_name = name or self.task_id
            self.max_steps = max_steps or (MINEDOJO_TASKS[name]["max_steps"] if name else 10_000)
            self.image_size = (int(image_size[0]), int(image_size[1]))
            self.render_mode = render_mode
            self._make_kwargs = make_kwargs
            self.action_space = spaces.Discrete(len(ACTIONS))
            self.observation_space = _observation_space(self.image_size)
            self._env = None
            self._raw = None
            self._last_pixels = None
            self._make(seed)

        # -- gymnasium API --

        def reset(self, *, seed: int | None = None, options: dict | None = None):
            super().reset(seed=seed)
            if seed is not None and seed != self._seed:
                self._make(seed)
            raw = self._call("reset")
            self._steps = 0
            self._achievements = {item: 0 for item in TECH_TREE_ITEMS}
            return self._observe(raw, held_before=inventory_counts(raw["inventory"]), ok=True)

        def step(self, action):
            if self._raw is None:
                raise WorldError("MineDojoWorld.step() before reset()")
            name = ACTIONS[int(action)]
            vector, ok = self._vector(name)
            held_before = inventory_counts(self._raw["inventory"])
            raw, reward, done, _ = self._call("step", vector)
            self._steps += 1
            obs, info = self._observe(raw, held_before=held_before, ok=ok)
            truncated = not done and self._steps >= self.max_steps
            return obs, float(reward), bool(done), truncated, info

        def render(self):
            return self._last_pixels

        def close(self):
            if self._env is not None:
                env, self._env = self._env, None
                env.close()

        # -- beyond gymnasium --

        def action_names(self) -> tuple[str, ...]:
            return ACTIONS

        def action_mask(self):
            """Which actions can do something now: craft needs the materials (and a table or
            furnace in reach, as MineDojo's masks say), equip and place need the item held."""
            names = self._raw["inventory"]["name"]
            masks = self._raw.get("masks", {})
            mask = np.ones(len(ACTIONS), dtype=bool)
            for i, action in enumerate(ACTIONS):
                kind, _, item = action.partition(":")
                if kind == "craft" and "craft_smelt" in masks:
                    mask[i] = bool(masks["craft_smelt"][CRAFT_ITEMS[item]])
                elif kind in ("equip", "place"):
                    slot = _slot_of(item, names)
                    mask[i] = slot is not None and bool(masks.get(kind, np.ones(len(names)))[slot])
            return mask

        # -- internals --

        def _make(self, seed):
            self.close()
            kwargs = dict(self._make_kwargs, image_size=self.image_size)
            if seed is not None:
                kwargs.update(seed=int(seed), world_seed=str(seed))
            try:
                self._env = self._minedojo.make(self.task_id, **kwargs)
            except (AssertionError, ValueError) as exc:
                raise WorldError(f"MineDojo has no task {self.task_id!r}: {_first_line(exc)}") from exc
            except Exception as exc:  # Malmo/Gradle/Java failures arrive as many types
                raise WorldError(f"MineDojo failed to start: {_first_line(exc)}") from exc
            self._seed = seed
            self._raw = None

        def _call(self, method, *args):
            try:
                out = getattr(self._env, method)(*args)
            except Exception as exc:  # a crashed Minecraft surfaces as any exception type
                raise WorldError(f"MineDojo {method} failed: {_first_line(exc)}") from exc
            self._raw = out if method == "reset" else out[0]
            return out

        def _vector(self, name):
            """MineDojo's vector for ``name``; equip/place of an item not held is a no-op,
            as in Crafter (MineDojo itself would raise on an empty slot)."""
            names = self._raw["inventory"]["name"]
            kind, _, item = name.partition(":")
            if kind in ("equip", "place") and _slot_of(item, names) is None:
                return to_minedojo("noop"), False
            return to_minedojo(name, names), True

        def _observe(self, raw, held_before, ok):
            obs = convert_observation(raw)
            self._last_pixels = obs["pixels"]
            held = inventory_counts(raw["inventory"])
            unlocked = []
            for item in TECH_TREE_ITEMS:
                if held.get(item, 0) > held_before.get(item, 0):
                    if self._achievements[item] == 0:
                        unlocked.append(item)
                    self._achievements[item] += 1
            info = {
                "inventory": held,
                "achievements": dict(self._achievements),
                "unlocked": unlocked,
                "nearby_blocks": nearby_blocks(raw.get("voxels")),
                "action_ok": ok,
                "minedojo_task": self.task_id,
                "minedojo_success": bool(getattr(self._env, "is_successful", False)),
            }
            return obs, info

    MineDojoWorld.__qualname__ = "MineDojoWorld"
    return MineDojoWorld


def _check_craft_indices() -> None:
    """Refuse a MineDojo whose craft list is ordered differently from :data:`CRAFT_ITEMS`."""
    try:
        from minedojo.sim.mc_meta import mc
    except ImportError:  # a stand-in without MineDojo's item tables: nothing to compare
        return
    table = list(mc.ALL_CRAFT_SMELT_ITEMS)
    wrong = [item for item, i in CRAFT_ITEMS.items() if i >= len(table) or table[i] != item]
    if len(table) != NVEC[_CRAFT_ARG] or wrong:
        raise WorldError(f"this MineDojo's craft items differ from MineDojo 0.1's "
                         f"({len(table)} items; moved: {', '.join(wrong) or 'none'})")


def __getattr__(name: str):
    # MineDojoWorld subclasses gymnasium.Env: build it on first use, not on import.
    if name == "MineDojoWorld":
        return _world_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
