"""The use-cases the commands and the two loops share: plan a task, code a sub-action, learn a
sub-action, evaluate a task.

``commands/*`` parse arguments, call these and render what they return; ``iterate.Loops``
calls the same functions inside its loops. Each takes what it needs explicitly (the model
client, the run store, the library) and reaches the task's world only through its kit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from rlgpt_cli.errors import NotFound
from rlgpt_cli.runner.episode import Episode, plan_stages, run_episode, summarise
from rlgpt_cli.runner.skills import guard_from


def plan_task(client, store, task, library, feedback: list[dict] | None = None, *,
              kind: str | None = None) -> dict:
    """Ask the slow agent to plan ``task`` over ``library``; store the plan; its record.

    ``kind`` marks every sub-action code or rl whatever the slow agent said (the ablation's
    pure-code and pure-RL variants).
    """
    from rlgpt_cli.agents.planner import catalogue, make_plan

    plan, result = make_plan(client, task, catalogue(library, task.world), feedback)
    data = plan.model_dump()
    if kind:
        for sub in data["subactions"]:
            sub["kind"], sub["skill"] = kind, None
    plan_id = store.add_plan(task.name, task.world, result.model, data)
    return {"id": plan_id, "task": task.name, "world": task.world, "model": result.model,
            "cached": result.cached, "cost_usd": result.cost_usd, "plan": data}


def prefix_stages(subactions: list[dict], index: int, library) -> list:
    """The stages that bring the world to where sub-action ``index`` starts."""
    return plan_stages(subactions[:index], library)


@dataclass
class CodeOutcome:
    """What coding one sub-action gave: every attempt, the best one, and the saved skill."""

    attempts: list  # agents.loops.Attempt
    chosen: Any  # the best attempt
    skill: Any  # the saved library.Skill, or None when nothing succeeded at all (or save was off)
    success: bool  # the best attempt reached the success target
    promotion: dict | None = None  # whether the saved version runs, and why (runner.promotion)


def code_subaction(client, task, sub: dict, prefix: list, library, *, seeds: list[int], attempts: int,
                   feedback: list[dict] | None = None, provenance: dict | None = None,
                   promotion_seeds: list[int], log: Callable[[str], None] = lambda _: None,
                   save: bool = True, progress=None) -> CodeOutcome:
    """The inner loop for a code sub-action: write, sandbox-check, run on ``seeds``, judge,
    revise; the best attempt is saved to the library when it succeeded at all (and ``save``),
    and runs from then on only if it beats the running version on ``promotion_seeds``
    (paired, see ``runner.promotion``)."""
    from rlgpt_cli.agents.loops import SUCCESS_TARGET, best, code_loop, save_code_skill
    from rlgpt_cli.agents.planner import catalogue, knowledge, relevant, signatures
    from rlgpt_cli.progress import Progress
    from rlgpt_cli.worlds.base import get_kit

    kit = get_kit(task.world)
    skills = signatures(relevant(catalogue(library, task.world), knowledge(task)))
    progress = progress or Progress.off()
    with progress.phase(f"code {sub['name']}", unit="judging episodes") as ph:
        def make_world():  # each judging episode builds its world: that counts the episodes
            ph.update(ph.completed + 1)
            return kit.make_env(task.name, length=10_000)

        made = code_loop(client, task, sub, prefix, skills,
                         make_world=make_world, make_api=kit.new_api,
                         seeds=seeds, attempts=attempts, feedback=feedback, log=log, library=library)
    chosen = best(made)
    skill = record = None
    if save and chosen.success_rate > 0:
        skill, record = save_code_skill(
            library, chosen, {"prompt": "fast_agent_code", **(provenance or {})}, sub=sub, prefix=prefix,
            task=task.name, world=task.world,
            seeds=promotion_seeds)
    return CodeOutcome(made, chosen, skill, chosen.success_rate >= SUCCESS_TARGET, record)


def configure_rl(client, task, sub: dict, library, feedback: list[dict] | None = None, *,
                 total_steps: int, max_episode_steps: int):
    """The fast agent's RL configuration for ``sub``; returns ``(RLConfig, model name)``."""
    from rlgpt_cli.agents.coder import write_rl_config
    from rlgpt_cli.agents.planner import catalogue, knowledge, relevant

    skills = relevant(catalogue(library, task.world), knowledge(task))
    config, result = write_rl_config(client, task, sub, skills, list(feedback or [])[-2:],
                                     total_steps=total_steps, max_episode_steps=max_episode_steps)
    return config, result.model


def learn_subaction(settings, task, sub: dict, config, prefix: list, library, **options) -> dict:
    """Train PPO on ``sub`` with ``config`` (coded macro-actions in its action space), evaluate
    it on held-out seeds and save it as a policy skill (see ``learn.subtask.train_subaction``)."""
    from rlgpt_cli.learn.subtask import train_subaction

    return train_subaction(settings, task, sub, config, prefix, library, **options)


def evaluate_task(task, subactions: list[dict], library, seeds: list[int], *,
                  max_steps: int | None = None, record: Path | None = None, record_steps: int | None = None,
                  stats_dirs: list[Path] = (), progress=None, guard: bool = False) -> dict[str, Any]:
    """Run the plan's skills one after another on each seed; the full report (see
    ``rlgpt run --json``): success, per-sub-task success, achievement rates, the world's scores.

    ``guard``: the library's ``survival_guard`` takes over mid-stage whenever the player is in
    danger (``runner.skills.Guard``, one per episode); the report counts its hand-offs.

    ``record``: the first episode as MP4 or GIF (``record_steps``: its first steps only).
    ``stats_dirs``: folders whose ``stats.jsonl`` gets one crafter-format line per episode.
    """
    from rlgpt_cli.progress import Progress
    from rlgpt_cli.reports import Recording, Watched, append_stats, episode_stats
    from rlgpt_cli.worlds.base import get_kit

    kit = get_kit(task.world)
    stages = plan_stages(subactions, library)
    max_steps = max_steps or task.max_steps
    started = time.perf_counter()
    episodes: list[Episode] = []
    successes: list[bool] = []
    stats: list[dict] = []
    recording = Recording(record, record_steps) if record is not None else None
    watched: list = []  # the current episode's world, read live by the progress view

    def make_world(first: bool):
        watched[:] = [Watched(kit.make_env(task.name, length=max_steps), recording if first else None)]
        return watched[0]

    progress = progress or Progress.off()
    if guard and guard_from(library) is None:
        raise NotFound("the library has no survival_guard skill to hand control to")
    guards = []
    with progress.phase(f"evaluate {task.name}", total=len(seeds), unit="episodes") as ph:
        for i, seed in enumerate(seeds):
            guards.append(guard_from(library) if guard else None)
            e = run_episode(lambda: make_world(i == 0), kit.new_api, seed, stages, max_steps=max_steps,
                            library=library, guard=guards[-1])
            episodes.append(e)
            successes.append(task.success({"achievements": e.achievements, "inventory": e.inventory,
                                           "steps": e.steps, "alive": not e.died}))
            stats.append(episode_stats(e.steps, watched[0].reward, e.achievements, kit.achievements()))
            ph.update(i + 1, env_steps=f"{sum(x.steps for x in episodes):,}",
                      success=f"{sum(successes) / len(successes):.0%}")
    recorded = recording.close() if recording is not None else None
    for directory in stats_dirs:
        append_stats(Path(directory), stats)
    achievements = kit.achievements()
    rates = {a: sum(e.achievements.get(a, 0) > 0 for e in episodes) / len(episodes) for a in achievements}
    per_stage = summarise(episodes, [s.name for s in stages])
    scores = kit.scores(rates)
    return {
        "task": task.name, "world": task.world, "episodes": len(episodes), "seeds": list(seeds),
        "max_steps": max_steps,
        "success_rate": sum(successes) / len(episodes),
        "subtasks": {name: {"success_rate": v["success_rate"], "failures": v["failures"]}
                     for name, v in per_stage.items()},
        "skills": {s.name: f"{s.skill.name} v{s.skill.version}" for s in stages},
        "achievements": rates,
        **scores,
        "scores": list(scores),
        "mean_steps": sum(e.steps for e in episodes) / len(episodes),
        "deaths": sum(e.died for e in episodes),
        "guard": {"calls": sum(g.calls for g in guards), "steps": sum(g.steps for g in guards)} if guard else None,
        "wall_s": time.perf_counter() - started,
        "recording": str(recorded) if recorded else None,
        "published_scores": kit.reference_scores(),
        "episode_details": [e.to_dict() for e in episodes],
    }

