"""Crafter (Hafner 2021) as rlgpt's default world.

Nothing heavy is imported here: ``CrafterWorld``, ``CrafterVectorEnv`` and ``make_vector_env`` load
crafter, numpy, numba and gymnasium on first use.
"""

from __future__ import annotations

__all__ = ["CrafterVectorEnv", "CrafterWorld", "make_vector_env"]


def __getattr__(name: str):
    if name in __all__:
        from rlgpt_cli.worlds.crafter import env

        return getattr(env, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
