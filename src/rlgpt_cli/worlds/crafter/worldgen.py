"""Crafter's world generator, compiled: the same worlds as ``crafter.worldgen``, ~50x faster.

``crafter.worldgen.generate_world`` walks the 64x64 map in Python, calling
opensimplex noise 6-7 times per cell and drawing from the world's
``RandomState`` as it goes (~50 ms per reset with numba, ~1 s without). This
module runs the same walk inside one numba function: the same noise function
(opensimplex's own ``_noise3``), the same branch order, and the random draws
taken from the world's :class:`~.engine.Random` (numpy's MT19937, ported) in the
same order. The resulting materials,
objects (and their order) and random state are identical to crafter's; the
equivalence test checks that.

The one step kept out of numba is the sigmoid ``1 / (1 + exp(-start))``:
numba's ``exp`` comes from LLVM/libm while crafter's comes from numpy's ufunc
loop, and those may differ in the last bit, so it is applied with numpy.

Without numba the same functions run as plain Python: correct, but slower than
crafter's own generator.
"""

from __future__ import annotations

import math

import numpy as np
from opensimplex.internals import _noise3

from rlgpt_cli.worlds.crafter import engine
from rlgpt_cli.worlds.crafter.engine import mt_next32 as _next32
from rlgpt_cli.worlds.crafter.engine import mt_uniform as _uniform

try:
    from numba import njit
except ImportError:  # pragma: no cover - numba is a dependency; this keeps us importable

    def njit(*args, **kwargs):
        return lambda function: function


# crafter's material ids (index in [None] + constants.materials).
WATER, GRASS, STONE, PATH, SAND, TREE, LAVA, COAL, IRON, DIAMOND = range(1, 11)
# Object kinds returned by the generator.
COW, ZOMBIE, SKELETON = range(3)

@njit(cache=True)
def _simplex_tables(seed):
    """``opensimplex.internals._init(seed)``: the permutation tables for a seed."""
    perm = np.zeros(256, np.int64)
    grad_index = np.zeros(256, np.int64)
    source = np.arange(256)
    mul, inc = 6364136223846793005, 1442695040888963407
    seed = np.int64(seed)
    for _ in range(3):
        seed = seed * mul + inc  # wraps like opensimplex's c_int64
    for i in range(255, -1, -1):
        seed = seed * mul + inc
        n = i + 1
        r = (seed % n + 31 % n) % n  # == (seed + 31) % n without int64 overflow
        perm[i] = source[r]
        grad_index[i] = (perm[i] % 24) * 3  # 24 = len(GRADIENTS3) / 3
        source[r] = source[i]
    return perm, grad_index


@njit(cache=True)
def _start_field(key, cursor, w, h, px, py):
    """Draw the noise seed, build its tables, and the pre-sigmoid ``start`` field."""
    span = 2**31 - 2  # RandomState.randint(0, 2**31 - 1): first masked draw in range
    while True:
        seed = _next32(key, cursor) & 0x7FFFFFFF
        if seed <= span:
            break
    perm, grad = _simplex_tables(seed)
    start = np.empty((w, h), np.float64)
    for x in range(w):
        for y in range(h):
            value = 4 - math.sqrt((x - px) ** 2 + (y - py) ** 2)
            start[x, y] = value + 2 * _noise3(x / 3, y / 3, 8.0, perm, grad)
    return perm, grad, start


@njit(cache=True)
def _materials_and_objects(key, cursor, perm, grad, start, px, py):
    """crafter's ``_set_material`` then ``_set_object`` over every cell, in its order."""
    w, h = start.shape
    mat = np.zeros((w, h), np.uint8)
    tunnels = np.zeros((w, h), np.bool_)
    for x in range(w):
        for y in range(h):
            s = start[x, y]
            water = 0.0
            water += 1.0 * _noise3(x / 15, y / 15, 3.0, perm, grad)
            water += 0.15 * _noise3(x / 5, y / 5, 3.0, perm, grad)
            water = water + 0.1
            water -= 2 * s
            mountain = 0.0
            mountain += 1.0 * _noise3(x / 15, y / 15, 0.0, perm, grad)
            mountain += 0.3 * _noise3(x / 5, y / 5, 0.0, perm, grad)
            mountain /= 1 + 0.3
            mountain -= 4 * s + 0.3 * water
            if s > 0.5:
                mat[x, y] = GRASS
            elif mountain > 0.15:
                if _noise3(x / 7, y / 7, 6.0, perm, grad) > 0.15 and mountain > 0.3:  # cave
                    mat[x, y] = PATH
                elif _noise3(2 * x / 3, y / 5 / 3, 7.0, perm, grad) > 0.4:  # horizontal tunnel
                    mat[x, y] = PATH
                    tunnels[x, y] = True
                elif _noise3(x / 5 / 3, 2 * y / 3, 7.0, perm, grad) > 0.4:  # vertical tunnel
                    mat[x, y] = PATH
                    tunnels[x, y] = True
                elif _noise3(x / 8, y / 8, 1.0, perm, grad) > 0 and _uniform(key, cursor) > 0.85:
                    mat[x, y] = COAL
                elif _noise3(x / 6, y / 6, 2.0, perm, grad) > 0.4 and _uniform(key, cursor) > 0.75:
                    mat[x, y] = IRON
                elif mountain > 0.18 and _uniform(key, cursor) > 0.994:
                    mat[x, y] = DIAMOND
                elif mountain > 0.3 and _noise3(x / 5, y / 5, 6.0, perm, grad) > 0.35:
                    mat[x, y] = LAVA
                else:
                    mat[x, y] = STONE
            elif 0.25 < water <= 0.35 and _noise3(x / 9, y / 9, 4.0, perm, grad) > -0.2:
                mat[x, y] = SAND
            elif 0.3 < water:
                mat[x, y] = WATER
            elif _noise3(x / 7, y / 7, 5.0, perm, grad) > 0 and _uniform(key, cursor) > 0.8:
                mat[x, y] = TREE
            else:
                mat[x, y] = GRASS
    found = np.zeros((w * h, 3), np.int64)
    count = 0
    for x in range(w):
        for y in range(h):
            material = mat[x, y]
            if material != GRASS and material != PATH and material != SAND:
                continue
            dist = math.sqrt((x - px) ** 2 + (y - py) ** 2)
            kind = -1
            if dist > 3 and material == GRASS and _uniform(key, cursor) > 0.985:
                kind = COW
            elif dist > 10 and _uniform(key, cursor) > 0.993:
                kind = ZOMBIE
            elif material == PATH and tunnels[x, y] and _uniform(key, cursor) > 0.95:
                kind = SKELETON
            if kind >= 0:
                found[count, 0] = kind
                found[count, 1] = x
                found[count, 2] = y
                count += 1
    return mat, found[:count]


def generate(world, player) -> None:
    """Fill ``world`` (reset, holding only ``player``) exactly like ``crafter.worldgen``.

    ``world.random`` must be a fresh :class:`~.engine.Random` (nothing buffered):
    generation draws from its generator directly.
    """
    random = world.random
    assert random.buffered == 0, "world generation needs an unbuffered random stream"
    px, py = player.pos
    w, h = world.area
    perm, grad, start = _start_field(random.key, random.cursor, w, h, px, py)
    start = 1 / (1 + np.exp(-start))  # numpy's exp, as crafter (see module docstring)
    mat, found = _materials_and_objects(random.key, random.cursor, perm, grad, start, px, py)
    world._mat_map[:] = mat
    for kind, x, y in found.tolist():
        if kind == COW:
            world.add(engine.Cow(world, (x, y)))
        elif kind == ZOMBIE:
            world.add(engine.Zombie(world, (x, y), player))
        else:
            world.add(engine.Skeleton(world, (x, y), player))
