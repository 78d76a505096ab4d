"""The slow agent: split a task into sub-actions marked code, rl or reuse."""

from __future__ import annotations

from typing import Any


def knowledge(task) -> dict[str, Any]:
    """What the task's world teaches about it (its kit's recipe graph or equivalent)."""
    from rlgpt_cli.worlds.base import get_kit

    return get_kit(task.world).knowledge(task)


def catalogue(library, world: str | None = None) -> list[dict[str, Any]]:
    """The library as the planner reads it (only ``world``'s skills when given): each skill's
    best version and its measured success."""
    out = []
    for skill in library.list(world=world):
        if getattr(skill, "status", "ok") != "ok":
            continue
        metrics = skill.metrics or {}
        out.append({
            "name": skill.name, "version": skill.version, "kind": skill.kind,
            "description": skill.description, "params": skill.params,
            "preconditions": skill.preconditions, "effects": skill.effects,
            "success_rate": metrics.get("success_rate"), "episodes": metrics.get("episodes"),
        })
    return out


def make_plan(client, task, library_skills: list[dict], feedback: list[dict] | None = None):
    """Ask the slow agent for a plan; returns ``(Plan, ModelResult)``."""
    result = client.prompt("slow_agent", {
        "task": task.to_dict(),
        "world": task.world,
        "knowledge": knowledge(task),
        "library": library_skills,
        "feedback": feedback or [],
    })
    return result.parsed, result
