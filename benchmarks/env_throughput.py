"""Steps per second of raw ``crafter.Env``, of rlgpt's ``CrafterWorld`` and of Craftax-Classic.

    python benchmarks/env_throughput.py [--json] [--steps N] [--seed S] [--batches 64,512]
        [--batch-steps 20000] [--repeats 3] [--out benchmarks/results/env_throughput.json]

Each environment takes the same N random actions (episode resets included, as in
training). Raw crafter renders its 64x64 image every step, as it always does;
ours runs once with the symbolic observation and once with pixels. Numba's
compilation happens in a warm-up reset outside the timing. Goal: symbolic >= 25x
raw crafter on one core, with identical dynamics (tests/test_crafter_env.py).

**Batched, against Craftax-Classic** (the ``bench`` extra: ``craftax`` and ``jax[cpu]``):
at each batch size B, Craftax-Classic's symbolic env (JAX, on the CPU: ``jax.vmap`` of
its auto-resetting step over B states, the whole step jitted, random actions drawn inside
the jitted function) against B ``CrafterWorld``s stepped in turn (symbolic observations), the
way `learn.ppo.SyncEnvs` steps them. The arms alternate ``--repeats`` times; the figure is env
steps per CPU-second (process CPU time: XLA's threads count), with steps per wall-second
beside it. JIT compilation and our world generation happen before the timing. Goal: ours >= 2x
Craftax-Classic per CPU-second at every batch size.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
RESULTS = Path(__file__).parent / "results" / "env_throughput.json"


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


def _batched_timing(run, env_steps: int) -> dict:
    start, cpu = time.perf_counter(), time.process_time()
    run()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"env_steps": env_steps, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
            "sps": round(env_steps / wall), "cpu_sps": round(env_steps / cpu)}


def ours_batched(batch: int, steps: int, seed: int):
    """B CrafterWorlds (symbolic) stepped in turn with random actions, resetting finished ones."""
    import numpy as np

    from rlgpt_cli.worlds.crafter.env import CrafterWorld

    envs = [CrafterWorld(seed=seed + i) for i in range(batch)]
    for i, env in enumerate(envs):
        env.reset(seed=seed + i)
    rounds = max(1, steps // batch)
    actions = np.random.RandomState(seed).randint(17, size=(rounds, batch)).tolist()

    def run() -> None:
        for row in actions:
            for env, action in zip(envs, row):
                _, _, terminated, truncated, _ = env.step(action)
                if terminated or truncated:
                    env.reset()

    return run, rounds * batch


def craftax_batched(batch: int, steps: int, seed: int):
    """Craftax-Classic's symbolic env, B states stepped by one jitted, vmapped step."""
    import jax

    from craftax.craftax_env import make_craftax_env_from_name

    env = make_craftax_env_from_name("Craftax-Classic-Symbolic-v1", auto_reset=True)
    params = env.default_params
    n_actions = env.action_space(params).n
    rounds = max(1, steps // batch)

    @jax.jit
    def rollout(key, state):
        def one(carry, _):
            key, state = carry
            key, act_key, step_key = jax.random.split(key, 3)
            actions = jax.random.randint(act_key, (batch,), 0, n_actions)
            obs, state, reward, done, info = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
                jax.random.split(step_key, batch), state, actions, params)
            return (key, state), reward.sum()

        (key, state), rewards = jax.lax.scan(one, (key, state), None, length=rounds)
        return state, rewards.sum()

    key = jax.random.PRNGKey(seed)
    _, state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(key, batch), params)
    jax.block_until_ready(rollout(key, state))  # compile, outside the timing

    def run() -> None:
        jax.block_until_ready(rollout(key, state))

    return run, rounds * batch


def batched(batches: list[int], steps: int, seed: int, repeats: int) -> dict:
    import statistics

    out: dict = {}
    for batch in batches:
        arms = {"ours": ours_batched(batch, steps, seed), "craftax_classic": craftax_batched(batch, steps, seed)}
        runs: dict = {name: [] for name in arms}
        for _ in range(repeats):
            for name, (run, n) in arms.items():
                runs[name].append(_batched_timing(run, n))
        row = {name: {"cpu_sps": {"median": statistics.median(r["cpu_sps"] for r in rs),
                                  "min": min(r["cpu_sps"] for r in rs), "max": max(r["cpu_sps"] for r in rs)},
                      "sps_median": statistics.median(r["sps"] for r in rs), "runs": rs}
               for name, rs in runs.items()}
        row["cpu_sps_ratio"] = round(row["ours"]["cpu_sps"]["median"] / row["craftax_classic"]["cpu_sps"]["median"], 2)
        out[str(batch)] = row
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--steps", type=int, default=5000, help="random steps per environment")
    parser.add_argument("--seed", type=int, default=0, help="episode seed and action seed")
    parser.add_argument("--batches", default="64,512", help="batch sizes against Craftax-Classic ('' for none)")
    parser.add_argument("--batch-steps", type=int, default=20_000, help="env steps per batched run")
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs per arm and batch size")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the JSON report is written")
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
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    if opts.batches:
        result["batched"] = batched([int(b) for b in opts.batches.split(",")], opts.batch_steps, opts.seed,
                                    opts.repeats)
        result["goal_ratio_craftax_classic"] = 2.0
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    opts.out.write_text(json.dumps(result, indent=2) + "\n")
    if opts.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{'environment':<28}{'steps/s':>12}{'x crafter':>12}{'episodes':>10}")
    for name, row in (("crafter.Env (raw, pixels)", raw), ("CrafterWorld symbolic", symbolic),
                      ("CrafterWorld pixels", pixels)):
        ratio = row["steps_per_s"] / raw["steps_per_s"]
        print(f"{name:<28}{row['steps_per_s']:>12.0f}{ratio:>11.1f}x{row['episodes_ended']:>10}")
    print(f"goal: symbolic >= 25x crafter; reached {result['ratio_symbolic']:.1f}x")
    for batch, row in result.get("batched", {}).items():
        print(f"batch {batch}: env steps per CPU-second ours {row['ours']['cpu_sps']['median']} "
              f"[{row['ours']['cpu_sps']['min']}-{row['ours']['cpu_sps']['max']}], Craftax-Classic (JAX, CPU) "
              f"{row['craftax_classic']['cpu_sps']['median']} [{row['craftax_classic']['cpu_sps']['min']}-"
              f"{row['craftax_classic']['cpu_sps']['max']}]: {row['cpu_sps_ratio']}x (goal >= 2x); per wall-second "
              f"{row['ours']['sps_median']} vs {row['craftax_classic']['sps_median']}")
    print(f"load average {result['load_average']}; written to {opts.out}")


if __name__ == "__main__":
    main()
