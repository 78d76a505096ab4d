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

    skills = signatures(relevant(catalogue(library, task.world), knowledge(task)))
    progress = progress or Progress.off()
    with progress.phase(f"code {sub['name']}", unit="judging episodes") as ph:
        made = code_loop(client, task, sub, prefix, skills, seeds=seeds, attempts=attempts, feedback=feedback,
                         log=log, library=library, on_episode=lambda: ph.update(ph.completed + 1))
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
    The episodes run in worker processes (``runner.jobs``); one that breaks a worker's limit
    ends the evaluation with SandboxError (exit 4).
    """
    from rlgpt_cli.errors import SandboxError
    from rlgpt_cli.progress import Progress
    from rlgpt_cli.reports import Recording, Watched, append_stats
    from rlgpt_cli.runner import jobs
    from rlgpt_cli.worlds.base import get_kit
    from rlgpt_cli.worlds.stats import episode_stats

    kit = get_kit(task.world)
    stages = plan_stages(subactions, library)
    max_steps = max_steps or task.max_steps
    started = time.perf_counter()
    env = {"length": max_steps}
    todo = [jobs.job(task.world, task.name, seed, stages, max_steps=max_steps, library=library, env=env,
                     guard=guard) for seed in seeds]
    finished: list[bool] = []
    env_steps = 0

    def succeeded(e: Episode) -> bool:
        return task.success({"achievements": e.achievements, "inventory": e.inventory, "steps": e.steps,
                             "alive": not e.died})

    progress = progress or Progress.off()
    if guard and guard_from(library) is None:
        raise NotFound("the library has no survival_guard skill to hand control to")
    with progress.phase(f"evaluate {task.name}", total=len(seeds), unit="episodes") as ph:
        def done(i: int, outcome) -> None:
            nonlocal env_steps
            finished.append(succeeded(outcome.episode))
            env_steps += outcome.episode.steps
            ph.update(len(finished), env_steps=f"{env_steps:,}", success=f"{sum(finished) / len(finished):.0%}")

        outcomes = jobs.run_jobs(todo, stop_on_breach=True, on_result=done)
    breach = next((o for o in outcomes if o is not None and o.breach), None)
    if breach is not None:
        stage = breach.episode.stages[-1]
        raise SandboxError(f"{task.name}: the episode on seed {breach.episode.seed} was stopped in sub-task "
                           f"{stage.name} (skill {stage.skill}): {breach.breach}")
    episodes: list[Episode] = [o.episode for o in outcomes]
    successes = [succeeded(e) for e in episodes]
    stats = [episode_stats(e.steps, o.reward, e.achievements, kit.achievements()) for e, o in zip(episodes, outcomes)]
    recorded = None
    if record is not None:
        # Recorded here, in this process, only once the same episode (its job is the same) ran
        # to its end within a worker's limits.
        recording = Recording(record, record_steps)
        run_episode(lambda: Watched(kit.make_env(task.name, **env), recording), kit.new_api, seeds[0], stages,
                    max_steps=max_steps, library=library, guard=guard_from(library) if guard else None)
        recorded = recording.close()
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
        "guard": {"calls": sum(o.guard_calls for o in outcomes), "steps": sum(o.guard_steps for o in outcomes)}
        if guard else None,
        "wall_s": time.perf_counter() - started,
        "recording": str(recorded) if recorded else None,
        "published_scores": kit.reference_scores(),
        "episode_details": [e.to_dict() for e in episodes],
    }

