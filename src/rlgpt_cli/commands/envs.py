"""`rlgpt envs`: the worlds rlgpt can run, and whether each can start here."""

from __future__ import annotations

import typer

from rlgpt_cli.commands import state
from rlgpt_cli.output import console, emit, table

envs_app = typer.Typer(help="Worlds: Crafter (built in) and MineDojo (real Minecraft).", no_args_is_help=True)


def _describe(entry) -> dict:
    ok, reason = entry.status()
    return {"name": entry.name, "description": entry.description, "available": ok, "note": reason}


@envs_app.command("list")
def list_(ctx: typer.Context) -> None:
    """List registered worlds and whether each can start on this machine."""
    from rlgpt_cli.worlds.base import list_worlds

    st = state(ctx)
    rows = [_describe(e) for e in list_worlds()]
    emit(st, rows, lambda rs: table(None, ["name", "available", "note", "description"],
                                    [[r["name"], "yes" if r["available"] else "no", r["note"], r["description"]]
                                     for r in rs]))


@envs_app.command("show")
def show(ctx: typer.Context, name: str = typer.Argument(..., help="World name.")) -> None:
    """Show one world: availability, actions, observation and tasks."""
    from rlgpt_cli.worlds.base import get_entry, get_kit
    from rlgpt_cli.worlds.tasks import list_tasks

    st = state(ctx)
    entry = get_entry(name)
    data = _describe(entry)
    if entry.kit is not None:
        kit = get_kit(name)
        data["actions"] = list(kit.action_names)
        data["observation"] = kit.observation_docs()
    data["tasks"] = [t.name for t in list_tasks(name)]

    def human(d):
        c = console()
        c.print(f"[bold]{d['name']}[/bold]: {d['description']}")
        c.print(f"available: {'yes' if d['available'] else 'no'} {d['note']}")
        if d.get("actions"):
            c.print(f"actions ({len(d['actions'])}): {', '.join(d['actions'])}")
        c.print(f"tasks ({len(d['tasks'])}): {', '.join(d['tasks'])}")

    emit(st, data, human)


def register(app: typer.Typer) -> None:
    app.add_typer(envs_app, name="envs")
