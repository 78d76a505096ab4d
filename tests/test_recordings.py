"""Recordings worth watching (512 px, MP4 or GIF, whole episode or its first steps), crafter's
stats.jsonl for evaluations, and the learning curve."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image
from test_crafter_env import reference_env

from rlgpt_cli import reports
from rlgpt_cli.worlds.crafter.env import ACHIEVEMENTS, CrafterWorld
from rlgpt_cli.worlds.stats import episode_stats


def _strip_slots_drawn(frame: np.ndarray) -> list[bool]:
    """Which of the inventory strip's first nine slots have something drawn (512 px frame)."""
    unit = 512 // 9
    border = (512 - 9 * unit) // 2
    strip = frame[border + 7 * unit: border + 8 * unit]
    return [bool(strip[:, border + i * unit: border + (i + 1) * unit].max() > 0) for i in range(9)]


def test_a_recording_frame_shows_the_inventory_at_512_px():
    world = CrafterWorld(seed=1)
    world.reset(seed=1)
    frame = world.render(size=512)
    assert frame.shape == (512, 512, 3) and world.render().shape == (64, 64, 3)
    # Health, food, drink and energy start at 9: their icons and digits fill the first slots.
    assert _strip_slots_drawn(frame)[:5] == [True, True, True, True, False]


def test_stats_lines_are_crafters_own(tmp_path):
    """The same episode gives the line crafter's own StatsRecorder writes."""
    from crafter.recorder import StatsRecorder

    seed = 4
    theirs = StatsRecorder(reference_env(seed), tmp_path)
    ours = reports.Watched(CrafterWorld(seed=seed))
    theirs.reset()
    _, info = ours.reset()
    for action in np.random.RandomState(seed).randint(17, size=10_000).tolist():
        _, _, done, _ = theirs.step(action)
        _, _, terminated, truncated, info = ours.step(action)
        assert done == (terminated or truncated)
        if done:
            break
    line = episode_stats(ours.steps, ours.reward, info["achievements"], ACHIEVEMENTS)
    theirs._file.close()
    assert [line] == [json.loads(x) for x in (tmp_path / "stats.jsonl").read_text().splitlines()]
    assert len([k for k in line if k.startswith("achievement_")]) == 22


def test_run_records_mp4_and_writes_stats_jsonl(cli, tmp_path, isolated_home):
    import imageio.v2 as imageio

    video, stats_dir = tmp_path / "ep.mp4", tmp_path / "stats"
    r = cli("--json", "run", "make", "wood", "pickaxe", "--episodes", "2", "--record", str(video),
            "--record-steps", "8", "--stats-dir", str(stats_dir))
    assert r.exit_code == 0, r.stderr
    report = r.json()
    assert report["recording"] == str(video)
    frames = [frame for frame in imageio.get_reader(video)]  # list() asks its len(): inf
    assert len(frames) == 9 and frames[0].shape == (512, 512, 3)  # the start, then 8 steps
    Image.fromarray(frames[-1]).save(tmp_path / "last.png")  # a picture of it opens as PNG
    assert _strip_slots_drawn(frames[-1])[:4] == [True] * 4
    for folder in (isolated_home / "runs" / f"run-{report['run_id']}", stats_dir):
        lines = [json.loads(x) for x in (folder / "stats.jsonl").read_text().splitlines()]
        assert [line["length"] for line in lines] == [e["steps"] for e in report["episode_details"]]
        assert all(line["achievement_make_wood_pickaxe"] == 1 and line["reward"] >= 3 for line in lines)
    again = cli("--json", "run", "make", "wood", "pickaxe", "--episodes", "1", "--stats-dir", str(stats_dir))
    assert len((stats_dir / "stats.jsonl").read_text().splitlines()) == 3  # appended, as crafter does


def test_without_ffmpeg_an_mp4_request_writes_a_gif(cli, tmp_path, monkeypatch):
    monkeypatch.setattr(reports, "video_available", lambda: False)
    r = cli("--json", "run", "collect", "wood", "--episodes", "1", "--record", str(tmp_path / "ep.mp4"))
    assert r.exit_code == 0, r.stderr
    gif = tmp_path / "ep.gif"
    assert r.json()["recording"] == str(gif) and "no MP4 without ffmpeg" in r.stderr
    with Image.open(gif) as image:
        assert image.size == (512, 512) and image.n_frames == r.json()["episode_details"][0]["steps"] + 1
    assert cli("run", "collect", "wood", "--record", str(tmp_path / "ep.avi")).exit_code == 2


def test_a_long_gif_is_thinned_evenly(tmp_path, monkeypatch):
    monkeypatch.setattr(reports, "GIF_FRAMES", 10)
    recording = reports.Recording(tmp_path / "long.gif")
    for step in range(100):
        recording.add(np.full((16, 16, 3), step, np.uint8))
    path = recording.close()
    with Image.open(path) as image:
        kept = [image.seek(i) or np.asarray(image.convert("RGB"))[0, 0, 0] for i in range(image.n_frames)]
    stride = kept[1] - kept[0]
    assert 10 <= len(kept) <= 20 and kept == list(range(0, 100, stride))


def test_curve_smoothing_is_tensorboards():
    from rlgpt_cli.learn.subtask import smooth

    assert smooth([1.0, 1.0, 1.0]) == [1.0, 1.0, 1.0]  # debiased: no pull toward zero
    values = smooth([0.0, 1.0, 0.0, 1.0])
    assert values[0] == 0.0 and 0 < values[-1] < 1 and max(values) < 1
