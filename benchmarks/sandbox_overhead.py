"""What the sandbox costs trusted world code: the explore primitive plain vs from a skill.

    python benchmarks/sandbox_overhead.py [--json] [--steps N] [--repeats R] [--seed S]

A real CrafterWorld is stepped N steps by the ``explore`` primitive (cost grids, full-map
Dijkstra path-finding, scoring unknown areas: the work that dominated ``rlgpt learn`` with
the explore macro-action, issue #15). Only the time spent producing each action is
counted (the world's step and ``api.observe`` are timed apart and left out). The same
episode is played three ways, interleaved R times (median, min, max of ms per step):

* ``plain``: trusted code calls ``api.explore`` directly, no tracer anywhere;
* ``skill``: a sandboxed skill runs ``yield from api.explore(...)`` and each ``next`` goes
  through the sandbox's meter, as every macro-action step in training does;
* ``traced``: trusted code under a no-op ``sys.settrace`` tracer, what trusted code pays
  when it runs under any tracer (CPython 3.11 has no per-frame opt-out).

The three ways take identical actions (checked), so they do identical work.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

SKILL = "def act(api):\n    yield from api.explore(10 ** 6)\n"


def _notrace(frame, event, arg):
    return None


def play(seed: int, steps: int, how: str) -> tuple[float, list[str]]:
    """Seconds spent producing actions per step, and the actions, ``how`` in plain / skill / traced."""
    from rlgpt_cli.sandbox import load_module
    from rlgpt_cli.worlds.crafter.env import ACTIONS, CrafterWorld
    from rlgpt_cli.worlds.crafter.primitives import CrafterAPI

    env = CrafterWorld(seed=seed)
    api = CrafterAPI()
    obs, info = env.reset(seed=seed)
    api.observe(obs, info)
    if how == "skill":
        actor = load_module(SKILL, "explore_bench").start("act", api)
    else:
        actor = api.explore(10 ** 6)
    tracer = _notrace if how == "traced" else None
    actions, spent = [], 0.0
    for _ in range(steps):
        sys.settrace(tracer)
        start = time.perf_counter()
        action = next(actor)
        spent += time.perf_counter() - start
        sys.settrace(None)
        actions.append(action)
        obs, _, terminated, truncated, info = env.step(ACTIONS.index(action))
        api.observe(obs, info)
        if terminated or truncated:
            break
    return spent / len(actions), actions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--steps", type=int, default=500, help="env steps per episode")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved repeats of each way")
    parser.add_argument("--seed", type=int, default=0, help="world seed")
    opts = parser.parse_args()

    ways = ("plain", "skill", "traced")
    times: dict[str, list[float]] = {w: [] for w in ways}
    played = {}
    play(opts.seed, 20, "plain")  # warm-up: numba's compilation or cache load
    for _ in range(opts.repeats):
        for way in ways:  # interleaved: machine noise hits every way alike
            seconds, played[way] = play(opts.seed, opts.steps, way)
            times[way].append(seconds * 1000)
    if len({tuple(a) for a in played.values()}) != 1:
        raise SystemExit("the three ways took different actions: the timings are not comparable")
    rows = {w: {"median_ms": statistics.median(t), "min_ms": min(t), "max_ms": max(t)} for w, t in times.items()}
    result = {
        "benchmark": "sandbox_overhead",
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(),
        "steps": len(played["plain"]),
        "repeats": opts.repeats,
        "seed": opts.seed,
        "ms_per_step": rows,
        "skill_over_plain": rows["skill"]["median_ms"] / rows["plain"]["median_ms"],
        "traced_over_plain": rows["traced"]["median_ms"] / rows["plain"]["median_ms"],
    }
    if opts.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{'explore step':<14}{'median ms':>11}{'min':>9}{'max':>9}{'x plain':>9}")
    for way in ways:
        row = rows[way]
        ratio = row["median_ms"] / rows["plain"]["median_ms"]
        print(f"{way:<14}{row['median_ms']:>11.3f}{row['min_ms']:>9.3f}{row['max_ms']:>9.3f}{ratio:>8.2f}x")
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
