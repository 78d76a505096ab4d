"""A stand-in for the ``minedojo`` package, for tests where Minecraft cannot run.

It follows MineDojo 0.1's documented interface and the spaces its wheel defines, written
here from those definitions (not copied): ``make(task_id, image_size=..., seed=...,
world_seed=..., **kwargs)`` returns an env whose ``action_space`` is
``MultiDiscrete([3, 3, 4, 25, 25, 8, 244, 36])`` with ``no_op()``, whose observations are
MineDojo's dict (``rgb`` (3, H, W) uint8; ``inventory`` with 36-slot ``name`` (spaces in
names, empty slots "air") and float32 ``quantity``; ``equipment``; ``life_stats``;
``location_stats``; ``nearby_tools``; ``damage_source``; 3x3x3 ``voxels``; ``masks``), and
whose ``reset()`` / ``step()`` are gym 0.21 style (obs, and a 4-tuple). Like MineDojo's
action wrapper it asserts the action is in its space and raises on equipping or placing
an empty slot.

Its world is a toy: logs all around, ``attack`` takes one, a few recipes work (by MineDojo's
craft index), placing a crafting table puts one in reach. Enough to check the adapter's
plumbing; it says nothing about real Minecraft.
"""

from __future__ import annotations

import importlib.machinery
import math
import sys
import types

import numpy as np

NVEC = np.array([3, 3, 4, 25, 25, 8, 244, 36])
N_SLOTS = 36
# Indices into MineDojo 0.1's ALL_CRAFT_SMELT_ITEMS, worked out independently of the
# adapter from the wheel's mc_constants.json: output -> (index, ingredients, needs a table).
RECIPES = {
    "planks": (29, {"log": 1}, False),
    "stick": (41, {"planks": 2}, False),
    "crafting_table": (7, {"planks": 4}, False),
    "wooden_pickaxe": (219, {"planks": 3, "stick": 2}, True),
}
CRAFT_YIELD = {"planks": 4, "stick": 4}
PLACEABLE = {"crafting_table", "furnace", "cobblestone", "dirt", "log", "planks"}
# A few real programmatic task ids -> (item that ends the episode, starting main-hand item).
TASKS = {
    "harvest_1_log": ("log", None),
    "harvest_8_log": ("log", None),
    "harvest_1_planks": ("planks", None),
    "techtree_from_barehand_to_wooden_pickaxe": ("wooden_pickaxe", None),
    "harvest_milk_with_empty_bucket_and_cow": ("milk_bucket", "bucket"),
}


class MultiDiscrete:
    """MineDojo's MultiDiscrete: ``nvec``, ``contains``, ``sample``, ``no_op``."""

    def __init__(self, nvec):
        self.nvec = np.asarray(nvec)
        self.shape = self.nvec.shape

    def contains(self, x) -> bool:
        x = np.asarray(x)
        return x.shape == self.shape and np.issubdtype(x.dtype, np.integer) and \
            bool(np.all((x >= 0) & (x < self.nvec)))

    def sample(self):
        return np.array([np.random.randint(n) for n in self.nvec])

    def no_op(self):
        return np.array([0, 0, 0, 12, 12, 0, 0, 0])


class StandinEnv:
    def __init__(self, task_id, image_size, seed=None, world_seed=None, **kwargs):
        self.task_id = task_id
        self.image_size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        self.seed, self.world_seed, self.kwargs = seed, world_seed, kwargs
        self.action_space = MultiDiscrete(NVEC)
        self.target, self.start_item = TASKS[task_id]
        self.actions: list[np.ndarray] = []  # every action step() was given
        self.last_obs: dict | None = None  # what reset() or step() returned last
        self.closed = False
        self.fail_on_step = False
        self.is_successful = False

    # -- gym 0.21 API --

    def reset(self):
        self._rng = np.random.default_rng(self.seed)
        self.names = ["air"] * N_SLOTS
        self.quantity = [0] * N_SLOTS
        if self.start_item:
            self._add(self.start_item, 1)
        self.table_near = False
        self.pos = np.array([0.5, 64.0, 0.5])
        self.pitch = self.yaw = 0.0
        self.is_successful = False
        self.last_obs = self._obs()
        return self.last_obs

    def step(self, action):
        assert self.action_space.contains(action), f"invalid action {action}"
        if self.fail_on_step:
            raise RuntimeError("Minecraft crashed\njava.lang.OutOfMemoryError")
        self.actions.append(np.array(action))
        held_before = self._count(self.target)
        fn = action[5]
        if action[0] == 1:  # forward, along the yaw as Minecraft does
            self.pos += [-math.sin(math.radians(self.yaw)), 0.0, math.cos(math.radians(self.yaw))]
        self.pitch = float(np.clip(self.pitch + action[3] * 15 - 180, -90, 90))
        self.yaw = (self.yaw + action[4] * 15 - 180 + 180) % 360 - 180
        if fn == 3:  # attack: logs are everywhere in this world
            self._add("log", 1)
        elif fn == 4:
            self._craft(int(action[6]))
        elif fn in (5, 6, 7):
            slot = int(action[7])
            item = self.names[slot].replace(" ", "_")
            if item == "air":
                raise ValueError("Trying to use an empty slot, raise error with strict check.")
            if fn == 5:  # equip: swap into the main hand
                self.names[0], self.names[slot] = self.names[slot], self.names[0]
                self.quantity[0], self.quantity[slot] = self.quantity[slot], self.quantity[0]
            elif fn == 6 and item in PLACEABLE:
                self._take(item, 1)
                self.table_near = self.table_near or item == "crafting_table"
        self.is_successful = self._count(self.target) >= 1
        reward = float(self._count(self.target) > held_before)
        self.last_obs = self._obs()
        return self.last_obs, reward, self.is_successful, {"elapsed": len(self.actions)}

    def close(self):
        self.closed = True

    # -- the toy world --

    def _count(self, item):
        return sum(q for n, q in zip(self.names, self.quantity) if n == item.replace("_", " "))

    def _add(self, item, n):
        name = item.replace("_", " ")
        slot = self.names.index(name) if name in self.names else self.names.index("air")
        self.names[slot] = name
        self.quantity[slot] += n

    def _take(self, item, n):
        slot = self.names.index(item.replace("_", " "))
        self.quantity[slot] -= n
        if self.quantity[slot] == 0:
            self.names[slot] = "air"

    def _craft(self, index):
        for item, (i, needs, table) in RECIPES.items():
            if i == index and all(self._count(k) >= v for k, v in needs.items()) \
                    and (self.table_near or not table):
                for k, v in needs.items():
                    self._take(k, v)
                self._add(item, CRAFT_YIELD.get(item, 1))

    def _obs(self):
        h, w = self.image_size
        blocks = np.full((3, 3, 3), "log", dtype="<U32")
        blocks[1, 0, 1] = "grass"  # under the agent
        blocks[1, 1, 1] = blocks[1, 2, 1] = "air"  # where the agent stands
        if self.table_near:
            blocks[0, 1, 1] = "crafting_table"
        f32 = np.float32
        craftable = np.zeros(NVEC[6], dtype=bool)
        for i, needs, table in RECIPES.values():
            craftable[i] = (self.table_near or not table) and \
                all(self._count(k) >= v for k, v in needs.items())
        filled = np.array([n != "air" for n in self.names])
        return {
            "rgb": self._rng.integers(0, 256, (3, h, w), dtype=np.uint8),
            "inventory": {
                "name": np.array(self.names, dtype="<U32"),
                "variant": np.zeros(N_SLOTS, dtype=np.int64),
                "quantity": np.array(self.quantity, dtype=f32),
                "max_durability": np.full(N_SLOTS, -1, dtype=f32),
                "cur_durability": np.full(N_SLOTS, -1, dtype=f32),
            },
            "equipment": {
                "name": np.array([self.names[0]] + ["air"] * 5, dtype="<U32"),
                "variant": np.zeros(6, dtype=np.int64),
                "quantity": np.array([self.quantity[0]] + [0] * 5, dtype=f32),
                "max_durability": np.full(6, -1, dtype=f32),
                "cur_durability": np.full(6, -1, dtype=f32),
            },
            "life_stats": {
                "life": np.array([20.0], dtype=f32), "armor": np.array([0.0], dtype=f32),
                "food": np.array([17.0], dtype=f32), "saturation": np.array([5.0], dtype=f32),
                "xp": np.array([0.0], dtype=f32), "oxygen": np.array([300.0], dtype=f32),
                "is_sleeping": np.array(False),
            },
            "location_stats": {
                "pos": self.pos.astype(f32), "pitch": np.array([self.pitch], dtype=f32),
                "yaw": np.array([self.yaw], dtype=f32), "biome_id": np.array(4),
                "rainfall": np.array([0.8], dtype=f32), "temperature": np.array([0.7], dtype=f32),
                "can_see_sky": np.array(True), "is_raining": np.array(False),
                "light_level": np.array([15.0], dtype=f32), "sky_light_level": np.array([1.0], dtype=f32),
                "sun_brightness": np.array([1.0], dtype=f32), "sea_level": np.array([62.0], dtype=f32),
            },
            "nearby_tools": {"table": np.array(self.table_near), "furnace": np.array(False)},
            "damage_source": {"hit_by": np.array("none")},
            "voxels": {
                "block_name": blocks,
                "block_meta": np.zeros((3, 3, 3), dtype=np.int64),
                "is_collidable": blocks != "air",
                "is_tool_not_required": np.ones((3, 3, 3), dtype=bool),
                "blocks_movement": blocks != "air",
                "is_liquid": np.zeros((3, 3, 3), dtype=bool),
                "is_solid": blocks != "air",
                "can_burn": blocks == "log",
                "blocks_light": blocks != "air",
                "cos_look_vec_angle": np.zeros((3, 3, 3), dtype=f32),
            },
            "masks": {
                "action_type": np.ones(8, dtype=bool),
                "action_arg": np.array([[0], [0], [0], [0], [1], [1], [1], [1]], dtype=bool),
                "equip": filled,
                "place": filled & np.isin(np.array(self.names), [p.replace("_", " ") for p in PLACEABLE]),
                "destroy": filled,
                "craft_smelt": craftable,
            },
        }


def install(monkeypatch, craft_items: list[str] | None = None) -> types.ModuleType:
    """Put a fake ``minedojo`` module in ``sys.modules`` (undone by ``monkeypatch``).

    ``module.made`` lists the envs ``make`` returned. With ``craft_items``, the module also
    has MineDojo's ``minedojo.sim.mc_meta.mc.ALL_CRAFT_SMELT_ITEMS`` set to that list.
    """
    module = types.ModuleType("minedojo")
    # A real import leaves a spec; importlib.util.find_spec needs one on a cached module.
    module.__spec__ = importlib.machinery.ModuleSpec("minedojo", None)
    module.made = []

    def make(task_id, *args, image_size, **kwargs):
        if task_id not in TASKS:
            raise ValueError(f"Invalid task id provided {task_id}")
        env = StandinEnv(task_id, image_size, *args, **kwargs)
        module.made.append(env)
        return env

    module.make = make
    monkeypatch.setitem(sys.modules, "minedojo", module)
    if craft_items is not None:
        module.__path__ = []  # a package, so that minedojo.sim.mc_meta.mc imports
        sim, mc_meta, mc = (types.ModuleType(n) for n in
                            ("minedojo.sim", "minedojo.sim.mc_meta", "minedojo.sim.mc_meta.mc"))
        mc.ALL_CRAFT_SMELT_ITEMS = list(craft_items)
        module.sim, sim.mc_meta, mc_meta.mc = sim, mc_meta, mc
        for m in (sim, mc_meta, mc):
            monkeypatch.setitem(sys.modules, m.__name__, m)
    return module
