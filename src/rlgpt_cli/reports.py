"""Reports of a task's evaluation: the Markdown and JSON files ``rlgpt run`` writes, and the
animation of an episode."""

from __future__ import annotations

import json
from pathlib import Path


def write_animation(path: Path, frames: list) -> None:
    import imageio.v2 as imageio

    if not frames:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    step = max(1, len(frames) // 600)  # keep a long episode's GIF small
    imageio.mimsave(path, frames[::step], duration=0.05)


def score_label(name: str) -> str:
    """``crafter_score`` -> ``Crafter score``: how a world's score is named in output."""
    return name.replace("_", " ").capitalize()


def scores_text(report: dict) -> str:
    """The report's world scores on one line (``Crafter score 22.6``), empty when it has none."""
    return "; ".join(f"{score_label(name)} {report[name]:.1f}" for name in report.get("scores", []))


def markdown_report(report: dict, model: str) -> str:
    references = report.get("published_scores") or {}
    reference = next(iter(references.items()), None)
    lines = [
        f"# rlgpt run: {report['task']} ({report['world']})", "",
        f"- success rate: **{report['success_rate']:.0%}** over {report['episodes']} episodes "
        f"(seeds {report['seeds'][0]}..{report['seeds'][-1]}), step budget {report['max_steps']}",
        *[f"- {score_label(name)}: **{report[name]:.1f}**"
          + (f" ({reference[0].lower()} {reference[1]})" if reference else "") for name in report.get("scores", [])],
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
