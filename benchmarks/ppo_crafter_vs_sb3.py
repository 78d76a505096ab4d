"""rlgpt's PPO against stable-baselines3's PPO on Crafter, and where our learner's time goes.

    PYTHONPATH=src python benchmarks/ppo_crafter_vs_sb3.py [--json] [--steps 16384] [--repeats 3]
        [--seed 1] [--threads 1] [--profile-steps 8192] [--out benchmarks/results/ppo_crafter_vs_sb3.json]

**Comparison.** Both learners train on the same environment, Crafter's symbolic observation
(`CrafterWorld`, crafter's reward: +1 per new achievement, +-0.1 per health point), 8
sub-environments stepped in turn in this one process (SB3's DummyVecEnv, our SyncEnvs), with
the same network (our `SymbolicEncoder` -- per-channel id embeddings, two 3x3 convolutions of
16 channels, a 256-wide layer -- shared by a linear policy head and a linear value head; in SB3 it is the
features extractor of `MultiInputPolicy` with `net_arch=[]` and image normalisation off,
so both see the raw ids), the same hyperparameters (`ppo_vs_sb3.sb3_settings`: CleanRL's
defaults, 128 steps per env per rollout, 4 epochs of 4 minibatches), the same torch thread
count and the same env-step budget. The runs alternate, ours then SB3's, `--repeats` times on
seeds seed..seed+R-1, so a change in machine load hits both. A third arm, ours with the
network's former width (32 channels, 544k parameters), shows what the narrower default costs
in learning at equal env steps and what it saves in time.

Speed is env steps / wall time and / process CPU time of the whole `train` / `learn` call
(median, min, max over repeats). Learning at equal env steps is read off the environment
itself (the same wrapper for both): the mean return and the harvest_log success rate (the
episode collected wood) of the last 100 finished episodes. SB3's losses differ in detail
(its value loss), so equal settings are not identical updates.

**Profile.** One more run of our learner (not timed above), with timers around the parts of
a step, on two workloads: this plain Crafter env, and the harvest_log sub-task with the
`explore` macro-action as `rlgpt learn --subtask harvest_log` trains it (the offline fast
agent's reward code, `SubtaskEnv`, 8 envs). Each part's time is exclusive of the parts
nested in it: world step (crafter's dynamics), observation (building the symbolic
observation and the action mask, copying it into the rollout's tensors), policy forward
(the rollout's forward passes), update (GAE, the batch, the PPO epochs), macro-action
execution (the skill's code, its primitives and the sandbox, less the world steps inside),
primitive API upkeep (`CrafterAPI.observe` after every step), reward code (the sandboxed
reward function and success expression) and the rest, Python overhead (the rollout loop,
the vector env, the env's own glue, gymnasium). The timers add a little to every part.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ppo_vs_sb3 import sb3_settings  # noqa: E402

from rlgpt_cli.learn import ppo  # noqa: E402

NUM_ENVS = 8
RESULTS = Path(__file__).parent / "results" / "ppo_crafter_vs_sb3.json"


class Tally:
    """Every finished episode of one run, as the environments saw them."""

    def __init__(self):
        self.steps = 0
        self.episodes: list[tuple[int, float, bool]] = []  # (env steps so far, return, success)

    def last(self, n: int = 100) -> dict:
        recent = self.episodes[-n:]
        return {
            "episodes": len(self.episodes),
            "return_last100": round(float(np.mean([r for _, r, _ in recent])), 2) if recent else None,
            "harvest_log_last100": round(float(np.mean([s for _, _, s in recent])), 2) if recent else None,
        }


class Counted(gym.Wrapper):
    """Counts steps and episodes into a Tally; `success` = the episode has collected wood."""

    def __init__(self, env: gym.Env, tally: Tally):
        super().__init__(env)
        self.tally, self.ret = tally, 0.0

    def reset(self, **kwargs):
        self.ret = 0.0
        return self.env.reset(**kwargs)

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.tally.steps += 1
        self.ret += float(reward)
        info["success"] = info["achievements"].get("collect_wood", 0) > 0
        if terminated or truncated:
            self.tally.episodes.append((self.tally.steps, self.ret, info["success"]))
        return obs, reward, terminated, truncated, info


def crafter(tally: Tally, seed: int) -> gym.Env:
    from rlgpt_cli.worlds.crafter.env import CrafterWorld

    return Counted(CrafterWorld(seed=seed), tally)


def _timed(fn) -> dict:
    start, cpu = time.perf_counter(), time.process_time()
    steps = fn()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"env_steps": steps, "wall_s": round(wall, 2), "sps": round(steps / wall), "cpu_sps": round(steps / cpu)}


def run_ours(config: ppo.PPOConfig, channels: int = ppo.SYMBOLIC_CHANNELS) -> dict:
    """Our learner, in this process (1 rollout worker: per CPU-second against SB3's one process)."""
    tally = Tally()
    fns = [functools.partial(crafter, tally, config.seed * 100 + i) for i in range(NUM_ENVS)]

    def learn() -> int:
        torch.manual_seed(config.seed)  # as train seeds before it builds its own agent
        probe = crafter(Tally(), 0)
        agent = ppo.Agent(probe.observation_space, int(probe.action_space.n), channels=channels)
        return ppo.train(fns, config, agent=agent).global_step

    timing = _timed(learn)
    return {**timing, **tally.last()}


def run_ours_legacy(config: ppo.PPOConfig) -> dict:
    """Our learner with the network it had before (32 convolution channels, 544k parameters)."""
    return run_ours(config, channels=ppo.LEGACY_SYMBOLIC_CHANNELS)


def parameters(channels: int) -> int:
    probe = crafter(Tally(), 0)
    agent = ppo.Agent(probe.observation_space, int(probe.action_space.n), channels=channels)
    return sum(p.numel() for p in agent.parameters())


def run_sb3(config: ppo.PPOConfig) -> dict:
    from stable_baselines3 import PPO
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
    from stable_baselines3.common.vec_env import DummyVecEnv

    class Symbolic(BaseFeaturesExtractor):
        """Our SymbolicEncoder as SB3's features extractor: the same network."""

        def __init__(self, observation_space):
            encoder = ppo.SymbolicEncoder(observation_space)
            super().__init__(observation_space, features_dim=encoder.out_dim)
            self.encoder = encoder

        def forward(self, obs):
            return self.encoder(obs)

    tally = Tally()
    env = DummyVecEnv([functools.partial(crafter, tally, config.seed * 100 + i) for i in range(NUM_ENVS)])
    model = PPO(
        "MultiInputPolicy", env,
        policy_kwargs={"features_extractor_class": Symbolic, "net_arch": [], "normalize_images": False},
        **sb3_settings(config),
    )  # fmt: skip

    def learn() -> int:
        model.learn(total_timesteps=config.total_timesteps)
        return model.num_timesteps

    timing = _timed(learn)
    env.close()
    return {**timing, **tally.last()}


def spread(runs: list[dict], key: str) -> dict:
    values = [r[key] for r in runs if r[key] is not None]
    if not values:
        return {"median": None, "min": None, "max": None}
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


# --------------------------------------------------------------------------------------------
# Profile


class Profile:
    """Exclusive wall time per part: each timer subtracts the timers nested inside it."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._stack: list[float] = []  # time spent in nested timers, per open timer
        self._absorbing = 0
        self._patched: list[tuple[object, str, object]] = []

    def wrap(self, owner, attr: str, part: str, absorb: bool = False) -> None:
        """Time ``owner.attr`` as ``part``; with ``absorb``, nested timers count as this part."""
        original = owner.__dict__[attr]
        profile = self

        def timed(*args, **kwargs):
            if profile._absorbing:
                return original(*args, **kwargs)
            profile._absorbing += absorb
            profile._stack.append(0.0)
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                nested = profile._stack.pop()
                profile._absorbing -= absorb
                profile.seconds[part] += elapsed - nested
                profile.calls[part] += 1
                if profile._stack:
                    profile._stack[-1] += elapsed

        setattr(owner, attr, timed)
        self._patched.append((owner, attr, original))

    def restore(self) -> None:
        for owner, attr, original in reversed(self._patched):
            setattr(owner, attr, original)
        self._patched.clear()


PARTS = ("world step", "observation", "policy forward", "update", "macro-action execution",
         "primitive API upkeep", "reward code")


def _instrument(profile: Profile) -> None:
    from rlgpt_cli.learn.subtask_env import SubtaskEnv
    from rlgpt_cli.runner.rewards import RewardSpec
    from rlgpt_cli.runner.skills import MacroActions
    from rlgpt_cli.worlds.crafter.env import CrafterWorld
    from rlgpt_cli.worlds.crafter.primitives import CrafterAPI

    profile.wrap(CrafterWorld, "_advance", "world step")
    profile.wrap(CrafterWorld, "_observe", "observation")
    profile.wrap(CrafterWorld, "_info", "observation")
    profile.wrap(MacroActions, "observe", "observation")
    profile.wrap(ppo, "_copy_into", "observation")
    profile.wrap(ppo.Agent, "log_probs_and_value", "policy forward")
    profile.wrap(ppo.Agent, "get_value", "policy forward")
    for name in ("compute_gae", "ppo_update"):
        profile.wrap(ppo, name, "update", absorb=True)
    profile.wrap(ppo.RolloutBuffer, "flatten", "update", absorb=True)
    profile.wrap(SubtaskEnv, "_run_macro", "macro-action execution")
    profile.wrap(CrafterAPI, "observe", "primitive API upkeep")
    profile.wrap(RewardSpec, "reward", "reward code")
    profile.wrap(RewardSpec, "success", "reward code")


def _harvest_log_envs(seed: int, counter: list):
    """The harvest_log sub-task with the fast agent's macro-actions, as `rlgpt learn --subtask harvest_log`."""
    import tempfile

    from macro_vs_pure import rl_config

    from rlgpt_cli.learn.subtask_env import SubtaskEnv
    from rlgpt_cli.library import Library
    from rlgpt_cli.resources import builtin_skills_dir
    from rlgpt_cli.runner.rewards import RewardSpec
    from rlgpt_cli.runner.skills import load_macros

    library = Library(tempfile.mkdtemp(prefix="rlgpt-bench-lib-"), builtin_dirs=[builtin_skills_dir()])
    config, judge = rl_config("harvest_log", library)
    term = config.termination

    def make(env_seed: int):
        rewards = RewardSpec(config.reward_code, term.success, config.subtask)
        env = SubtaskEnv(rewards, load_macros(library, config.macro_actions), term.max_episode_steps,
                         judge=judge, seed=env_seed, library=library)
        counter.append(env)
        return env

    return [functools.partial(make, seed * 100 + i) for i in range(NUM_ENVS)]


def profile_run(workload: str, steps: int, config: ppo.PPOConfig) -> dict:
    """Our learner on ``workload`` ("crafter" or "harvest_log") for about ``steps`` env steps."""
    envs: list = []
    if workload == "crafter":
        tally = Tally()
        fns = [functools.partial(crafter, tally, config.seed * 100 + i) for i in range(NUM_ENVS)]

        def env_steps() -> int:
            return tally.steps
    else:
        fns = _harvest_log_envs(config.seed, envs)

        def env_steps() -> int:
            return sum(e.total_env_steps for e in envs)

    profile = Profile()
    _instrument(profile)
    try:
        # Decisions never outnumber env steps, so the step budget ends the run, not the config.
        cfg = dataclasses.replace(config, total_timesteps=max(steps, config.batch_size))
        start, cpu = time.perf_counter(), time.process_time()
        result = ppo.train(fns, cfg, should_stop=lambda: env_steps() >= steps)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    finally:
        profile.restore()
    parts = {part: profile.seconds.get(part, 0.0) for part in PARTS}
    parts["Python overhead"] = max(wall - sum(parts.values()), 0.0)
    return {
        "workload": workload,
        "env_steps": env_steps(),
        "decisions": result.global_step,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "env_steps_per_cpu_s": round(env_steps() / cpu),
        "seconds": {k: round(v, 3) for k, v in parts.items()},
        "percent": {k: round(100 * v / wall, 1) for k, v in parts.items()},
        "ms_per_env_step": {k: round(1000 * v / env_steps(), 4) for k, v in parts.items()},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=16_384, help="env steps per run (multiple of 1024)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per learner, alternating")
    parser.add_argument("--seed", type=int, default=1, help="first seed; repeat i uses seed + i")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for both learners")
    parser.add_argument("--profile-steps", type=int, default=8192, help="env steps per profiled workload (0: none)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the JSON report is written")
    parser.add_argument("--json", action="store_true", help="print the JSON report on stdout")
    args = parser.parse_args()

    runs: dict[str, list[dict]] = {"ours": [], "ours_32ch": [], "sb3": []}
    arms = (("ours", run_ours), ("ours_32ch", run_ours_legacy), ("sb3", run_sb3))
    # Warm-up, untimed: numba's world generation loads its cache, torch its kernels.
    warm = ppo.PPOConfig(total_timesteps=1024, num_envs=NUM_ENVS, seed=args.seed, device="cpu",
                         torch_threads=args.threads)
    run_ours(warm), run_sb3(warm)
    for i in range(args.repeats):
        config = ppo.PPOConfig(total_timesteps=args.steps, num_envs=NUM_ENVS, seed=args.seed + i, device="cpu",
                               torch_threads=args.threads)
        for name, run in arms:
            torch.set_num_threads(args.threads)
            runs[name].append({"seed": config.seed, **run(config)})
            print(f"{name:4} seed {config.seed}: {runs[name][-1]}", file=sys.stderr)
    learners = {name: {key: spread(rs, key) for key in ("sps", "cpu_sps", "return_last100", "harvest_log_last100")}
                | {"runs": rs} for name, rs in runs.items()}
    config = ppo.PPOConfig(num_envs=NUM_ENVS, seed=args.seed, device="cpu", torch_threads=args.threads)
    profiles = [profile_run(w, args.profile_steps, config) for w in ("crafter", "harvest_log")] \
        if args.profile_steps else []
    report = {
        "benchmark": "ppo_crafter_vs_sb3",
        "env": "CrafterWorld symbolic, crafter's reward",
        "steps": args.steps,
        "num_envs": NUM_ENVS,
        "seeds": list(range(args.seed, args.seed + args.repeats)),
        "torch_threads": args.threads,
        "cpu_count": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "learners": learners,
        "parameters": {"ours": parameters(ppo.SYMBOLIC_CHANNELS), "ours_32ch": parameters(ppo.LEGACY_SYMBOLIC_CHANNELS),
                       "sb3": parameters(ppo.SYMBOLIC_CHANNELS)},
        "cpu_sps_ratio": round(learners["ours"]["cpu_sps"]["median"] / learners["sb3"]["cpu_sps"]["median"], 2),
        "cpu_sps_ratio_32ch": round(learners["ours_32ch"]["cpu_sps"]["median"]
                                    / learners["sb3"]["cpu_sps"]["median"], 2),
        "profiles": profiles,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"Crafter symbolic, {args.steps} env steps x {args.repeats} seeds per learner, {NUM_ENVS} envs, "
          f"{args.threads} torch thread(s), load average {report['load_average']}")
    print(f"{'':5} {'steps/s':>18} {'CPU steps/s':>18} {'return(100)':>18} {'harvest_log(100)':>18}   median [min-max]")
    for name, r in learners.items():
        cells = [f"{r[k]['median']} [{r[k]['min']}-{r[k]['max']}]" for k in
                 ("sps", "cpu_sps", "return_last100", "harvest_log_last100")]
        print(f"{name:5} " + " ".join(f"{c:>18}" for c in cells))
    print(f"CPU steps/s ours / sb3: {report['cpu_sps_ratio']} (ours with the 32-channel network: "
          f"{report['cpu_sps_ratio_32ch']}); parameters {report['parameters']}")
    for p in profiles:
        print(f"\nour learner on {p['workload']}: {p['env_steps']} env steps ({p['decisions']} decisions) "
              f"in {p['wall_s']} s, {p['env_steps_per_cpu_s']} env steps per CPU-second")
        for part in p["percent"]:
            print(f"  {part:24} {p['percent'][part]:>5.1f}%  {p['ms_per_env_step'][part]:>8.4f} ms/env step")
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
