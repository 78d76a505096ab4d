"""RL-GPT's mechanism: a sub-task environment whose action space holds coded macro-actions.

The fast agent's RL configuration (`models.schemas.RLConfig`) becomes a gymnasium env on
Crafter (`SubtaskEnv`):

* **Actions** = Crafter's 17 native actions, then one action per macro-action (a library
  skill named in `macro_actions`). A macro-action runs its skill's generator (sandboxed for
  code skills) with a `CrafterAPI` that is kept current on every step, native ones included,
  until the skill returns, the sub-task ends, or `macro_step_cap` env steps have passed. To
  the learner it is ONE temporally extended action; `info["env_steps"]` says how many world
  steps it consumed, so sample efficiency is measured in env steps, not decisions. A skill
  that ends without acting still costs one `noop` step, so every decision advances the
  world and an episode always ends.
* **Masking.** The observation gains an `action_mask` (native actions always allowed); a
  macro-action is masked while its skill's `preconditions` fail against the API's memory
  (inventory counts held; `nearby` stations seen). `learn.ppo` masks those logits.
* **Reward** = the fast agent's `reward(prev, obs, info)` (compiled in the sandbox, called
  after every env step with symbolic observations) plus +1 when the sub-task's success
  expression (`termination.success`, compiled in the sandbox as one expression over `obs`
  and `info`) holds, which also terminates the episode. A reward function that raises, or
  returns something that is not a finite number, stops training with a one-line
  `SandboxError` (nothing is caught and silently zeroed).
* **Discounting of macro-actions.** A macro's reward is the discounted sum of its per-step
  rewards, sum_k gamma^k r_k, while the learner then discounts the next decision by gamma
  once (not gamma^k as a semi-MDP would). So time spent inside a macro is not penalised:
  the simplest honest choice for an off-the-shelf PPO; the success reward ends the episode,
  so a shorter route to it still wins through the step limit and the discount between
  decisions.
* **Start state.** Optional prefix `composer.Stage`s (library skills of the earlier
  sub-actions of a plan) run at reset, so a sub-action later in a plan starts where it
  should. Their steps are counted in `info["env_steps"]` of the reset (`prefix_steps`).
* **Episode limit**: `termination.max_episode_steps` env steps after the start state
  (truncation; death terminates).
"""

from __future__ import annotations

import ast
import math
from typing import Any, Iterator

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from rlgpt_cli import sandbox
from rlgpt_cli.errors import LibraryError, SandboxError, UsageError
from rlgpt_cli.worlds.crafter.env import ACTIONS, CrafterWorld

NATIVE = len(ACTIONS)
MACRO_STEP_CAP = 100
# A prefix that misses its start state (the tree was too far, the player died) is tried on
# the next world this many times before the sub-task starts from wherever it got to.
PREFIX_TRIES = 3


class RewardCodeError(SandboxError):
    """The reward function or success expression failed (raised, or returned a non-number)."""


def _symbolic_copy(obs: dict) -> dict:
    # The reward code gets its own arrays: nothing it does can reach the policy's input.
    return {k: np.array(v) for k, v in obs.items()}


class RewardSpec:
    """The fast agent's reward function and success expression, compiled in the sandbox."""

    def __init__(self, reward_code: str, success: str, name: str, limits: sandbox.Limits | None = None):
        self.name = name
        try:
            tree = ast.parse(success.strip(), mode="eval")
        except SyntaxError as exc:
            raise SandboxError(f"{name}: termination.success is not one Python expression: {exc.msg}") from None
        # Rebuilt from the parsed expression, so the success text cannot smuggle in statements.
        source = f"def success(obs, info):\n    return bool({ast.unparse(tree.body)})\n"
        self._reward = sandbox.load_module(reward_code, f"{name}-reward", limits=limits, seed=0)
        self._success = sandbox.load_module(source, f"{name}-success", limits=limits, seed=0)
        if not self._reward.has("reward"):
            raise SandboxError(f"{name}: reward code defines no reward(prev, obs, info)")

    def reward(self, prev: dict, obs: dict, info: dict) -> float:
        try:
            value = self._reward.call("reward", _symbolic_copy(prev), _symbolic_copy(obs), info)
        except SandboxError as exc:
            raise RewardCodeError(f"reward code for {self.name} failed: {exc.message}") from None
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise RewardCodeError(f"reward code for {self.name} returned {type(value).__name__} {value!r:.40}, "
                               "not a number")
        value = float(value)
        if not math.isfinite(value):
            raise RewardCodeError(f"reward code for {self.name} returned {value} (must be a finite number)")
        return value

    def success(self, obs: dict, info: dict) -> bool:
        try:
            return bool(self._success.call("success", _symbolic_copy(obs), info))
        except SandboxError as exc:
            raise RewardCodeError(f"termination.success for {self.name} failed: {exc.message}") from None


def preconditions_hold(skill, api) -> bool:
    """A skill's `preconditions` against the API's memory: inventory counts held, stations seen."""
    pre = skill.preconditions or {}
    if not all(api.inventory.get(item, 0) >= n for item, n in (pre.get("inventory") or {}).items()):
        return False
    return all(api.seen(station) for station in (pre.get("nearby") or []))


def load_macros(library, names: list[str], versions: dict[str, int] | None = None) -> list:
    """The library skills named as macro-actions (a given version where one is pinned)."""
    skills = []
    for name in names:
        version = (versions or {}).get(name)
        skill = library.get(name, version)
        if skill.status != "ok":
            raise LibraryError(f"macro-action {name} is broken: {skill.problem}")
        skills.append(skill)
    return skills


class MacroRunner:
    """Starts macro-action skills; a code skill's sandboxed module is compiled once, not per call."""

    def __init__(self, skills: list, seed: int | None = None):
        self.skills = skills
        self._modules: dict[int, Any] = {}
        self._seed = seed

    def start(self, index: int, api) -> Iterator[str]:
        skill = self.skills[index]
        if skill.kind != "code" or skill.entry is not None:
            return skill.start(api)
        if index not in self._modules:
            self._modules[index] = skill.load(seed=self._seed)
        return self._modules[index].start("act", api, **skill.params)

    def mask(self, api) -> np.ndarray:
        return np.array([preconditions_hold(s, api) for s in self.skills], dtype=bool)


class SubtaskEnv(gym.Env):
    """One sub-task of a plan as a gymnasium env (see the module docstring).

    Args:
        rewards: the compiled reward function and success expression (`RewardSpec`).
        macros: library skills inserted as macro-actions (may be empty: pure PPO).
        max_episode_steps: env steps after the start state before truncation.
        prefix: composer Stages run at reset to reach the start state.
        seed: the world's seed (see `CrafterWorld`); `reset(seed=...)` overrides it.
        gamma: discount applied inside a macro-action (use the learner's).
        macro_step_cap: env steps one macro-action may take.
    """

    metadata = {"render_modes": []}

    def __init__(self, rewards: RewardSpec, macros: list, max_episode_steps: int, *, prefix: list = (),
                 seed: int | None = None, gamma: float = 0.99, macro_step_cap: int = MACRO_STEP_CAP):
        from rlgpt_cli.worlds.crafter.observation import observation_space

        if max_episode_steps < 1 or macro_step_cap < 1:
            raise UsageError("max_episode_steps and macro_step_cap must be >= 1")
        self.rewards = rewards
        self.runner = MacroRunner(list(macros), seed=seed)
        self.macro_names = [s.name for s in macros]
        self.prefix = list(prefix)
        self.max_episode_steps = max_episode_steps
        self.gamma = gamma
        self.macro_step_cap = macro_step_cap
        # The world never truncates by itself: the sub-task's own limit starts after the prefix.
        self.world = CrafterWorld(seed=seed, length=None)
        self.action_names = list(ACTIONS) + self.macro_names
        self.action_space = spaces.Discrete(NATIVE + len(macros))
        inner = observation_space()
        self.observation_space = inner if not macros else spaces.Dict(
            {**inner.spaces, "action_mask": spaces.MultiBinary(NATIVE + len(macros))})
        self.total_env_steps = 0  # every world step this env has taken, prefixes included
        self.api = None
        self._obs: dict = {}
        self._info: dict = {}
        self._steps = 0

    # -- gymnasium API ---------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        from rlgpt_cli.composer import stage_success
        from rlgpt_cli.library import run_skill
        from rlgpt_cli.worlds.crafter.primitives import CrafterAPI

        prefix_steps = 0
        for attempt in range(PREFIX_TRIES):
            obs, info = self.world.reset(seed=seed if attempt == 0 else None)
            self.api = CrafterAPI()
            self.api.observe(obs, info)
            ok = True
            for stage in self.prefix:
                before = info
                res = run_skill(stage.skill, self.world, self.api, max_steps=stage.max_steps, params=stage.params)
                prefix_steps += res.steps
                if res.info:
                    obs, info = self.api.last_obs, res.info
                if res.terminated or not stage_success(stage, before, info):
                    ok = False
                    break
            if ok:
                break
        self.total_env_steps += prefix_steps
        self._obs, self._info, self._steps = obs, info, 0
        return self._observation(), {"env_steps": prefix_steps, "prefix_steps": prefix_steps, "prefix_ok": ok}

    def step(self, action):
        action = int(action)
        if not 0 <= action < self.action_space.n:
            raise UsageError(f"invalid action {action}: expected 0..{self.action_space.n - 1}")
        if action < NATIVE:
            total, done = self._world_step(action)
            steps, macro = 1, None
        else:
            macro = self.macro_names[action - NATIVE]
            total, steps, done = self._run_macro(action - NATIVE)
        terminated, success = done
        truncated = not terminated and self._steps >= self.max_episode_steps
        info = {**self._info, "success": success, "env_steps": steps, "macro": macro}
        return self._observation(), total, terminated, truncated, info

    # -- internals ---------------------------------------------------------------------

    def _world_step(self, action: int) -> tuple[float, tuple[bool, bool]]:
        """One env step: the fast agent's reward plus the success signal; (terminated, success)."""
        prev = self._obs
        obs, _, dead, _, info = self.world.step(action)
        self.api.observe(obs, info)
        self._obs, self._info = obs, info
        self._steps += 1
        self.total_env_steps += 1
        reward = self.rewards.reward(prev, obs, info)
        success = self.rewards.success(obs, info)
        if success:
            reward += 1.0
        return reward, (success or dead, success)

    def _run_macro(self, index: int) -> tuple[float, int, tuple[bool, bool]]:
        total, discount, steps = 0.0, 1.0, 0
        done = (False, False)
        cap = min(self.macro_step_cap, self.max_episode_steps - self._steps)
        actor = None
        try:
            actor = self.runner.start(index, self.api)
            while steps < cap and not done[0]:
                name = next(actor)
                if name not in ACTIONS:
                    break
                reward, done = self._world_step(ACTIONS.index(name))
                total += discount * reward
                discount *= self.gamma
                steps += 1
        except RewardCodeError:
            raise  # the fast agent's reward code failed, not the skill: training stops
        except (StopIteration, SandboxError):
            pass  # the skill finished, or its code failed or was stopped: the macro-action is over
        finally:
            if hasattr(actor, "close"):
                actor.close()
        if steps == 0:  # ended without acting: still one step of world time
            total, done = self._world_step(ACTIONS.index("noop"))
            steps = 1
        return total, steps, done

    def _observation(self) -> dict:
        if not self.macro_names:
            return self._obs
        mask = np.concatenate([np.ones(NATIVE, bool), self.runner.mask(self.api)])
        return {**self._obs, "action_mask": mask.astype(np.int8)}
