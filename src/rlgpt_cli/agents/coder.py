"""The fast agent: a code skill for a ``code`` sub-action, an RL configuration for an ``rl`` one."""

from __future__ import annotations

import pprint
from typing import Any

from rlgpt_cli.agents import facts


def skill_source(answer, world: str) -> str:
    """A library skill file: the model's code first, so the line numbers errors report are the
    model's own, then the ``SKILL`` metadata, written by rlgpt from the sub-action."""
    meta = {
        "name": answer.skill,
        "description": answer.description,
        "world": world,
        "preconditions": facts.parse(answer.preconditions),
        "effects": facts.parse(answer.effects),
        "params": answer.params,
    }
    return (answer.source.strip() + "\n\n\n# Metadata written by rlgpt, not by the model.\n"
            f"SKILL = {pprint.pformat(meta, sort_dicts=False, width=100)}\n")


def binds_skill(source: str) -> bool:
    """Whether code assigns the name ``SKILL``: only rlgpt writes a skill's name and metadata."""
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False  # the sandbox reports the syntax error
    return any(isinstance(node, ast.Name) and node.id == "SKILL" and isinstance(node.ctx, ast.Store)
               for node in ast.walk(tree))


def start_state(prefix: list) -> dict:
    """Where a sub-action starts: after the plan's earlier sub-actions (``runner.episode.Stage``s)
    ran on a fresh world, with what their effects promise."""
    return {"after": [stage.name for stage in prefix],
            "expected": [f for stage in prefix
                         for f in facts.to_strings(stage.effects.get("inventory", {}), stage.effects.get("nearby", []))]}


def write_code(client, task, sub: dict, library_skills: list[dict], feedback: list[dict], prefix: list = ()):
    """Ask for a code skill; returns ``(CodeAnswer, ModelResult)``."""
    from rlgpt_cli.worlds.base import get_kit

    kit = get_kit(task.world)
    result = client.prompt("fast_agent_code", {
        "task": task.name, "subaction": sub, "api": kit.api_docs(), "actions": list(kit.action_names),
        "observation": {k: v for k, v in kit.observation_docs().items() if k in ("materials", "objects", "inventory")},
        "start": start_state(list(prefix)), "library": library_skills, "feedback": feedback[-2:],
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


def judge_task(client, task, plan: list[dict], results: dict, target: float):
    """The critic's judgement of a whole-task evaluation; returns ``(TaskCritique, ModelResult)``."""
    result = client.prompt("task_critic", {"task": task.name, "plan": plan, "results": results, "target": target})
    return result.parsed, result
