"""`rlgpt tasks`: the task catalogue."""

from __future__ import annotations

from typing import Optional

import typer

from rlgpt_cli.commands import state
from rlgpt_cli.output import console, emit, table

tasks_app = typer.Typer(help="The task catalogue: achievements, composite tasks, aliases.", no_args_is_help=True)


@tasks_app.command("list")
def list_(
    ctx: typer.Context,
    world: Optional[str] = typer.Option(None, "--world", "-w", "--env", "-e", help="Only this world's tasks (default: the global --world or RLGPT_WORLD if given, else all worlds)."),
) -> None:
    """List the tasks agents can be asked to do."""
    from rlgpt_cli.worlds.tasks import list_tasks

    st = state(ctx)
    # Written before or after `tasks list`, --world means the same: only that world's tasks.
    world = world or (st.settings.world if st.settings.given("world") else None)
    tasks = [t.to_dict() for t in list_tasks(world)]

    def human(rows):
        table(None, ["name", "world", "success", "budget", "description"],
              [[t["name"], t["world"],
                " + ".join(t["achievements"] + [f"{k}>={v}" for k, v in t["inventory"].items()]),
                t["max_steps"], t["description"]] for t in rows])

    emit(st, tasks, human)


@tasks_app.command("show")
def show(ctx: typer.Context, name: str = typer.Argument(..., help='Task name, alias or phrase ("obtain diamond").')) -> None:
    """Resolve a task name or phrase and show the task."""
    from rlgpt_cli.worlds.tasks import resolve_task

    st = state(ctx)
    task = resolve_task(name, world=st.settings.world).to_dict()

    def human(t):
        c = console()
        c.print(f"[bold]{t['name']}[/bold] ({t['world']}): {t['description']}")
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
