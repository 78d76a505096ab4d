"""The built-in skill pack (the top-level ``skills/`` folder): Crafter's primitives wrapped as
code skills, and the ``goto_*`` macro-actions RL-GPT adds to a policy's action space.

The pack is read like any library skill (metadata by ``ast.literal_eval``, ``act`` compiled in
the sandbox when it runs); being shipped with rlgpt makes it trusted to exist, not to run
unsandboxed.
"""

from __future__ import annotations

from rlgpt_cli.hookspecs import hookimpl


def builtin_skills() -> list:
    """Every skill of the built-in pack, as ``rlgpt_cli.library.Skill`` records."""
    from rlgpt_cli.library import Library
    from rlgpt_cli.resources import builtin_skills_dir

    pack = builtin_skills_dir()
    # The pack folder read as a library that stores nothing (it has no manifest.json).
    return Library(pack, builtin_dirs=[pack]).list()


@hookimpl
def register_skills(register):
    for skill in builtin_skills():
        if skill.status == "ok":
            register(skill)
