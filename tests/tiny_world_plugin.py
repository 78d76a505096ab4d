"""A tiny world as a plugin file (copied into RLGPT_HOME/plugins by tests/test_world_seam.py).

A strip of five cells with one tree; two items, ``log`` and ``plank``; one recipe (a plank
from a log). Everything rlgpt needs from a world comes through ``register_worlds`` (the env
factory and the kit) and ``register_tasks``: the proof that the world seam is real.
"""

import numpy as np
from gymnasium import Env, spaces

from rlgpt_cli.hookspecs import hookimpl
from rlgpt_cli.worlds.tasks import Task

CELLS = 5
ACTIONS = ["noop", "move_left", "move_right", "do", "make_plank"]
ITEMS = ["log", "plank"]
ACHIEVEMENTS = ["collect_log", "make_plank"]


class TinyEnv(Env):
    """The player starts at cell 0; the tree stands at cell 2, 3 or 4 (by seed). ``do`` next to
    the tree gives a log; ``make_plank`` turns a log into a plank."""

    action_names = ACTIONS

    def __init__(self, seed=None, length=100):
        self.length = length
        self.observation_space = observation_space()
        self.action_space = spaces.Discrete(len(ACTIONS))
        self._seed = seed

    def reset(self, *, seed=None, options=None):
        seed = self._seed if seed is None else seed
        self.tree = 2 + (seed or 0) % 3
        self.pos, self.steps = 0, 0
        self.inventory = {"log": 0, "plank": 0}
        self.achievements = {a: 0 for a in ACHIEVEMENTS}
        return self._obs(), self._info(())

    def step(self, action):
        name = ACTIONS[int(action)]
        unlocked = []
        if name == "move_left":
            self.pos = max(0, self.pos - 1)
        elif name == "move_right" and self.pos + 1 != self.tree:
            self.pos = min(CELLS - 1, self.pos + 1)
        elif name == "do" and self.pos + 1 == self.tree:
            self.inventory["log"] += 1
            unlocked.append("collect_log")
        elif name == "make_plank" and self.inventory["log"] >= 1:
            self.inventory["log"] -= 1
            self.inventory["plank"] += 1
            unlocked.append("make_plank")
        for a in unlocked:
            self.achievements[a] += 1
        self.steps += 1
        truncated = self.length is not None and self.steps >= self.length
        return self._obs(), float(len(unlocked)), False, truncated, self._info(tuple(unlocked))

    def render(self):
        return np.zeros((8, 8 * CELLS, 3), np.uint8)

    def _obs(self):
        view = np.zeros(CELLS, np.uint8)
        view[self.tree] = 1
        return {"view": view, "pos": np.array([self.pos], np.int16),
                "inventory": np.array([self.inventory[i] for i in ITEMS], np.uint8)}

    def _info(self, unlocked):
        return {"achievements": dict(self.achievements), "inventory": dict(self.inventory), "unlocked": unlocked}


def observation_space():
    return spaces.Dict({"view": spaces.Box(0, 1, (CELLS,), np.uint8), "pos": spaces.Box(0, CELLS, (1,), np.int16),
                        "inventory": spaces.Box(0, 255, (len(ITEMS),), np.uint8)})


class TinyAPI:
    """What a code skill sees in the tiny world: the player's cell, the tree's cell, the inventory."""

    def __init__(self):
        self.step, self.pos, self.tree = -1, 0, None
        self.inventory, self.achievements, self.last_obs = {i: 0 for i in ITEMS}, {}, None

    def observe(self, obs, info=None):
        self.step += 1
        self.last_obs = obs
        self.pos = int(obs["pos"][0])
        self.tree = int(np.flatnonzero(obs["view"])[0])
        self.inventory = {name: int(obs["inventory"][i]) for i, name in enumerate(ITEMS)}
        if info:
            self.achievements = dict(info["achievements"])

    def seen(self, target):
        return [self.tree] if target == "tree" and self.tree is not None else []

    def collect(self, material, n=1):
        """Walk to the tree and chop until ``n`` more of ``material`` (log) are held. [generator]"""
        goal = self.inventory.get(material, 0) + n
        for _ in range(50):
            if self.inventory.get(material, 0) >= goal:
                return True
            yield "move_right" if self.pos + 1 < self.tree else "do"
        return False

    def make(self, item):
        """Make one ``item`` (plank) from a log. [generator]"""
        before = self.inventory.get(item, 0)
        yield "make_" + item
        return self.inventory.get(item, 0) > before

    def place(self, item):
        """Nothing can be placed in the tiny world. [generator]"""
        yield "noop"
        return False

    def explore(self, steps=10, hint=None):
        """Walk right. [generator]"""
        for _ in range(steps):
            yield "move_right"

    def survive(self):
        """Nothing threatens the player here. [generator]"""
        return
        yield


TinyAPI.__sandbox_attrs__ = frozenset({"collect", "make", "place", "explore", "survive", "seen", "pos", "tree",
                                       "inventory", "achievements", "step"})


class TinyKit:
    name = "tiny"
    action_names = ACTIONS

    def make_env(self, task=None, **options):
        return TinyEnv(**options)

    def new_api(self):
        return TinyAPI()

    def observation_space(self):
        return observation_space()

    def observation_docs(self):
        return {"keys": ["view", "pos", "inventory"], "inventory": ITEMS}

    def api_docs(self):
        return [{"name": f"api.{n}", "doc": getattr(TinyAPI, n).__doc__} for n in ("collect", "make")]

    def knowledge(self, task):
        log = {"kind": "collect", "target": "log", "action": "do", "count": 1, "source": "tree",
               "preconditions": {}, "nearby": [], "effects": {"log": 1}, "placed": None, "achievement": None}
        plank = {"kind": "make", "target": "plank", "action": "make_plank", "count": 1, "source": None,
                 "preconditions": {"log": 1}, "nearby": [], "effects": {"log": -1, "plank": 1}, "placed": None,
                 "achievement": "make_plank"}
        steps = [log] if task.name == "collect_log" else [log, plank]
        return {"steps": steps, "facts": [f"{s['kind']} {s['target']}" for s in steps]}

    def achievements(self):
        return list(ACHIEVEMENTS)

    def scores(self, rates):
        return {}

    def reference_scores(self):
        return {}


@hookimpl
def register_worlds(register):
    register("tiny", TinyEnv, description="Five cells, a tree, logs and planks", kit=TinyKit)


@hookimpl
def register_tasks(register):
    register(Task(name="collect_log", world="tiny", description="Chop a log.", achievements=("collect_log",),
                  max_steps=60))
    register(Task(name="make_plank", world="tiny", description="Make a plank.", achievements=("make_plank",),
                  max_steps=60))
