"""The obtain-diamond agent's fixes from its death and give-up counts (benchmarks/deaths.py):
plans that stock what every later step uses, a night's shelter walled with placed stone on
open ground (never by a move toward lava), and skills that gather what a shelter used up."""

from __future__ import annotations

import numpy as np

from rlgpt_cli.worlds.crafter import goals, recipes
from rlgpt_cli.worlds.crafter.primitives import (
    ITEMS, MATERIAL_IDS, MOVES, WALKABLE, CrafterAPI,
)
from rlgpt_cli.worlds.tasks import resolve_task


class Grid:
    """Crafter's movement, placing and mining rules on a small material grid (no creatures):
    a move turns the player and walks onto walkable ground or lava; ``place_stone`` puts stone
    on grass, sand, path, water or lava in front; ``do`` mines stone with a pickaxe."""

    def __init__(self, size=24, stone=9, pickaxe=False):
        self.map = np.full((size, size), MATERIAL_IDS["grass"], np.int16)
        self.pos, self.facing = (size // 2, size // 2), (0, 1)
        self.inventory = {name: info["initial"] for name, info in recipes.items().items()}
        self.inventory["stone"] = stone
        self.inventory["wood_pickaxe"] = int(pickaxe)
        self.visited = [self.pos]

    def obs(self):
        view = np.zeros((2, 9, 7), np.int16)
        for dx in range(9):
            for dy in range(7):
                x, y = self.pos[0] + dx - 4, self.pos[1] + dy - 3
                if 0 <= x < self.map.shape[0] and 0 <= y < self.map.shape[1]:
                    view[0, dx, dy] = self.map[x, y]
        inventory = np.array([self.inventory[name] for name in ITEMS], np.int16)
        return {"view": view, "inventory": inventory, "daylight": np.array([1.0], np.float32),
                "facing": np.array(self.facing, np.int8), "pos": np.array(self.pos, np.int16),
                "sleeping": np.array([0], np.uint8)}

    def step(self, action):
        front = (self.pos[0] + self.facing[0], self.pos[1] + self.facing[1])
        if action in MOVES:
            self.facing = MOVES[action]
            target = (self.pos[0] + self.facing[0], self.pos[1] + self.facing[1])
            if int(self.map[target]) in WALKABLE | {MATERIAL_IDS["lava"]}:
                self.pos = target
                self.visited.append(target)
        elif action == "place_stone" and self.inventory["stone"] \
                and self.map[front] in [MATERIAL_IDS[m] for m in recipes.requirements("place_stone").where]:
            self.map[front] = MATERIAL_IDS["stone"]
            self.inventory["stone"] -= 1
        elif action == "do" and self.map[front] == MATERIAL_IDS["stone"] and self.inventory["wood_pickaxe"]:
            self.map[front] = MATERIAL_IDS["path"]
            self.inventory["stone"] += 1
        return self.obs()

    def enclosed(self) -> bool:
        """The player's walkable region (4-connected) is at most two cells."""
        region, frontier = {self.pos}, [self.pos]
        for cell in frontier:
            for d in MOVES.values():
                n = (cell[0] + d[0], cell[1] + d[1])
                if n not in region and int(self.map[n]) in WALKABLE:
                    region.add(n)
                    frontier.append(n)
                    if len(region) > 2:
                        return False
        return True


def drive(grid, actions, api, limit=200):
    """Step ``grid`` with a primitive's actions, observing after each, as the runner does."""
    taken = 0
    try:
        action = next(actions)
        while taken < limit:
            api.observe(grid.step(action))
            taken += 1
            action = actions.send(None)
    except StopIteration as stop:
        return stop.value, taken
    return None, taken


def test_the_player_walls_itself_in_with_stone_on_open_grass():
    grid = Grid(stone=9)
    api = CrafterAPI(area=grid.map.shape, auto_survive=False)
    api.observe(grid.obs())
    sealed, steps = drive(grid, api._build_shelter(60), api)
    assert sealed and api._sealed() and grid.enclosed()
    assert 9 - grid.inventory["stone"] <= 6 and steps < 60  # six walls at most, in one plan


def test_walling_uses_the_blocks_already_there():
    grid = Grid(stone=9)
    x, y = grid.pos
    grid.map[x - 1:x + 3, y - 1] = MATERIAL_IDS["stone"]  # a rock face above the player
    api = CrafterAPI(area=grid.map.shape, auto_survive=False)
    api.observe(grid.obs())
    sealed, _ = drive(grid, api._build_shelter(60), api)
    assert sealed and grid.enclosed() and 9 - grid.inventory["stone"] < 6


def test_walling_never_steps_or_turns_toward_lava():
    grid = Grid(stone=9)
    x, y = grid.pos
    grid.map[x - 1, y] = grid.map[x, y - 1] = MATERIAL_IDS["lava"]  # lava on two sides
    api = CrafterAPI(area=grid.map.shape, auto_survive=False)
    api.observe(grid.obs())
    sealed, _ = drive(grid, api._build_shelter(60), api)
    assert all(grid.map[c] != MATERIAL_IDS["lava"] for c in grid.visited)
    assert sealed and grid.enclosed()


def test_no_walls_without_the_stone_for_them():
    grid = Grid(stone=2)
    api = CrafterAPI(area=grid.map.shape, auto_survive=False)
    api.observe(grid.obs())
    assert api._walling_plan() is None


def test_gather_mines_the_stone_a_furnace_still_needs():
    grid = Grid(stone=1, pickaxe=True)
    x, y = grid.pos
    grid.map[x - 3:x + 4, y + 1:y + 3] = MATERIAL_IDS["stone"]  # stone in front of the player
    api = CrafterAPI(area=grid.map.shape, auto_survive=False)
    api.observe(grid.obs())
    ok, _ = drive(grid, api.gather("furnace"), api)
    assert ok and grid.inventory["stone"] == 4  # what the furnace uses, no more
    ok, steps = drive(grid, api.gather("furnace"), api)
    assert ok and steps == 0  # held already: nothing to do


def test_a_plan_holds_what_each_step_uses_when_it_comes():
    """A sword inserted after a pickaxe collects its own wood and stone: before, the stone
    sword took one of the furnace's four stones and the wood sword the iron pickaxe's wood."""
    for task in ("obtain diamond", "make iron sword", "crafter"):
        held = {name: info["initial"] for name, info in recipes.items().items()}
        for step in goals.steps(resolve_task(task)):
            for item, n in step["preconditions"].items():
                assert held.get(item, 0) >= n, (task, step.get("name") or step["achievement"], item)
            for item, delta in step["effects"].items():
                held[item] = min(9, held.get(item, 0) + delta)
    counts = {d["target"]: d["count"] for d in goals.steps(resolve_task("obtain diamond")) if d["kind"] == "collect"}
    assert counts["wood"] == 7 and counts["stone"] == 6
