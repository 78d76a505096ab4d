"""`rlgpt code --subtask NAME`: the fast agent writes a code skill, evaluated and saved."""

from __future__ import annotations

from typing import Optional

import typer

from rlgpt_cli.commands import open_store, recorded_run, state
from rlgpt_cli.errors import NotFound, TaskFailed, nearest
from rlgpt_cli.output import console, emit, info
from rlgpt_cli.settings import LIMITS


def find_subaction(record: dict, name: str) -> int:
    names = [s["name"] for s in record["plan"]["subactions"]]
    if name in names:
        return names.index(name)
    raise NotFound(f"plan {record['id']} has no sub-action {name!r}{nearest(name, names)} "
                   f"(it has {', '.join(names)})")


def code(
    ctx: typer.Context,
    subtask: str = typer.Option(..., "--subtask", "-s", help="Sub-action or task name (place_table, harvest_log)."),
    plan_id: Optional[int] = typer.Option(None, "--plan", min=1, max=LIMITS["id"][1], help="Take the sub-action from this stored plan."),
    episodes: int = typer.Option(5, "--episodes", "-n", min=1, max=200, help="Evaluation episodes (seeds)."),
    attempts: int = typer.Option(3, "--attempts", min=1, max=10, help="Write-run-judge rounds before giving up."),
    max_cost: Optional[float] = typer.Option(None, "--max-cost", min=0, max=LIMITS["cost"][1], help="Stop before spending more (USD)."),
    max_calls: Optional[int] = typer.Option(None, "--max-calls", min=1, max=LIMITS["calls"][1], help="Stop after this many model calls."),
    no_save: bool = typer.Option(False, "--no-save", help="An experiment: write and evaluate, store nothing in the library."),
    promotion_episodes: int = typer.Option(20, "--promotion-episodes", min=1, max=1000,
                                           help="Paired episodes judging the new version against the running one."),
) -> None:
    """Write a code skill for a sub-action, run it in the world, and save it with its success rate.

    The saved version runs only if it beats the running version of its name on the same
    promotion seeds (paired sign test); otherwise it is a candidate, runnable as NAME@N.
    """
    from rlgpt_cli import seeds as seed_policy
    from rlgpt_cli.agents.loops import SUCCESS_TARGET
    from rlgpt_cli.usecases import code_subaction, plan_task, prefix_stages
    from rlgpt_cli.workspace import model_client, model_label, open_library
    from rlgpt_cli.worlds.tasks import resolve_task

    st = state(ctx)
    settings = st.settings
    with recorded_run(st, "code", {"subtask": subtask, "plan": plan_id, "episodes": episodes,
                                   "no_save": no_save}) as run_id:
        store = open_store(st)
        client = model_client(settings, store, max_cost, max_calls)
        library = open_library(settings)
        if not no_save:
            library.check_writable()
        if plan_id is None:
            record = plan_task(client, store, resolve_task(subtask, world=settings.world), library)
            index = len(record["plan"]["subactions"]) - 1
        else:
            record = store.get_plan(plan_id)
            index = find_subaction(record, subtask)
        task = resolve_task(record["task"], world=record["world"])
        sub = record["plan"]["subactions"][index]
        prefix = prefix_stages(record["plan"]["subactions"], index, library)
        seeds = seed_policy.skill_judging(settings.seed, episodes)
        info(st, f"fast agent: {model_label(settings.model)}; sub-action {sub['name']} "
                 f"(after {len(prefix)} set-up sub-actions), {episodes} evaluation episodes")
        outcome = code_subaction(client, task, sub, prefix, library, seeds=seeds, attempts=attempts,
                                 provenance={"plan_id": record["id"], "run_id": run_id}, log=lambda m: info(st, m),
                                 save=not no_save,
                                 promotion_seeds=seed_policy.promotion(settings.seed, promotion_episodes))
        chosen, skill = outcome.chosen, outcome.skill
        report = {
            "subtask": sub["name"], "plan_id": record["id"], "model": chosen.model,
            "success_rate": chosen.success_rate, "target": SUCCESS_TARGET, "seeds": seeds,
            "attempts": [{"number": a.number, "refused": a.refused, "stopped": a.stopped,
                          "success_rate": a.success_rate,
                          "critique": a.critique.get("feedback")} for a in outcome.attempts],
            "skill": skill.to_dict() if skill else None, "saved": skill is not None,
            "promotion": outcome.promotion,
        }
        if not outcome.success:  # under --json the report is the failure's document
            raise TaskFailed(
                f"no code skill for {sub['name']} reached {SUCCESS_TARGET:.0%} after {len(outcome.attempts)} attempts "
                f"(best {chosen.success_rate:.0%}" + (f", saved as {skill.name} v{skill.version}" if skill else "") + ")",
                details=report,
            )

    def human(r):
        s = r["skill"]
        measured = (f"success {r['success_rate']:.0%} over {len(r['seeds'])} episodes (seeds {r['seeds']}) "
                    f"by {model_label(r['model'])}")
        if s is None:
            console().print(f"not saved (--no-save): {measured}")
            return
        console().print(f"saved [bold]{s['name']}[/bold] v{s['version']} to the library: {measured}")
        console().print(("runs now: " if r["promotion"]["promoted"] else "candidate: ") + r["promotion"]["reason"],
                        markup=False)

    emit(st, report, human)


def register(app: typer.Typer) -> None:
    app.command("code")(code)
