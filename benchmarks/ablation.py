"""The RL-GPT ablation on Crafter: pure RL, pure code, slow+fast without critic, and RL-GPT,
at the same env-step budget, over several seeds.

    python benchmarks/ablation.py [--json] [--task "make stone pickaxe"] [--seeds 3] [--max-steps 200000]

Each variant starts from an empty library in a fresh RLGPT_HOME and gets the same env-step
budget (evaluation episodes and training both count); its agent is then evaluated on held-out
seeds. The variants, as in the paper's ablation:

- pure RL: PPO on the whole task with Crafter's native actions only (no code, no macro-actions);
- pure code: the fast agent writes code for every sub-action (no RL), with the critic;
- no critic: slow + fast agents, the fast agent sees only raw success rates;
- RL-GPT: slow + fast + critic; failing code moves to RL with coded macro-actions.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def build_agent(task_name: str, seed: int, max_steps: int, episodes: int, **config) -> dict:
    """`rlgpt iterate` in this process, in a fresh RLGPT_HOME, until its budget ends: the state,
    the plan it built (the one it validated, else the last one it evaluated, with each
    sub-action's skill, parameters and success check, as `rlgpt run` runs it) and its library."""
    from rlgpt_cli.errors import BudgetExceeded
    from rlgpt_cli.iterate import IterateConfig, Loops, new_state, state_path
    from rlgpt_cli.workspace import model_client, open_library
    from rlgpt_cli.settings import Settings
    from rlgpt_cli.store import Store
    from rlgpt_cli.worlds.tasks import resolve_task

    home = Path(tempfile.mkdtemp(prefix="rlgpt-ablation-"))
    os.environ["RLGPT_HOME"] = str(home)
    settings = Settings.resolve(seed=seed)
    store = Store(settings.db_path)
    task = resolve_task(task_name)
    cfg = IterateConfig(max_steps=max_steps, episodes=episodes, **config)
    state = new_state(task, cfg, 0, settings.model)
    loops = Loops(settings, task, state, state_path(settings.runs_dir, 0), model_client(settings, store), store, cfg)
    try:
        loops.run()
    except BudgetExceeded:
        pass
    plan_id = state.get("validated_plan_id") or state["plan_id"]
    subs = store.get_plan(plan_id)["plan"]["subactions"] if plan_id else []
    return {"task": task, "state": state, "subactions": subs, "library": open_library(settings),
            "model": settings.model, "home": str(home)}


def variant_iterate(task_name: str, seed: int, max_steps: int, episodes: int, **config) -> dict:
    """One run of the two loops (or a restricted form); its agent on held-out seeds."""
    from rlgpt_cli import seeds
    from rlgpt_cli.usecases import evaluate_task

    built = build_agent(task_name, seed, max_steps, episodes, **config)
    try:
        report = evaluate_task(built["task"], built["subactions"], built["library"], seeds.held_out(HELD_OUT, seed))
        rate = report["success_rate"]
    except Exception as exc:  # a variant that built no agent scores 0
        rate, report = 0.0, {"error": str(exc)}
    state = built["state"]
    return {"success_rate": rate, "env_steps": state["env_steps"], "status": state["status"]}


def variant_pure_rl(task_name: str, seed: int, max_steps: int, episodes: int) -> dict:
    """PPO on the whole task, native actions only, within the same budget."""
    from rlgpt_cli.models.schemas import RLConfig
    from rlgpt_cli.usecases import learn_subaction
    from rlgpt_cli.workspace import open_library
    from rlgpt_cli.settings import Settings
    from rlgpt_cli.worlds.tasks import resolve_task

    home = Path(tempfile.mkdtemp(prefix="rlgpt-ablation-"))
    os.environ["RLGPT_HOME"] = str(home)
    settings = Settings.resolve(seed=seed)
    task = resolve_task(task_name)
    achievement = task.achievements[0]
    config = RLConfig(
        subtask=task.name, macro_actions=[], total_steps=max_steps,
        reward_code="def reward(prev, obs, info):\n    return 0.0\n",
        termination={"success": f"info['achievements'].get({achievement!r}, 0) > 0", "max_episode_steps": 1000},
    )
    sub = {"name": task.name, "kind": "rl", "effects": []}
    result = learn_subaction(settings, task, sub, config, [], open_library(settings), seed=seed, log=lambda m: None)
    return {"success_rate": result["success_rate"], "env_steps": result["env_steps"], "status": "trained"}


VARIANTS = {
    "pure RL": lambda t, s, b, e: variant_pure_rl(t, s, b, e),
    "pure code": lambda t, s, b, e: variant_iterate(t, s, b, e, force_kind="code"),
    "slow+fast without critic": lambda t, s, b, e: variant_iterate(t, s, b, e, use_critic=False),
    "RL-GPT (slow+fast+critic)": lambda t, s, b, e: variant_iterate(t, s, b, e),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--task", default="make stone pickaxe")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--max-steps", type=int, default=200_000)
    parser.add_argument("--episodes", type=int, default=5, help="evaluation episodes per attempt")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma list of variant names")
    opts = parser.parse_args()
    chosen = [v.strip() for v in opts.variants.split(",")]
    results = {}
    for name in chosen:
        runs = []
        for seed in range(opts.seeds):
            started = time.perf_counter()
            r = VARIANTS[name](opts.task, seed, opts.max_steps, opts.episodes)
            r["wall_s"] = round(time.perf_counter() - started, 1)
            runs.append(r)
            print(f"{name} seed {seed}: {r}", file=sys.stderr)
        rates = [r["success_rate"] for r in runs]
        results[name] = {"mean_success": statistics.mean(rates), "stdev": statistics.pstdev(rates),
                         "mean_env_steps": statistics.mean(r["env_steps"] for r in runs), "runs": runs}
    out = {"task": opts.task, "seeds": opts.seeds, "step_budget": opts.max_steps,
           "model": os.environ.get("RLGPT_MODEL", "rlgpt/offline"), "held_out_episodes": 20, "results": results}
    if opts.json:
        print(json.dumps(out, indent=2))
        return
    print(f"task {opts.task}; budget {opts.max_steps} env steps; {opts.seeds} seeds; model {out['model']}")
    print(f"{'variant':28} {'success':>8} {'± sd':>6} {'env steps used':>15}")
    for name, r in results.items():
        print(f"{name:28} {r['mean_success']:8.0%} {r['stdev']:6.2f} {r['mean_env_steps']:15.0f}")


if __name__ == "__main__":
    main()
