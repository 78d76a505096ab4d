"""The fast agent's reward function and success expression, compiled in the sandbox."""

from __future__ import annotations

import ast
import copy
import math

import numpy as np

from rlgpt_cli import sandbox
from rlgpt_cli.errors import SandboxError


class RewardCodeError(SandboxError):
    """The reward function or success expression failed (raised, or returned a non-number)."""


def _symbolic_copy(obs: dict) -> dict:
    # The reward code gets its own arrays: nothing it does can reach the policy's input.
    return {k: np.array(v) for k, v in obs.items()}


def _info_copy(info: dict) -> dict:
    # Nor the info that the runner judges success and episode ends by. Its values are flat
    # containers (name -> count, lists of names): copying one level deep is a full copy, and
    # costs far less than deepcopy on every step.
    return {k: copy.copy(v) if isinstance(v, (dict, list, set)) else np.array(v) if isinstance(v, np.ndarray) else v
            for k, v in info.items()}


class RewardSpec:
    """``reward(prev, obs, info)`` and ``success(obs, info)``, both run in the sandbox.

    A reward function that raises, or returns something that is not a finite number, raises
    :class:`RewardCodeError` (nothing is caught and silently zeroed).
    """

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
            value = self._reward.call("reward", _symbolic_copy(prev), _symbolic_copy(obs), _info_copy(info))
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
            return bool(self._success.call("success", _symbolic_copy(obs), _info_copy(info)))
        except SandboxError as exc:
            raise RewardCodeError(f"termination.success for {self.name} failed: {exc.message}") from None
