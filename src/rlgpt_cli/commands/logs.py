"""`rlgpt logs`: the run store — runs, model calls, cost."""

from __future__ import annotations

import typer

from rlgpt_cli.commands import open_store, state
from rlgpt_cli.output import columns, console, emit
from rlgpt_cli.settings import LIMITS

logs_app = typer.Typer(help="Runs, model calls and their cost, from the run store.", no_args_is_help=True)


@logs_app.command("list")
def list_(ctx: typer.Context, limit: int = typer.Option(20, "--limit", "-n", min=1, max=LIMITS["limit"][1], help="How many runs.")) -> None:
    """List recent runs, newest first."""
    st = state(ctx)
    store = open_store(st)
    runs = store.list_runs(limit)

    def human(rows):
        columns(["id", "command", "status", "exit", "started", "model calls", "cost $"],
                [[r["id"], r["command"], r["status"], r["exit_code"], r["started_at"], r["model_calls"],
                  f"{r['cost_usd']:.4f}"] for r in rows])

    emit(st, runs, human)


def _content(message: dict) -> str:
    content = message.get("content")
    if isinstance(content, list):  # multi-part messages: their text parts
        content = "\n".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content or "").rstrip("\n")


def render_call(c, n: int, call: dict) -> None:
    """One model call, readable: what it cost, then the conversation as it was sent and answered."""
    served = call.get("served_model")
    who = call["model"] + (f" (served by {served})" if served and not call["model"].endswith(served) else "")
    facts = [f"{call['tokens_in']} in / {call['tokens_out']} out tokens", f"${call['cost_usd']:.5f}",
             f"{call['latency_s']:.2f} s"]
    if call["cache_hit"]:
        facts.append("cached")
    c.print(f"[bold]call {n}[/bold] {call['prompt'] or ''}: ", end="")
    c.print(f"{who}; {', '.join(facts)}", markup=False)
    if call["error"]:
        c.print(f"error: {call['error']}", style="red", markup=False)
    if call.get("messages") is None and call.get("response") is None:
        c.print("(recorded before conversations were kept)", style="dim")
    for message in call.get("messages") or []:
        c.print(f"── {message.get('role', '?')}", style="dim")
        c.print(_content(message), markup=False)
    if call.get("response") is not None:
        c.print("── response", style="dim")
        c.print(call["response"].rstrip("\n"), markup=False)
    c.print()


@logs_app.command("show")
def show(ctx: typer.Context, run_id: int = typer.Argument(..., metavar="ID", min=1, max=LIMITS["id"][1], help="Run id from `rlgpt logs list`.")) -> None:
    """Show one run: arguments, outcome, and each model call's prompt, response, tokens and cost."""
    st = state(ctx)
    run = open_store(st).get_run(run_id)

    def human(r):
        c = console()
        c.print(f"[bold]run {r['id']}[/bold]  {r['command']}  status={r['status']} exit={r['exit_code']}")
        c.print(f"started {r['started_at']}  ended {r['ended_at'] or '-'}")
        c.print(f"args {r['args']}", markup=False)
        if r["message"]:
            c.print(f"message: {r['message']}", markup=False)
        c.print()
        for n, call in enumerate(r["calls"], 1):
            render_call(c, n, call)
        c.print(f"{r['model_calls']} model calls, total cost ${r['cost_usd']:.4f}")

    emit(st, run, human)


@logs_app.command("path")
def path(ctx: typer.Context) -> None:
    """Print the path of the run store database."""
    st = state(ctx)
    emit(st, {"path": str(st.settings.db_path)}, lambda d: print(d["path"]))


def register(app: typer.Typer) -> None:
    app.add_typer(logs_app, name="logs")
