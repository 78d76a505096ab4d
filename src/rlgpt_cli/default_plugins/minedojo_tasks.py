"""MineDojo's programmatic tasks (harvest_log, techtree_*, combat_*) for the task catalogue."""

from __future__ import annotations

from rlgpt_cli.hookspecs import hookimpl


@hookimpl
def register_tasks(register):
    # The adapter's module imports only the standard library; MineDojo itself is never loaded here.
    from rlgpt_cli.worlds.minedojo import register_minedojo_tasks

    register_minedojo_tasks(register)
