"""Correctness check for rlgpt's PPO: CartPole-v1 with CleanRL's default hyperparameters.

CleanRL documents its ppo.py reaching ~490 on CartPole-v1 within 500k steps. We pass when the
mean return of the last 100 training episodes, or of a deterministic evaluation, is >= 475.

    PYTHONPATH=src python benchmarks/ppo_cartpole.py [--json] [--steps 500000] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import gymnasium as gym

from rlgpt_cli.learn.ppo import PPOConfig, evaluate, train

TARGET = 475.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--eval-episodes", type=int, default=20)
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args()

    config = PPOConfig(total_timesteps=args.steps, seed=args.seed)
    first_hit: list[int] = []

    def on_update(m: dict) -> None:
        # The first step at which the 100-episode mean reached the target (sample efficiency).
        if not first_hit and m["recent_return"] is not None and m["recent_return"] >= TARGET:
            first_hit.append(m["global_step"])
        if not args.json and m["update"] % 50 == 0:
            print(f"step {m['global_step']:>7}  return(100) {m['recent_return'] or 0:6.1f}  SPS {m['sps']}", file=sys.stderr)

    start = time.time()
    result = train([lambda: gym.make("CartPole-v1")] * config.num_envs, config, on_update=on_update)
    wall = time.time() - start
    ev = evaluate(result.agent, lambda: gym.make("CartPole-v1"), args.eval_episodes,
                  seeds=range(10_000, 10_000 + args.eval_episodes))  # fmt: skip
    train_mean = sum(result.recent_returns) / max(len(result.recent_returns), 1)
    report = {
        "env": "CartPole-v1",
        "steps": result.global_step,
        "seed": args.seed,
        "train_return_last100": round(train_mean, 1),
        "eval_return_mean": round(ev["mean_return"], 1),
        "eval_episodes": args.eval_episodes,
        "first_step_last100_ge_475": first_hit[0] if first_hit else None,
        "sps": result.sps,
        "wall_s": round(wall, 1),
        "target": TARGET,
        "passed": train_mean >= TARGET or ev["mean_return"] >= TARGET,
    }
    if args.json:
        print(json.dumps(report))
    else:
        for k, v in report.items():
            print(f"{k:28} {v}")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
