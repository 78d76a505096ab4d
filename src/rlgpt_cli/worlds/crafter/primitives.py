"""The primitive API that LLM-written code skills call in Crafter (``CrafterAPI``).

A code skill is a generator ``act(api, **params)`` yielding action names; it
composes the primitives here with ``yield from`` (``ok = yield from
api.collect("wood", 3)``). The runner steps the world with each action and calls
``api.observe(obs, info)`` before resuming the generator, so after every
``yield`` the API's state describes the world as the step left it.

The API sees only what a policy sees (the symbolic observation and the step
``info``, see docs/CONTRACTS.md). From the 9x7 local views it keeps a memory map
of the 64x64 world (``-1`` where never seen) and remembers where creatures were
last seen; path-finding, exploration and every primitive work on that memory.
No privileged information about the world is used.

Every primitive is bounded: it gives up after its step cap and returns False
(True on success). Primitives never walk into lava, fight monsters that reach
the player, and (with ``auto_survive``) drink, eat and sleep when vitals run low,
top up food and water in the evening and spend the night sealed in a shelter;
steps spent on those survival reflexes do not count toward a primitive's cap.
"""

from __future__ import annotations

import functools
from typing import Iterator

import numpy as np

from rlgpt_cli.worlds.crafter import pathing, recipes

Actions = Iterator[str]

# Crafter's ids (docs/CONTRACTS.md): material id i + 1 is recipes.materials()[i].
MATERIAL_IDS = {name: i + 1 for i, name in enumerate(recipes.materials())}
MATERIAL_NAMES = {i: name for name, i in MATERIAL_IDS.items()}
OBJECT_IDS = {"player": 1, "cow": 2, "zombie": 3, "skeleton": 4, "arrow": 5, "plant": 6, "ripe_plant": 7}
OBJECT_NAMES = {i: name for name, i in OBJECT_IDS.items()}
ITEMS = list(recipes.items())
UNKNOWN = -1
VIEW_W, VIEW_H = 9, 7  # the local view; the player is at [4, 3]
MOVES = {"move_left": (-1, 0), "move_right": (1, 0), "move_up": (0, -1), "move_down": (0, 1)}
DIRECTION_ACTIONS = {d: a for a, d in MOVES.items()}
WALKABLE = frozenset(MATERIAL_IDS[m] for m in recipes.walkable())
LAVA, WATER = MATERIAL_IDS["lava"], MATERIAL_IDS["water"]
# Ground a monster can stand on is where danger comes from; cave and mountain
# materials mark where stone, coal, iron and diamonds are.
MOUNTAIN = frozenset(MATERIAL_IDS[m] for m in ("stone", "path", "coal", "iron", "diamond", "lava"))
# Walls a shelter may have: blocks no monster walks through and no arrow flies over (arrows
# cross water and lava, and turn tables and furnaces into path).
SOLID = frozenset(MATERIAL_IDS[m] for m in ("stone", "tree", "coal", "iron", "diamond"))
# A shelter's walls. Not water: zombies cannot cross it, but arrows fly over it.
WALLS = SOLID
HOSTILE = ("zombie", "skeleton")
# The achievement crafter counts when a creature of each kind dies by the player's hand.
KILLS = {"zombie": "defeat_zombie", "skeleton": "defeat_skeleton", "cow": "eat_cow"}
NEAR = 9  # steps from a primitive's target within which top-ups wait (by day)
FAR_STATION = 12  # path length beyond which a station is placed anew when affordable
# Crafter keeps int(3.5 - 3 * daylight) zombies in every grassy chunk: none only above ~0.83.
DAWN = 0.9  # zombies left from the night linger; leave the shelter once it is this light
HURT, HEALED = 5, 8  # health at which to hide and rest, and to come out again
NIGHT = 0.2  # daylight below which zombies spawn in numbers (crafter: 3.5 - 3 * daylight per chunk)
LINGER = 0.97  # up to this daylight, wait for zombies around the shelter to go
EVENING = 0.99  # daylight falling below this: top up food and drink for the night ahead
LATE = 0.75  # falling daylight below this: the last top-ups before dusk
DUSK = 0.35  # daylight falling below this: head for a shelter (or wall one in; 0.25 left too little time)
DAY = 300  # steps in crafter's day
BUILD_RATHER = 8  # steps to a pocket to dig beyond which one is walled in with stone here
# Steps a sighting stays useful for finding a creature again: cows wander slowly and
# plants never move, monsters chase. A remembered cell seen empty is forgotten anyway.
MEMORY = {"cow": 500, "plant": 10_000, "ripe_plant": 10_000, "zombie": 30, "skeleton": 30, "arrow": 2}


def _collect_recipes() -> dict[str, recipes.Recipe]:
    """Collect recipes by item *and* by source material: ``wood`` and ``tree`` both work."""
    out = {}
    for r in recipes.recipes():
        if r.kind == "collect":
            out.setdefault(r.name, r)
            out.setdefault(r.source, r)
    return out


COLLECT = _collect_recipes()


def _primitive(method):
    """Make a failing primitive that took no step spend one ``noop``: a skill retrying it in
    a loop then still advances the world, so the runner's step cap always ends the skill."""

    @functools.wraps(method)
    def primitive(self, *args, **kwargs):
        start = self.step
        result = yield from method(self, *args, **kwargs)
        if result is False and self.step == start:
            yield "noop"
        return result

    return primitive


class CrafterAPI:
    """What a code skill sees and does in Crafter, built from observations only.

    Attributes kept current by :meth:`observe`: ``map`` (64x64 int array of
    material ids, -1 unknown), ``pos`` and ``facing`` ((x, y) tuples),
    ``inventory`` (name -> count, including health/food/drink/energy),
    ``achievements``, ``daylight``, ``sleeping`` and ``step`` (steps observed).
    A primitive's ``max_steps`` counts its own steps, not those its survival
    reflexes (drinking, eating, a night in a shelter) take.
    """

    def __init__(self, area: tuple[int, int] = (64, 64), auto_survive: bool = True):
        pathing.warm()  # compile path-finding here, never inside a skill's time budget
        self.area = area
        self.map = np.full(area, UNKNOWN, np.int16)
        self.objects: dict[tuple[int, int], tuple[str, int]] = {}  # cell -> (name, step seen)
        self.pos = (area[0] // 2, area[1] // 2)
        self.facing = (0, 1)
        self.inventory: dict[str, int] = {name: info["initial"] for name, info in recipes.items().items()}
        self.achievements: dict[str, int] = {}
        self.daylight = 1.0
        self._daylight_before = 1.0  # daylight a few steps ago: falling means evening
        self.sleeping = False
        self.step = -1
        self.auto_survive = auto_survive
        self._in_reflex = False
        self._unreachable: dict[tuple[int, int], int] = {}  # cell -> step until which it is skipped
        self._next_shelter = 0  # step before which no shelter is sought (the last search failed)
        self._survived = 0  # steps spent in survival reflexes (see _own)

    # --- observation -------------------------------------------------------

    def observe(self, obs, info=None) -> None:
        """Update memory from a symbolic observation (and the step ``info``, if any)."""
        self.step += 1
        self.last_obs = obs  # for trusted runners (policy skills); not in __sandbox_attrs__
        self.pos = (int(obs["pos"][0]), int(obs["pos"][1]))
        self.facing = (int(obs["facing"][0]), int(obs["facing"][1]))
        daylight = float(np.asarray(obs["daylight"]).reshape(-1)[0])
        if self.step % 4 == 0:
            self._daylight_before = self.daylight if self.step else daylight
        self.daylight = daylight
        self.sleeping = bool(np.asarray(obs["sleeping"]).reshape(-1)[0])
        inv = np.asarray(obs["inventory"])
        self.inventory = {name: int(inv[i]) for i, name in enumerate(ITEMS)}
        if info and "achievements" in info:
            self.achievements = dict(info["achievements"])
        view = np.asarray(obs["view"])
        x0, y0 = self.pos[0] - VIEW_W // 2, self.pos[1] - VIEW_H // 2
        xs = slice(max(x0, 0), min(x0 + VIEW_W, self.area[0]))
        ys = slice(max(y0, 0), min(y0 + VIEW_H, self.area[1]))
        window = view[0, xs.start - x0: xs.stop - x0, ys.start - y0: ys.stop - y0]
        self.map[xs, ys] = np.where(window > 0, window, self.map[xs, ys])
        self.objects = {c: v for c, v in self.objects.items()
                        if not (xs.start <= c[0] < xs.stop and ys.start <= c[1] < ys.stop)}
        for dx, dy in zip(*np.nonzero(view[1])):
            name = OBJECT_NAMES.get(int(view[1, dx, dy]))
            if name and name != "player":
                self.objects[(int(x0 + dx), int(y0 + dy))] = (name, self.step)

    # --- queries -----------------------------------------------------------

    def has(self, item: str, n: int = 1) -> bool:
        """Whether the inventory holds at least ``n`` of ``item``."""
        return self.inventory.get(item, 0) >= n

    def requirements(self, item: str) -> recipes.Recipe:
        """Crafter's recipe for ``item`` (``.tools``, ``.uses``, ``.nearby``, ``.where``, ``.gives``)."""
        return recipes.requirements(item)

    def seen(self, target: str) -> list[tuple[int, int]]:
        """Cells where ``target`` (a material like "iron", or a creature like "cow") is remembered, nearest first."""
        return sorted(self._cells(target), key=self._distance)

    def nearby(self, target: str, radius: int = 1) -> list[tuple[int, int]]:
        """Remembered cells of ``target`` within ``radius`` tiles (square) of the player, nearest first."""
        px, py = self.pos
        return [c for c in self.seen(target) if max(abs(c[0] - px), abs(c[1] - py)) <= radius]

    def can_make(self, item: str) -> bool:
        """Whether ``make(item)`` can succeed now: the inventory covers the recipe and stations
        that are not already within reach can be afforded (placed) too."""
        recipe = recipes.requirements(item)
        need = dict(recipe.uses)
        for station in recipe.nearby:
            if not self.seen(station):
                for k, v in recipes.requirements(station).uses.items():
                    need[k] = need.get(k, 0) + v
        return all(self.inventory.get(k, 0) >= v for k, v in need.items())

    # --- movement ----------------------------------------------------------

    @_primitive
    def navigate_to(self, target, max_steps: int = 300) -> Actions:
        """Walk until standing next to (4-neighbour of) the nearest known ``target``.

        ``target`` is a material ("tree", "water", "table", "iron"), a creature
        ("cow", "zombie") or an (x, y) cell. Explores toward unknown areas while
        no target is known; mines through stone (and other minable blocks)
        when the pickaxe allows; re-plans when blocked. Returns True when
        adjacent, False after ``max_steps`` steps.
        """
        start = self._own
        last = None
        while self._own - start < max_steps:
            last = yield from self._unstall(last)
            if self._adjacent_target(target) is not None:
                return True
            yield from self._reflexes(near=target)
            goals = self._reachable_cells(target)
            if not goals:
                yield from self._explore_leg(hint=target, budget=min(20, max_steps - (self._own - start)))
                continue
            path = self._path_to_neighbour(goals)
            if path is None:
                for cell in goals:  # nothing known is reachable: skip these for a while
                    self._unreachable[cell] = self.step + 150
                continue
            moving = isinstance(target, str) and target in OBJECT_IDS
            yield from self._follow(path, steps=min(3 if moving else 12, max_steps - (self._own - start)))
        return self._adjacent_target(target) is not None

    @_primitive
    def explore(self, steps: int = 50, hint: str | None = None) -> Actions:
        """Walk toward the largest nearby unknown areas for ``steps`` steps (biased toward
        where ``hint``, a material or creature, is likely). Returns True."""
        start = self._own
        last = None
        while self._own - start < steps:
            last = yield from self._unstall(last)
            yield from self._reflexes()
            yield from self._explore_leg(hint=hint, budget=steps - (self._own - start))
        return True

    @_primitive
    def face(self, target) -> Actions:
        """Turn toward an adjacent ``target`` (material, creature or (x, y) cell) without moving.
        Returns True when facing it, False when none is adjacent."""
        return (yield from self._face(target))

    def _face(self, target) -> Actions:
        cell = self._adjacent_target(target)
        if cell is None:
            return False
        d = (cell[0] - self.pos[0], cell[1] - self.pos[1])
        if self.facing != d:
            if self._free(cell) or int(self.map[cell]) == LAVA:  # the turn would step onto it
                return False
            yield DIRECTION_ACTIONS[d]
        return self.facing == d

    # --- interaction ---------------------------------------------------------

    @_primitive
    def collect(self, material: str, n: int = 1, max_steps: int = 600) -> Actions:
        """Collect ``n`` more of an item by doing on its source, e.g. "wood" (from trees),
        "stone", "coal", "iron", "diamond", "drink" (water), "sapling" (grass).

        Finds (or explores for) the nearest source, faces it and does until the
        inventory grows, repeating. Returns True once ``n`` more are held (or the
        item is at its cap of 9); False at once when the needed pickaxe is
        missing, or after ``max_steps`` steps.
        """
        recipe = COLLECT.get(material)
        if recipe is None:
            raise ValueError(f"cannot collect {material!r}; one of {sorted(COLLECT)}")
        if not all(self.has(t, k) for t, k in recipe.tools.items()):
            return False
        item, cap = recipe.name, recipes.items()[recipe.name]["max"]
        goal = min(cap, self.inventory[item] + n)
        start = self._own
        last = None
        while self.inventory[item] < goal and self._own - start < max_steps:
            last = yield from self._unstall(last)
            yield from self._reflexes(near=None if recipe.source in recipes.walkable() else recipe.source)
            if self.inventory[item] >= goal:
                break
            if self._front_material() == recipe.source and self._front_object() is None:
                yield "do"
                continue
            if recipe.source in recipes.walkable():  # grass: face some grass tile ahead
                if not (yield from self._face_free(lambda c: self._material(c) == recipe.source)):
                    yield from self.explore(5)
                continue
            if (yield from self._face(recipe.source)):
                continue
            yield from self.navigate_to(recipe.source, max_steps=min(300, max_steps - (self._own - start)))
        return self.inventory[item] >= goal

    @_primitive
    def place(self, item: str, max_steps: int = 30) -> Actions:
        """Place "table", "furnace", "stone" or "plant" on a free tile next to the player
        (moving a few steps if no suitable tile is in front). Returns True once placed;
        False when the inventory lacks the materials or no spot is found."""
        recipe = recipes.requirements(f"place_{item}")
        return (yield from self._place(recipe, lambda pos: True, max_steps))

    @_primitive
    def gather(self, item: str, max_steps: int = 600) -> Actions:
        """Collect what making or placing ``item`` ("stone_sword", "furnace", "place_stone") uses and the
        inventory lacks (a night's shelter walls may have used the stone put by for it).
        Returns True once all of it is held, False after ``max_steps`` steps."""
        recipe = recipes.requirements(item)
        start = self._own
        for need, n in recipe.uses.items():
            missing = n - self.inventory.get(need, 0)
            if missing > 0 and not (yield from self.collect(need, missing, max_steps=max_steps - (self._own - start))):
                return False
        return True

    @_primitive
    def make(self, item: str, max_steps: int = 150) -> Actions:
        """Make a tool ("wood_pickaxe", "stone_sword", ...): go to the nearest known stations
        the recipe needs (table, furnace), placing missing ones when affordable, then
        ``make_<item>``. Returns True when the item was made; False when the materials
        are missing or the stations cannot be reached or placed."""
        recipe = recipes.requirements(f"make_{item}")
        start = self._own
        last = None
        while self._own - start < max_steps:
            last = yield from self._unstall(last)
            if not all(self.has(k, v) for k, v in recipe.uses.items()):
                return False
            if all(self.nearby(s, recipes.NEARBY_DISTANCE) for s in recipe.nearby):
                yield from self._fight_adjacent()
                before = self.inventory[item]
                yield recipe.action  # one step: before any survival errand leads away
                if self.inventory[item] > before:
                    return True
                continue
            yield from self._reflexes()
            if all(self.nearby(s, recipes.NEARBY_DISTANCE) for s in recipe.nearby):
                continue
            reached = yield from self._reach_stations(recipe, max_steps - (self._own - start))
            if not reached and not all(self.seen(s) for s in recipe.nearby):
                # A station is missing (an arrow turns a table or furnace into path) and too
                # dear to place: collect what placing it takes, keeping what the recipe uses.
                if not (yield from self._collect_for(recipe, max_steps - (self._own - start))):
                    return False
            # Known stations not reached (an arrow or a cow in the way): walk again.
        return False

    @_primitive
    def attack(self, creature: str = "zombie", max_steps: int = 200) -> Actions:
        """Hunt the nearest known ``creature`` ("zombie", "skeleton", "cow") and hit it until it
        dies. Returns True when one was killed, False if none is found in ``max_steps``."""
        start = self._own
        last = None
        # A hit creature may step away alive, which empties the cell as a kill does: only the
        # kill's achievement counter says it died.
        kill = KILLS.get(creature)
        before = self.achievements.get(kill, 0)
        while self._own - start < max_steps:
            last = yield from self._unstall(last)
            cell = self._adjacent_target(creature)
            if cell is None:
                if not (yield from self.navigate_to(creature, max_steps=min(100, max_steps - (self._own - start)))):
                    continue
                cell = self._adjacent_target(creature)
                if cell is None:
                    continue
            if (yield from self._hit(cell)) and (kill is None or self.achievements.get(kill, 0) > before):
                return True
        return False

    @_primitive
    def eat(self, max_steps: int = 300) -> Actions:
        """Restore food: eat a known ripe plant or hunt a cow. Returns True when food rose."""
        return (yield from self._calm(self._eat(max_steps)))

    def _eat(self, max_steps: int) -> Actions:
        before, start = self.inventory["food"], self.step
        last = None
        while self.inventory["food"] <= before and self.step - start < max_steps:
            last = yield from self._unstall(last)
            target = "ripe_plant" if self._cells("ripe_plant") else "cow"
            cell = self._adjacent_target(target)
            if cell is None:
                yield from self.navigate_to(target, max_steps=min(100, max_steps - (self.step - start)))
                continue
            yield from self._hit(cell)
        return self.inventory["food"] > before

    @_primitive
    def drink(self, max_steps: int = 300) -> Actions:
        """Go to the nearest water and drink until drink is full (9). Returns True when full."""
        return (yield from self._calm(self.collect("drink", 9, max_steps=max_steps)))

    @_primitive
    def sleep(self, max_steps: int = 400) -> Actions:
        """Sleep until energy is full, first sealing the player into a 2-tile pocket dug
        into stone when a wood pickaxe allows. Ends when awake again (energy restored,
        or woken by damage); returns True when energy is full."""
        return (yield from self._calm(self._sleep(max_steps)))

    def _sleep(self, max_steps: int) -> Actions:
        if self.has("wood_pickaxe") and not self._sealed():
            yield from self.shelter()
        start, slept = self.step, False
        while self.step - start < max_steps:
            if self.sleeping:
                slept = True
            elif slept or self.inventory["energy"] >= recipes.items()["energy"]["max"]:
                break
            yield "sleep"
        return self.inventory["energy"] >= recipes.items()["energy"]["max"]

    @_primitive
    def shelter(self, max_steps: int = 150) -> Actions:
        """Dig a 2-tile pocket into nearby stone (needs a wood pickaxe) and seal its entrance
        with a stone, so no monster can reach the player; heads for the nearest stone first
        when no spot is known. Returns True when sealed in, False after ``max_steps``."""
        if self._sealed():
            return True
        if not self.has("wood_pickaxe"):
            return False
        start = self.step
        while self.step - start < max_steps:
            before = self.step
            yield from self._fight_adjacent()
            site = self._shelter_site()
            left = max_steps - (self.step - start)
            if (site is None or self._distance(site[0]) > BUILD_RATHER) \
                    and (yield from self._build_shelter(min(left, 60))):
                return True
            if site is None:  # head into the mountains, where pockets can be dug
                if self.nearby("stone", 2):
                    yield from self.explore(min(left, 12), hint="stone")
                else:
                    yield from self.navigate_to("stone", max_steps=min(left, 60))
            else:
                entrance, inner, deep = site
                if self.pos != entrance:
                    yield from self.navigate_to(entrance, max_steps=min(left, 60))
                    if self._distance(entrance) != 1 or not (yield from self._enter(entrance)):
                        if self.step == before or self._distance(entrance) > 1:
                            self._unreachable[entrance] = self.step + 30  # try another spot
                        continue
                # In two tiles (digging) and back one: the entrance is then in front of the player.
                if (yield from self._enter(inner)) and (yield from self._enter(deep)) \
                        and (yield from self._enter(inner)) \
                        and self._front_cell() == entrance and self.has("stone"):
                    yield "place_stone"
            if self._sealed():
                return True
            if self.step == before:
                yield "noop"  # something in the way: let the world move
        return self._sealed()

    @_primitive
    def fence(self, target: str = "plant", max_steps: int = 200) -> Actions:
        """Wall in the nearest known ``target`` (a sapling: "plant") with stone on every side a
        cow or zombie could step onto, so nothing tramples it while it ripens; collects the
        stone first (needs a wood pickaxe). ``navigate_to`` digs back in to it later. Returns
        True once no side is open; False after ``max_steps`` steps, when it cannot be done, or
        at dusk while far from it (the night's shelter comes first)."""
        start = self._own
        last = None
        while self._own - start < max_steps:
            last = yield from self._unstall(last)
            cells = self.seen(target)
            if not cells:
                return False
            inside = cells[0]
            gaps = {c for c in self._neighbours(inside) if int(self.map[c]) in WALKABLE}
            if not gaps:
                return True
            if self._evening() and self.daylight < LATE and self._distance(inside) > 3:
                return False
            left = max_steps - (self._own - start)
            if self.inventory["stone"] < len(gaps):
                if not (yield from self.collect("stone", len(gaps) - self.inventory["stone"], max_steps=left)):
                    return False
                continue
            if self._distance(inside) > 3:
                yield from self.navigate_to(inside, max_steps=min(left, 100))
                continue
            yield from self._reflexes()
            # Off the gaps (standing on one keeps it open), facing one: the stone goes there.
            if (yield from self._face_free(gaps.__contains__, keep=lambda pos: pos not in gaps)):
                yield "place_stone"
        return False

    def survive(self) -> Actions:
        """Keep the player alive: fight adjacent monsters, then drink, eat or sleep when a
        vital runs low (drink/food below 6 by day, with water or a cow close by below 8;
        in the evening fill up to drink 8 / food 7 for the night; in the dark only below 2);
        at nightfall, when energy is below 3 or health at most 5, seal the player into a
        shelter and sleep (or wait for day / to heal, leaving early only to top up before
        the night or when starving).
        Yields nothing when all is well. Returns True."""
        yield from self._fight_adjacent()
        yield from self._calm(self._tend_vitals())
        return True

    # --- the survival guard -------------------------------------------------

    def danger(self) -> str | None:
        """Why the player is in danger this step, cheaply (the runner asks every step): "zombie"
        (one next to the player, where it can be hit), "food" or "drink" (run out, by day: at
        night the reflexes keep the player sealed in rather than out hunting). None when safe,
        and while asleep (a sleeper cannot act)."""
        if self.sleeping:
            return None
        px, py = self.pos
        for (x, y), (name, when) in self.objects.items():
            if name == "zombie" and when == self.step and abs(x - px) + abs(y - py) == 1:
                return "zombie"
        for vital in ("food", "drink"):
            if self.inventory[vital] < 1 and not self._dark():
                return vital
        return None

    @_primitive
    def guard(self, max_steps: int = 40) -> Actions:
        """Deal with what :meth:`danger` reports until it reports nothing: hit the zombie next
        to the player, eat or drink when one has run out. Returns True once safe, False after
        ``max_steps`` steps."""
        start = self.step
        while self.step - start < max_steps:
            reason = self.danger()
            if reason is None:
                return True
            before = self.step
            if reason == "zombie":
                cell = next((c for c in self._neighbours(self.pos) if self._object_at(c) == "zombie"), None)
                if cell is not None:
                    yield from self._hit(cell, max_steps=6)
            elif reason == "food":
                yield from self._calm(self._eat(max_steps - (self.step - start)))
            else:
                yield from self._calm(self.collect("drink", 2, max_steps=max_steps - (self.step - start)))
            if self.step == before:
                yield "noop"  # nothing to do this step (the zombie moved off): let the world move
        return self.danger() is None

    # --- internals: reflexes -------------------------------------------------

    def _unstall(self, last: int | None) -> Actions:
        """Called at the top of every primitive's loop: a pass that took no step would repeat
        forever, so spend one ``noop`` (the world moves on). Returns the current step."""
        if self.step == last:
            yield "noop"
        return self.step

    def _reflexes(self, near=None) -> Actions:
        """Run between the steps of every primitive: fight adjacent monsters, and tend
        vitals when ``auto_survive`` (not again from inside a survival action). Top-ups
        wait while the primitive's target ``near`` is a few steps away (by day, unless
        health is low)."""
        yield from self._fight_adjacent()
        if near is not None and not self._dark() and self._cells(near) and self._close(near, NEAR) \
                and self.inventory["health"] > 3:
            return
        if self.auto_survive and not self._in_reflex:
            before = self.step
            yield from self._calm(self._tend_vitals())
            self._survived += self.step - before

    @property
    def _own(self) -> int:
        """Steps observed, less those spent on survival reflexes: primitives' step caps count
        only their own work, so a night sealed in does not use up a ``collect``."""
        return self.step - self._survived

    def _calm(self, actions: Actions) -> Actions:
        """Run a survival action with the vitals reflex off (drinking must not trigger drinking)."""
        was, self._in_reflex = self._in_reflex, True
        try:
            return (yield from actions)
        finally:
            self._in_reflex = was

    def _evening(self) -> bool:
        """Daylight is falling: the night is ahead."""
        return self.daylight < self._daylight_before - 1e-6

    def _dark(self) -> bool:
        """Zombies are out in numbers (or soon will be): time to be sealed in."""
        return self.daylight < NIGHT or (self._evening() and self.daylight < DUSK)

    def _steps_to(self, light: float) -> float:
        """Steps until daylight next rises past ``light``, read off the daylight curve
        (crafter: 1 - |cos(pi * t)|^3 over a 300-step day) and whether it is falling."""
        c = min(1.0, max(0.0, 1.0 - self.daylight)) ** (1 / 3)
        now = 1 - np.arccos(c) / np.pi if self._evening() else 1 + np.arccos(c) / np.pi
        then = 1 + np.arccos((1.0 - light) ** (1 / 3)) / np.pi
        return max(0.0, (then - now) * DAY)

    def _tend_vitals(self) -> Actions:
        # Every observation replaces self.inventory: read it afresh after each yield.
        inv = lambda name: self.inventory[name]  # noqa: E731
        dark = self._dark()
        danger = dark or inv("health") <= HURT
        evening = self._evening() and self.daylight < EVENING
        # Top up by day (a hurt player too: health only comes back fed and watered), so the
        # night can be spent hidden; at night only when it is urgent. Cheap top-ups (water
        # or a cow close by) whenever not full; in the evening fill up for the whole night,
        # which is spent sealed in.
        if not dark or min(inv("drink"), inv("food")) < 2:
            late = evening and self.daylight < LATE  # a last top-up close by, just before dark
            if inv("drink") < (8 if evening else 6 if not dark else 5) \
                    or (not dark and inv("drink") < 8 and self._close("water", 4)) \
                    or (late and not dark and inv("drink") < 9 and self._close("water", 15)):
                yield from self._while_light(self.drink(), "drink")
            if inv("food") < (7 if not dark else 5):
                yield from self._while_light(self.eat(), "food")
            elif not dark and inv("food") < 8 and self._close("cow", 12 if late else 10):
                yield from self._while_light(self._calm(self._eat(40)), "food")
        if not (danger or inv("energy") < 3) or self.step < self._next_shelter:
            return
        # Night brings zombies onto grassland, and a hurt player must heal: both are spent
        # sealed in, asleep if tired. Sleeping in the open (zombies hit sleepers for 7)
        # only when exhaustion would cost more.
        sealed = yield from self.shelter()
        if not sealed:
            self._next_shelter = self.step + 20  # no spot: carry on (fighting) for a while
            if inv("energy") >= 1:
                return
        start = self.step
        while sealed and self._sealed() and self.step - start < 400 and self._stay_in():
            if inv("energy") < recipes.items()["energy"]["max"]:
                yield from self._sleep(400)
            else:
                yield "noop"

    def _while_light(self, actions: Actions, vital: str) -> Actions:
        """Run a top-up, abandoning it when darkness falls (unless ``vital`` is nearly out):
        the night is spent sealed in, not out hunting."""
        try:
            while True:
                if self._dark() and self.inventory[vital] >= 2:
                    actions.close()
                    return False
                yield actions.send(None)
        except StopIteration as stop:
            return stop.value

    def _stay_in(self) -> bool:
        """Whether a sealed-in player should stay in: through the dark until dawn, and
        while healing, unless food or drink run out (or need topping up for the night)."""
        inv = self.inventory
        if self._starving():
            return False
        if self._dark():
            return True
        evening = self._evening()
        if evening and inv["health"] > HURT and (inv["drink"] < 6 or inv["food"] < 5):
            return False  # fill up before the night rather than starve in here
        if not evening and self.daylight < DAWN:
            return True
        if not evening and self.daylight < LINGER and min(inv["drink"], inv["food"]) >= 2 \
                and any(self._distance(c) <= 6 for c in self._cells("zombie")):
            return True  # the night's zombies linger a while: let them go first
        return inv["health"] < HEALED and min(inv["drink"], inv["food"]) > 0

    def _starving(self) -> bool:
        """Food or drink ran out and health would not last until dawn: leave the shelter."""
        inv = self.inventory
        if min(inv["food"], inv["drink"]) > 0:
            return False
        if not (self._dark() or self.daylight < DAWN):
            return True
        # Starving costs a health point every ~16 steps awake (32 asleep).
        return 16 * (inv["health"] - 2) < self._steps_to(DAWN)

    def _close(self, target, radius: int) -> bool:
        """A ``target`` is remembered within ``radius`` steps (Manhattan) of the player."""
        return any(self._distance(c) <= radius for c in self._cells(target))

    def _fight_adjacent(self) -> Actions:
        """Hit any monster standing next to the player (they cannot be outrun)."""
        for _ in range(4):
            cell = next((c for c in self._neighbours(self.pos)
                         if self._object_at(c) in HOSTILE), None)
            if cell is None:
                return
            yield from self._hit(cell, max_steps=15)

    def _hit(self, cell, max_steps: int = 30) -> Actions:
        """Face ``cell`` and do until the creature there is gone. True when it died or left."""
        start = self.step
        while self.step - start < max_steps:
            name = self._object_at(cell)
            if name is None:
                return True
            if self._distance(cell) != 1:
                return False
            d = (cell[0] - self.pos[0], cell[1] - self.pos[1])
            yield "do" if self.facing == d else DIRECTION_ACTIONS[d]
        return False

    # --- internals: memory ---------------------------------------------------

    def _material(self, cell) -> str | None:
        return MATERIAL_NAMES.get(int(self.map[cell])) if self._inside(cell) else None

    def _object_at(self, cell, age: int = 0) -> str | None:
        seen = self.objects.get(tuple(cell))
        return seen[0] if seen and self.step - seen[1] <= age else None

    def _inside(self, cell) -> bool:
        return 0 <= cell[0] < self.area[0] and 0 <= cell[1] < self.area[1]

    def _distance(self, cell) -> int:
        return abs(cell[0] - self.pos[0]) + abs(cell[1] - self.pos[1])

    def _neighbours(self, cell):
        for dx, dy in MOVES.values():
            n = (cell[0] + dx, cell[1] + dy)
            if self._inside(n):
                yield n

    def _front_cell(self):
        return (self.pos[0] + self.facing[0], self.pos[1] + self.facing[1])

    def _front_material(self):
        return self._material(self._front_cell())

    def _front_object(self):
        return self._object_at(self._front_cell())

    def _free(self, cell) -> bool:
        """Walkable and empty now: a move there would succeed."""
        return self._inside(cell) and int(self.map[cell]) in WALKABLE and self._object_at(cell) is None

    def _cells(self, target) -> list[tuple[int, int]]:
        """Remembered cells holding ``target``: a material, creature or an (x, y) cell."""
        if isinstance(target, tuple):
            return [target]
        if target in OBJECT_IDS:
            return [c for c, (name, when) in self.objects.items()
                    if name == target and self.step - when <= MEMORY[name]]
        if target == "drink":
            target = "water"
        if target in MATERIAL_IDS:
            xs, ys = np.nonzero(self.map == MATERIAL_IDS[target])
            return list(zip(xs.tolist(), ys.tolist()))
        raise ValueError(f"unknown target {target!r}")

    def _reachable_cells(self, target):
        return [c for c in self._cells(target) if self._unreachable.get(c, -1) < self.step]

    def _adjacent_target(self, target):
        cells = set(self._cells(target))
        return next((c for c in self._neighbours(self.pos) if c in cells), None)

    # --- internals: path-finding ---------------------------------------------

    def _mine_cost(self) -> dict[int, float]:
        """Blocks the player can dig through (do, then step): costs per material id."""
        return {mid: cost for mid, cost, tools in _diggable() if all(self.has(t, k) for t, k in tools)}

    @staticmethod
    def _leaves(material_id: int) -> str:
        """What collecting a block leaves behind."""
        return next(r.leaves for r in recipes.recipes()
                    if r.kind == "collect" and r.source == MATERIAL_NAMES[material_id])

    def _cost_grid(self) -> np.ndarray:
        """Per-cell cost of stepping onto a cell; inf where the player must never go."""
        # A cell's cost follows from its id alone: one lookup per cell in a table indexed by
        # id + 1 (UNKNOWN, -1, at 0; ids past the materials clip to the last entry, inf).
        table = np.full(len(MATERIAL_IDS) + 2, np.inf)
        table[[mid + 1 for mid in WALKABLE]] = 1.0
        table[UNKNOWN + 1] = 1.5
        for mid, c in self._mine_cost().items():
            table[mid + 1] = c
        table[LAVA + 1] = np.inf
        cost = table.take(self.map + 1, mode="clip")
        for cell, (name, when) in self.objects.items():
            if self.step - when <= 1 and name != "arrow":
                cost[cell] = np.inf
            if name in HOSTILE and self.step - when <= 3:  # keep a berth around monsters
                for n in self._neighbours(cell):
                    cost[n] += 3.0
        return cost

    def _dijkstra(self, cost: np.ndarray, goals: set | None = None):
        """Shortest paths from the player; stops at the first goal cell if ``goals``."""
        return pathing.shortest_paths(cost, self.pos, goals)

    @staticmethod
    def _unwind(parent, cell, origin):
        return pathing.unwind(parent, cell, origin)

    def _path_to_neighbour(self, goals):
        """Cheapest path to a cell next to any of ``goals`` (never onto a goal itself)."""
        cost = self._cost_grid()
        stands = {n for g in goals for n in self._neighbours(g)
                  if np.isfinite(cost[n]) and n not in goals} | \
            ({self.pos} if any(self._distance(g) == 1 for g in goals) else set())
        if not stands:
            return None
        _, parent, reached = self._dijkstra(cost, stands)
        return None if reached is None else self._unwind(parent, reached, self.pos)

    def _follow(self, path, steps: int) -> Actions:
        """Walk along ``path`` for about ``steps`` steps, digging where needed; stops early
        when the way turns out blocked (the caller re-plans)."""
        start = self.step
        for cell in path:
            if self.step - start >= steps or not (yield from self._enter(cell)):
                return False
        return True

    def _enter(self, cell) -> Actions:
        """Step onto the adjacent ``cell``, digging it first if it is minable. Never onto lava."""
        yield from self._fight_adjacent()
        d = (cell[0] - self.pos[0], cell[1] - self.pos[1])
        if d not in DIRECTION_ACTIONS:
            return False
        mine = self._mine_cost()
        for _ in range(4):
            mid = int(self.map[cell])
            if mid == LAVA or mid == UNKNOWN:
                return False
            if self._object_at(cell) is not None:
                if self._object_at(cell) in HOSTILE:
                    yield from self._hit(cell, max_steps=15)
                return False
            if mid in WALKABLE:
                yield DIRECTION_ACTIONS[d]
                return self.pos == cell
            if mid not in mine:
                return False
            if self.facing != d:
                yield DIRECTION_ACTIONS[d]  # blocked: this only turns
            else:
                yield "do"
        return False

    # --- internals: exploration ----------------------------------------------

    def _explore_leg(self, hint=None, budget: int = 20) -> Actions:
        """Head for the most informative reachable unknown area for up to ``budget`` steps."""
        cost = self._cost_grid()
        dist, parent, _ = self._dijkstra(cost)
        unknown = self.map == UNKNOWN
        gain = _window_sum(unknown, VIEW_W, VIEW_H)
        score = gain - 0.6 * dist
        interest = self._hint_mask(hint)
        if interest is not None:
            score += 2.0 * _window_sum(interest, 15, 15) ** 0.5
        score[~(unknown & np.isfinite(dist))] = -np.inf
        if not np.isfinite(score.max()):
            yield "noop"  # everything reachable is known: wait for the world to change
            return False
        goal = np.unravel_index(int(np.argmax(score)), score.shape)
        path = self._unwind(parent, (int(goal[0]), int(goal[1])), self.pos)
        start = self.step
        for cell in path:
            if self.step - start >= budget or self.map[goal] != UNKNOWN:
                break
            if not (yield from self._enter(cell)):
                break
        return True

    def _hint_mask(self, hint):
        """Cells that suggest ``hint`` is close: mountains for ores, grass for trees and cows."""
        if hint is None or isinstance(hint, tuple):
            return None
        source = COLLECT[hint].source if hint in COLLECT else hint
        if source in ("stone", "coal", "iron", "diamond", "skeleton"):
            return np.isin(self.map, list(MOUNTAIN))
        if source in ("tree", "cow", "zombie", "grass"):
            return self.map == MATERIAL_IDS["grass"]
        if source == "water":
            return np.isin(self.map, [WATER, MATERIAL_IDS["sand"]])
        return None

    # --- internals: placing and stations --------------------------------------

    def _face_free(self, want, keep=lambda pos: True, max_depth: int = 12) -> Actions:
        """Move/turn (a short search over position and facing) until the front cell satisfies
        ``want(cell)`` and the position satisfies ``keep(pos)``. True when done."""
        start = (self.pos, self.facing)
        frontier, seen = [start], {start: None}
        found = None
        for state in frontier:  # breadth-first: frontier grows while iterating
            pos, facing = state
            front = (pos[0] + facing[0], pos[1] + facing[1])
            if self._inside(front) and want(front) and keep(pos) and self._object_at(front) is None:
                found = state
                break
            if len(seen) > 4 * max_depth * max_depth:
                break
            for action, d in MOVES.items():
                n = (pos[0] + d[0], pos[1] + d[1])
                if not self._inside(n) or int(self.map[n]) in (LAVA, UNKNOWN):
                    continue
                nxt = (n if self._free(n) else pos, d)
                if nxt not in seen:
                    seen[nxt] = (state, action)
                    frontier.append(nxt)
        if found is None:
            return False
        actions = []
        while seen[found] is not None:
            found, action = seen[found]
            actions.append(action)
        for action in reversed(actions):
            yield action
        front = self._front_cell()
        return self._inside(front) and want(front) and keep(self.pos)

    def _place(self, recipe, keep, max_steps: int) -> Actions:
        if not all(self.has(k, v) for k, v in recipe.uses.items()):
            return False
        where = {MATERIAL_IDS[m] for m in recipe.where}
        # Blocks that digging turns into a placeable tile count too (a table in a tunnel).
        diggable = {m for m in self._mine_cost() if MATERIAL_IDS[self._leaves(m)] in where}
        start = self._own
        while self._own - start < max_steps:
            ok = yield from self._face_free(lambda c: int(self.map[c]) in where | diggable, keep)
            if not ok:
                return False
            for _ in range(3):
                if int(self.map[self._front_cell()]) not in diggable:
                    break
                yield "do"
            before = dict(self.inventory)
            yield recipe.action
            if any(self.inventory[k] < before[k] for k in recipe.uses):
                return True
        return False

    def _reach_stations(self, recipe, max_steps: int) -> Actions:
        """Stand within reach of every station ``recipe`` needs, placing missing ones."""
        d = recipes.NEARBY_DISTANCE
        start = self._own
        def spare(stations):  # new ones can be placed, keeping what the recipe itself uses
            need = dict(recipe.uses)
            for station in stations:
                for k, v in recipes.requirements(station).uses.items():
                    need[k] = need.get(k, 0) + v
            return all(self.inventory.get(k, 0) >= v for k, v in need.items())

        have = [s for s in recipe.nearby if self.seen(s) and self._path_length_to(s) < 60]
        missing = [s for s in recipe.nearby if s not in have]
        if have:
            stand = self._stand_near_all(have)
            if stand is None:  # not within reach of each other: keep one we cannot replace
                have = [s for s in have if not spare([s])][:1]
                missing = [s for s in recipe.nearby if s not in have]
                stand = self._stand_near_all(have) if have else self.pos
            if stand is None:
                return False
            path = self._path_to_neighbour([stand]) if stand != self.pos else []
            if (path is None or len(path) >= FAR_STATION) and spare(recipe.nearby):
                have, missing, stand = [], list(recipe.nearby), self.pos  # cheaper than walking back
            if stand != self.pos:
                yield from self.navigate_to(stand, max_steps=max_steps)
                if self._distance(stand) == 1:
                    yield from self._enter(stand)
        for station in missing:
            station_recipe = recipes.requirements(station)
            # Stand where the stations already standing (close by) stay within reach.
            others = [[c for c in self._cells(s) if self._distance(c) <= 2 * d + 2]
                      for s in recipe.nearby if s != station and s not in missing[missing.index(station):]]
            others = [cells for cells in others if cells]

            def keep(pos, others=others):
                return all(any(max(abs(c[0] - pos[0]), abs(c[1] - pos[1])) <= d for c in cells)
                           for cells in others)

            if not (yield from self._place(station_recipe, keep, max_steps - (self._own - start))):
                return False
        return True

    def _collect_for(self, recipe, max_steps: int) -> Actions:
        """Collect what ``recipe`` uses plus what placing its unseen stations uses. True when
        something was short and all of it is now held."""
        need = dict(recipe.uses)
        for station in recipe.nearby:
            if not self.seen(station):
                for k, v in recipes.requirements(station).uses.items():
                    need[k] = need.get(k, 0) + v
        short = {k: v - self.inventory.get(k, 0) for k, v in need.items() if self.inventory.get(k, 0) < v}
        start = self._own
        for item, n in short.items():
            if not (yield from self.collect(item, n, max_steps=max_steps - (self._own - start))):
                return False
        return bool(short)

    def _stand_near_all(self, stations):
        """A free cell within reach of a known cell of every station (the nearest one)."""
        d = recipes.NEARBY_DISTANCE
        first = self.seen(stations[0])[:10]
        options = []
        for c in first:
            for dx in range(-d, d + 1):
                for dy in range(-d, d + 1):
                    s = (c[0] + dx, c[1] + dy)
                    if (s == self.pos or self._free(s)) and all(
                            any(max(abs(o[0] - s[0]), abs(o[1] - s[1])) <= d for o in self._cells(st))
                            for st in stations):
                        options.append(s)
        return min(options, key=self._distance) if options else None

    def _path_length_to(self, target) -> float:
        path = self._path_to_neighbour(self._cells(target))
        return np.inf if path is None else len(path)

    # --- internals: shelter ---------------------------------------------------

    def _sealed(self) -> bool:
        """No monster can reach the player, nor an arrow: every neighbour is a solid block
        except at most one walkable cell, itself walled in by solid blocks."""
        open_cells = []
        for n in self._neighbours(self.pos):
            m = int(self.map[n])
            if m in WALKABLE:
                open_cells.append(n)
            elif m not in WALLS:
                return False
        if len(open_cells) > 1:
            return False
        return all(int(self.map[m]) in WALLS
                   for n in open_cells for m in self._neighbours(n) if m != self.pos)

    def _build_shelter(self, max_steps: int) -> Actions:
        """Wall the player into a two-cell pocket of placed stone where it stands (open ground
        has no pocket to dig): follow :meth:`_walling_plan`, re-planning when a creature gets in
        the way. True when sealed in."""
        start = self.step
        for _ in range(4):
            plan = self._walling_plan()
            if plan is None:
                return False
            for action, pos, facing in plan:
                if self.step - start >= max_steps:
                    return self._sealed()
                if any(self._object_at(c) in HOSTILE for c in self._neighbours(self.pos)):
                    yield from self._fight_adjacent()
                    break
                stone = self.inventory["stone"]
                yield action
                if (self.pos, self.facing) != (pos, facing) \
                        or (action == "place_stone" and self.inventory["stone"] >= stone):
                    break  # something moved into the way: plan again from here
            if self._sealed():
                return True
        return self._sealed()

    def _walling_plan(self):
        """The shortest actions that seal the player into a two-cell pocket near where it stands,
        placing stone on the pocket's open sides: [(action, position, facing after it)], or None.

        A move onto a free cell moves the player, so it can only face a free cell it has just
        walked toward; one cell cannot be walled in from inside, two can (the last stone is put
        in the doorway after stepping back from the far cell). A breadth-first search over
        (position, facing, walls placed) in a 9x9 window finds the order."""
        placeable = {MATERIAL_IDS[m] for m in recipes.requirements("place_stone").where}
        candidates = []
        for ax in range(self.pos[0] - 2, self.pos[0] + 3):
            for ay in range(self.pos[1] - 2, self.pos[1] + 3):
                a = (ax, ay)
                for d in ((1, 0), (0, 1)):
                    b = (ax + d[0], ay + d[1])
                    if not (self._free(a) or a == self.pos) or not (self._free(b) or b == self.pos):
                        continue
                    walls = [n for c in (a, b) for n in self._neighbours(c) if n not in (a, b)]
                    if len(walls) < 6 and not all(self._inside(n) for c in (a, b) for n in
                                                  ((c[0] + 1, c[1]), (c[0] - 1, c[1]), (c[0], c[1] + 1), (c[0], c[1] - 1))):
                        continue  # at the world's edge: leave it to walls the world has
                    todo = [w for w in walls if int(self.map[w]) not in WALLS]
                    if any(int(self.map[w]) not in placeable or self._object_at(w) for w in todo) \
                            or len(todo) > self.inventory["stone"]:
                        continue
                    candidates.append((len(todo) + self._distance(a), (a, b), tuple(todo)))
        for _, pocket, todo in sorted(candidates)[:4]:
            plan = self._walling_search(pocket, todo)
            if plan is not None:
                return plan
        return None

    def _walling_search(self, pocket, todo):
        full = (1 << len(todo)) - 1
        index = {w: i for i, w in enumerate(todo)}
        cx, cy = pocket[0]

        def blocked(cell, mask):
            if not (self._inside(cell) and abs(cell[0] - cx) <= 4 and abs(cell[1] - cy) <= 4):
                return True
            i = index.get(cell)
            return (i is not None and mask >> i & 1) or not self._free(cell)

        begin = (self.pos, self.facing, 0)
        parent = {begin: None}
        frontier = [begin]
        for state in frontier:  # breadth-first: frontier grows while iterating
            pos, facing, mask = state
            if mask == full and pos in pocket:
                plan = []
                while parent[state] is not None:
                    state, action, after = parent[state]
                    plan.append((action, after[0], after[1]))
                return plan[::-1]
            moves = [(a, ((pos[0] + d[0], pos[1] + d[1]), d)) for a, d in MOVES.items()]
            # A move toward lava walks into it (the player may enter lava), and unknown may be lava.
            options = [(a, (pos if blocked(n, mask) else n, d, mask)) for a, (n, d) in moves
                       if not self._inside(n) or int(self.map[n]) not in (LAVA, UNKNOWN)]
            front = (pos[0] + facing[0], pos[1] + facing[1])
            if front in index and not mask >> index[front] & 1:
                options.append(("place_stone", (pos, facing, mask | 1 << index[front])))
            for action, nxt in options:
                if nxt not in parent:
                    parent[nxt] = (state, action, nxt)
                    frontier.append(nxt)
        return None

    def _shelter_site(self):
        """(entrance, inner, deep): a free entrance with two cells beyond it in a straight line
        whose other neighbours are all solid (not walkable, not lava, known), nearest first."""
        def solid(c):
            return not self._inside(c) or int(self.map[c]) in SOLID

        diggable = set(WALKABLE) | set(self._mine_cost())
        best, best_d = None, np.inf
        xs, ys = np.nonzero(np.isin(self.map, list(WALKABLE)))
        for ex, ey in zip(xs.tolist(), ys.tolist()):
            dist = self._distance((ex, ey))
            if dist >= best_d or dist > 25 or self._unreachable.get((ex, ey), -1) >= self.step:
                continue
            for dx, dy in MOVES.values():
                inner, deep = (ex + dx, ey + dy), (ex + 2 * dx, ey + 2 * dy)
                if not (self._inside(deep) and int(self.map[inner]) in diggable
                        and int(self.map[deep]) in diggable):
                    continue
                side = [(inner[0] + dy, inner[1] + dx), (inner[0] - dy, inner[1] - dx),
                        (deep[0] + dy, deep[1] + dx), (deep[0] - dy, deep[1] - dx),
                        (deep[0] + dx, deep[1] + dy)]
                if all(solid(c) for c in side):
                    best, best_d = ((ex, ey), inner, deep), dist
        return best


@functools.cache
def _diggable() -> tuple[tuple[int, float, tuple[tuple[str, int], ...]], ...]:
    """(material id, cost, tools needed) of every block that digging leaves walkable, in
    recipe order: `_mine_cost` runs on every step, the recipes never change."""
    walkable = recipes.walkable()
    return tuple((MATERIAL_IDS[r.source], 2.0 if r.source == "stone" else 3.0, tuple(r.tools.items()))
                 for r in recipes.recipes()
                 if r.kind == "collect" and r.leaves in walkable and r.source not in walkable)


def _window_sum(mask: np.ndarray, w: int, h: int) -> np.ndarray:
    """Sum of ``mask`` over a w x h window centred on each cell (zero padding)."""
    return pathing.window_sum(np.ascontiguousarray(mask, np.bool_), w, h)


# What sandboxed skill code may reach on the API (the sandbox refuses every other attribute):
# the documented queries, primitives and memory; never `observe`, which only the runner calls.
CrafterAPI.__sandbox_attrs__ = frozenset(
    name for name in dir(CrafterAPI) if not name.startswith("_") and name != "observe"
) | {"map", "objects", "pos", "facing", "inventory", "achievements", "daylight", "sleeping", "step", "area"}

