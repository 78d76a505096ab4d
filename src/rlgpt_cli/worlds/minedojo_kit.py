"""MineDojo's kit (``worlds.base.WorldKit``): what the agents, the runner and the learner know
about MineDojo, reached through ``worlds.base.get_kit("minedojo")``.

Three parts:

* a recipe graph (:data:`RECIPES`), written here as data: the Minecraft 1.11 tech tree that
  MineDojo's harvest and techtree tasks climb (log -> planks -> sticks and a crafting table
  -> wooden pickaxe -> cobblestone -> stone pickaxe and furnace -> iron ore -> iron ingots
  -> iron pickaxe -> diamond), plus the few other items :data:`~rlgpt_cli.worlds.minedojo.MINEDOJO_TASKS`
  names (coal, swords, beef, milk, wool). :func:`knowledge` backward-chains over it into
  steps in the format of Crafter's ``recipes.Step.to_dict()``;
* :class:`MineDojoAPI`, the primitive API code skills call, working only from the adapter's
  symbolic observation (inventory counts, vitals, which block kinds are in the 3x3x3 voxels
  around the agent, whether a table/furnace is in reach, position and camera angles);
* :class:`MineDojoKit`, tying them to the adapter (:mod:`rlgpt_cli.worlds.minedojo`).

**Nothing here has run against a live Minecraft** (see docs/minedojo.md): the primitives'
behaviour is a plausible strategy, checked only against the test stand-in's toy world.
Only the standard library and the adapter (itself standard library only) are imported at
module level; minedojo, numpy and gymnasium load only when an env or a space is built.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Iterator, Mapping

from rlgpt_cli.errors import NotFound, WorldError, nearest
from rlgpt_cli.worlds import minedojo as md
from rlgpt_cli.worlds.describe import describe_api, knowledge_facts

Actions = Iterator[str]

# --- the recipe graph -------------------------------------------------------------------


def _frozen(mapping=None) -> Mapping[str, int]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class Recipe:
    """One way to obtain something in Minecraft 1.11, as the adapter's actions do it.

    ``kind`` is ``collect`` (``action`` -- ``attack``, or ``use`` for a bucket or shears --
    on ``source``, a block or creature), ``make`` (``craft:<name>``, with every ``nearby``
    station in reach; smelting too, which MineDojo does through its craft action) or
    ``place`` (``place:<name>``: puts the held station down). ``tools`` must be held and are
    kept (a better pickaxe does too); ``uses`` are consumed; ``gives`` is how many one
    action adds (0 for ``place``).
    """

    kind: str
    name: str
    action: str
    source: str | None = None
    tools: Mapping[str, int] = field(default_factory=_frozen)
    uses: Mapping[str, int] = field(default_factory=_frozen)
    nearby: tuple[str, ...] = ()
    gives: int = 1


def _collect(item, source, tools=None, uses=None, action="attack") -> Recipe:
    return Recipe("collect", item, action, source=source, tools=_frozen(tools), uses=_frozen(uses))


def _make(item, uses, nearby=(), gives=1) -> Recipe:
    return Recipe("make", item, f"craft:{item}", uses=_frozen(uses), nearby=tuple(nearby), gives=gives)


def _place(station) -> Recipe:
    return Recipe("place", station, f"place:{station}", uses=_frozen({station: 1}), gives=0)


_TABLE, _FURNACE = ("crafting_table",), ("furnace",)

#: The recipe graph. Counts are Minecraft 1.11's: 1 log -> 4 planks, 2 planks -> 4 sticks,
#: 4 planks -> a crafting table, a pickaxe is 3 of its material + 2 sticks, a sword 2 + 1 stick,
#: a furnace 8 cobblestone; every tool and the furnace are crafted at a table. Smelting an
#: iron ingot takes 1 iron ore and fuel next to a furnace: the plan burns 1 plank per ingot
#: (a plank smelts 1.5 items in vanilla Minecraft, so this over-provisions; coal, 8 items,
#: works as fuel too and :meth:`MineDojoAPI.make` uses either). A block a pickaxe is needed
#: for also yields to a better pickaxe.
RECIPES: tuple[Recipe, ...] = (
    _collect("log", "log"),
    _collect("dirt", "dirt"),
    _collect("cobblestone", "stone", tools={"wooden_pickaxe": 1}),
    _collect("coal", "coal_ore", tools={"wooden_pickaxe": 1}),
    _collect("iron_ore", "iron_ore", tools={"stone_pickaxe": 1}),
    _collect("diamond", "diamond_ore", tools={"iron_pickaxe": 1}),
    _collect("beef", "cow"),
    # An empty bucket used on a cow becomes a milk bucket; shears used on a sheep give wool.
    _collect("milk_bucket", "cow", uses={"bucket": 1}, action="use"),
    _collect("wool", "sheep", tools={"shears": 1}, action="use"),
    _make("planks", {"log": 1}, gives=4),
    _make("stick", {"planks": 2}, gives=4),
    _make("crafting_table", {"planks": 4}),
    _make("wooden_pickaxe", {"planks": 3, "stick": 2}, _TABLE),
    _make("wooden_sword", {"planks": 2, "stick": 1}, _TABLE),
    _make("stone_pickaxe", {"cobblestone": 3, "stick": 2}, _TABLE),
    _make("stone_sword", {"cobblestone": 2, "stick": 1}, _TABLE),
    _make("furnace", {"cobblestone": 8}, _TABLE),
    _make("iron_ingot", {"iron_ore": 1, "planks": 1}, _FURNACE),
    _make("iron_pickaxe", {"iron_ingot": 3, "stick": 2}, _TABLE),
    _make("iron_sword", {"iron_ingot": 2, "stick": 1}, _TABLE),
    _make("diamond_pickaxe", {"diamond": 3, "stick": 2}, _TABLE),
    _place("crafting_table"),
    _place("furnace"),
)
#: Item -> the recipe that adds it to the inventory (collect or make).
ITEM_RECIPES: dict[str, Recipe] = {r.name: r for r in RECIPES if r.kind != "place"}
#: Station -> the recipe that puts it down.
PLACE_RECIPES: dict[str, Recipe] = {r.name: r for r in RECIPES if r.kind == "place"}
#: Collect recipes by item and by source block: "log", "cobblestone" or "stone", "iron_ore", ...
COLLECT: dict[str, Recipe] = {
    **{r.source: r for r in RECIPES if r.kind == "collect" and r.source not in ("cow",)},
    **{r.name: r for r in RECIPES if r.kind == "collect"},
}
#: Pickaxes from worst to best: a block that needs one yields to any better one too.
PICKAXES = ("wooden_pickaxe", "stone_pickaxe", "iron_pickaxe", "diamond_pickaxe")
#: Sources mined underground: collecting them takes the player away from placed stations.
UNDERGROUND = ("stone", "coal_ore", "iron_ore", "diamond_ore")
#: Fuel :meth:`MineDojoAPI.make` accepts for smelting, best first (the plan uses planks).
FUELS = ("coal", "planks")
#: Creatures: the symbolic observation does not show them (voxels hold blocks only).
CREATURES = ("cow", "sheep")
#: What MineDojo's tasks start with, by task id, where the plan must know it: the bucket and
#: shears tasks say so in their ids, and the "from wood/stone/iron tools" techtree tasks start
#: with (at least) that pickaxe. Their exact starting inventories were not checked against
#: MineDojo's task files: the plan assumes only the named tool.
STARTING_INVENTORY: dict[str, dict[str, int]] = {
    "harvest_milk_with_empty_bucket_and_cow": {"bucket": 1},
    "harvest_wool_with_shears_and_sheep": {"shears": 1},
    "techtree_from_wood_to_stone_pickaxe": {"wooden_pickaxe": 1},
    "techtree_from_stone_to_iron_pickaxe": {"stone_pickaxe": 1},
    "techtree_from_iron_to_diamond_pickaxe": {"iron_pickaxe": 1},
}


def requirements(item: str) -> Recipe:
    """The recipe that obtains ``item`` (an inventory item; a station name means its make
    recipe). Raises NotFound for items outside the graph."""
    key = item.strip().lower().replace(" ", "_").replace("-", "_")
    try:
        return ITEM_RECIPES[key]
    except KeyError:
        raise NotFound(f"no MineDojo recipe for {item!r} in rlgpt's graph"
                       f"{nearest(key, ITEM_RECIPES)}") from None


def _tool_satisfied(tool: str, inventory: Mapping[str, int]) -> str | None:
    """The held tool that does ``tool``'s job (the worst adequate pickaxe), or None."""
    if tool in PICKAXES:
        for better in PICKAXES[PICKAXES.index(tool):]:
            if inventory.get(better, 0) > 0:
                return better
        return None
    return tool if inventory.get(tool, 0) > 0 else None


@functools.cache
def tech_levels() -> dict[str, int]:
    """Depth of each item (and ``place:<station>``) in the graph: 0 for bare-hand collects."""
    levels: dict[str, int] = {}

    def level(key: str, stack: tuple = ()) -> int:
        if key in levels:
            return levels[key]
        if key in stack:
            raise WorldError(f"cycle in the MineDojo recipe graph at {key!r}")
        recipe = PLACE_RECIPES[key[6:]] if key.startswith("place:") else ITEM_RECIPES.get(key)
        if recipe is None:  # given, not made (bucket, shears)
            return 0
        deps = [*recipe.tools, *recipe.uses, *(f"place:{s}" for s in recipe.nearby)]
        levels[key] = 1 + max((level(d, stack + (key,)) for d in deps), default=-1)
        return levels[key]

    for r in RECIPES:
        level(f"place:{r.name}" if r.kind == "place" else r.name)
    return levels


@dataclass
class _Step:
    recipe: Recipe
    count: int
    tools: dict[str, int]  # the tools held for it (a better pickaxe stands in for a worse one)
    spare: tuple[str, ...] = ()  # stations left behind: the step places a carried one first

    def preconditions(self) -> dict[str, int]:
        out = dict(self.tools)
        for item, n in self.recipe.uses.items():
            out[item] = out.get(item, 0) + n * self.count
        for station in self.spare:
            out[station] = out.get(station, 0) + 1
        return out

    def effects(self) -> dict[str, int]:
        out: dict[str, int] = {}
        if self.recipe.gives:
            out[self.recipe.name] = self.recipe.gives * self.count
        for item, n in self.recipe.uses.items():
            out[item] = out.get(item, 0) - n * self.count
        for station in self.spare:
            out[station] = out.get(station, 0) - 1
        return out

    def to_dict(self) -> dict:
        r = self.recipe
        return {
            "kind": r.kind, "target": r.name, "action": r.action, "count": self.count,
            "source": r.source, "preconditions": self.preconditions(),
            "nearby": list(r.nearby), "effects": self.effects(),
            "placed": r.name if r.kind == "place" else None,
            # The adapter counts items, not Crafter-style achievements: plans check item gains.
            "achievement": None,
        }


def plan_for(targets: Mapping[str, int], inventory: Mapping[str, int] | None = None) -> list[dict]:
    """Ordered steps (``Step.to_dict()`` format) that end holding ``targets`` (item -> count).

    Backward-chains just in time, deepest prerequisite first, from ``inventory`` (default
    empty). Placed stations count as in reach until an underground collect (cobblestone,
    coal, iron ore, diamond) takes the player away; a later make that needs one then
    carries a spare (one more ``make crafting_table``, listed in that make's
    preconditions) which :meth:`MineDojoAPI.make` places when none is in reach. Finally
    every collect and make is folded into the earliest step of the same recipe wherever the
    plan stays valid, so all the logs come first, then all the planks. Deterministic.
    """
    start = {k: int(v) for k, v in (inventory or {}).items()}
    inv = dict(start)
    stations: set[str] = set()  # placed this plan
    away: set[str] = set()  # placed, but left behind
    steps: list[_Step] = []
    levels = tech_levels()

    def add(step: _Step) -> None:
        for item, delta in step.effects().items():
            inv[item] = inv.get(item, 0) + delta
        if step.recipe.kind == "place":
            stations.add(step.recipe.name)
            away.discard(step.recipe.name)
        away.difference_update(step.spare)
        if step.recipe.kind == "collect" and step.recipe.source in UNDERGROUND:
            away.update(stations)
        steps.append(step)

    def acquire(item: str, n: int, stack: tuple = ()) -> None:
        missing = n - inv.get(item, 0)
        if missing <= 0:
            return
        if item in stack:
            raise WorldError(f"cycle in the MineDojo recipe graph at {item!r}")
        recipe = requirements(item)
        count = -(-missing // recipe.gives)
        deps = sorted([*recipe.tools, *recipe.uses, *(f"place:{s}" for s in recipe.nearby)],
                      key=lambda d: -levels.get(d, 0))
        spare: list[str] = []
        for _ in range(2):  # a later prerequisite may consume an earlier one: top up once
            for dep in deps:
                if dep.startswith("place:"):
                    station = dep[6:]
                    if station not in stations:
                        place(station, stack + (item,))
                    elif station in away:
                        acquire(station, 1, stack + (item,))
                        if station not in spare:
                            spare.append(station)
                elif dep in recipe.tools:
                    if _tool_satisfied(dep, inv) is None:
                        acquire(dep, 1, stack + (item,))
                else:
                    acquire(dep, recipe.uses[dep] * count, stack + (item,))
        tools = {_tool_satisfied(t, inv) or t: 1 for t in recipe.tools}
        add(_Step(recipe, count, tools, tuple(s for s in spare if s in away)))

    def place(station: str, stack: tuple) -> None:
        acquire(station, 1, stack)
        add(_Step(PLACE_RECIPES[station], 1, {}))

    for item, n in targets.items():
        acquire(item, int(n))
    return [s.to_dict() for s in _merge(steps, start)]


def _valid(steps: list[_Step], start: Mapping[str, int]) -> bool:
    """Does every step find its preconditions held and its stations placed before it?"""
    inv = dict(start)
    placed: set[str] = set()
    for step in steps:
        if any(inv.get(item, 0) < n for item, n in step.preconditions().items()):
            return False
        if not set(step.recipe.nearby) <= placed:
            return False
        for item, delta in step.effects().items():
            inv[item] = inv.get(item, 0) + delta
        if step.recipe.kind == "place":
            placed.add(step.recipe.name)
    return True


def _merge(steps: list[_Step], start: Mapping[str, int]) -> list[_Step]:
    """Fold each collect and make into the earliest step of the same recipe (and tools)
    where the plan stays valid. Places are never merged: each is where a station is needed."""
    merged = list(steps)
    i = 0
    while i < len(merged):
        step = merged[i]
        done = False
        if step.recipe.kind in ("collect", "make"):
            for j in range(i):
                other = merged[j]
                if other.recipe != step.recipe or other.tools != step.tools:
                    continue
                trial = list(merged)
                trial[j] = _Step(other.recipe, other.count + step.count, other.tools,
                                 tuple(dict.fromkeys(other.spare + step.spare)))
                del trial[i]
                if _valid(trial, start):
                    merged, done = trial, True
                    break
        if not done:
            i += 1
    return merged


def starting_inventory(task) -> dict[str, int]:
    """What ``task`` starts with, as far as the plan knows (:data:`STARTING_INVENTORY`)."""
    for name in (md.minedojo_task_id(task.name), task.name, *task.aliases):
        if name in STARTING_INVENTORY:
            return dict(STARTING_INVENTORY[name])
    return {}


def knowledge(task) -> dict:
    """The steps that reach ``task``'s goal (its ``inventory`` counts; achievements, which are
    MineDojo's tech-tree item names, mean holding one), and one fact line per step."""
    targets: dict[str, int] = {}
    for name in task.achievements:
        key = name[len("collect_"):] if name.startswith("collect_") else name
        targets[key] = max(targets.get(key, 0), 1)
    for item, n in task.inventory.items():
        targets[item] = max(targets.get(item, 0), int(n))
    steps = plan_for(targets, starting_inventory(task))
    return {"steps": steps, "facts": knowledge_facts(steps)}


# --- the primitive API ------------------------------------------------------------------

def _primitive(method):
    """A failing primitive that took no step spends one ``noop``, so a skill retrying it in a
    loop still advances the world and the runner's step cap always ends the skill."""

    @functools.wraps(method)
    def primitive(self, *args, **kwargs):
        start = self._actions
        result = yield from method(self, *args, **kwargs)
        if result is False and self._actions == start:
            yield from self._do("noop")
        return result

    return primitive


_ALIASES = {"table": "crafting_table", "workbench": "crafting_table", "tree": "log", "wood": "log"}
# Pitches (degrees, positive looks down) to sweep when a source is in the 3x3x3 voxels but
# we cannot tell which voxel: trunks are level or above, ground blocks level or below.
_SWEEP = {"log": (0, -30, 30), "cow": (15, 0), "sheep": (15, 0)}
_GROUND_SWEEP = (45, 0, 70)


class MineDojoAPI:
    """What a code skill sees and does in MineDojo, built from the adapter's symbolic observation.

    Attributes kept current by :meth:`observe`: ``inventory`` (item -> count: the
    observation's counts, and every item the step ``info`` lists), ``achievements`` (the
    env's own counters: tech-tree item -> times gained), ``near_blocks`` (block kinds in
    the 3x3x3 voxels around the player), ``table_in_reach`` and ``furnace_in_reach``,
    ``health`` and ``food`` (0-20), ``pos`` (x, y, z), ``pitch`` and ``yaw`` (degrees;
    pitch grows downwards) and ``step`` (observations seen). ``memory`` remembers where
    (the player's position, rounded) each block kind was last in the voxels.

    Primitives are generators of the adapter's action names (``ok = yield from
    api.collect("log", 3)``), bounded by their ``max_steps`` (counted in actions they
    yield); they return True on success, False when they give up. The observation has no
    line of sight: a block in the voxels may be behind the player, so primitives sweep the
    camera while attacking. Untested against a live Minecraft; see docs/minedojo.md.
    """

    def __init__(self, attack_patience: int = 70):
        self.inventory: dict[str, int] = {item: 0 for item in md.INVENTORY_ITEMS}
        self.achievements: dict[str, int] = {}
        self.near_blocks: list[str] = []
        self.table_in_reach = False
        self.furnace_in_reach = False
        self.health = 20.0
        self.food = 20.0
        self.pos: tuple[float, float, float] = (0.0, 0.0, 0.0)
        self.pitch = 0.0
        self.yaw = 0.0
        self.step = -1
        self.last_obs = None
        self.memory: dict[str, list[tuple[int, int, int]]] = {}
        self.equipped: str | None = None  # what our last equip: put in the main hand
        #: Attack steps spent on one camera aim before turning: breaking a log by hand takes
        #: about 3 s of game time, 60 steps at MineDojo's 20 per second.
        self.attack_patience = attack_patience
        self._actions = 0  # actions yielded, whether or not observed

    # --- observation -------------------------------------------------------

    def observe(self, obs, info=None) -> None:
        """Update state from an observation (the env's, or its ``symbolic`` part) and the step ``info``."""
        self.step += 1
        self.last_obs = obs  # for trusted runners (policy skills); not in __sandbox_attrs__
        sym = obs["symbolic"] if "symbolic" in obs else obs
        counts = [int(v) for v in sym["inventory"]]
        inventory = {item: counts[i] for i, item in enumerate(md.INVENTORY_ITEMS)}
        if info and "inventory" in info:
            inventory.update({k: int(v) for k, v in info["inventory"].items()})
        self.inventory = inventory
        if info and "achievements" in info:
            self.achievements = dict(info["achievements"])
        flags = [int(v) for v in sym["nearby"]]
        self.near_blocks = [b for b, f in zip(md.NEARBY_BLOCKS, flags) if f]
        tools = [int(v) for v in sym["nearby_tools"]]
        self.table_in_reach, self.furnace_in_reach = bool(tools[0]), bool(tools[1])
        vitals = [float(v) for v in sym["vitals"]]
        self.health, self.food = vitals[0], vitals[1]
        self.pos = tuple(float(v) for v in sym["pos"])[:3]
        self.pitch, self.yaw = (float(v) for v in list(sym["orientation"])[:2])
        here = tuple(int(round(v)) for v in self.pos)
        present = set(self.near_blocks)
        if self.table_in_reach:
            present.add("crafting_table")
        if self.furnace_in_reach:
            present.add("furnace")
        for kind in set(self.memory) | present:
            cells = [c for c in self.memory.get(kind, []) if _dist(c, here) > 1 or kind in present]
            if kind in present and here not in cells:
                cells = (cells + [here])[-32:]
            if cells:
                self.memory[kind] = cells
            else:
                self.memory.pop(kind, None)

    # --- queries -----------------------------------------------------------

    def has(self, item: str, n: int = 1) -> bool:
        """Whether the inventory holds at least ``n`` of ``item``."""
        return self.inventory.get(item, 0) >= n

    def near(self, target: str) -> bool:
        """Whether ``target`` (a block kind, or an item named for its source: "cobblestone"
        means stone) is in the 3x3x3 voxels now; for "crafting_table"/"furnace", whether one
        is in reach. Always False for creatures, which the observation does not show."""
        block = _block(target)
        if block == "crafting_table" and self.table_in_reach:
            return True
        if block == "furnace" and self.furnace_in_reach:
            return True
        return block in self.near_blocks

    def seen(self, target: str) -> list[tuple[int, int, int]]:
        """Where the player stood (rounded x, y, z) when ``target`` (block kind, station or
        source item) was in the voxels, nearest first; forgotten once seen gone from there."""
        here = tuple(int(round(v)) for v in self.pos)
        return sorted(self.memory.get(_block(target), []), key=lambda c: _dist(c, here))

    def requirements(self, item: str) -> dict:
        """The recipe for ``item``: ``kind``, ``action``, ``source``, ``tools``, ``uses``,
        ``nearby`` (stations in reach) and ``gives`` (per action)."""
        r = requirements(item)
        return {"kind": r.kind, "action": r.action, "source": r.source, "tools": dict(r.tools),
                "uses": dict(r.uses), "nearby": list(r.nearby), "gives": r.gives}

    # --- primitives --------------------------------------------------------

    @_primitive
    def collect(self, material: str, n: int = 1, max_steps: int = 3000) -> Actions:
        """Collect ``n`` more of an item from its source: "log", "cobblestone" (or "stone"),
        "coal", "iron_ore", "diamond", "dirt"; "beef" (attack a cow), "milk_bucket" (a
        bucket used on a cow) and "wool" (shears used on a sheep).

        Equips the best pickaxe for ores and stone (bucket/shears for milk/wool). While the
        source is not in the voxels, explores for it (digging down for underground blocks);
        once it is, attacks (or uses) for ``attack_patience`` steps per camera aim, sweeping
        aims, until the count rises, and steps forward to pick up drops. Creatures never
        show in the observation, so for them it alternates short walks and sweeps.
        Returns True once ``n`` more are held; False at once when the tool (pickaxe,
        shears, bucket) is missing, or after ``max_steps`` actions.
        """
        recipe = COLLECT.get(_ALIASES.get(material, material))
        if recipe is None:
            raise ValueError(f"cannot collect {material!r}; one of {sorted(COLLECT)}")
        needs = {**recipe.tools, **recipe.uses}
        held = {t: _tool_satisfied(t, self.inventory) for t in needs}
        if not all(held.values()):
            return False
        item = recipe.name
        goal = self.inventory.get(item, 0) + n
        start = self._actions
        for tool in held.values():
            yield from self._equip(tool)
        creature = recipe.source in CREATURES
        sweep = _SWEEP.get(recipe.source, _GROUND_SWEEP)
        aim = 0
        while self.inventory.get(item, 0) < goal and self._actions - start < max_steps:
            left = max_steps - (self._actions - start)
            if "lava" in self.near_blocks:
                yield from self.survive()
                continue
            if not creature and not self.near(recipe.source):
                yield from self.explore(min(60, left), hint=recipe.source)
                continue
            if aim and aim % len(sweep) == 0:  # every pitch tried: turn 45 degrees
                for _ in range(3):
                    yield from self._do("camera_right")
            yield from self._look(sweep[aim % len(sweep)])
            before = self.inventory.get(item, 0)
            for _ in range(min(self.attack_patience, left)):
                yield from self._do(recipe.action)
                if self.inventory.get(item, 0) > before:
                    break
            if self.inventory.get(item, 0) > before:
                continue  # the next block of a trunk or vein is likely at the same aim
            if creature or not self.near(recipe.source):
                yield from self._do("forward")  # pick up a drop, or walk on looking for the creature
            aim += 1
        return self.inventory.get(item, 0) >= goal

    @_primitive
    def make(self, item: str, n: int = 1, max_steps: int = 60) -> Actions:
        """Craft (or smelt) ``item`` until ``n`` more are held, e.g. "planks" (4 per log),
        "stick", "crafting_table", "wooden_pickaxe", "furnace", "iron_ingot", "iron_pickaxe".

        A recipe that needs a crafting table or furnace in reach places a held one first
        when none is in reach. Smelting needs fuel held: coal, else planks. Returns True once
        ``n`` more are held; False when materials or a station are missing, or when crafting
        stops raising the count (MineDojo refused it) or ``max_steps`` actions are spent.
        Does not fetch materials: collect and make them first.
        """
        recipe = ITEM_RECIPES.get(_ALIASES.get(item, item))
        if recipe is None or recipe.kind != "make":
            makeable = sorted(k for k, r in ITEM_RECIPES.items() if r.kind == "make")
            raise ValueError(f"cannot make {item!r}; one of {makeable}")
        goal = self.inventory.get(recipe.name, 0) + n
        start = self._actions
        failures = 0
        while self.inventory.get(recipe.name, 0) < goal and self._actions - start < max_steps:
            if not all(self.has(k, v) for k, v in self._uses(recipe).items()):
                return False
            for station in recipe.nearby:
                if not self.near(station):
                    if not self.has(station) or not (yield from self.place(station)):
                        return False
            before = self.inventory.get(recipe.name, 0)
            yield from self._do(recipe.action)
            if self.inventory.get(recipe.name, 0) <= before:
                failures += 1
                if failures >= 3:
                    return False
        return self.inventory.get(recipe.name, 0) >= goal

    @_primitive
    def place(self, item: str, max_steps: int = 40) -> Actions:
        """Place a held "crafting_table", "furnace", "cobblestone" or "dirt" on the ground
        ahead: looks down about 45 degrees, places, and turns 90 degrees to try again where
        nothing was placed. Returns True once the held count drops (for a station, it is then
        in reach); False when none is held or after 4 tries."""
        item = _ALIASES.get(item, item)
        if item not in md.PLACE_ITEMS:
            raise ValueError(f"cannot place {item!r}; one of {list(md.PLACE_ITEMS)}")
        if not self.has(item):
            return False
        start = self._actions
        for _ in range(4):
            if self._actions - start >= max_steps:
                break
            yield from self._look(45)
            before = self.inventory.get(item, 0)
            yield from self._do(f"place:{item}")
            if self.inventory.get(item, 0) < before:
                return True
            for _ in range(6):
                yield from self._do("camera_right")
        return False

    @_primitive
    def explore(self, steps: int = 50, hint: str | None = None) -> Actions:
        """Move for ``steps`` actions, stopping early once ``hint`` (a block or source item)
        is in the voxels. For underground hints (stone, cobblestone, coal, iron, diamond) with a
        pickaxe held (or hand-diggable ground), digs a staircase down (attack at 45 degrees,
        step forward) and tunnels level once deep enough for the ore; otherwise walks ahead
        level, jumping when blocked and turning when stuck, curving every 40 steps.
        Steps back from lava. Returns True."""
        start = self._actions
        block = _block(hint) if hint else None
        underground = block in UNDERGROUND or block == "cobblestone"
        can_dig = underground and (any(self.has(p) for p in PICKAXES) or block == "stone")
        depth = {"iron_ore": 50, "diamond_ore": 14}.get(block, 256)
        if can_dig:
            pick = next((p for p in reversed(PICKAXES) if self.has(p)), None)
            if pick:
                yield from self._equip(pick)
        stuck = 0
        while self._actions - start < steps:
            if block and self.near(block):
                return True
            if "lava" in self.near_blocks:
                yield from self.survive()
                continue
            left = steps - (self._actions - start)
            if can_dig:
                yield from self._look(45 if self.pos[1] > depth else 0)
                for _ in range(min(self.attack_patience // 2, left)):
                    yield from self._do("attack")
                    if block and self.near(block):
                        return True
                yield from self._do("forward")
                continue
            yield from self._look(0)
            before = self.pos
            yield from self._do("forward_jump" if stuck else "forward")
            stuck = stuck + 1 if _dist(before, self.pos) < 0.1 else 0
            if stuck >= 3 or (self._actions - start) % 40 == 39:
                for _ in range(3):
                    yield from self._do("camera_right")
                stuck = 0
        return True

    @_primitive
    def survive(self, max_steps: int = 120) -> Actions:
        """Tend to safety: backs away and turns round while lava is in the voxels, and, when
        health is 10 or less and food at least 18 (Minecraft heals only then), waits until
        health is back above 10. Cannot eat: the adapter has no action to hold food in the
        main hand. Returns True when no lava is near and health is above 10 (or cannot
        recover by waiting), False after ``max_steps`` actions."""
        start = self._actions
        while self._actions - start < max_steps:
            if "lava" in self.near_blocks:
                yield from self._do("back")
                yield from self._do("back")
                for _ in range(6):
                    yield from self._do("camera_right")
                continue
            if self.health <= 10 and self.food >= 18:
                yield from self._do("noop")
                continue
            return True
        return False

    # --- internals ---------------------------------------------------------

    def _do(self, action: str) -> Actions:
        self._actions += 1
        yield action

    def _look(self, pitch: float) -> Actions:
        """Turn the camera (15 degrees a step) until within half a step of ``pitch``."""
        for _ in range(13):
            if abs(self.pitch - pitch) <= md.CAMERA_STEP_DEGREES / 2:
                return
            yield from self._do("camera_down" if self.pitch < pitch else "camera_up")

    def _equip(self, tool: str) -> Actions:
        if tool in md.EQUIP_ITEMS and self.equipped != tool and self.has(tool):
            yield from self._do(f"equip:{tool}")
            self.equipped = tool

    def _uses(self, recipe: Recipe) -> dict[str, int]:
        """What one craft of ``recipe`` consumes here: smelting takes whichever fuel is held."""
        uses = dict(recipe.uses)
        if recipe.name == "iron_ingot":
            fuel = next((f for f in FUELS if self.has(f)), "planks")
            uses.pop("planks", None)
            uses[fuel] = uses.get(fuel, 0) + 1
        return uses


def _block(target: str) -> str:
    """The block (or creature) a target name means: an item means its source."""
    name = _ALIASES.get(target, target)
    if name in md.NEARBY_BLOCKS or name in CREATURES:
        return name
    recipe = COLLECT.get(name)
    return recipe.source if recipe else name


def _dist(a, b) -> float:
    return max(abs(x - y) for x, y in zip(a, b))


# What sandboxed skill code may reach on the API (the sandbox refuses every other attribute):
# the documented queries, primitives and state; never `observe` (only the runner calls it) or
# `last_obs` (the raw observation, for trusted runners).
MineDojoAPI.__sandbox_attrs__ = frozenset(
    name for name in dir(MineDojoAPI) if not name.startswith("_") and name != "observe"
) | {"inventory", "achievements", "near_blocks", "table_in_reach", "furnace_in_reach", "health",
     "food", "pos", "pitch", "yaw", "step", "memory", "equipped", "attack_patience"}


# --- the kit ----------------------------------------------------------------------------

class MineDojoKit:
    """MineDojo through the world seam (adapter: :mod:`rlgpt_cli.worlds.minedojo`)."""

    name = "minedojo"

    @property
    def action_names(self) -> list[str]:
        return list(md.ACTIONS)

    def make_env(self, task=None, **options):
        """A new ``MineDojoWorld`` for ``task`` (a Task or name; or ``task_id``, MineDojo's id;
        default harvest_log); it raises WorldError (one line) when MineDojo or JDK 8 is
        missing. ``length`` is the adapter's ``max_steps`` (None: the task's budget); other
        options go to ``MineDojoWorld``. Built directly, as the registry's factory does (going
        through ``worlds.base`` from here would make an import cycle)."""
        if "length" in options:
            options["max_steps"] = options.pop("length")
        task_id = options.pop("task_id", None) or getattr(task, "name", task) or "harvest_log"
        return md.MineDojoWorld(task_id, **options)

    def new_api(self) -> MineDojoAPI:
        return MineDojoAPI()

    def observation_space(self):
        """The ``symbolic`` part of the adapter's observation space (what :class:`MineDojoAPI` reads)."""
        return md._observation_space((160, 256))["symbolic"]

    def observation_docs(self) -> dict:
        # The env's observation keys; the symbolic part's keys and the order of its vectors.
        return {"keys": ["pixels", "symbolic"],
                "symbolic": ["inventory", "vitals", "nearby", "nearby_tools", "pos", "orientation"],
                "inventory": list(md.INVENTORY_ITEMS), "nearby": list(md.NEARBY_BLOCKS),
                "nearby_tools": ["crafting_table", "furnace"], "vitals": ["health", "food"],
                "pos": ["x", "y", "z"], "orientation": ["pitch", "yaw"]}

    def api_docs(self) -> list[dict[str, str]]:
        return describe_api(MineDojoAPI)

    def knowledge(self, task) -> dict:
        return knowledge(task)

    def achievements(self) -> list[str]:
        # The adapter counts each tech-tree item's gains in info["achievements"].
        return list(md.TECH_TREE_ITEMS)

    def scores(self, rates: dict[str, float]) -> dict[str, float]:
        return {}

    def reference_scores(self) -> dict[str, float]:
        return {}
