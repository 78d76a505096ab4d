"""The fast agent: a code skill for a ``code`` sub-action, an RL configuration for an ``rl`` one."""

from __future__ import annotations

import pprint
from typing import Any

from rlgpt_cli.agents import facts


def skill_source(answer, world: str) -> str:
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
    from rlgpt_cli.worlds.base import get_kit

    result = client.prompt("fast_agent_code", {
        "task": task.name, "subaction": sub, "api": get_kit(task.world).api_docs(),
        "library": library_skills, "feedback": feedback,
    })
    return result.parsed, result


def write_rl_config(client, task, sub: dict, library_skills: list[dict], feedback: list[dict],
                    *, total_steps: int, max_episode_steps: int):
    """Ask for an RL configuration; returns ``(RLConfig, ModelResult)``."""
    from rlgpt_cli.worlds.base import get_kit

    kit = get_kit(task.world)
    result = client.prompt("fast_agent_rl", {
        "task": task.name, "subaction": sub, "observation": kit.observation_docs(),
        "actions": list(kit.action_names), "library": library_skills, "feedback": feedback,
        "total_steps": total_steps, "max_episode_steps": max_episode_steps,
    })
    return result.parsed, result


def judge(client, task, sub: dict, kind: str, attempt: Any, results: dict):
    """The critic's judgement of one attempt; returns ``(Critique, ModelResult)``."""
    result = client.prompt("critic", {
        "task": task.name, "subaction": sub, "kind": kind, "attempt": attempt, "results": results,
    })
    return result.parsed, result
