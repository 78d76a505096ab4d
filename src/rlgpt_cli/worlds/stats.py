"""Episodes as lines of crafter's ``stats.jsonl``, and a world wrapper that logs every episode.

crafter's ``Recorder`` writes one JSON line per episode (``length``, ``reward``, and
``achievement_<name>`` counts); its analysis scripts read that file. ``rlgpt run --stats-dir``
writes the evaluation's episodes so; with ``RLGPT_EPISODE_LOG`` naming a file, every episode of
every world a kit makes, in any process (worker processes and PPO rollout workers included),
is appended there as it ends: the benchmark protocol counts every episode played, learning
included (``benchmarks/crafter_score.py``).
"""

from __future__ import annotations

import json
import os

LOG_ENV = "RLGPT_EPISODE_LOG"


def episode_stats(length: int, reward: float, achievements: dict[str, int], names: list[str]) -> dict:
    """One line of crafter's ``stats.jsonl``, as ``crafter.Recorder`` writes it: length, reward
    (rounded to 0.1) and ``achievement_<name>`` counts for every achievement."""
    return {"length": length, "reward": round(reward, 1),
            **{f"achievement_{name}": int(achievements.get(name, 0)) for name in names}}


def logged(world, names: list[str]):
    """``world``, logging its episodes to ``RLGPT_EPISODE_LOG`` when that is set."""
    path = os.environ.get(LOG_ENV)
    return _EpisodeLog(world, path, names) if path else world


CUT = "cut"
"""Key of a logged line whose episode was dropped before the world ended it (no death, no step
limit): ``crafter.Recorder`` would not have written it; crafter's analysis ignores the key."""


class _EpisodeLog:
    """A world that appends each episode's line when it ends, when the world resets, or when it
    closes (a judged episode or a sub-task env drops its world mid-episode: it counts as it
    stands, marked ``CUT``). One ``write`` per line on a file opened for appending, so lines
    from several processes do not interleave."""

    def __init__(self, world, path: str, names: list[str]):
        self._world, self._path, self._names = world, path, names
        self._length, self._reward, self._achievements = 0, 0.0, {}
        self._ended = False  # steps after the world's own end until the next reset are not an episode

    def __getattr__(self, name):
        return getattr(self._world, name)

    def _flush(self, ended: bool = False) -> None:
        if self._length:
            stats = episode_stats(self._length, self._reward, self._achievements, self._names)
            line = json.dumps(stats if ended else {**stats, CUT: True}) + "\n"
            with open(self._path, "a", encoding="utf-8") as fh:
                fh.write(line)
        self._length, self._reward, self._achievements = 0, 0.0, {}

    def reset(self, *args, **kwargs):
        self._flush()
        self._ended = False
        return self._world.reset(*args, **kwargs)

    def step(self, action):
        out = self._world.step(action)
        if self._ended:
            return out
        self._length += 1
        self._reward += float(out[1])
        self._achievements = out[4].get("achievements", self._achievements)
        if out[2] or out[3]:
            self._flush(ended=True)
            self._ended = True
        return out

    def close(self):
        self._flush()
        return self._world.close()
