"""`rlgpt run TASK`: run a task by composing library skills, and report how well it does."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from rlgpt_cli.commands import open_store, recorded_run, state
from rlgpt_cli.output import console, emit, table
from rlgpt_cli.progress import for_command
from rlgpt_cli.workspace import model_label
from rlgpt_cli.settings import LIMITS


def render(report: dict) -> None:
    from rlgpt_cli.reports import scores_text

    c = console()
    c.print(f"[bold]{report['task']}[/bold] ({report['world']}): success "
            f"[bold]{report['success_rate']:.0%}[/bold] over {report['episodes']} episodes on held-out seeds "
            f"{report['seeds'][0]}..{report['seeds'][-1]} (step budget {report['max_steps']})"
            + (f"; {scores}" if (scores := scores_text(report)) else ""))
    table("sub-tasks", ["sub-task", "skill", "success", "failures"],
          [[k, report["skills"].get(k, ""), f"{v['success_rate']:.0%}",
            ", ".join(f"{c}: {n}" for c, n in v["failures"].items())] for k, v in report["subtasks"].items()])
    table("achievements", ["achievement", "rate"], [[k, f"{v:.0%}"] for k, v in report["achievements"].items()])
    if report.get("files"):
        c.print(f"report: {report['files']['markdown']}")
    if report.get("recording"):
        c.print(f"recording: {report['recording']}")


def run(
    ctx: typer.Context,
    words: List[str] = typer.Argument(..., metavar="TASK", help='The task ("obtain diamond").'),
    episodes: int = typer.Option(10, "--episodes", "-n", min=1, max=10_000, help="Episodes to run."),
    seeds: Optional[str] = typer.Option(None, "--seeds", help="Seeds, e.g. 1,2,5-8 (default: held-out seeds)."),
    record: Optional[Path] = typer.Option(None, "--record", help="Record the first episode at 512 px: .mp4 (with the 'video' extra; else a .gif beside it) or .gif."),
    record_steps: Optional[int] = typer.Option(None, "--record-steps", min=1, max=LIMITS["episode_steps"][1], help="Record only the first N steps (default: the whole episode)."),
    stats_dir: Optional[Path] = typer.Option(None, "--stats-dir", help="Also append crafter's stats.jsonl lines (one per episode) in DIR; the run folder always gets them."),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", min=1, max=LIMITS["episode_steps"][1], help="Step budget per episode."),
    plan_id: Optional[int] = typer.Option(None, "--plan", min=1, max=LIMITS["id"][1],
                                          help="Run this stored plan (default: the one iterate validated, else a new one)."),
    guard: bool = typer.Option(False, "--guard", help="Hand control to the library's survival_guard whenever the player is in danger, mid-stage (off by default: it does not beat running without it yet, see benchmarks/deaths.py)."),
) -> None:
    """Run TASK with the library's skills on held-out seeds; success, sub-task and achievement rates."""
    from rlgpt_cli import seeds as seed_policy
    from rlgpt_cli.errors import UsageError
    from rlgpt_cli.reports import save_report
    from rlgpt_cli.settings import usable_dir
    from rlgpt_cli.usecases import evaluate_task, plan_task
    from rlgpt_cli.workspace import model_client, open_library
    from rlgpt_cli.worlds.tasks import resolve_task

    st = state(ctx)
    if record is not None and record.suffix.lower() not in (".gif", ".mp4"):
        raise UsageError(f"--record must name a .mp4 or .gif file, got {record}")
    # Before any episode runs: a recording or stats that cannot be written would be lost at the end.
    if record is not None:
        usable_dir(record.parent, "--record's folder")
        if record.is_dir():
            raise UsageError(f"--record {record} is a folder; name the .mp4 or .gif file to write")
    if stats_dir is not None:
        usable_dir(stats_dir, "--stats-dir")
    seed_list = seed_policy.parse(seeds) if seeds else seed_policy.held_out(episodes, st.settings.seed)
    task_text = " ".join(words)
    with recorded_run(st, "run", {"task": task_text, "episodes": len(seed_list)}) as run_id, \
            for_command(st) as progress, progress.phase(f"run {task_text}"):
        store = open_store(st)
        task = resolve_task(task_text, world=st.settings.world)
        library = open_library(st.settings)
        plan_id = plan_id or store.validated_plan(task.name, task.world)
        if plan_id is not None:
            # The plan iterate validated (or the one asked for): what was measured is what runs.
            plan = store.get_plan(plan_id)
            if (plan["task"], plan["world"]) != (task.name, task.world):
                raise UsageError(f"plan {plan_id} is for {plan['task']} ({plan['world']}), not {task.name}")
        else:
            # The slow agent's plan over the library: sub-actions with good skills are reused.
            with progress.phase("plan (slow agent)"):
                plan = plan_task(model_client(st.settings, store), store, task, library)
        progress.log(f"plan {plan['id']} by {model_label(plan['model'])}: "
                     + " -> ".join(s["name"] for s in plan["plan"]["subactions"]))
        folder = st.settings.runs_dir / f"run-{run_id}"
        report = evaluate_task(task, plan["plan"]["subactions"], library, seed_list, max_steps=max_steps,
                               record=record, record_steps=record_steps,
                               stats_dirs=[folder, *([stats_dir] if stats_dir else [])], progress=progress,
                               guard=guard)
        if record is not None and report["recording"] and Path(report["recording"]).suffix != record.suffix:
            progress.log(f"no MP4 without ffmpeg (pip install 'rlgpt-cli[video]'); wrote {report['recording']}")
        report["plan_id"], report["model"] = plan["id"], plan["model"]
        report["files"] = save_report(folder, report, model_label(plan["model"]))
        report["files"]["stats"] = str(folder / "stats.jsonl")
        store.add_evaluation(task.name, task.world, "composed library skills", report["episodes"], seed_list,
                             report["success_rate"], {k: v for k, v in report.items() if k != "episode_details"})
    emit(st, report, render)


def register(app: typer.Typer) -> None:
    app.command("run")(run)
