"""Where the data folders shipped with rlgpt live: the built-in skill pack and prompts.

In a wheel the top-level ``skills/`` and ``prompts/`` folders are installed as
``rlgpt_cli/data/skills`` and ``rlgpt_cli/data/prompts``; in a source checkout (editable
install) they are found at the repository root.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


@cache
def data_dir(name: str) -> Path:
    """Path of a shipped data folder (``skills`` or ``prompts``)."""
    installed = _PACKAGE / "data" / name
    if installed.is_dir():
        return installed
    checkout = _PACKAGE.parent.parent / name
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"rlgpt's {name}/ folder is missing from this installation")


def builtin_skills_dir() -> Path:
    return data_dir("skills")


def builtin_prompts_dir() -> Path:
    return data_dir("prompts")
