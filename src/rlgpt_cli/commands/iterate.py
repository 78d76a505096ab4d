"""`rlgpt iterate TASK`: the two loops of RL-GPT, resumable."""

from __future__ import annotations

from typing import List, Optional

import typer

from rlgpt_cli.commands import open_store, recorded_run, state
from rlgpt_cli.errors import BudgetExceeded, Interrupted, RlgptError, TaskFailed
from rlgpt_cli.output import console, emit, table
from rlgpt_cli.progress import for_command
from rlgpt_cli.workspace import model_label
from rlgpt_cli.settings import LIMITS


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
    if report.get("current"):
        table(f"outer iteration {report['outer'] + 1} (plan {report['plan_id']}): not finished",
              ["sub-action", "kind", "status", "success"],
              [[r["name"], r["kind"], r["status"], "" if r["success_rate"] is None else f"{r['success_rate']:.0%}"]
               for r in report["current"]])
    c.print(f"state: {report['state_path']}")
    if report.get("resume"):
        c.print(f"resume: {report['resume']}", markup=False)


def current_subactions(s: dict) -> list[dict]:
    """The current plan's sub-actions with their kind, status (pending, ok, failed) and result."""
    latest = {f["subaction"]: f for f in s["feedback"] if f.get("outer") == s["outer"] + 1}
    rows = []
    for sub in (s["plan"] or {}).get("subactions", []):
        done = latest.get(sub["name"])
        rows.append({"name": sub["name"], "kind": sub["kind"],
                     "status": "pending" if not done else ("ok" if done["success"] else "failed"),
                     "success_rate": done.get("success_rate") if done else None})
    return rows


def live_view(s: dict):
    """The loops as they run: the current plan's sub-actions with their kind and result."""
    from rich.table import Table

    cfg = s["config"]
    t = Table(title=f"iterate {s['task']}: outer {min(s['outer'] + 1, cfg['outer'])}/{cfg['outer']}, "
                    f"{s['env_steps']:,}/{cfg['max_steps']:,} env steps, ${s['cost_usd']:.4f}")
    for col in ("sub-action", "kind", "status", "success"):
        t.add_column(col)
    for r in current_subactions(s):
        t.add_row(r["name"], r["kind"], r["status"], "" if r["success_rate"] is None else f"{r['success_rate']:.0%}")
    return t


def iterate(
    ctx: typer.Context,
    words: Optional[List[str]] = typer.Argument(None, metavar="TASK", help='The task ("obtain diamond"); omit with --resume.'),
    outer: int = typer.Option(3, "--outer", min=1, max=20, help="Outer-loop iterations (slow agent)."),
    inner: int = typer.Option(3, "--inner", min=1, max=10, help="Inner-loop attempts per sub-action (fast agent)."),
    episodes: int = typer.Option(5, "--episodes", "-n", min=1, max=100, help="Evaluation episodes per attempt."),
    max_steps: int = typer.Option(1_000_000, "--max-steps", min=1, max=LIMITS["steps"][1], help="Env-step budget for all evaluation and training."),
    max_cost: Optional[float] = typer.Option(None, "--max-cost", min=0, max=LIMITS["cost"][1], help="Model cost budget (USD)."),
    max_calls: Optional[int] = typer.Option(None, "--max-calls", min=1, max=LIMITS["calls"][1], help="Model call budget."),
    target: float = typer.Option(0.5, "--target", min=0, max=1, help="Task success rate that ends the loops (default: most episodes)."),
    rl_steps: int = typer.Option(50_000, "--rl-steps", min=1, max=LIMITS["steps"][1], help="Training steps per rl sub-action."),
    resume: Optional[int] = typer.Option(None, "--resume", min=1, max=LIMITS["id"][1], help="Continue the iterate run with this id."),
) -> None:
    """Plan, code or learn each sub-action, judge, revise: until TASK succeeds or a budget ends."""
    from rlgpt_cli.iterate import IterateConfig, Loops, load_state, new_state, state_path
    from rlgpt_cli.workspace import model_client, open_library
    from rlgpt_cli.worlds.tasks import resolve_task

    st = state(ctx)
    settings = st.settings
    if not words and resume is None:
        raise typer.BadParameter("give a TASK, or --resume RUN")
    args = {"task": " ".join(words or []), "outer": outer, "inner": inner, "max_steps": max_steps, "resume": resume}
    progress = for_command(st)
    with recorded_run(st, "iterate", args) as run_id:
        store = open_store(st)
        open_library(settings).check_writable()  # the loops save every skill they make
        if resume is not None:
            path = state_path(settings.runs_dir, resume)
            saved = load_state(path)
            config = IterateConfig(**{**saved["config"], "outer": max(outer, saved["config"]["outer"]),
                                      "max_steps": max(max_steps, saved["config"]["max_steps"])})
            saved["config"] = config.__dict__
            if saved["status"] != "succeeded":  # budget, interrupted, failed or finished: go on
                saved["status"] = "running"
            saved["cost_base"] = saved.get("cost_usd", 0.0)
            task = resolve_task(saved["task"], world=saved["world"])
            progress.log(f"resuming iterate run {resume} at outer iteration {saved['outer'] + 1}")
        else:
            task = resolve_task(" ".join(words), world=settings.world)
            config = IterateConfig(outer=outer, inner=inner, episodes=episodes, max_steps=max_steps,
                                   target=target, rl_steps=rl_steps)
            path = state_path(settings.runs_dir, run_id)
            saved = new_state(task, config, run_id, settings.model)
        client = model_client(settings, store, max_cost, max_calls)
        progress.log(f"iterate {task.name}: models {model_label(settings.model)}; state {path}")
        failure: RlgptError | None = None
        loops = Loops(settings, task, saved, path, client, store, config, log=progress.log, progress=progress)
        if progress.live:  # the plan's table above the running phases
            progress.header = live_view(saved)
            loops.view = lambda s: setattr(progress, "header", live_view(s))
        try:
            with progress, progress.phase(f"iterate {task.name}", unit="env steps used",
                                          poll=lambda: loops.state["env_steps"]):
                loops.run()
        except (KeyboardInterrupt, Interrupted):
            loops.state["status"] = "interrupted"
            loops.save()
            failure = Interrupted("interrupted")
        except RlgptError as exc:  # a budget ran out, the model or the world failed: state is saved
            if loops.state["status"] == "running":
                loops.state["status"] = "budget" if isinstance(exc, BudgetExceeded) else "failed"
                loops.save()
            failure = exc
        final = loops.state
        report = {k: v for k, v in final.items() if k not in ("feedback", "plan", "cost_base")}
        report.update(current=current_subactions(final), state_path=str(path), model=settings.model, run_id=run_id, iterate_run=final["run_id"],
                      resume=None if final["status"] == "succeeded" else
                      resume_command(settings, final, failure, max_calls=max_calls, max_cost=max_cost))
        if final["status"] != "succeeded":
            if not st.json:
                render(report)
            raise _ended(failure, task.name, final, config, report)
    emit(st, report, render)


def resume_command(settings, final: dict, failure, *, max_calls: int | None, max_cost: float | None) -> str:
    """The exact command that continues this iterate run: the same global options and budgets,
    more env steps when those ran out, more outer iterations when they were all used."""
    import shlex

    from rlgpt_cli.settings import OFFLINE_MODEL

    words = ["rlgpt"]
    if settings.model != OFFLINE_MODEL:
        words += ["--model", settings.model]
    if settings.library is not None:
        words += ["--library", str(settings.library)]
    if settings.seed:
        words += ["--seed", str(settings.seed)]
    words += ["iterate", "--resume", str(final["run_id"])]
    if final["status"] == "finished":
        words += ["--outer", str(final["outer"] + 2)]
    if final["env_steps"] >= final["config"]["max_steps"]:
        words += ["--max-steps", str(2 * final["config"]["max_steps"])]
    if max_calls is not None:
        words += ["--max-calls", str(max_calls)]
    if max_cost is not None:
        words += ["--max-cost", str(max_cost)]
    return shlex.join(words)


def _ended(failure, task_name: str, final: dict, config, report: dict):
    """The error an unsuccessful iterate ends with: what happened, what is saved, how to resume."""
    where = (f"saved {report['state_path']} after {final['outer']} outer iteration(s)"
             + (f", sub-actions done: {', '.join(final['done'])}" if final["done"] and final["plan"] else ""))
    how = f"resume with: {report['resume']}"
    if isinstance(failure, Interrupted):
        return Interrupted(f"interrupted; {where}; {how}", details=report)
    if failure is not None:
        return type(failure)(f"{failure.message}; {where}; {how}", details=report)
    best = max((it["task_success_rate"] for it in final["iterations"]), default=0.0)
    return TaskFailed(f"{task_name} reached {best:.0%} (target {config.target:.0%}) after "
                      f"{final['outer']} outer iteration(s); {how}", details=report)


def register(app: typer.Typer) -> None:
    app.command("iterate")(iterate)
