"""`rlgpt iterate TASK`: the two loops of RL-GPT, resumable."""

from __future__ import annotations

import sys
from typing import List, Optional

import typer

from rlgpt_cli.commands import open_store, recorded_run, state
from rlgpt_cli.errors import TaskFailed
from rlgpt_cli.output import console, emit, info, table
from rlgpt_cli.workspace import model_label


def render(report: dict) -> None:
    c = console()
    c.print(f"[bold]iterate {report['task']}[/bold] ({report['world']}) by {model_label(report['model'])}: "
            f"{report['status']} after {report['outer']} outer iteration(s), {report['env_steps']} env steps, "
            f"${report['cost_usd']:.4f}")
    for it in report["iterations"]:
        table(f"outer iteration {it['outer']} (plan {it['plan_id']}): task success {it['task_success_rate']:.0%}",
              ["sub-action", "kind", "success"],
              [[s["name"], s["kind"], "" if s["success_rate"] is None else f"{s['success_rate']:.0%}"]
               for s in it["subactions"]])
    c.print(f"state: {report['state_path']}")


def live_view(s: dict):
    """The loops as they run: the current plan's sub-actions with their kind and result."""
    from rich.table import Table

    cfg = s["config"]
    t = Table(title=f"iterate {s['task']}: outer {min(s['outer'] + 1, cfg['outer'])}/{cfg['outer']}, "
                    f"{s['env_steps']:,}/{cfg['max_steps']:,} env steps, ${s['cost_usd']:.4f}")
    for col in ("sub-action", "kind", "status", "success"):
        t.add_column(col)
    latest = {f["subaction"]: f for f in s["feedback"] if f.get("outer") == s["outer"] + 1}
    for sub in (s["plan"] or {}).get("subactions", []):
        done = latest.get(sub["name"])
        rate = done.get("success_rate") if done else None
        status = "pending" if not done else ("ok" if done["success"] else "failed")
        t.add_row(sub["name"], sub["kind"], status, "" if rate is None else f"{rate:.0%}")
    return t


def iterate(
    ctx: typer.Context,
    words: Optional[List[str]] = typer.Argument(None, metavar="TASK", help='The task ("obtain diamond"); omit with --resume.'),
    outer: int = typer.Option(3, "--outer", min=1, max=20, help="Outer-loop iterations (slow agent)."),
    inner: int = typer.Option(3, "--inner", min=1, max=10, help="Inner-loop attempts per sub-action (fast agent)."),
    episodes: int = typer.Option(5, "--episodes", "-n", min=1, max=100, help="Evaluation episodes per attempt."),
    max_steps: int = typer.Option(1_000_000, "--max-steps", min=1, help="Env-step budget for all evaluation and training."),
    max_cost: Optional[float] = typer.Option(None, "--max-cost", min=0, help="Model cost budget (USD)."),
    max_calls: Optional[int] = typer.Option(None, "--max-calls", min=1, help="Model call budget."),
    target: float = typer.Option(0.5, "--target", min=0, max=1, help="Task success rate that ends the loops (default: most episodes)."),
    rl_steps: int = typer.Option(50_000, "--rl-steps", min=1, help="Training steps per rl sub-action."),
    resume: Optional[int] = typer.Option(None, "--resume", help="Continue the iterate run with this id."),
) -> None:
    """Plan, code or learn each sub-action, judge, revise: until TASK succeeds or a budget ends."""
    from rlgpt_cli.iterate import IterateConfig, Loops, load_state, new_state, state_path
    from rlgpt_cli.workspace import model_client
    from rlgpt_cli.worlds.tasks import resolve_task

    st = state(ctx)
    settings = st.settings
    if not words and resume is None:
        raise typer.BadParameter("give a TASK, or --resume RUN")
    args = {"task": " ".join(words or []), "outer": outer, "inner": inner, "max_steps": max_steps, "resume": resume}
    with recorded_run(st, "iterate", args) as run_id:
        store = open_store(st)
        if resume is not None:
            path = state_path(settings.runs_dir, resume)
            saved = load_state(path)
            config = IterateConfig(**{**saved["config"], "outer": max(outer, saved["config"]["outer"]),
                                      "max_steps": max(max_steps, saved["config"]["max_steps"])})
            saved["config"] = config.__dict__
            if saved["status"] in ("budget", "running"):
                saved["status"] = "running"
            saved["cost_base"] = saved.get("cost_usd", 0.0)
            task = resolve_task(saved["task"], world=saved["world"])
            info(st, f"resuming iterate run {resume} at outer iteration {saved['outer'] + 1}")
        else:
            task = resolve_task(" ".join(words), world=settings.world)
            config = IterateConfig(outer=outer, inner=inner, episodes=episodes, max_steps=max_steps,
                                   target=target, rl_steps=rl_steps)
            path = state_path(settings.runs_dir, run_id)
            saved = new_state(task, config, run_id, settings.model)
        client = model_client(settings, store, max_cost, max_calls)
        info(st, f"iterate {task.name}: models {model_label(settings.model)}; state {path}")
        loops = Loops(settings, task, saved, path, client, store, config, log=lambda m: info(st, m))
        if st.json or st.quiet or not sys.stderr.isatty():
            final = loops.run()
        else:
            from rich.live import Live

            from rlgpt_cli.output import console as make_console

            with Live(live_view(saved), console=make_console(stderr=True), refresh_per_second=4) as live:
                loops.view = lambda s: live.update(live_view(s))
                loops.log = live.console.print
                final = loops.run()
        report = {k: v for k, v in final.items() if k not in ("feedback", "plan")}
        report["state_path"] = str(path)
        report["model"] = settings.model
        if final["status"] != "succeeded":
            if st.json:
                emit(st, report)
            best = max((it["task_success_rate"] for it in final["iterations"]), default=0.0)
            raise TaskFailed(f"{task.name} reached {best:.0%} (target {config.target:.0%}) after "
                             f"{final['outer']} outer iteration(s); resume with: rlgpt iterate --resume "
                             f"{final['run_id']} --outer {final['outer'] + 2}")
    emit(st, report, render)


def register(app: typer.Typer) -> None:
    app.command("iterate")(iterate)
