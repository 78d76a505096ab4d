"""Sample efficiency of RL-GPT's mechanism: PPO with coded macro-actions vs pure PPO.

    python benchmarks/macro_vs_pure.py [--json] [--seeds 3] [--steps 60000] [--threshold 0.8]
        [--subtasks harvest_log make_wood_pickaxe]

For each sub-task (harvest_log, and make_wood_pickaxe from scratch: wood, a table, then the
pickaxe) both arms train the same PPO (`rlgpt_cli.learn.ppo`, CleanRL defaults, 8 envs) on
the same `SubtaskEnv` with the fast agent's RL configuration (the offline model's: reward code
paying progress toward the success check, success expression, macro-actions) and the same
seeds and env-step budget; they differ only in the action space: Crafter's 17 native actions
(pure PPO, `rlgpt learn --no-macro`) or those plus the coded skills the fast agent chose as
macro-actions. Progress is counted in **env steps** (a macro-action counts every world step
it took). An arm's success rate is measured over its last `WINDOW` finished training
episodes, episode by episode; it reaches the threshold at the env step (all its envs
together) where that rate first does and then holds for the next `HOLD` episodes (see
`Outcomes`), and stops at the next update after that.

The **sample-efficiency ratio** is (median env steps pure PPO needs to reach the threshold) /
(median env steps with macro-actions), seeds 1..N, the arms interleaved seed by seed. A
seed that does not reach the threshold within its budget is reported as not reached, never
as its budget: a median exists only when most seeds reached the threshold, and the ratio
only when both medians do. Give budgets large enough for pure PPO to reach the threshold.

The default runs harvest_log, 3 seeds, 60,000 env steps per arm and seed (plus at most one
update each); `--subtasks harvest_log make_wood_pickaxe --steps 1000000` is the long run.
The measured runs, with their wall time and load, are in the README.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

SUBTASKS = ("harvest_log", "make_wood_pickaxe")
WINDOW = 20  # finished episodes the success rate is measured over
HOLD = 40  # finished episodes after reaching the threshold that must keep it (see Outcomes)
NUM_ENVS = 8


def rl_config(name: str, library):
    """The offline fast agent's RL configuration (reward code, termination, macro-actions) for the
    task's final sub-action, and that sub-action's judge (what decides its success)."""
    from rlgpt_cli.agents.coder import write_rl_config
    from rlgpt_cli.agents.planner import catalogue, make_plan
    from rlgpt_cli.models.client import ModelClient
    from rlgpt_cli.runner.checks import judge_of
    from rlgpt_cli.settings import Settings
    from rlgpt_cli.worlds.tasks import resolve_task

    task = resolve_task(name)
    client = ModelClient(Settings.resolve(model="rlgpt/offline"))
    plan, _ = make_plan(client, task, catalogue(library))
    sub = plan.subactions[-1].model_dump()
    config, _ = write_rl_config(client, task, sub, catalogue(library), [], total_steps=1,
                                max_episode_steps=task.max_steps)
    return config, judge_of(sub)


class Outcomes:
    """Every finished training episode of one arm, in the order they end, with the env steps all
    its envs had taken by then (the envs step in turn in this process, so that sum is the
    arm's sample count at that moment): the threshold is found per episode, not per update.

    The threshold counts as reached at the episode where the success rate over the last
    WINDOW episodes first reaches it, *if it holds*: the next HOLD episodes succeed at least
    as often. A policy that starts good (the macro-actions doing the work) and unlearns it,
    or a lucky window, does not count; the search then goes on from the next episode."""

    def __init__(self, threshold: float, budget: int):
        self.threshold, self.budget = threshold, budget
        self.envs: list = []
        self.wins: list[bool] = []
        self.candidate: tuple[int, int] | None = None  # (env steps, episodes) where a window reached it
        self.reached: int | None = None
        self.confirmed: int | None = None  # env steps when the HOLD episodes after it had ended

    def env_steps(self) -> int:
        return sum(e.total_env_steps for e in self.envs)

    def ended(self, success: bool) -> None:
        self.wins.append(success)
        if self.reached is not None:
            return
        steps, n = self.env_steps(), len(self.wins)
        if self.candidate is not None:
            at, index = self.candidate
            if n - index >= HOLD:
                if sum(self.wins[index:index + HOLD]) / HOLD >= self.threshold:
                    self.reached, self.confirmed = at, steps
                else:
                    self.candidate = None
            return
        recent = self.wins[-WINDOW:]
        if steps <= self.budget and len(recent) >= WINDOW and sum(recent) / WINDOW >= self.threshold:
            self.candidate = (steps, n)

    def rate(self) -> float | None:
        recent = self.wins[-WINDOW:]
        return sum(recent) / len(recent) if len(recent) >= WINDOW else None


def run_arm(config, judge, macros: list[str], library, seed: int, budget: int, threshold: float) -> dict:
    from rlgpt_cli.learn import ppo
    from rlgpt_cli.learn.subtask_env import SubtaskEnv
    from rlgpt_cli.runner.rewards import RewardSpec
    from rlgpt_cli.runner.skills import load_macros

    term = config.termination
    log = Outcomes(threshold, budget)

    class Counted(SubtaskEnv):
        def step(self, action):
            out = super().step(action)
            if out[2] or out[3]:
                log.ended(bool(out[4]["success"]))
            return out

    def make(env_seed: int):
        rewards = RewardSpec(config.reward_code, term.success, config.subtask)
        env = Counted(rewards, load_macros(library, macros), term.max_episode_steps, judge=judge, seed=env_seed,
                      library=library, macro_params=config.macro_params)
        log.envs.append(env)
        return env

    envs = ppo.SyncEnvs([functools.partial(make, seed * 100 + i) for i in range(NUM_ENVS)])
    cfg = ppo.PPOConfig(total_timesteps=budget, num_envs=NUM_ENVS, seed=seed)
    curve: list[dict] = []
    started = time.time()

    def on_update(m: dict) -> None:
        curve.append({"env_steps": log.env_steps(), "success_rate": log.rate()})

    ppo.train(envs, cfg, on_update=on_update,
              should_stop=lambda: log.reached is not None or log.env_steps() >= budget)
    envs.close()
    return {"seed": seed, "steps_to_threshold": log.reached, "held_until": log.confirmed, "env_steps": log.env_steps(),
            "episodes": len(log.wins), "final_success": log.rate(),
            "seconds": round(time.time() - started, 1), "curve": curve}


def summary(runs: list[dict], budget: int) -> dict:
    """Env steps to the threshold over seeds. A seed that did not reach it within the budget
    has no value (its steps are only known to exceed the budget), so no statistic is made
    up from it: the median is given only when more than half of the seeds reached the
    threshold (then it is one of their values), the max only when all did."""
    steps = sorted(r["steps_to_threshold"] for r in runs if r["steps_to_threshold"] is not None)
    missed = len(runs) - len(steps)
    median = statistics.median(steps + [math.inf] * missed) if len(steps) > len(runs) / 2 else None
    return {"reached": len(steps), "seeds": len(runs), "median": median, "min": steps[0] if steps else None,
            "max": steps[-1] if steps and not missed else None}


def ratio(pure: dict, macro: dict) -> dict:
    """Pure PPO's median env steps over the macro arm's, only when both medians are measured."""
    if pure["median"] is None or macro["median"] is None:
        arms = [name for name, s in (("pure PPO", pure), ("PPO+macros", macro)) if s["median"] is None]
        return {"ratio": None, "ratio_text": f"none ({' and '.join(arms)}: threshold not reached in most seeds)"}
    value = pure["median"] / macro["median"]
    return {"ratio": round(value, 2), "ratio_text": f"{value:.2f}x"}


def _cell(s: dict, budget: int) -> str:
    if s["median"] is None:
        return f"not reached ({s['reached']}/{s['seeds']} seeds within {budget})"
    top = s["max"] if s["max"] is not None else f"not reached in {s['seeds'] - s['reached']}"
    return f"{s['median']:.0f} [{s['min']}-{top}]"


def main() -> None:
    from rlgpt_cli.library import Library
    from rlgpt_cli.resources import builtin_skills_dir

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.add_argument("--seeds", type=int, default=3, help="training seeds per arm (default 3)")
    parser.add_argument("--steps", type=int, default=60_000, help="env-step budget per arm and seed")
    parser.add_argument("--threshold", type=float, default=0.8, help="training success rate to reach")
    parser.add_argument("--subtasks", nargs="+", default=["harvest_log"], choices=SUBTASKS)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "macro_vs_pure.json",
                        help="where the JSON report is written")
    args = parser.parse_args()

    import tempfile

    library = Library(tempfile.mkdtemp(prefix="rlgpt-bench-lib-"), builtin_dirs=[builtin_skills_dir()])
    results = {}
    started = time.time()
    for name in args.subtasks:
        config, judge = rl_config(name, library)
        arms: dict[str, list[dict]] = {"pure": [], "macro": []}
        for seed in range(1, args.seeds + 1):
            for arm, macros in (("pure", []), ("macro", config.macro_actions)):  # interleaved: load hits both
                r = run_arm(config, judge, macros, library, seed, args.steps, args.threshold)
                arms[arm].append(r)
                print(f"{name:18s} {arm:5s} seed {r['seed']}: threshold at {r['steps_to_threshold']} env steps "
                      f"(ran {r['env_steps']}, {r['seconds']} s)", file=sys.stderr)
        stats = {arm: summary(runs, args.steps) for arm, runs in arms.items()}
        results[name] = {"macro_actions": config.macro_actions, "macro_params": config.macro_params,
                         "reward_code": config.reward_code,
                         "success": config.termination.success, **arms, "summary": stats,
                         **ratio(stats["pure"], stats["macro"])}
    headline = results[args.subtasks[-1]]
    report = {"threshold": args.threshold, "window": WINDOW, "hold": HOLD, "budget_env_steps": args.steps, "seeds": args.seeds,
              "num_envs": NUM_ENVS, "subtasks": results, "ratio": headline["ratio"],
              "ratio_text": headline["ratio_text"], "ratio_subtask": args.subtasks[-1],
              "seconds": round(time.time() - started), "load_average": [round(x, 2) for x in os.getloadavg()]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"env steps to reach {args.threshold:.0%} training success (last {WINDOW} episodes), "
          f"budget {args.steps} env steps per arm and seed, {args.seeds} seeds: median [min-max]")
    print(f"{'sub-task':18s} {'pure PPO':>38s} {'PPO+macros':>38s}  ratio  macro-actions")
    for name, r in results.items():
        print(f"{name:18s} {_cell(r['summary']['pure'], args.steps):>38s} "
              f"{_cell(r['summary']['macro'], args.steps):>38s}  {r['ratio_text']}  {', '.join(r['macro_actions'])}")
    print(f"sample-efficiency ratio ({args.subtasks[-1]}): {report['ratio_text']}; "
          f"{report['seconds']} s, load average {report['load_average']}")


if __name__ == "__main__":
    main()
