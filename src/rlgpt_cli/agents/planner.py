"""The slow agent: split a task into sub-actions marked code, rl or reuse."""

from __future__ import annotations

from typing import Any

from rlgpt_cli.errors import UsageError


def knowledge(task) -> dict[str, Any]:
    """What the world teaches about a task: the recipe-graph steps that reach it, in order.

    Steps for several achievements chain: each starts from what the previous ones left.
    """
    if task.world != "crafter":
        raise UsageError(f"the planner knows no recipe graph for world {task.world!r}")
    from rlgpt_cli.worlds.crafter import recipes

    inventory = {name: info["initial"] for name, info in recipes.items().items()}
    placed: tuple[str, ...] = ()
    steps: list[dict] = []
    targets = list(task.achievements) + [k for k in task.inventory if not task.achievements]
    for target in targets:
        for step in recipes.plan_for(target, inventory, placed):
            d = step.to_dict()
            steps.append(d)
            for item, delta in d["effects"].items():
                inventory[item] = inventory.get(item, 0) + delta
            if d["placed"]:
                placed += (d["placed"],)
    for item, n in task.inventory.items():  # "collect 5 wood": the last collect takes n
        for d in reversed(steps):
            if d["kind"] == "collect" and d["target"] == item:
                d["count"] = max(d["count"], n)
                d["effects"][item] = max(d["effects"][item], n)
                break
    return {
        "steps": steps,
        "facts": [f"{d['kind']} {d['target']}" + (f" x{d['count']}" if d["count"] > 1 else "")
                  + (f" needs {d['preconditions']}" if d["preconditions"] else "")
                  + (f" near {', '.join(d['nearby'])}" if d["nearby"] else "") for d in steps],
    }


def catalogue(library) -> list[dict[str, Any]]:
    """The library as the planner reads it: each skill's best version and its measured success."""
    out = []
    for skill in library.list():
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
