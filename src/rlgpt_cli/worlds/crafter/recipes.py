"""Crafter's recipe graph, read from crafter's own ``data.yaml``.

Crafter defines its whole tech tree as data: what ``do`` collects from each
material (and which tool it needs), what each ``place_*`` action puts down (and
what it uses up), and what each ``make_*`` action crafts (and which stations
must be nearby). This module turns that file into :class:`Recipe` objects and
backward-chains over them (:func:`plan_for`) so the offline planner, the
primitive API and the prompts all share one source of truth instead of
hand-copied numbers.

Only ``ruamel.yaml`` (a crafter dependency) is needed, and only when the data is
first read; crafter itself (and numpy) is never imported here.
"""

from __future__ import annotations

import functools
import importlib.util
import pathlib
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from rlgpt_cli.errors import NotFound, WorldError, nearest

#: Players interact with crafting stations within this Chebyshev distance
#: (crafter's ``world.nearby(player.pos, 1)`` in ``Player._make``).
NEARBY_DISTANCE = 1


@functools.cache
def data() -> Mapping:
    """crafter's ``data.yaml`` as a dict (read once)."""
    spec = importlib.util.find_spec("crafter")
    if spec is None or not spec.submodule_search_locations:
        raise WorldError("crafter is not installed (pip install crafter)")
    path = pathlib.Path(list(spec.submodule_search_locations)[0]) / "data.yaml"
    import ruamel.yaml

    return ruamel.yaml.YAML(typ="safe", pure=True).load(path.read_text())


def actions() -> list[str]:
    """Crafter's action names, in action-index order."""
    return list(data()["actions"])


def materials() -> list[str]:
    """Crafter's material names; material id ``i + 1`` is ``materials()[i]`` (0 is outside the world)."""
    return list(data()["materials"])


def walkable() -> list[str]:
    """Materials creatures can walk on."""
    return list(data()["walkable"])


def items() -> dict[str, dict]:
    """Inventory items (in crafter's order) with their ``max`` and ``initial`` counts."""
    return dict(data()["items"])


def achievements() -> list[str]:
    """Crafter's 22 achievement names."""
    return list(data()["achievements"])


def _frozen(mapping) -> Mapping[str, int]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class Recipe:
    """One way to obtain something, as crafter's data describes it.

    ``kind`` is ``collect`` (``do`` facing ``source``), ``place`` (``place_<name>``
    onto a facing tile whose material is in ``where``) or ``make``
    (``make_<name>`` with every ``nearby`` station within one tile).
    ``tools`` must be held and are kept; ``uses`` are consumed; ``gives`` is
    what one successful action adds to the inventory (empty for ``place``, which
    changes the world instead). ``probability`` < 1 means ``do`` can fail.
    """

    kind: str
    name: str
    action: str
    achievement: str
    source: str | None = None
    tools: Mapping[str, int] = field(default_factory=dict)
    uses: Mapping[str, int] = field(default_factory=dict)
    nearby: tuple[str, ...] = ()
    where: tuple[str, ...] = ()
    gives: Mapping[str, int] = field(default_factory=dict)
    leaves: str | None = None
    probability: float = 1.0

    @property
    def needs(self) -> dict[str, int]:
        """Inventory needed before one action: tools plus consumed items."""
        out = dict(self.tools)
        for item, n in self.uses.items():
            out[item] = out.get(item, 0) + n
        return out

    def to_dict(self) -> dict:
        """JSON-friendly form."""
        return {
            "kind": self.kind, "name": self.name, "action": self.action,
            "achievement": self.achievement, "source": self.source,
            "tools": dict(self.tools), "uses": dict(self.uses),
            "nearby": list(self.nearby), "where": list(self.where),
            "gives": dict(self.gives), "leaves": self.leaves,
            "probability": self.probability,
        }


@functools.cache
def recipes() -> tuple[Recipe, ...]:
    """Every recipe in data.yaml: collects, then places, then makes (file order)."""
    d = data()
    out = []
    for source, info in d["collect"].items():
        for item in info["receive"]:
            out.append(Recipe(
                kind="collect", name=item, action="do", achievement=f"collect_{item}",
                source=source, tools=_frozen(info["require"]), gives=_frozen(info["receive"]),
                leaves=info.get("leaves"), probability=float(info.get("probability", 1.0))))
    for name, info in d["place"].items():
        out.append(Recipe(
            kind="place", name=name, action=f"place_{name}", achievement=f"place_{name}",
            uses=_frozen(info["uses"]), where=tuple(info["where"]),
            nearby=tuple(info.get("nearby", ()))))
    for name, info in d["make"].items():
        out.append(Recipe(
            kind="make", name=name, action=f"make_{name}", achievement=f"make_{name}",
            uses=_frozen(info["uses"]), nearby=tuple(info["nearby"]),
            gives=_frozen({name: info["gives"]})))
    return tuple(out)


@functools.cache
def _index() -> dict[str, Recipe]:
    """Names a recipe answers to: item names, achievement and action names.

    An inventory item (``stone``) means the recipe that *adds* it to the
    inventory (collect), so ``place_stone`` must be asked for by that name;
    stations (``table``, ``furnace``) and ``plant`` mean their place recipe.
    """
    index: dict[str, Recipe] = {}
    for r in recipes():
        index.setdefault(r.achievement, r)
        if r.kind != "collect":
            index.setdefault(r.action, r)
    for r in recipes():
        if r.kind in ("collect", "make"):
            index.setdefault(r.name, r)
    for r in recipes():
        index.setdefault(r.name, r)  # placed-only names: table, furnace, plant
    return index


def requirements(item: str) -> Recipe:
    """The recipe that obtains ``item`` (an inventory item, station, or achievement/action name).

    Raises NotFound for names data.yaml has no recipe for (e.g. ``food``, which
    comes from eating, not from the recipe graph).
    """
    key = item.strip().lower().replace(" ", "_").replace("-", "_")
    try:
        return _index()[key]
    except KeyError:
        raise NotFound(f"no Crafter recipe for {item!r}{nearest(key, _index())}") from None


@functools.cache
def tech_levels() -> dict[str, int]:
    """Tech-tree depth of each recipe name: 0 for bare-hand collects, else 1 + deepest prerequisite."""
    levels: dict[str, int] = {}

    def level(name: str, stack: tuple = ()) -> int:
        if name in levels:
            return levels[name]
        if name in stack:
            raise WorldError(f"cycle in crafter's recipe graph at {name!r}")
        r = requirements(name)
        deps = [*r.tools, *r.uses, *r.nearby]
        levels[name] = 1 + max((level(d, stack + (name,)) for d in deps), default=-1)
        return levels[name]

    for r in recipes():
        level(r.achievement)
        level(r.name)
    return levels


@dataclass(frozen=True)
class Step:
    """One plan step: perform ``recipe.action`` ``count`` times.

    ``preconditions`` are the inventory counts needed before the step starts
    (tools once, consumed items times ``count``) and ``nearby`` the stations
    that must be within one tile (for ``place`` and ``make``); ``effects`` is
    the inventory change after the step, and for ``place`` the station it
    leaves in the world (``placed``).
    """

    recipe: Recipe
    count: int

    @property
    def kind(self) -> str:
        return self.recipe.kind

    @property
    def target(self) -> str:
        return self.recipe.name

    @property
    def action(self) -> str:
        return self.recipe.action

    @property
    def nearby(self) -> tuple[str, ...]:
        return self.recipe.nearby

    @property
    def preconditions(self) -> dict[str, int]:
        out = dict(self.recipe.tools)
        for item, n in self.recipe.uses.items():
            out[item] = out.get(item, 0) + n * self.count
        return out

    @property
    def effects(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for item, n in self.recipe.gives.items():
            out[item] = out.get(item, 0) + n * self.count
        for item, n in self.recipe.uses.items():
            out[item] = out.get(item, 0) - n * self.count
        return out

    @property
    def placed(self) -> str | None:
        return self.recipe.name if self.kind == "place" else None

    def describe(self) -> str:
        """One line, e.g. ``collect wood x5 (from tree)`` or ``make stone_pickaxe (near table)``."""
        text = f"{self.kind} {self.target}" + (f" x{self.count}" if self.count > 1 else "")
        if self.recipe.source and self.recipe.source != self.target:
            text += f" (from {self.recipe.source})"
        if self.nearby:
            text += f" (near {', '.join(self.nearby)})"
        return text

    def to_dict(self) -> dict:
        return {
            "kind": self.kind, "target": self.target, "action": self.action,
            "count": self.count, "source": self.recipe.source,
            "preconditions": self.preconditions, "nearby": list(self.nearby),
            "effects": self.effects, "placed": self.placed,
            "achievement": self.recipe.achievement,
        }


def plan_for(target: str, inventory: Mapping[str, int] | None = None,
             placed: tuple[str, ...] = ()) -> list[Step]:
    """Ordered steps that obtain ``target`` from ``inventory`` (default: crafter's initial one).

    ``target`` is anything :func:`requirements` accepts (``diamond``,
    ``stone_pickaxe``, ``place_furnace``, ``collect_drink`` ...); an item name
    is satisfied by holding one, an achievement or action name always ends with
    that action (``collect_drink`` at full drink still drinks). ``placed``
    lists stations already standing near the player. The plan backward-chains
    just in time (deepest prerequisite first), then merges repeated collects of
    one material into the earliest one as long as no item would exceed its
    inventory cap, so e.g. all the wood comes first. Deterministic; an empty
    list means the inventory already satisfies the target.
    """
    caps = {name: info["max"] for name, info in items().items()}
    start = {name: info["initial"] for name, info in items().items()}
    if inventory is not None:
        start = {name: 0 for name in start} | {k: int(v) for k, v in inventory.items()}
    inv = dict(start)
    stations = set(placed)
    steps: list[Step] = []
    levels = tech_levels()

    def acquire(name: str, n: int, stack: tuple = (), again: bool = False) -> None:
        recipe = requirements(name)
        if recipe.kind == "place":
            if name in stations and not again:
                return
            count = 1
        else:
            item, per = next(iter(recipe.gives.items()))
            missing = n - inv.get(item, 0)
            if missing <= 0 and not again:
                return
            count = max(1, -(-missing // per))
        if name in stack:
            raise WorldError(f"cycle in crafter's recipe graph at {name!r}")
        needs = {**recipe.tools, **{k: v * count for k, v in recipe.uses.items()}}
        # Deepest prerequisite first: the long chain is built before the cheap
        # items, which are then merged into one early collect.
        order = sorted([*needs, *recipe.nearby], key=lambda d: -levels[d])
        for _ in range(2):  # a later prerequisite may consume an earlier one: top up once
            for dep in order:
                acquire(dep, needs.get(dep, 1), stack + (name,))
        step = Step(recipe, count)
        for item, delta in step.effects.items():
            inv[item] = min(caps.get(item, 9), inv.get(item, 0) + delta)
        if step.placed:
            stations.add(step.placed)
        steps.append(step)

    # An achievement or action name asks for the act itself, even when the item is held.
    key = target.strip().lower().replace(" ", "_").replace("-", "_")
    wanted = requirements(target)
    acquire(target, 1, again=key in (wanted.achievement, wanted.action))
    return merge_collects(steps, start, caps)


def merge_collects(steps: list, start: Mapping[str, int], caps) -> list:
    """Fold each collect into the earliest collect of the same recipe that the caps allow.

    Other steps in the list only need ``kind``, ``recipe`` and ``effects`` (the goal steps of
    ``goals.py``, which are no recipe's collect)."""
    merged = list(steps)
    i = 0
    while i < len(merged):
        step = merged[i]
        into = next((j for j in range(i) if merged[j].kind == "collect"
                     and merged[j].recipe == step.recipe
                     and _fits(merged, start, j, i, caps)), None)
        if step.kind == "collect" and into is not None:
            merged[into] = Step(step.recipe, merged[into].count + step.count)
            del merged[i]
        else:
            i += 1
    return merged


def _fits(steps: list, start: Mapping[str, int], j: int, i: int, caps) -> bool:
    """Would doing step ``i`` together with step ``j`` keep every item within its cap until ``i``?"""
    extra = steps[i].effects
    running = dict(start)
    for k, s in enumerate(steps[:i]):
        for item, n in s.effects.items():
            running[item] = running.get(item, 0) + n
        if k >= j and any(running.get(item, 0) + n > caps.get(item, 9) for item, n in extra.items()):
            return False
    return True
