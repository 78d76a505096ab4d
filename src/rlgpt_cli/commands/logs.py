"""`rlgpt logs`: the run store — runs, model calls, cost."""

from __future__ import annotations

import datetime as dt

import typer

from rlgpt_cli.commands import open_store, state
from rlgpt_cli.output import console, emit, table

logs_app = typer.Typer(help="Runs, model calls and their cost, from the run store.", no_args_is_help=True)


def _when(ts: float | None) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else ""


@logs_app.command("list")
def list_(ctx: typer.Context, limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many runs.")) -> None:
    """List recent runs, newest first."""
    st = state(ctx)
    store = open_store(st)
    runs = store.list_runs(limit)

    def human(rows):
        table(
            None,
            ["id", "command", "status", "exit", "started", "model calls", "cost $"],
            [[r["id"], r["command"], r["status"], r["exit_code"], _when(r["started_at"]),
              r["model_calls"], f"{r['cost_usd']:.4f}"] for r in rows],
        )

    emit(st, runs, human)


@logs_app.command("show")
def show(ctx: typer.Context, run_id: int = typer.Argument(..., help="Run id from `rlgpt logs list`.")) -> None:
    """Show one run: arguments, outcome, model calls with tokens and cost."""
    st = state(ctx)
    run = open_store(st).get_run(run_id)

    def human(r):
        c = console()
        c.print(f"[bold]run {r['id']}[/bold]  {r['command']}  status={r['status']} exit={r['exit_code']}")
        c.print(f"started {_when(r['started_at'])}  ended {_when(r['ended_at'])}")
        c.print(f"args {r['args']}")
        if r["message"]:
            c.print(f"message: {r['message']}")
        if r["model_calls"]:
            table(
                "model calls",
                ["model", "prompt", "tokens in", "tokens out", "cost $", "latency s", "cached", "error"],
                [[m["model"], m["prompt"], m["tokens_in"], m["tokens_out"], f"{m['cost_usd']:.5f}",
                  f"{m['latency_s']:.2f}", "yes" if m["cache_hit"] else "", m["error"] or ""]
                 for m in r["model_calls"]],
            )
        c.print(f"total cost ${r['cost_usd']:.4f}")

    emit(st, run, human)


@logs_app.command("path")
def path(ctx: typer.Context) -> None:
    """Print the path of the run store database."""
    st = state(ctx)
    emit(st, {"path": str(st.settings.db_path)}, lambda d: print(d["path"]))


def register(app: typer.Typer) -> None:
    app.add_typer(logs_app, name="logs")
