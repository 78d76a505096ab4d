"""Steps per second of raw ``crafter.Env`` and of rlgpt's ``CrafterWorld``, in one process.

    python benchmarks/env_throughput.py [--json] [--steps N] [--seed S]

Each environment takes the same N random actions (episode resets included, as in
training). Raw crafter renders its 64x64 image every step, as it always does;
ours runs once with the symbolic observation and once with pixels. Numba's
compilation happens in a warm-up reset outside the timing. Goal: symbolic >= 25x
raw crafter on one core, with identical dynamics (tests/test_crafter_env.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))


def _actions(steps: int, seed: int) -> list[int]:
    import numpy as np

    return np.random.RandomState(seed).randint(17, size=steps).tolist()


def time_crafter(steps: int, seed: int) -> dict:
    import crafter

    env = crafter.Env(seed=seed)
    env.reset()  # warm-up: opensimplex's numba compilation
    actions = _actions(steps, seed)
    episodes = 0
    start = time.perf_counter()
    env.reset()
    for action in actions:
        _, _, done, _ = env.step(action)
        if done:
            env.reset()
            episodes += 1
    elapsed = time.perf_counter() - start
    return {"steps": steps, "seconds": elapsed, "steps_per_s": steps / elapsed, "episodes_ended": episodes}


def time_ours(steps: int, seed: int, obs: str) -> dict:
    from rlgpt_cli.worlds.crafter.env import CrafterWorld

    env = CrafterWorld(seed=seed, obs=obs)
    env.reset()  # warm-up: numba compilation or cache load
    actions = _actions(steps, seed)
    episodes = 0
    start = time.perf_counter()
    env.reset(seed=seed)
    for action in actions:
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()
            episodes += 1
    elapsed = time.perf_counter() - start
    return {"steps": steps, "seconds": elapsed, "steps_per_s": steps / elapsed, "episodes_ended": episodes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--steps", type=int, default=5000, help="random steps per environment")
    parser.add_argument("--seed", type=int, default=0, help="episode seed and action seed")
    opts = parser.parse_args()

    raw = time_crafter(opts.steps, opts.seed)
    symbolic = time_ours(opts.steps, opts.seed, "symbolic")
    pixels = time_ours(opts.steps, opts.seed, "pixels")
    result = {
        "benchmark": "env_throughput",
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "steps": opts.steps,
        "seed": opts.seed,
        "crafter": raw,
        "ours_symbolic": symbolic,
        "ours_pixels": pixels,
        "ratio_symbolic": symbolic["steps_per_s"] / raw["steps_per_s"],
        "ratio_pixels": pixels["steps_per_s"] / raw["steps_per_s"],
        "goal_ratio_symbolic": 25.0,
    }
    if opts.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{'environment':<28}{'steps/s':>12}{'x crafter':>12}{'episodes':>10}")
    for name, row in (("crafter.Env (raw, pixels)", raw), ("CrafterWorld symbolic", symbolic),
                      ("CrafterWorld pixels", pixels)):
        ratio = row["steps_per_s"] / raw["steps_per_s"]
        print(f"{name:<28}{row['steps_per_s']:>12.0f}{ratio:>11.1f}x{row['episodes_ended']:>10}")
    print(f"goal: symbolic >= 25x crafter; reached {result['ratio_symbolic']:.1f}x")


if __name__ == "__main__":
    main()
