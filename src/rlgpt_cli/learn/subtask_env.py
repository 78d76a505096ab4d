"""RL-GPT's mechanism: a sub-task environment whose action space holds coded macro-actions.

The fast agent's RL configuration (`models.schemas.RLConfig`) becomes a gymnasium env on
the task's world (`SubtaskEnv`); the macro-actions, their mask and the observation space
come from the skill runner (`runner.skills`), which also runs trained policies as skills.

* **Actions** = the world's native actions, then one action per macro-action (a library
  skill named in `macro_actions`). A macro-action runs its skill's generator (sandboxed for
  code skills) with the world's primitive API, kept current on every step, native ones
  included, until the skill returns, the sub-task ends, or `macro_step_cap` env steps have passed. To
  the learner it is ONE temporally extended action; `info["env_steps"]` says how many world
  steps it consumed, so sample efficiency is measured in env steps, not decisions. A skill
  that ends without acting still costs one `noop` step, so every decision advances the
  world and an episode always ends.
* **Masking.** The observation gains an `action_mask` (native actions always allowed); a
  macro-action is masked while its skill's `preconditions` fail against the API's memory
  (inventory counts held; `nearby` stations seen). `learn.ppo` masks those logits.
* **Reward** = the fast agent's `reward(prev, obs, info)` (compiled in the sandbox, called
  after every env step with symbolic observations and copies of the info) plus +1 when the
  sub-task succeeds, which also terminates the episode. A reward function that raises, or
  returns something that is not a finite number, stops training with a one-line
  `SandboxError` (nothing is caught and silently zeroed).
* **Success is the runner's**: the sub-action's own judge (`runner.checks.Judge`:
  the plan's success check, else its default rule) over the world's info since the start
  state, decided after the reward code returned — as a stage is judged in `run_stages`. The
  model's `termination.success` decides nothing here (not the +1, the episode end, or the
  success rates of training, validation and evaluation). A check that asks only that the
  player stay alive (`Judge.lasting`) is judged at the episode limit, which is then the
  sub-action's own duration (its ``steps`` parameter), not the model's.
* **Discounting of macro-actions.** A macro's reward is the discounted sum of its per-step
  rewards, sum_k gamma^k r_k, while the learner then discounts the next decision by gamma
  once (not gamma^k as a semi-MDP would). So time spent inside a macro is not penalised:
  the simplest honest choice for an off-the-shelf PPO; the success reward ends the episode,
  so a shorter route to it still wins through the step limit and the discount between
  decisions.
* **Start state.** Optional prefix `runner.episode.Stage`s (library skills of the earlier
  sub-actions of a plan) run at reset, so a sub-action later in a plan starts where it
  should. Their steps are counted in `info["env_steps"]` of the reset (`prefix_steps`).
* **Episode limit**: `termination.max_episode_steps` env steps after the start state
  (truncation; death terminates).
"""

from __future__ import annotations

import gymnasium as gym
from gymnasium import spaces

from rlgpt_cli.errors import UsageError
from rlgpt_cli.runner.checks import Judge, state_of
from rlgpt_cli.runner.episode import run_stages
from rlgpt_cli.runner.rewards import RewardSpec
from rlgpt_cli.runner.skills import MACRO_STEP_CAP, MacroActions, observation_space
from rlgpt_cli.settings import DEFAULT_WORLD

# A prefix that misses its start state (the tree was too far, the player died) is tried on
# the next world this many times before the sub-task starts from wherever it got to.
PREFIX_TRIES = 3


class SubtaskEnv(gym.Env):
    """One sub-task of a plan as a gymnasium env (see the module docstring).

    Args:
        rewards: the compiled reward function (`RewardSpec`).
        judge: what decides the sub-task's success (`runner.checks.judge_of` of the sub-action).
        macros: library skills inserted as macro-actions (may be empty: pure PPO).
        max_episode_steps: env steps after the start state before truncation.
        prefix: runner Stages run at reset to reach the start state.
        seed: the world's seed; `reset(seed=...)` overrides it.
        gamma: discount applied inside a macro-action (use the learner's).
        macro_step_cap: env steps one macro-action may take.
        macro_params: skill name -> parameters a macro-action runs its skill with (over its defaults).
        world: the registered world's name.
        task: the task the sub-task belongs to (worlds whose env depends on it, as MineDojo's).
        library: resolves macro-actions that are themselves policies.
    """

    metadata = {"render_modes": []}

    def __init__(self, rewards: RewardSpec, macros: list, max_episode_steps: int, *, judge: Judge, prefix: list = (),
                 seed: int | None = None, gamma: float = 0.99, macro_step_cap: int = MACRO_STEP_CAP,
                 world: str = DEFAULT_WORLD, task: str | None = None, library=None,
                 macro_params: dict[str, dict] | None = None):
        from rlgpt_cli.worlds.base import get_kit

        if max_episode_steps < 1 or macro_step_cap < 1:
            raise UsageError("max_episode_steps and macro_step_cap must be >= 1")
        self.kit = get_kit(world)
        self.rewards = rewards
        self.judge = judge
        self.native = list(self.kit.action_names)
        self.macros = MacroActions(list(macros), self.native, library=library, seed=seed, params=macro_params)
        self.macro_names = self.macros.names
        self.prefix = list(prefix)
        self.library = library
        self.max_episode_steps = max_episode_steps
        self.gamma = gamma
        self.macro_step_cap = macro_step_cap
        # The world never truncates by itself: the sub-task's own limit starts after the prefix.
        self.world = self.kit.make_env(task, seed=seed, length=None)
        self.action_names = self.native + self.macro_names
        self._index = {name: i for i, name in enumerate(self.native)}
        self.action_space = spaces.Discrete(self.macros.n_actions)
        self.observation_space = observation_space(self.kit, len(self.macros))
        self.total_env_steps = 0  # every world step this env has taken, prefixes included
        self.api = None
        self._obs: dict = {}
        self._info: dict = {}
        self._start: dict = {}  # the world's state at the start state: what success is judged against
        self._steps = 0

    # -- gymnasium API ---------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        prefix_steps = 0
        for attempt in range(PREFIX_TRIES):
            obs, info = self.world.reset(seed=seed if attempt == 0 else None)
            self.api = self.kit.new_api()
            self.api.observe(obs, info)
            run = run_stages(self.world, self.api, self.prefix, info, library=self.library)
            prefix_steps += run.steps
            if run.steps:
                obs, info = self.api.last_obs, run.info
            ok = run.ok
            if ok:
                break
        self.total_env_steps += prefix_steps
        self._obs, self._info, self._steps = obs, info, 0
        self._start = state_of(info)
        return self._observation(), {"env_steps": prefix_steps, "prefix_steps": prefix_steps, "prefix_ok": ok}

    def step(self, action):
        action = int(action)
        if not 0 <= action < self.action_space.n:
            raise UsageError(f"invalid action {action}: expected 0..{self.action_space.n - 1}")
        if action < len(self.native):
            total, done = self._world_step(action)
            steps, macro = 1, None
        else:
            macro = self.macro_names[action - len(self.native)]
            total, steps, done = self._run_macro(action - len(self.native))
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
        # Judged by the runner from the world's own info, after the reward code returned.
        success = self.judge.succeeded_at(self._start, info, self.api, steps=self._steps,
                                          limit=self.max_episode_steps, alive=not dead)
        if success:
            reward += 1.0
        return reward, (success or dead, success)

    def _run_macro(self, index: int) -> tuple[float, int, tuple[bool, bool]]:
        total, discount, steps = 0.0, 1.0, 0
        done = (False, False)
        cap = min(self.macro_step_cap, self.max_episode_steps - self._steps)
        actions = self.macros.actions(index, self.api, cap)
        try:
            for name in actions:
                reward, done = self._world_step(self._index[name])
                total += discount * reward
                discount *= self.gamma
                steps += 1
                if done[0]:
                    break
        finally:
            actions.close()
        return total, steps, done

    def _observation(self) -> dict:
        return self.macros.observe(self._obs, self.api)
