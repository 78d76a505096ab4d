"""Run a trained policy skill as a skill: a trusted `act(api, **params)` generator.

A policy skill (saved by `learn.subtask`) holds a state_dict and a config that says how the
network was trained: the observation, the action space (Crafter's native actions plus which
library skills were inserted as macro-actions, pinned to the versions trained with), the
termination expression and the PPO settings. Here that becomes a generator that, each step,
reads the latest raw observation the runner gave the API (`api.last_obs`), adds the action
mask, samples an action and yields it: a native action directly, a macro-action as its
skill's own actions (up to the step cap it had in training). It returns True once the
sub-task's success expression holds, False at its step cap.

`Library` attaches this as `Skill.entry` for policy skills, so `library.run_skill` and
`composer.run_episode` run policies exactly like code skills.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from rlgpt_cli.errors import LibraryError, SandboxError

# Networks rebuilt per skill version (sha256), so a stage run many times loads weights once.
_AGENTS: dict[str, object] = {}


def _agent(skill, config: dict, state_dict: dict | None = None):
    from gymnasium import spaces

    from rlgpt_cli.learn.ppo import Agent
    from rlgpt_cli.worlds.crafter.observation import observation_space

    key = skill.sha256 or f"{skill.name}@{skill.version}"
    if key not in _AGENTS:
        if state_dict is None:
            state_dict, config = skill.load_policy()
        network = config["network"]
        space = observation_space()
        if config["macro_actions"]:
            space = spaces.Dict({**space.spaces, "action_mask": spaces.MultiBinary(network["n_actions"])})
        agent = Agent(space, network["n_actions"], use_pos=network.get("use_pos", False))
        try:
            agent.load_state_dict(state_dict)
        except RuntimeError as exc:
            raise LibraryError(f"policy {skill.name} v{skill.version}: weights do not fit its network: "
                               f"{str(exc).splitlines()[0]}") from None
        _AGENTS[key] = agent.eval()
    return _AGENTS[key]


def _info(api, before: dict) -> dict:
    """The step info a success expression reads, rebuilt from the API's memory."""
    achievements = dict(api.achievements)
    unlocked = tuple(k for k, v in achievements.items() if v > 0 and before.get(k, 0) == 0)
    return {"achievements": achievements, "inventory": dict(api.inventory), "unlocked": unlocked}


def act(skill, library, api, max_steps: int | None = None, **_params) -> Iterator[str]:
    """The policy skill's generator: yields action names until success or `max_steps`."""
    from rlgpt_cli.learn.macro import NATIVE, MacroRunner, RewardSpec, load_macros
    from rlgpt_cli.worlds.crafter.env import ACTIONS

    state_dict, config = skill.load_policy()
    agent = _agent(skill, config, state_dict)
    termination = config["termination"]
    checks = RewardSpec(config["reward_code"], termination["success"], skill.name)
    runner = MacroRunner(load_macros(library, config["macro_actions"], config.get("macro_versions")))
    cap = max_steps or termination["max_episode_steps"]
    macro_cap = config["macro_step_cap"]
    deterministic = config.get("deterministic", False)
    start = api.step
    while api.step - start < cap:
        obs = api.last_obs
        if runner.skills:
            mask = np.concatenate([np.ones(NATIVE, bool), runner.mask(api)]).astype(np.int8)
            obs = {**obs, "action_mask": mask}
        action = agent.act(obs, deterministic=deterministic)
        before = dict(api.achievements)
        if action < NATIVE:
            yield ACTIONS[action]
        else:  # a macro-action, run as in training (learn.macro.SubtaskEnv._run_macro)
            taken, actor = 0, None
            limit = min(macro_cap, cap - (api.step - start))
            try:
                actor = runner.start(action - NATIVE, api)
                while taken < limit:
                    name = next(actor)
                    if name not in ACTIONS:
                        break
                    yield name
                    taken += 1
            except (StopIteration, SandboxError):
                pass  # the skill finished, or its code failed: the macro-action is over
            finally:
                if hasattr(actor, "close"):
                    actor.close()
            if taken == 0:  # as in training: a macro that did nothing still costs a step
                yield "noop"
        if checks.success(api.last_obs, _info(api, before)):
            return True
    return False
