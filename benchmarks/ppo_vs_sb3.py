"""rlgpt's PPO against stable-baselines3's PPO: steps/s and learning, same settings, one process.

Both learners get the same environment (gymnasium.make(env) x num_envs, stepped in-process one
after another: SB3's DummyVecEnv, our SyncEnvs), the same hyperparameters (CleanRL's defaults
mapped onto SB3's names below), the same network shape (separate 64-64 tanh actor and critic,
orthogonal init), the same torch thread count and step budget, and run one after the other,
never at once. The losses are each library's own: SB3's value loss is the clipped MSE without
CleanRL's max(clipped, unclipped) and 0.5 factor, so equal settings are not identical updates.

Steps/s is total env steps / wall time of the whole `learn` / `train` call (rollouts and
updates). CPU steps/s divides by the process's CPU time instead, which a busy shared machine
disturbs far less (both learners use the same single torch thread). With --repeats N each
learner runs N times, alternating, on seeds seed..seed+N-1: speed is the median run, learning
the mean over seeds of a deterministic evaluation (same evaluation seeds for both) and of each
learner's own last-100-episode training mean.

    PYTHONPATH=src python benchmarks/ppo_vs_sb3.py [--json] [--steps 100000] [--env CartPole-v1]
        [--repeats 3] [--seed 1] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import gymnasium as gym
import numpy as np
import torch

from rlgpt_cli.learn.ppo import PPOConfig, evaluate, train


def run_ours(env_id: str, config: PPOConfig, eval_seeds: list[int]) -> dict:
    start, cpu = time.perf_counter(), time.process_time()
    result = train([lambda: gym.make(env_id)] * config.num_envs, config)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    ev = evaluate(result.agent, lambda: gym.make(env_id), len(eval_seeds), seeds=eval_seeds)
    return {
        "sps": round(result.global_step / wall),
        "cpu_sps": round(result.global_step / cpu),
        "wall_s": round(wall, 2),
        "train_return_last100": round(float(np.mean(result.recent_returns)), 1),
        "eval_return": round(ev["mean_return"], 1),
    }


def sb3_settings(config: PPOConfig) -> dict:
    """Our PPOConfig under SB3's PPO argument names (policy, env and network left to the caller).
    SB3 already uses orthogonal init (sqrt 2 / 0.01 / 1) and Adam eps=1e-5 for PPO."""
    return {
        "learning_rate": lambda progress: progress * config.learning_rate,  # linear anneal to 0
        "n_steps": config.num_steps,
        "batch_size": config.minibatch_size,
        "n_epochs": config.update_epochs,
        "gamma": config.gamma,
        "gae_lambda": config.gae_lambda,
        "clip_range": config.clip_coef,
        "clip_range_vf": config.clip_coef if config.clip_vloss else None,
        "normalize_advantage": config.norm_adv,
        "ent_coef": config.ent_coef,
        "vf_coef": config.vf_coef,
        "max_grad_norm": config.max_grad_norm,
        "target_kl": config.target_kl,
        "seed": config.seed,
        "device": "cpu",
        "verbose": 0,
    }


def run_sb3(env_id: str, config: PPOConfig, eval_seeds: list[int]) -> dict:
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    env = make_vec_env(env_id, n_envs=config.num_envs, seed=config.seed)
    model = PPO(
        "MlpPolicy",
        env,
        policy_kwargs={"net_arch": {"pi": [64, 64], "vf": [64, 64]}, "activation_fn": torch.nn.Tanh},
        **sb3_settings(config),
    )
    start, cpu = time.perf_counter(), time.process_time()
    model.learn(total_timesteps=config.total_timesteps)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    steps = model.num_timesteps

    eval_env = gym.make(env_id)
    returns = []
    for seed in eval_seeds:
        obs, _ = eval_env.reset(seed=seed)
        total, done = 0.0, False
        while not done:
            action, _ = model.predict(obs, deterministic=True)
            obs, reward, term, trunc, _ = eval_env.step(int(action))
            total += float(reward)
            done = term or trunc
        returns.append(total)
    eval_env.close()
    env.close()
    train_returns = [ep["r"] for ep in model.ep_info_buffer]
    return {
        "sps": round(steps / wall),
        "cpu_sps": round(steps / cpu),
        "wall_s": round(wall, 2),
        "train_return_last100": round(float(np.mean(train_returns)), 1) if train_returns else None,
        "eval_return": round(float(np.mean(returns)), 1),
    }


def summarise(runs: list[dict]) -> dict:
    """Median speed (robust to a load spike on a shared machine), mean learning over seeds."""

    def median(key: str) -> float:
        return float(np.median([r[key] for r in runs]))

    def mean(key: str) -> float | None:
        values = [r[key] for r in runs if r[key] is not None]
        return round(float(np.mean(values)), 1) if values else None

    return {
        "sps": round(median("sps")),
        "cpu_sps": round(median("cpu_sps")),
        "wall_s": round(median("wall_s"), 2),
        "train_return_last100": mean("train_return_last100"),
        "eval_return": mean("eval_return"),
        "runs": runs,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--seed", type=int, default=1, help="first seed; repeat i uses seed + i")
    parser.add_argument("--repeats", type=int, default=1, help="runs per learner, alternating, seeds seed..seed+repeats-1")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for both learners")
    parser.add_argument("--eval-episodes", type=int, default=20)
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args()

    eval_seeds = list(range(10_000, 10_000 + args.eval_episodes))
    # Alternate the learners so that a change in machine load hits both.
    runs: dict[str, list[dict]] = {"sb3": [], "ours": []}
    for i in range(args.repeats):
        config = PPOConfig(total_timesteps=args.steps, seed=args.seed + i, device="cpu", torch_threads=args.threads)
        torch.set_num_threads(args.threads)
        runs["sb3"].append(run_sb3(args.env, config, eval_seeds))
        torch.set_num_threads(args.threads)
        runs["ours"].append(run_ours(args.env, config, eval_seeds))
    sb3, ours = summarise(runs["sb3"]), summarise(runs["ours"])

    report = {
        "env": args.env,
        "steps": args.steps,
        "seeds": list(range(args.seed, args.seed + args.repeats)),
        "torch_threads": args.threads,
        "settings": {
            "num_envs": config.num_envs,
            "num_steps": config.num_steps,
            "minibatch_size": config.minibatch_size,
            "update_epochs": config.update_epochs,
            "learning_rate": config.learning_rate,
        },
        "ours": ours,
        "sb3": sb3,
        "sps_ratio": round(ours["sps"] / sb3["sps"], 2),
        "cpu_sps_ratio": round(ours["cpu_sps"] / sb3["cpu_sps"], 2),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    if args.json:
        print(json.dumps(report))
    else:
        print(f"{args.env}, {args.steps} steps, seeds {report['seeds']}, {args.threads} torch thread(s), "
              f"load average {report['load_average_1min']}")  # fmt: skip
        print(f"{'':6} {'steps/s':>8} {'CPU steps/s':>12} {'wall s':>8} {'train ret(100)':>15} {'eval ret':>9}")
        for name, r in (("ours", ours), ("sb3", sb3)):
            print(f"{name:6} {r['sps']:>8} {r['cpu_sps']:>12} {r['wall_s']:>8} "
                  f"{r['train_return_last100']!s:>15} {r['eval_return']!s:>9}")  # fmt: skip
        print(f"sps_ratio {report['sps_ratio']}  cpu_sps_ratio {report['cpu_sps_ratio']}  "
              "(speed: median run; returns: mean over seeds)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
