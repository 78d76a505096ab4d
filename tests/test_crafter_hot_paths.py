"""The Crafter primitives' hot paths, rewritten for speed, give what the plain versions gave."""

from __future__ import annotations

import numpy as np
import pytest

from rlgpt_cli.worlds.crafter import pathing, primitives, recipes
from rlgpt_cli.worlds.crafter.primitives import LAVA, MATERIAL_IDS, UNKNOWN, WALKABLE, CrafterAPI


def _window_sum_reference(mask, w, h):
    a = np.pad(mask.astype(np.float64), ((w // 2 + 1, w // 2), (h // 2 + 1, h // 2)))
    c = a.cumsum(0).cumsum(1)
    return c[w:, h:] - c[:-w, h:] - c[w:, :-h] + c[:-w, :-h]


@pytest.mark.parametrize("w,h", [(9, 7), (15, 15), (1, 1), (3, 65)])
def test_window_sum_is_the_cumulative_sum_version_exactly(w, h):
    rng = np.random.default_rng(w * 100 + h)
    for p in (0.05, 0.5, 0.97):
        mask = rng.random((64, 48)) < p
        ours, ref = primitives._window_sum(mask, w, h), _window_sum_reference(mask, w, h)
        assert ours.dtype == ref.dtype and np.array_equal(ours, ref)
    assert pathing.window_sum(np.ones((5, 5), np.bool_), 3, 3)[2, 2] == 9


def _mine_cost_reference(api):
    costs = {}
    for r in recipes.recipes():
        if r.kind == "collect" and r.leaves in recipes.walkable() and r.source not in recipes.walkable() \
                and all(api.has(t, k) for t, k in r.tools.items()):
            costs[MATERIAL_IDS[r.source]] = 2.0 if r.source == "stone" else 3.0
    return costs


def _cost_grid_reference(api):
    cost = np.full(api.area, np.inf)
    for mid in WALKABLE:
        cost[api.map == mid] = 1.0
    cost[api.map == UNKNOWN] = 1.5
    for mid, c in _mine_cost_reference(api).items():
        cost[api.map == mid] = c
    cost[api.map == LAVA] = np.inf
    for cell, (name, when) in api.objects.items():
        if api.step - when <= 1 and name != "arrow":
            cost[cell] = np.inf
        if name in primitives.HOSTILE and api.step - when <= 3:
            for n in api._neighbours(cell):
                cost[n] += 3.0
    return cost


@pytest.mark.parametrize("tools", [{}, {"wood_pickaxe": 1}, {"wood_pickaxe": 1, "stone_pickaxe": 1, "iron_pickaxe": 1}])
def test_cost_grid_and_mine_cost_are_the_mask_by_mask_versions_exactly(tools):
    rng = np.random.default_rng(len(tools))
    api = CrafterAPI()
    ids = [UNKNOWN, *MATERIAL_IDS.values()]
    api.map = rng.choice(ids, size=api.area).astype(np.int16)
    api.step = 10
    api.pos = (30, 30)
    api.inventory = {name: 0 for name in primitives.ITEMS} | tools
    api.objects = {(5, 5): ("zombie", 9), (6, 7): ("cow", 10), (40, 41): ("arrow", 10), (63, 63): ("skeleton", 8)}
    assert api._mine_cost() == _mine_cost_reference(api)
    assert list(api._mine_cost()) == list(_mine_cost_reference(api))  # same order too
    ours, ref = api._cost_grid(), _cost_grid_reference(api)
    assert ours.dtype == ref.dtype and np.array_equal(ours, ref)
