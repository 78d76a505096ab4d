"""Crafter's kit (``worlds.base.WorldKit``): what the agents, the runner and the learner know
about Crafter, reached through ``worlds.base.get_kit("crafter")``."""

from __future__ import annotations

import math
from functools import cache, cached_property
from typing import Any

from rlgpt_cli.worlds.describe import describe_api, knowledge_facts
from rlgpt_cli.worlds.crafter import goals, recipes

# Published Crafter scores (Hafner 2021; SPRING, AdaRefiner, Achievement Distillation,
# DreamerV3 papers), at 1M env steps unless the name says otherwise, for the report.
PUBLISHED_SCORES = {
    "Human experts": 50.5, "AdaRefiner (5M steps)": 28.2, "SPRING (GPT-4, no training)": 27.3,
    "Achievement Distillation": 21.8, "Curious Replay": 19.4, "PPO-ResNet": 15.6, "DreamerV3": 14.5,
    "PPO (SB3)": 4.6, "Random": 1.6,
}


def crafter_score(rates: dict[str, float]) -> float:
    """Crafter's score: the geometric mean of the achievement success rates in percent, each
    offset by 1 (``exp(mean(ln(1 + s_i))) - 1``)."""
    if not rates:
        return 0.0
    return math.exp(sum(math.log(1 + 100 * r) for r in rates.values()) / len(rates)) - 1


def knowledge(task) -> dict[str, Any]:
    """What the world teaches about a task: the steps that reach it, in order, each with its
    nature (see ``goals``): recipe chains from crafter's data, the goals outside it, the whole
    benchmark, staying alive."""
    steps = goals.steps(task)
    return {"steps": steps, "facts": knowledge_facts(steps)}


@cache
def observation_docs() -> dict[str, Any]:
    """The symbolic observation as reward code and success expressions read it: every key,
    the id tables of the view's two channels, the inventory order, coordinates and facing."""
    from rlgpt_cli.worlds.crafter.observation import OBJECT_IDS

    return {
        "keys": ["view", "inventory", "daylight", "facing", "pos", "sleeping"],
        "view": "view[c][x][y]: 2 channels x 9 columns x 7 rows around the player, who is at [c][4][3]; "
                "x grows to the right, y downwards; channel 0 holds material ids, channel 1 object ids",
        "materials": {0: "outside the world", **{i + 1: m for i, m in enumerate(recipes.materials())}},
        "objects": {0: "none", **{i: o for o, i in OBJECT_IDS.items()}},
        "inventory": list(recipes.items()),
        "inventory_note": "obs['inventory'][i] is the count of the i-th name above (0..9); health, food, "
                          "drink and energy are the vitals (the player dies when health reaches 0)",
        "daylight": "obs['daylight'][0]: 1.0 by day, falling towards 0 at night (zombies spawn in the dark)",
        "facing": "obs['facing'] = (dx, dy): (1, 0) right, (-1, 0) left, (0, 1) down, (0, -1) up; "
                  "'do' and 'place_*' act on the cell pos + facing; a move action turns the player to face "
                  "its direction and steps there if the cell is free",
        "pos": "obs['pos'] = (x, y) in the 64x64 world, same axes as the view",
        "sleeping": "obs['sleeping'][0]: 1 while asleep",
        "info": "info['inventory'] and info['achievements'] map names to counts (achievements cumulative "
                "over the episode); info['unlocked'] lists the achievements this step unlocked",
    }


@cache
def _api_docs() -> list[dict[str, str]]:
    from rlgpt_cli.worlds.crafter.primitives import CrafterAPI

    return describe_api(CrafterAPI)


class CrafterKit:
    """Crafter through the world seam."""

    name = "crafter"

    @cached_property
    def action_names(self) -> list[str]:
        return recipes.actions()

    def make_env(self, task: str | None = None, **options):
        # Every Crafter task runs in the same world: the task does not change the env.
        from rlgpt_cli.worlds.crafter.env import CrafterWorld
        from rlgpt_cli.worlds.stats import logged

        return logged(CrafterWorld(**options), self.achievements())

    def new_api(self):
        from rlgpt_cli.worlds.crafter.primitives import CrafterAPI

        return CrafterAPI()

    def observation_space(self):
        from rlgpt_cli.worlds.crafter.observation import observation_space

        return observation_space()

    def observation_docs(self) -> dict:
        return observation_docs()

    def api_docs(self) -> list[dict[str, str]]:
        return _api_docs()

    def knowledge(self, task) -> dict:
        return knowledge(task)

    def achievements(self) -> list[str]:
        return recipes.achievements()

    def scores(self, rates: dict[str, float]) -> dict[str, float]:
        return {"crafter_score": crafter_score(rates)}

    def reference_scores(self) -> dict[str, float]:
        return dict(PUBLISHED_SCORES)
