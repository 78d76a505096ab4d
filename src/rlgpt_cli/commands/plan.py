"""`rlgpt plan TASK`: the slow agent's decomposition; `rlgpt plan show ID`."""

from __future__ import annotations

from typing import List, Optional

import typer

from rlgpt_cli.commands import open_store, recorded_run, state
from rlgpt_cli.errors import UsageError
from rlgpt_cli.output import console, emit, info, table
from rlgpt_cli.workspace import model_label
from rlgpt_cli.settings import LIMITS


def render_plan(record: dict) -> None:
    plan = record["plan"]
    c = console()
    c.print(f"[bold]plan {record['id']}[/bold] for {record['task']} ({record['world']}) "
            f"by {model_label(record['model'])}")
    table(None, ["#", "sub-action", "kind", "reason", "needs", "gives", "success"],
          [[i + 1, s["name"] + (f" → {s['skill']}" if s.get("skill") and s["skill"] != s["name"] else "")
            + (f"({', '.join(f'{k}={v!r}' for k, v in s['params'].items())})" if s.get("params") else ""),
            s["kind"], s["reason"], ", ".join(s["preconditions"]), ", ".join(s["effects"]), s["success"]]
           for i, s in enumerate(plan["subactions"])])
    if plan.get("notes"):
        c.print(plan["notes"])


def plan(
    ctx: typer.Context,
    words: List[str] = typer.Argument(..., metavar="TASK", help='The task ("obtain diamond"), or `show ID`.'),
    max_cost: Optional[float] = typer.Option(None, "--max-cost", min=0, max=LIMITS["cost"][1], help="Stop before spending more (USD)."),
    max_calls: Optional[int] = typer.Option(None, "--max-calls", min=1, max=LIMITS["calls"][1], help="Stop after this many model calls."),
) -> None:
    """Ask the slow agent to split TASK into sub-actions marked code, rl or reuse."""
    st = state(ctx)
    if words[0] == "show":
        if len(words) != 2 or not words[1].isdigit():
            raise UsageError("usage: rlgpt plan show ID")
        record = open_store(st).get_plan(int(words[1]))
        emit(st, record, render_plan)
        return
    task_text = " ".join(words)
    with recorded_run(st, "plan", {"task": task_text}):
        from rlgpt_cli.usecases import plan_task
        from rlgpt_cli.workspace import model_client, open_library
        from rlgpt_cli.worlds.tasks import resolve_task

        task = resolve_task(task_text, world=st.settings.world)
        store = open_store(st)
        client = model_client(st.settings, store, max_cost, max_calls)
        record = plan_task(client, store, task, open_library(st.settings))
    if record["cached"]:
        info(st, "model answer: cached")
    emit(st, record, render_plan)


def register(app: typer.Typer) -> None:
    app.command("plan")(plan)
