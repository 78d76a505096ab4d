"""Reports of a task's evaluation: the Markdown and JSON files ``rlgpt run`` writes, crafter's
``stats.jsonl``, and recordings of an episode (MP4 with imageio-ffmpeg, else GIF)."""

from __future__ import annotations

import json
from pathlib import Path

RECORD_SIZE = 512  # pixels: crafter's inventory strip and vitals are readable at this size
FPS = 15
GIF_FRAMES = 400  # a longer episode's GIF keeps every k-th step (a time-lapse), so it stays small


def video_available() -> bool:
    """MP4 needs ffmpeg, which the optional ``imageio-ffmpeg`` package ships."""
    import importlib.util

    return importlib.util.find_spec("imageio_ffmpeg") is not None


def render_frame(world, size: int = RECORD_SIZE):
    """The world's picture at about ``size`` pixels: drawn at that size when the world can,
    else its own image scaled up (whole pixels, nearest neighbour)."""
    import numpy as np

    try:
        return world.render(size=size)
    except TypeError:  # a world whose render takes no size
        image = np.asarray(world.render())
        factor = max(1, size // max(image.shape[:2]))
        return image.repeat(factor, 0).repeat(factor, 1)


class Recording:
    """One episode into ``path``: MP4 streamed through ffmpeg (``.mp4``, when imageio-ffmpeg
    is installed; else the GIF beside it), or a GIF that keeps at most about GIF_FRAMES frames
    by thinning evenly. ``steps`` limits it to the episode's first steps."""

    def __init__(self, path: Path, steps: int | None = None):
        self.path = Path(path)
        if self.path.suffix.lower() == ".mp4" and not video_available():
            self.path = self.path.with_suffix(".gif")
        self.video = self.path.suffix.lower() == ".mp4"
        self.limit = steps
        self.seen = 0
        self._stride = 1
        self._frames: list = []
        self._writer = None

    @property
    def full(self) -> bool:
        return self.limit is not None and self.seen >= self.limit + 1  # the start frame, then N steps

    def add(self, image) -> None:
        if self.full:
            return
        if self.video:
            if self._writer is None:
                import imageio.v2 as imageio

                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._writer = imageio.get_writer(self.path, fps=FPS, codec="libx264", quality=8,
                                                  macro_block_size=16)
            self._writer.append_data(image)
        elif self.seen % self._stride == 0:
            from PIL import Image

            # Palette frames: a quarter of the memory of RGB, and what a GIF stores anyway.
            self._frames.append(Image.fromarray(image).quantize(colors=255, method=Image.Quantize.FASTOCTREE))
            if len(self._frames) > 2 * GIF_FRAMES:
                self._frames, self._stride = self._frames[::2], self._stride * 2
        self.seen += 1

    def close(self) -> Path | None:
        """Finish the file; its path, or None when no frame came."""
        if self._writer is not None:
            self._writer.close()
            return self.path
        if not self._frames:
            return None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        first, *rest = self._frames
        first.save(self.path, save_all=True, append_images=rest, duration=max(20, round(1000 / FPS)), loop=0)
        return self.path


class Watched:
    """A world that also reports each step: frames for a recording (reset included) and the
    episode's reward, for crafter's ``stats.jsonl``. Everything else is the world's own."""

    def __init__(self, world, recording: Recording | None = None):
        self._world, self.recording = world, recording
        self.reward = 0.0
        self.steps = 0

    def __getattr__(self, name):
        return getattr(self._world, name)

    def _frame(self) -> None:
        if self.recording is not None and not self.recording.full:
            self.recording.add(render_frame(self._world))

    def reset(self, *args, **kwargs):
        out = self._world.reset(*args, **kwargs)
        self.reward = 0.0
        self._frame()
        return out

    def step(self, action):
        out = self._world.step(action)
        self.reward += float(out[1])
        self.steps += 1
        self._frame()
        return out


def append_stats(directory: Path, lines: list[dict]) -> Path:
    """Append episodes to ``directory/stats.jsonl`` (crafter's file, read by its analysis scripts)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "stats.jsonl"
    with path.open("a") as f:
        f.writelines(json.dumps(line) + "\n" for line in lines)
    return path


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
