"""The fast agent: a code skill for a ``code`` sub-action, an RL configuration for an ``rl`` one."""

from __future__ import annotations

import inspect
import pprint
from functools import cache
from typing import Any

from rlgpt_cli.agents import facts


@cache
def api_docs() -> list[dict[str, str]]:
    """The primitive API as the prompt shows it: each public method's signature and docstring."""
    from rlgpt_cli.worlds.crafter.primitives import CrafterAPI

    docs = [{"name": "api", "doc": inspect.getdoc(CrafterAPI) or ""}]
    for name, fn in inspect.getmembers(CrafterAPI, inspect.isfunction):
        if name.startswith("_") or name == "observe":
            continue
        sig = str(inspect.signature(fn)).replace("(self, ", "(").replace("(self)", "()")
        docs.append({"name": f"api.{name}{sig}", "doc": inspect.getdoc(fn) or ""})
    return docs


def skill_source(answer, world: str = "crafter") -> str:
    """A library skill file: the ``SKILL`` metadata written by rlgpt, then the model's code."""
    meta = {
        "name": answer.skill,
        "description": answer.description,
        "world": world,
        "preconditions": facts.parse(answer.preconditions),
        "effects": facts.parse(answer.effects),
        "params": answer.params,
    }
    header = f'"""{answer.description}"""\n\nSKILL = {pprint.pformat(meta, sort_dicts=False, width=100)}\n\n\n'
    return header + answer.source.strip() + "\n"


def write_code(client, task, sub: dict, library_skills: list[dict], feedback: list[dict]):
    """Ask for a code skill; returns ``(CodeAnswer, ModelResult)``."""
    result = client.prompt("fast_agent_code", {
        "task": task.name, "subaction": sub, "api": api_docs(),
        "library": library_skills, "feedback": feedback,
    })
    return result.parsed, result


def write_rl_config(client, task, sub: dict, library_skills: list[dict], feedback: list[dict],
                    *, total_steps: int, max_episode_steps: int):
    """Ask for an RL configuration; returns ``(RLConfig, ModelResult)``."""
    from rlgpt_cli.worlds.crafter import recipes

    result = client.prompt("fast_agent_rl", {
        "task": task.name, "subaction": sub,
        # The symbolic observation's keys, and the item order of its inventory vector.
        "observation": {"keys": ["view", "inventory", "daylight", "facing", "pos", "sleeping"],
                        "inventory": list(recipes.items())},
        "actions": recipes.actions(), "library": library_skills, "feedback": feedback,
        "total_steps": total_steps, "max_episode_steps": max_episode_steps,
    })
    return result.parsed, result


def judge(client, task, sub: dict, kind: str, attempt: Any, results: dict):
    """The critic's judgement of one attempt; returns ``(Critique, ModelResult)``."""
    result = client.prompt("critic", {
        "task": task.name, "subaction": sub, "kind": kind, "attempt": attempt, "results": results,
    })
    return result.parsed, result
