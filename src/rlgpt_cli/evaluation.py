"""Run a task by composing library skills, and score it: success rate, per-sub-task success,
Crafter's 22 achievement rates and the Crafter score."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from rlgpt_cli.composer import Episode, run_episode, stage_from_subaction, summarise
from rlgpt_cli.errors import NotFound, UsageError

# Published Crafter scores (Hafner 2021; SPRING, DreamerV3 papers), for the report.
PUBLISHED_SCORES = {
    "Human experts": 50.5, "SPRING (GPT-4, no training)": 27.3, "Curious Replay": 19.4,
    "PPO-ResNet": 15.6, "DreamerV3": 14.5, "PPO (SB3)": 4.6, "Random": 1.6,
}

# Evaluation seeds start here, away from the seeds `code` and `iterate` judge skills on.
HELD_OUT_SEED_BASE = 1_000_000


def crafter_score(rates: dict[str, float]) -> float:
    """Crafter's score: the geometric mean of the achievement success rates in percent, each
    offset by 1 (``exp(mean(ln(1 + s_i))) - 1``)."""
    if not rates:
        return 0.0
    return math.exp(sum(math.log(1 + 100 * r) for r in rates.values()) / len(rates)) - 1


def held_out_seeds(episodes: int, seed: int = 0) -> list[int]:
    return [HELD_OUT_SEED_BASE + seed * 10_000 + i for i in range(episodes)]


def parse_seeds(text: str) -> list[int]:
    """``"1,2,5-8"`` → ``[1, 2, 5, 6, 7, 8]``."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part:
                lo, hi = (int(x) for x in part.split("-", 1))
                seeds.extend(range(lo, hi + 1))
            elif part:
                seeds.append(int(part))
    except ValueError:
        raise UsageError(f"--seeds must be integers or ranges like 1,2,5-8, got {text!r}") from None
    if not seeds or any(s < 0 for s in seeds):
        raise UsageError(f"--seeds must name non-negative integers, got {text!r}")
    return seeds


def stages_for_plan(subactions: list[dict], library) -> list:
    stages = []
    for sub in subactions:
        name = sub.get("skill") or sub["name"]
        try:
            skill = library.get(name)
        except NotFound:
            raise NotFound(f"the library has no skill for sub-action {sub['name']}; "
                           f"build it with: rlgpt iterate or rlgpt code --subtask {sub['name']}") from None
        stages.append(stage_from_subaction(sub, skill))
    return stages


def evaluate_task(task, subactions: list[dict], library, seeds: list[int], *,
                  max_steps: int | None = None, record: Path | None = None) -> dict[str, Any]:
    """Run the composed skills on each seed; the full report (see ``rlgpt run --json``)."""
    from rlgpt_cli.session import crafter_world_factory
    from rlgpt_cli.worlds.crafter import recipes

    stages = stages_for_plan(subactions, library)
    max_steps = max_steps or task.max_steps
    started = time.perf_counter()
    episodes: list[Episode] = []
    frames: list = []
    for i, seed in enumerate(seeds):
        on_step = None
        if record is not None and i == 0:
            on_step = lambda world, info: frames.append(world.render())  # noqa: E731
        episodes.append(run_episode(crafter_world_factory(length=max_steps), seed, stages,
                                    max_steps=max_steps, on_step=on_step))
    achievements = recipes.achievements()
    rates = {a: sum(e.achievements.get(a, 0) > 0 for e in episodes) / len(episodes) for a in achievements}
    successes = [task.success({"achievements": e.achievements, "inventory": e.inventory}) for e in episodes]
    if record is not None:
        write_animation(record, frames)
    per_stage = summarise(episodes, [s.name for s in stages])
    return {
        "task": task.name, "world": task.world, "episodes": len(episodes), "seeds": list(seeds),
        "max_steps": max_steps,
        "success_rate": sum(successes) / len(episodes),
        "subtasks": {name: {"success_rate": v["success_rate"], "failures": v["failures"]}
                     for name, v in per_stage.items()},
        "skills": {s.name: f"{s.skill.name} v{s.skill.version}" for s in stages},
        "achievements": rates,
        "crafter_score": crafter_score(rates),
        "mean_steps": sum(e.steps for e in episodes) / len(episodes),
        "deaths": sum(e.died for e in episodes),
        "wall_s": time.perf_counter() - started,
        "recording": str(record) if record else None,
        "published_scores": PUBLISHED_SCORES,
        "episode_details": [e.to_dict() for e in episodes],
    }


def write_animation(path: Path, frames: list) -> None:
    import imageio.v2 as imageio

    if not frames:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    step = max(1, len(frames) // 600)  # keep a long episode's GIF small
    imageio.mimsave(path, frames[::step], duration=0.05)


def markdown_report(report: dict, model: str) -> str:
    lines = [
        f"# rlgpt run: {report['task']} ({report['world']})", "",
        f"- success rate: **{report['success_rate']:.0%}** over {report['episodes']} episodes "
        f"(seeds {report['seeds'][0]}..{report['seeds'][-1]}), step budget {report['max_steps']}",
        f"- Crafter score: **{report['crafter_score']:.1f}** (human experts 50.5)",
        f"- skills: {', '.join(f'{k} = {v}' for k, v in report['skills'].items())}",
        f"- plan by: {model}", "",
        "| sub-task | success |", "|---|---|",
        *[f"| {k} | {v['success_rate']:.0%} |" for k, v in report["subtasks"].items()], "",
        "| achievement | rate |", "|---|---|",
        *[f"| {k} | {v:.0%} |" for k, v in report["achievements"].items()],
    ]
    return "\n".join(lines) + "\n"


def save_report(directory: Path, report: dict, model: str) -> dict[str, str]:
    directory.mkdir(parents=True, exist_ok=True)
    json_path, md_path = directory / "report.json", directory / "report.md"
    json_path.write_text(json.dumps(report, indent=2))
    md_path.write_text(markdown_report(report, model))
    return {"json": str(json_path), "markdown": str(md_path)}
