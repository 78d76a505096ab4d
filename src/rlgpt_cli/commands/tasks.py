"""`rlgpt tasks`: the task catalogue."""

from __future__ import annotations

from typing import List, Optional

import typer

from rlgpt_cli.commands import state
from rlgpt_cli.output import columns, console, cut, emit

tasks_app = typer.Typer(help="The task catalogue: achievements, composite tasks, aliases.", no_args_is_help=True)


def _kind(task: dict) -> str:
    """How a task is judged: one achievement, items held, or several conditions together."""
    conditions = len(task["achievements"]) + len(task["inventory"])
    if conditions > 1:
        return "composite"
    return "achievement" if task["achievements"] else "item"


def _goal(task: dict) -> str:
    parts = task["achievements"] + [f"{k}>={v}" for k, v in task["inventory"].items()]
    if task["kind"] == "achievement" and parts == [task["name"]]:
        return ""  # the name says it
    return " + ".join(parts) if len(parts) <= 3 else f"{len(parts)} conditions"


def render_list(rows: list[dict]) -> None:
    """One section per world and kind, one line per task within the terminal's width."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for t in rows:
        groups.setdefault((t["world"], t["kind"]), []).append(t)
    for n, ((world, kind), tasks) in enumerate(sorted(groups.items())):
        goals = [cut(_goal(t), 24) for t in tasks]
        print(("\n" if n else "") + f"{world}: {kind} tasks ({len(tasks)})")
        if any(goals):
            columns(["name", "budget", "success", "description"],
                    [[t["name"], t["max_steps"], g, t["description"]] for t, g in zip(tasks, goals)], indent=2)
        else:
            columns(["name", "budget", "description"], [[t["name"], t["max_steps"], t["description"]] for t in tasks],
                    indent=2)


@tasks_app.command("list")
def list_(
    ctx: typer.Context,
    world: Optional[str] = typer.Option(None, "--world", "-w", "--env", "-e", metavar="WORLD", help="Only this world's tasks (default: the global --world or RLGPT_WORLD if given, else all worlds)."),
) -> None:
    """List the tasks agents can be asked to do, by world and kind."""
    from rlgpt_cli.worlds.tasks import list_tasks

    st = state(ctx)
    # Written before or after `tasks list`, --world means the same: only that world's tasks.
    world = world or (st.settings.world if st.settings.given("world") else None)
    tasks = [t.to_dict() for t in list_tasks(world)]
    for t in tasks:
        t["kind"] = _kind(t)
    emit(st, tasks, render_list)


@tasks_app.command("show")
def show(ctx: typer.Context, words: List[str] = typer.Argument(..., metavar="TASK", help='Task name, alias or phrase ("obtain diamond").')) -> None:
    """Resolve a task name or phrase and show the task."""
    from rlgpt_cli.worlds.tasks import resolve_task

    st = state(ctx)
    task = resolve_task(" ".join(words), world=st.settings.world).to_dict()
    task["kind"] = _kind(task)

    def human(t):
        c = console()
        c.print(f"[bold]{t['name']}[/bold] ({t['world']}, {t['kind']}): {t['description']}")
        if t["achievements"]:
            c.print(f"success: achievements {', '.join(t['achievements'])}")
        if t["inventory"]:
            c.print("success: holding " + ", ".join(f"{k} >= {v}" for k, v in t["inventory"].items()))
        c.print(f"default step budget: {t['max_steps']}")
        if t["aliases"]:
            c.print(f"aliases: {', '.join(t['aliases'])}")

    emit(st, task, human)


def register(app: typer.Typer) -> None:
    app.add_typer(tasks_app, name="tasks")
