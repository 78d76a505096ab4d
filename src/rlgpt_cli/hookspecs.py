"""The hooks rlgpt plugins implement (pluggy project name ``rlgpt``).

Every hook receives a ``register`` callable (or the Typer app) rather than returning
values, as in simonw/llm: a plugin can register any number of things, and a hook that
registers nothing costs nothing. ``docs/plugins.md`` describes each hook for authors.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("rlgpt")
hookimpl = pluggy.HookimplMarker("rlgpt")


@hookspec
def register_skills(register):
    """Register skills: call ``register(skill)`` with a ``rlgpt_cli.library.Skill`` for each.

    The skill library registers one plugin per stored skill through this hook; a package
    may register trusted code skills whose ``entry`` is a plain generator function.
    """


@hookspec
def register_worlds(register):
    """Register worlds: call ``register(name, factory, description="", available=None, kit=None)``
    (the signature of ``rlgpt_cli.worlds.base.register_world``). ``factory(**options)``
    returns a gymnasium environment with ``action_names`` (the ``World`` interface), ``kit()``
    returns the world's ``WorldKit`` (actions, observation space, primitive API, planner
    knowledge, achievements, API docs: what the agents and the runner need);
    ``available()`` returns ``(ok, reason)`` without starting the world."""


@hookspec
def register_tasks(register):
    """Register tasks for a world: call ``register(task)`` with a task description (name,
    world, goal, success test) that ``rlgpt plan`` and ``rlgpt learn`` can resolve by name."""


@hookspec
def register_models(register):
    """Register model providers: call ``register(provider, handler)`` for each, where
    ``provider`` is the prefix of the model names it answers (``rlgpt`` for ``rlgpt/offline``)
    and ``handler`` a ``litellm.CustomLLM`` instance. Called once, when litellm is first
    imported (so a plugin may import litellm inside its implementation)."""


@hookspec
def register_commands(app):
    """Add CLI commands: attach commands or sub-apps to ``app``, the ``rlgpt`` Typer app."""
