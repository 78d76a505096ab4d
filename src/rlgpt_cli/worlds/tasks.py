"""The task catalogue: what a user can ask an agent to do, and name resolution.

A :class:`Task` says which world it runs in, how success is judged (achievements
unlocked and/or inventory counts reached) and a default step budget. Crafter's
tasks are built from its data (all 22 achievements, a few multi-achievement
tasks, MineDojo-style aliases) the first time they are needed, so importing this
module stays cheap for the CLI. Other worlds add theirs with
:func:`register_task`.

:func:`resolve_task` turns what users type ("obtain diamond", "Collect Wood",
"harvest_log", "make a stone pickaxe", "collect 5 logs") into a Task.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Mapping

from rlgpt_cli.errors import NotFound, nearest


@dataclass(frozen=True)
class Task:
    """A goal in a world.

    Success needs every achievement in ``achievements`` unlocked, every item in
    ``inventory`` held at least that many times (either may be empty) and, for a survival
    goal, the player alive after ``alive_steps`` steps. ``max_steps`` is the default step
    budget for one attempt.
    """

    name: str
    world: str
    description: str
    achievements: tuple[str, ...] = ()
    inventory: Mapping[str, int] = field(default_factory=dict)
    max_steps: int = 10_000
    aliases: tuple[str, ...] = ()
    alive_steps: int = 0

    def success(self, info: Mapping) -> bool:
        """Whether an episode's end (``achievements`` and ``inventory`` dicts; for a survival
        goal also ``steps`` taken and ``alive``) meets the goal."""
        got = info.get("achievements", {})
        held = info.get("inventory", {})
        survived = not self.alive_steps or (info.get("alive", False) and info.get("steps", 0) >= self.alive_steps)
        return survived and all(got.get(a, 0) > 0 for a in self.achievements) and \
            all(held.get(k, 0) >= n for k, n in self.inventory.items())

    def to_dict(self) -> dict:
        return {
            "name": self.name, "world": self.world, "description": self.description,
            "achievements": list(self.achievements), "inventory": dict(self.inventory),
            "max_steps": self.max_steps, "aliases": list(self.aliases),
            **({"alive_steps": self.alive_steps} if self.alive_steps else {}),
        }


_registered: dict[tuple[str, str], Task] = {}


def register_task(task: Task, replace: bool = False) -> Task:
    """Add a task (e.g. from the MineDojo adapter); its name and aliases resolve from then on.

    Raises ValueError when the world already has a task of that name, unless ``replace``.
    """
    key = (task.world, task.name)
    if key in _catalogue() and not replace:
        raise ValueError(f"task {task.name!r} already exists in world {task.world!r}")
    _registered[key] = task
    return task


_plugin_tasks_loaded = False


def _load_plugin_tasks() -> None:
    """Once per process: the tasks plugins register (MineDojo's among the built-ins)."""
    global _plugin_tasks_loaded
    if _plugin_tasks_loaded:
        return
    _plugin_tasks_loaded = True
    from rlgpt_cli import plugins

    plugins.call_hook("register_tasks", lambda task: register_task(task, replace=True))


def list_tasks(world: str | None = None) -> list[Task]:
    """All tasks, or one world's, sorted by world then name."""
    _load_plugin_tasks()
    return [t for (w, _), t in sorted(_catalogue().items()) if world is None or w == world]


def _catalogue() -> dict[tuple[str, str], Task]:
    return {**{(t.world, t.name): t for t in _crafter_tasks()}, **_registered}


# --- Crafter's tasks -------------------------------------------------------

# Achievements outside the recipe graph: (description, step budget).
_CREATURE_TASKS = {
    "eat_cow": ("Eat a cow: hit a cow until it dies (restores food).", 1_000),
    "eat_plant": ("Eat a ripe plant: place a sapling, guard it until it ripens, then do on it.", 4_000),
    "defeat_zombie": ("Defeat a zombie (they roam grassland, mostly at night).", 2_000),
    "defeat_skeleton": ("Defeat a skeleton (they live in dark cave tunnels).", 4_000),
    "wake_up": ("Sleep until energy is restored and wake up.", 1_000),
}

# Names users type (MineDojo/MineRL style and plain English) for Crafter tasks.
_ALIASES = {
    "collect_wood": ("harvest_log", "obtain_log", "chop_tree", "mine_log", "get_wood"),
    "collect_stone": ("mine_stone", "mine_cobblestone", "harvest_cobblestone", "obtain_cobblestone"),
    "collect_coal": ("mine_coal", "mine_coal_ore", "harvest_coal"),
    "collect_iron": ("mine_iron", "mine_iron_ore", "harvest_iron_ore", "obtain_iron_ore"),
    "collect_diamond": ("obtain_diamond", "mine_diamond", "harvest_diamond", "mine_diamond_ore"),
    "collect_drink": ("drink_water", "harvest_water"),
    "collect_sapling": ("harvest_sapling", "collect_seed"),
    "place_table": ("craft_crafting_table", "place_crafting_table", "build_table",
                    "craft_table", "make_table"),
    "place_furnace": ("craft_furnace", "build_furnace", "make_furnace"),
    "place_plant": ("plant_sapling",),
    "place_stone": ("place_cobblestone", "build_stone"),
    "make_wood_pickaxe": ("craft_wooden_pickaxe", "techtree_from_barehand_to_wooden_pickaxe"),
    "make_stone_pickaxe": ("craft_stone_pickaxe", "techtree_from_barehand_to_stone_pickaxe"),
    "make_iron_pickaxe": ("craft_iron_pickaxe", "techtree_from_barehand_to_iron_pickaxe"),
    "make_wood_sword": ("craft_wooden_sword", "techtree_from_barehand_to_wooden_sword"),
    "make_stone_sword": ("craft_stone_sword", "techtree_from_barehand_to_stone_sword"),
    "make_iron_sword": ("craft_iron_sword", "techtree_from_barehand_to_iron_sword"),
    "eat_cow": ("hunt_cow", "combat_cow", "harvest_beef"),
    "defeat_zombie": ("combat_zombie", "kill_zombie", "hunt_zombie"),
    "defeat_skeleton": ("combat_skeleton", "kill_skeleton", "hunt_skeleton"),
    "wake_up": ("sleep",),
}

# Multi-achievement tasks: name -> (description, achievements or None for all 22, budget).
_GROUP_TASKS = {
    "all_pickaxes": ("Make a wood, a stone and an iron pickaxe.",
                     ("make_wood_pickaxe", "make_stone_pickaxe", "make_iron_pickaxe"), 10_000),
    "all_swords": ("Make a wood, a stone and an iron sword.",
                   ("make_wood_sword", "make_stone_sword", "make_iron_sword"), 10_000),
    "all_achievements": ("Unlock all 22 Crafter achievements in one episode.", None, 10_000),
}
_GROUP_ALIASES = {"all_achievements": ("crafter", "crafter_score", "unlock_all")}
# Survival goals in the catalogue (any "survive N days" resolves; see _survival_task).
_SURVIVAL_DAYS = (3,)
DAY_STEPS = 300  # crafter's day


def _budget(level: int) -> int:
    """Step budget doubling with tech-tree depth: 500 for bare-hand collecting, up to crafter's 10k."""
    return min(10_000, 500 * 2 ** level)


def _describe(recipe) -> str:
    def counts(m):
        return ", ".join(f"{n} {k}" for k, n in m.items())

    if recipe.kind == "collect":
        text = f"Collect {recipe.name} (do facing {recipe.source}"
        text += f"; needs {counts(recipe.tools)})" if recipe.tools else ")"
        return text[0].upper() + text[1:] + "."
    if recipe.kind == "place":
        return f"Place a {recipe.name} on {'/'.join(recipe.where)} (uses {counts(recipe.uses)})."
    return f"Make a {recipe.name} near a {' and a '.join(recipe.nearby)} (uses {counts(recipe.uses)})."


@functools.cache
def _crafter_tasks() -> tuple[Task, ...]:
    from rlgpt_cli.worlds.crafter import recipes

    levels = recipes.tech_levels()
    tasks = []
    for name in recipes.achievements():
        if name in _CREATURE_TASKS:
            description, budget = _CREATURE_TASKS[name]
        else:
            description, budget = _describe(recipes.requirements(name)), _budget(levels[name])
        tasks.append(Task(name=name, world="crafter", description=description,
                          achievements=(name,), max_steps=budget,
                          aliases=_ALIASES.get(name, ())))
    for name, (description, wanted, budget) in _GROUP_TASKS.items():
        tasks.append(Task(name=name, world="crafter", description=description,
                          achievements=tuple(wanted or recipes.achievements()),
                          max_steps=budget, aliases=_GROUP_ALIASES.get(name, ())))
    tasks += [survival_task(days) for days in _SURVIVAL_DAYS]
    return tuple(tasks)


def survival_task(days: int) -> Task:
    """Stay alive ``days`` Crafter days (300 steps each): the episode lasts exactly that long."""
    steps = days * DAY_STEPS
    name = f"survive_{days}_day" + ("s" if days > 1 else "")
    return Task(name=name, world="crafter", max_steps=steps, alive_steps=steps,
                description=f"Stay alive for {days} day{'s' if days > 1 else ''} ({steps} steps): drink, eat, "
                            "fight off zombies and spend the nights sheltered.")


# --- name resolution -------------------------------------------------------

_ARTICLES = {"a", "an", "the", "some", "one", "of", "to", "from", "with", "my", "your"}
# Words mapped to the vocabulary of crafter's names.
_SYNONYMS = {
    "log": "wood", "logs": "wood", "wooden": "wood", "plank": "wood", "planks": "wood",
    "craft": "make", "build": "make", "create": "make",
    "mine": "collect", "harvest": "collect", "gather": "collect", "chop": "collect",
    "get": "collect", "obtain": "collect", "acquire": "collect", "dig": "collect",
    "cobblestone": "stone", "ore": "", "crafting": "", "workbench": "table",
    "kill": "defeat", "fight": "defeat", "combat": "defeat", "slay": "defeat",
    "water": "drink", "seed": "sapling", "put": "place", "beef": "cow",
}
_VERBS = {"collect", "make", "place", "eat", "defeat", "drink", "hunt"}


def _words(text: str) -> list[str]:
    """Lower-case words with articles dropped, synonyms mapped and simple plurals singularised."""
    words = []
    for raw in re.split(r"[\s_\-]+", text.strip().lower()):
        word = _SYNONYMS.get(raw, raw)
        if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
            word = _SYNONYMS.get(word[:-1], word[:-1])
        if word and word not in _ARTICLES:
            words.append(word)
    return words


def _key(text: str) -> str:
    return "_".join(_words(text))


def _names(world: str) -> dict[str, Task]:
    """Every normalised name and alias of a world's tasks."""
    names: dict[str, Task] = {}
    for task in list_tasks(world):
        for name in (task.name, *task.aliases):
            names.setdefault(_key(name), task)
            names.setdefault(name, task)
    return names


def resolve_task(text: str, world: str = "crafter") -> Task:
    """The task ``text`` names in ``world``: a task name, an alias, or a short English phrase.

    Case, articles, plurals, spaces/underscores and common synonyms (log/wood,
    wooden/wood, craft/make, mine/collect ...) do not matter; "collect 5 logs"
    or "harvest_8_log" means holding that many. Raises NotFound for an unknown
    or ambiguous name, naming the nearest tasks.
    """
    tasks = list_tasks(world)
    if not tasks:
        worlds = sorted({w for w, _ in _catalogue()})
        raise NotFound(f"no tasks for world {world!r}{nearest(world, worlds)}")
    names = _names(world)
    if text in names:
        return names[text]
    words = _words(text)
    key = "_".join(words)
    if key in names:
        return names[key]
    counted = _survival_task(words, world) or _counted_task(words, world)
    if counted is not None:
        return counted
    # With the verb dropped, the object alone may name one task ("diamond", "stone pickaxe").
    obj = [w for w in words if w not in _VERBS]
    candidates = {t.name: t for n, t in names.items()
                  if obj and set(obj) <= set(n.split("_"))}
    if len(candidates) > 1 and words and words[0] in _VERBS:
        verb_matches = {n: t for n, t in candidates.items() if n.split("_")[0] == words[0]}
        candidates = verb_matches or candidates
    if len(candidates) > 1:
        exact = [t for t in candidates.values() if t.name.split("_", 1)[-1] == "_".join(obj)]
        if len(exact) == 1:
            return exact[0]
    if len(candidates) == 1:
        return next(iter(candidates.values()))
    if candidates:
        raise NotFound(f"{text!r} is ambiguous in {world}: {', '.join(sorted(candidates))}")
    raise NotFound(f"unknown {world} task {text!r}; nearest: {', '.join(_closest(key, tasks))}")


def _closest(key: str, tasks: list[Task], n: int = 3) -> list[str]:
    """The n task names (or aliases, shown as their task) most like ``key``, never empty."""
    import difflib

    spelled = {}
    for task in tasks:
        for name in (task.name, *task.aliases):
            spelled.setdefault(name, task.name)
    scored = sorted(spelled, key=lambda s: -difflib.SequenceMatcher(None, key, s).ratio())
    out: dict[str, str] = {}  # task name -> how it is shown
    for name in scored:
        if spelled[name] not in out:
            out[spelled[name]] = name if spelled[name] == name else f"{name} ({spelled[name]})"
        if len(out) == n:
            break
    return list(out.values())


def _survival_task(words: list[str], world: str) -> Task | None:
    """'survive 3 days' (or 'survive a day', 'survive for 2 days') → stay alive that long."""
    rest = [w for w in words if w != "for"]
    if world != "crafter" or not rest or rest[0] != "survive" or rest[-1] != "day" or len(rest) > 3:
        return None
    days = rest[1] if len(rest) == 3 else "1"
    top = 10_000 // DAY_STEPS  # crafter's episode length
    if not days.isdigit() or not 1 <= int(days) <= top:
        raise NotFound(f"crafter can judge survival for 1 to {top} days, not {days!r}")
    return survival_task(int(days))


def _counted_task(words: list[str], world: str) -> Task | None:
    """'collect 5 wood' → a task to hold 5 wood (Crafter items only, up to the cap of 9)."""
    numbers = [w for w in words if w.isdigit()]
    if world != "crafter" or len(numbers) != 1:
        return None
    from rlgpt_cli.worlds.crafter import recipes

    n = int(numbers[0])
    item = "_".join(w for w in words if not w.isdigit() and w not in _VERBS)
    stock = recipes.items()
    if item not in stock or item not in [r.name for r in recipes.recipes()]:
        raise NotFound(f"cannot count {item!r} in crafter{nearest(item, list(stock))}")
    if not 1 <= n <= stock[item]["max"]:
        raise NotFound(f"crafter holds at most {stock[item]['max']} {item}, not {n}")
    recipe = recipes.requirements(item)
    return Task(name=f"collect_{n}_{item}", world="crafter",
                description=f"Hold {n} {item}. " + _describe(recipe),
                inventory={item: n}, max_steps=_budget(recipes.tech_levels()[item] + 1))
