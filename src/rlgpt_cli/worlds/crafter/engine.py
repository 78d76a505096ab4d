"""Crafter's world and creatures with fast integer code paths and identical dynamics.

Every class here subclasses crafter's own (``crafter.engine.World``,
``crafter.objects.Player``, ``Cow``, ``Zombie``, ``Skeleton``, ``Arrow``, ``Plant``)
and keeps its rules: the recipe tables come from ``crafter.constants``, the
player's survival, crafting and combat code is crafter's, and every random draw
happens in the same order with the same values. What changes is only *how* the
hot paths run:

* positions are ``(x, y)`` tuples of Python ints instead of 2-element numpy
  arrays (numpy on two numbers costs ~1 µs per operation), so the methods that
  do arithmetic on positions (``move``, ``distance``, ``toward``, the creature
  ``update`` methods) are rewritten line for line with ints;
* :class:`Random` is ``numpy.random.RandomState``'s MT19937 ported to numba
  with a buffer of raw 32-bit draws, ~4x cheaper per scalar draw than numpy;
* a chunk's members are kept in insertion order (a dict) instead of a ``set``.

The last point is the one deliberate difference. Crafter despawns "a random
creature of the chunk" by indexing the list it builds from a ``set`` of objects,
whose iteration order follows memory addresses, so crafter itself does not replay
a seed exactly from one process to the next. Here the order is the order the
creatures entered the chunk, which is what crafter does whenever its set happens
to iterate in insertion order; the equivalence test makes the reference
deterministic the same way.
"""

from __future__ import annotations

import collections
import math

import numpy as np
from crafter import constants, engine, objects

try:
    from numba import njit
except ImportError:  # pragma: no cover - numba is a dependency; this keeps us importable

    def njit(*args, **kwargs):
        return lambda function: function

# Material names, crafter's ids (0 = outside the world), and the walkable sets.
MATERIALS = (None, *constants.materials)
WALKABLE = frozenset(constants.walkable)
PLAYER_WALKABLE = frozenset(constants.walkable) | {"lava"}
ARROW_WALKABLE = frozenset(constants.walkable) | {"water", "lava"}
ALL_DIRS = ((-1, 0), (+1, 0), (0, -1), (0, +1))

_ITEM_MAX = {name: info["max"] for name, info in constants.items.items()}
_ENERGY_MAX = constants.items["energy"]["max"]
_MOVES = {"move_left": (-1, 0), "move_right": (+1, 0), "move_up": (0, -1), "move_down": (0, +1)}

_BLOCK = 512  # raw 32-bit draws generated at a time (a step uses tens)
_MT_N, _MT_M = 624, 397  # MT19937 state length and shift


def _sign(value: int) -> int:
    return (value > 0) - (value < 0)


@njit(cache=True)
def _mt_seed(seed):
    """numpy's ``mt19937_seed``: the state ``RandomState(seed)`` starts from."""
    key = np.empty(_MT_N, np.int64)
    seed &= 0xFFFFFFFF
    for i in range(_MT_N):
        key[i] = seed
        seed = (1812433253 * (seed ^ (seed >> 30)) + i + 1) & 0xFFFFFFFF
    return key


@njit(cache=True)
def _mt_twist(key):
    # numpy's mt19937_gen: regenerate all 624 words.
    upper, lower, matrix = 0x80000000, 0x7FFFFFFF, 0x9908B0DF
    for i in range(_MT_N - _MT_M):
        y = (key[i] & upper) | (key[i + 1] & lower)
        key[i] = key[i + _MT_M] ^ (y >> 1) ^ (matrix if y & 1 else 0)
    for i in range(_MT_N - _MT_M, _MT_N - 1):
        y = (key[i] & upper) | (key[i + 1] & lower)
        key[i] = key[i + _MT_M - _MT_N] ^ (y >> 1) ^ (matrix if y & 1 else 0)
    y = (key[_MT_N - 1] & upper) | (key[0] & lower)
    key[_MT_N - 1] = key[_MT_M - 1] ^ (y >> 1) ^ (matrix if y & 1 else 0)


@njit(cache=True)
def _mt_skip(key, cursor, count):
    """Advance the generator by ``count`` 32-bit draws (tempering is not needed to skip)."""
    i = cursor[0] + count
    while i > _MT_N:
        _mt_twist(key)
        i -= _MT_N
    cursor[0] = i


@njit(cache=True)
def mt_next32(key, cursor):
    """numpy's ``mt19937_next32``; ``cursor`` is a 1-element array holding the position."""
    i = cursor[0]
    if i >= _MT_N:
        _mt_twist(key)
        i = 0
    y = key[i]
    cursor[0] = i + 1
    y ^= y >> 11
    y ^= (y << 7) & 0x9D2C5680
    y ^= (y << 15) & 0xEFC60000
    y ^= y >> 18
    return y


@njit(cache=True)
def mt_uniform(key, cursor):
    """``RandomState.uniform()``: numpy's ``mt19937_next_double``."""
    a = mt_next32(key, cursor) >> 5
    b = mt_next32(key, cursor) >> 6
    return (a * 67108864.0 + b) / 9007199254740992.0


@njit(cache=True)
def _mt_block(key, cursor, count):
    out = np.empty(count, np.int64)
    for i in range(count):
        out[i] = mt_next32(key, cursor)
    return out


@njit(cache=True)
def nearby_objects(obj_map, px, py, reach, limit):
    """Indices (ascending) of the objects within Manhattan distance < ``reach`` of
    ``(px, py)``, only those below ``limit``: crafter's update filter, as a scan
    of the box around the player instead of a Python loop over every object."""
    w, h = obj_map.shape
    out = np.empty(4 * reach * reach, np.int64)
    count = 0
    for x in range(max(px - reach + 1, 0), min(px + reach, w)):
        dx = abs(x - px)
        for y in range(max(py - reach + 1 + dx, 0), min(py + reach - dx, h)):
            index = obj_map[x, y]
            if 0 < index < limit:
                out[count] = index
                count += 1
    return np.sort(out[:count])


class Random:
    """The draws crafter makes from ``numpy.random.RandomState(seed)``, bit for bit.

    A port of numpy's legacy MT19937 (seeding, generator and the formulas of
    ``uniform()``, ``uniform(low, high, size)`` and ``randint(low, high)``): a
    double is ``((a >> 5) * 2**26 + (b >> 6)) / 2**53`` of two 32-bit draws, a
    bounded int the first masked draw in range. Scalar draws come from a buffer
    of raw 32-bit draws (~4x cheaper than a numpy call); :attr:`key` and
    :attr:`cursor` are the generator itself, which world generation advances
    directly while nothing is buffered. The equivalence tests check it against
    ``RandomState``.
    """

    __slots__ = ("key", "cursor", "_raw", "_next")

    def __init__(self, seed: int):
        self.key = _mt_seed(int(seed))
        self.cursor = np.array([_MT_N], np.int64)
        self._raw: list[int] = []
        self._next = 0

    @property
    def buffered(self) -> int:
        """How many raw draws have been generated but not used yet."""
        return len(self._raw) - self._next

    def _draw(self, count: int) -> np.ndarray:
        return _mt_block(self.key, self.cursor, count)

    def _refill(self, need: int) -> None:
        rest = self._raw[self._next:]
        self._raw = rest + self._draw(max(need, _BLOCK)).tolist()
        self._next = 0

    def _take(self, count: int) -> np.ndarray:
        """The next ``count`` raw draws as an int64 array."""
        have = self._raw[self._next:self._next + count]
        self._next += len(have)
        if len(have) == count:
            return np.asarray(have, np.int64)
        return np.concatenate([np.asarray(have, np.int64), self._draw(count - len(have))])

    def skip_doubles(self, count: int) -> None:
        """Advance the stream past ``count`` doubles without computing them."""
        need = 2 * count
        left = len(self._raw) - self._next
        if need <= left:
            self._next += need
        else:
            self._raw, self._next = [], 0
            _mt_skip(self.key, self.cursor, need - left)

    def uniform(self, low: float = 0.0, high: float = 1.0, size=None):
        if size is None:
            i = self._next
            if i + 2 > len(self._raw):
                self._refill(2)
                i = 0
            raw = self._raw
            self._next = i + 2
            value = ((raw[i] >> 5) * 67108864.0 + (raw[i + 1] >> 6)) / 9007199254740992.0
            if low == 0.0 and high == 1.0:
                return value
            return low + (high - low) * value
        shape = (size,) if isinstance(size, int) else tuple(size)
        raw = self._take(2 * math.prod(shape))
        doubles = ((raw[0::2] >> 5) * 67108864.0 + (raw[1::2] >> 6)) / 9007199254740992.0
        return (low + (high - low) * doubles).reshape(shape)

    def randint(self, low: int, high: int | None = None) -> int:
        if high is None:
            low, high = 0, low
        span = high - 1 - low
        if span < 0:
            raise ValueError("low >= high")
        if span == 0:
            return low  # numpy returns without drawing
        if span > 0xFFFFFFFF:
            raise ValueError("ranges over 2**32 are not supported")  # crafter uses none
        mask = (1 << span.bit_length()) - 1
        while True:
            if self._next >= len(self._raw):
                self._refill(1)
            value = self._raw[self._next] & mask
            self._next += 1
            if value <= span:
                return low + value


class World(engine.World):
    """crafter's ``World`` with tuple positions, ordered chunks and a fast lookup."""

    def __init__(self, area=(64, 64), chunk_size=(12, 12)):
        super().__init__(area, constants.materials, chunk_size)
        w, h = area
        cw, ch = chunk_size
        # chunk_key for every cell, precomputed (crafter computes it per call).
        self._chunk_of = [
            [(x // cw * cw, min(x // cw * cw + cw, w), y // ch * ch, min(y // ch * ch + ch, h))
             for y in range(h)] for x in range(w)]

    def reset(self, seed=None):
        # crafter seeds with None at construction; any seed works until the first real reset.
        self.random = Random(0 if seed is None else seed)
        self.daylight = 0.0
        self._chunks = collections.defaultdict(dict)
        self._objects = [None]
        self._mat_map = np.zeros(self.area, np.uint8)
        self._obj_map = np.zeros(self.area, np.uint32)

    def add(self, obj):
        x, y = obj.pos = (int(obj.pos[0]), int(obj.pos[1]))
        assert self._obj_map[x, y] == 0
        self._obj_map[x, y] = len(self._objects)
        self._objects.append(obj)
        self._chunks[self._chunk_of[x][y]][obj] = None

    def remove(self, obj):
        if obj.removed:
            return
        x, y = obj.pos
        self._objects[self._obj_map[x, y]] = None
        self._obj_map[x, y] = 0
        del self._chunks[self._chunk_of[x][y]][obj]
        obj.removed = True

    def move(self, obj, pos):
        if obj.removed:
            return
        x, y = pos
        ox, oy = obj.pos
        obj_map = self._obj_map
        assert obj_map[x, y] == 0
        obj_map[x, y] = obj_map[ox, oy]
        obj_map[ox, oy] = 0
        old_chunk = self._chunk_of[ox][oy]
        new_chunk = self._chunk_of[x][y]
        if old_chunk != new_chunk:
            del self._chunks[old_chunk][obj]
            self._chunks[new_chunk][obj] = None
        obj.pos = (x, y)

    def __getitem__(self, pos):
        x, y = pos
        w, h = self.area
        if 0 <= x < w and 0 <= y < h:
            return MATERIALS[self._mat_map[x, y]], self._objects[self._obj_map[x, y]]
        return None, None

    def compact(self) -> None:
        """Drop the holes removed objects leave in the object list (order is kept).

        Crafter's list only grows (every arrow adds an entry), so long episodes
        would iterate over thousands of holes each step.
        """
        live = [obj for obj in self._objects if obj is not None]
        self._objects = [None, *live]
        for index, obj in enumerate(live, 1):
            self._obj_map[obj.pos] = index


class _Fast:
    """Integer-position versions of ``crafter.objects.Object``'s helpers."""

    def move(self, direction):
        x, y = self.pos
        target = (x + direction[0], y + direction[1])
        if self.is_free(target):
            self.world.move(self, target)
            return True
        return False

    def is_free(self, target, materials=None):
        materials = self.walkable if materials is None else materials
        material, obj = self.world[target]
        return obj is None and material in materials

    def distance(self, target):
        tx, ty = target.pos if hasattr(target, "pos") else target
        x, y = self.pos
        return abs(tx - x) + abs(ty - y)

    def toward(self, target, long_axis=True):
        tx, ty = target.pos if hasattr(target, "pos") else target
        x, y = self.pos
        dx, dy = tx - x, ty - y
        if (abs(dx) > abs(dy) if long_axis else abs(dx) <= abs(dy)):
            return (_sign(dx), 0)
        return (0, _sign(dy))

    def random_dir(self):
        return ALL_DIRS[self.random.randint(0, 4)]


class Player(_Fast, objects.Player):
    """crafter's player; only the inventory clamp and object placement are redone."""

    walkable = PLAYER_WALKABLE

    def __init__(self, world, pos):
        super().__init__(world, pos)
        self.pos = (int(pos[0]), int(pos[1]))

    def update(self):
        # crafter's Player.update, with the move dispatch and clamp loop inlined.
        x, y = self.pos
        fx, fy = self.facing
        target = (x + fx, y + fy)
        material, obj = self.world[target]
        action = self.action
        inventory = self.inventory
        if self.sleeping:
            if inventory["energy"] < _ENERGY_MAX:
                action = "sleep"
            else:
                self.sleeping = False
                self.achievements["wake_up"] += 1
        if action == "noop":
            pass
        elif action in _MOVES:
            self.facing = _MOVES[action]
            self.move(self.facing)
            if self.world[self.pos][0] == "lava":
                self.health = 0
        elif action == "do" and obj:
            self._do_object(obj)
        elif action == "do":
            self._do_material(target, material)
        elif action == "sleep":
            if inventory["energy"] < _ENERGY_MAX:
                self.sleeping = True
        elif action.startswith("place_"):
            self._place(action[len("place_"):], target, material)
        elif action.startswith("make_"):
            self._make(action[len("make_"):])
        self._update_life_stats()
        self._degen_or_regen_health()
        for name, amount in inventory.items():
            top = _ITEM_MAX[name]
            if amount < 0 or amount > top:
                inventory[name] = max(0, min(amount, top))
        self._wake_up_when_hurt()

    def _place(self, name, target, material):
        # crafter's Player._place, creating this module's Plant.
        if self.world[target][1]:
            return
        info = constants.place[name]
        if material not in info["where"]:
            return
        if any(self.inventory[k] < v for k, v in info["uses"].items()):
            return
        for item, amount in info["uses"].items():
            self.inventory[item] -= amount
        if info["type"] == "material":
            self.world[target] = name
        elif info["type"] == "object":
            cls = {"fence": objects.Fence, "plant": Plant}[name]
            self.world.add(cls(self.world, target))
        self.achievements[f"place_{name}"] += 1


class Cow(_Fast, objects.Cow):
    walkable = WALKABLE

    def update(self):
        if self.inventory["health"] <= 0:
            self.world.remove(self)
        if self.random.uniform() < 0.5:
            self.move(self.random_dir())


class Zombie(_Fast, objects.Zombie):
    walkable = WALKABLE

    def update(self):
        if self.inventory["health"] <= 0:
            self.world.remove(self)
        player = self.player
        dist = self.distance(player)
        random = self.random
        if dist <= 8 and random.uniform() < 0.9:
            self.move(self.toward(player, random.uniform() < 0.8))
        else:
            self.move(self.random_dir())
        dist = self.distance(player)
        if dist <= 1:
            if self.cooldown:
                self.cooldown -= 1
            else:
                damage = 7 if player.sleeping else 2
                player.health -= damage
                self.cooldown = 5


class Skeleton(_Fast, objects.Skeleton):
    walkable = WALKABLE

    def update(self):
        if self.inventory["health"] <= 0:
            self.world.remove(self)
        self.reload = max(0, self.reload - 1)
        player = self.player
        random = self.random
        dist = self.distance(player.pos)
        if dist <= 3:
            dx, dy = self.toward(player, random.uniform() < 0.6)
            if self.move((-dx, -dy)):
                return
        if dist <= 5 and random.uniform() < 0.5:
            self._shoot(self.toward(player))
        elif dist <= 8 and random.uniform() < 0.3:
            self.move(self.toward(player, random.uniform() < 0.6))
        elif random.uniform() < 0.2:
            self.move(self.random_dir())

    def _shoot(self, direction):
        if self.reload > 0:
            return
        if direction[0] == 0 and direction[1] == 0:
            return
        x, y = self.pos
        pos = (x + direction[0], y + direction[1])
        if self.is_free(pos, ARROW_WALKABLE):
            self.world.add(Arrow(self.world, pos, direction))
            self.reload = 4


class Arrow(_Fast, objects.Arrow):
    walkable = ARROW_WALKABLE

    def __init__(self, world, pos, facing):
        super().__init__(world, pos, facing)
        self.facing = (int(facing[0]), int(facing[1]))

    def update(self):
        x, y = self.pos
        fx, fy = self.facing
        target = (x + fx, y + fy)
        material, obj = self.world[target]
        if obj:
            obj.health -= 2
            self.world.remove(self)
        elif material not in ARROW_WALKABLE:
            self.world.remove(self)
            if material in ("table", "furnace"):
                self.world[target] = "path"
        else:
            self.move(self.facing)


class Plant(_Fast, objects.Plant):
    def update(self):
        self.grown += 1
        x, y = self.pos
        world = self.world
        for dx, dy in ALL_DIRS:
            if isinstance(world[x + dx, y + dy][1], (objects.Zombie, objects.Skeleton, objects.Cow)):
                self.health -= 1
                break
        if self.health <= 0:
            world.remove(self)
