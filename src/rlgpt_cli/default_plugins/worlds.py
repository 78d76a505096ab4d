"""The built-in worlds, Crafter and MineDojo, handed to the ``register_worlds`` hook.

``rlgpt_cli.worlds.base`` registers them when it is imported, so code that never loads plugins
still finds them; going through the hook as well makes them plugins like any other (listed by
``rlgpt plugins``), and a third-party plugin registering the same name replaces them, because
pluggy calls plugins loaded from entry points after the built-ins.
"""

from __future__ import annotations

from rlgpt_cli.hookspecs import hookimpl


@hookimpl
def register_worlds(register):
    from rlgpt_cli.worlds.base import BUILTIN_WORLDS

    for entry in BUILTIN_WORLDS:
        register(entry.name, entry.factory, description=entry.description, available=entry.available,
                 kit=entry.kit)
