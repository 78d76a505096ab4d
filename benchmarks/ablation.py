"""The RL-GPT ablation on Crafter: pure RL, pure code, slow+fast without critic, and RL-GPT,
at the same env-step budget, over several seeds, on the benchmark task and on obtain diamond.

    python benchmarks/ablation.py [--json] [--tasks crafter "obtain diamond"] [--seeds 3]
        [--max-steps 200000] [--variants "pure RL,pure code"] [--out FILE]
        [--workers N] [--executor local|ray] [--ray-address ADDRESS]

Each variant starts from an empty library in a fresh RLGPT_HOME and gets the same env-step
budget (evaluation episodes and training both count); its agent is then evaluated on the same
held-out seeds. The variants, as in the paper's ablation:

- pure RL: PPO on the whole task with Crafter's native actions only (no code, no macro-actions),
  rewarded as Crafter rewards (+1 for each achievement unlocked), the task's achievements as success;
- pure code: the fast agent writes code for every sub-action (no RL), with the critic;
- no critic: slow + fast agents, the fast agent sees only raw success rates;
- RL-GPT: slow + fast + critic; failing code moves to RL with coded macro-actions.

Every variant x seed is one job on the current executor (`--workers`, `--executor`, as rlgpt's
own options; default every core, local processes): the jobs run at the same time, each in its
own worker process (a Ray actor's worker with `--executor ray`), and each job's episodes run in a
worker of its own on that node. A job depends only on its task, variant, seed and budgets, so
the results are the same whatever the number of workers or the executor.

The metric is the task's success rate, or the Crafter score for the benchmark task (`crafter`,
all 22 achievements, which no episode completes). Per task the report gives mean +- sd over the
seeds and checks the claim RL-GPT > pure code > pure RL with non-overlapping spreads (each
mean - sd above the next one's mean + sd).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HELD_OUT = 20  # held-out episodes every variant's agent is evaluated on
# A job is a whole iterate or learn run: the deadline of one message is a day, and its address
# space is not capped (1 TB), so the episode workers it opens set their own caps below it.
JOB_SECONDS, JOB_MEMORY_MB = 86_400.0, 1_048_576


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


def variant_iterate(task_name: str, seed: int, max_steps: int, episodes: int, held_out: int = HELD_OUT,
                    **config) -> dict:
    """One run of the two loops (or a restricted form); its agent on held-out seeds."""
    built = build_agent(task_name, seed, max_steps, episodes, **config)
    state = built["state"]
    return {**held_out_scores(built["task"], built["subactions"], built["library"], seed, held_out),
            "env_steps": state["env_steps"], "status": state["status"]}


def held_out_scores(task, subactions: list[dict], library, seed: int, held_out: int = HELD_OUT) -> dict:
    """The agent on ``held_out`` held-out seeds: success rate and Crafter score (0 for no agent)."""
    from rlgpt_cli import seeds
    from rlgpt_cli.errors import RlgptError
    from rlgpt_cli.usecases import evaluate_task

    try:
        report = evaluate_task(task, subactions, library, seeds.held_out(held_out, seed))
    except RlgptError as exc:  # a variant that built no agent (no plan, no skill) scores 0
        return {"success_rate": 0.0, "crafter_score": 0.0, "error": exc.message}
    return {"success_rate": report["success_rate"], "crafter_score": report.get("crafter_score", 0.0)}


def variant_pure_rl(task_name: str, seed: int, max_steps: int, episodes: int, held_out: int = HELD_OUT) -> dict:
    """PPO on the whole task, native actions only, within the same budget; its policy then
    plays the task on the held-out seeds as the other variants' agents do."""
    from rlgpt_cli.models.schemas import RLConfig
    from rlgpt_cli.usecases import learn_subaction
    from rlgpt_cli.workspace import open_library
    from rlgpt_cli.settings import Settings
    from rlgpt_cli.worlds.tasks import resolve_task

    home = Path(tempfile.mkdtemp(prefix="rlgpt-ablation-"))
    os.environ["RLGPT_HOME"] = str(home)
    settings = Settings.resolve(seed=seed)
    task = resolve_task(task_name)
    config = RLConfig(
        subtask=task.name, macro_actions=[], total_steps=max_steps,
        reward_code="def reward(prev, obs, info):\n    return float(len(info.get('unlocked', [])))\n",
        termination={"success": f"all(info['achievements'].get(a, 0) > 0 for a in {list(task.achievements)!r})",
                     "max_episode_steps": task.max_steps},
    )
    final = task.achievements[-1]
    sub = {"name": task.name, "kind": "rl", "effects": [],
           "success": f"achievement {final} unlocked" if len(task.achievements) == 1 else None}
    library = open_library(settings)
    result = learn_subaction(settings, task, sub, config, [], library, seed=seed, log=lambda m: None)
    scores = held_out_scores(task, [sub], library, seed, held_out) if result["saved"] else \
        {"success_rate": result["success_rate"], "crafter_score": 0.0, "error": "the policy was not saved"}
    return {**scores, "env_steps": result["env_steps"] + result["eval_env_steps"], "status": "trained"}


def metric(task_name: str) -> str:
    """What the ablation compares on a task: the Crafter score on the benchmark task (all 22
    achievements, which no episode completes), else the task's success rate."""
    from rlgpt_cli.worlds.tasks import resolve_task

    return "crafter_score" if len(resolve_task(task_name).achievements) > 1 else "success_rate"


def summarise(runs: list[dict], key: str) -> dict:
    values = [r[key] for r in runs]
    return {"mean": statistics.mean(values), "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
            "values": values}


ORDER = ("RL-GPT (slow+fast+critic)", "pure code", "pure RL")


def ordering(results: dict[str, dict]) -> dict:
    """The claim RL-GPT > pure code > pure RL, each pair with non-overlapping spreads
    (mean - sd of the better one above mean + sd of the next)."""
    pairs = {}
    for better, worse in zip(ORDER, ORDER[1:]):
        if better in results and worse in results:
            a, b = results[better], results[worse]
            pairs[f"{better} > {worse}"] = a["mean"] - a["sd"] > b["mean"] + b["sd"]
    return {"pairs": pairs, "holds": len(pairs) == len(ORDER) - 1 and all(pairs.values())}


VARIANTS = {
    "pure RL": lambda t, s, b, e, h: variant_pure_rl(t, s, b, e, h),
    "pure code": lambda t, s, b, e, h: variant_iterate(t, s, b, e, h, force_kind="code"),
    "slow+fast without critic": lambda t, s, b, e, h: variant_iterate(t, s, b, e, h, use_critic=False),
    "RL-GPT (slow+fast+critic)": lambda t, s, b, e, h: variant_iterate(t, s, b, e, h),
}


@dataclass(frozen=True)
class Job:
    """One variant on one seed of one task: a job for a worker."""

    task: str
    variant: str
    seed: int
    max_steps: int
    episodes: int
    held_out: int = HELD_OUT


def jobs(tasks: list[str], variants: list[str], seeds: int, max_steps: int, episodes: int,
         held_out: int = HELD_OUT) -> list[Job]:
    """The ablation's jobs: every task x variant x seed."""
    return [Job(t, v, s, max_steps, episodes, held_out) for t in tasks for v in variants for s in range(seeds)]


def run_job(job: Job) -> dict:
    """In a worker: the variant's run and its held-out scores (its wall time under ``wall_s``)."""
    import multiprocessing

    from rlgpt_cli import workers

    # The job's own episodes run in one local worker beside it, on its node: each job is then
    # the same whatever executor placed it. Its worker (a daemon process) may start that one:
    # multiprocessing's rule against a daemon's children guards against orphans, and these are
    # forked by their own fork server and end when this process's pipes close.
    multiprocessing.current_process().daemon = False
    workers.configure(workers.Executor("local", 1))
    started = time.perf_counter()
    r = VARIANTS[job.variant](job.task, job.seed, job.max_steps, job.episodes, job.held_out)
    return {**r, "wall_s": round(time.perf_counter() - started, 1)}


def run_jobs(todo: list[Job], on_result=None) -> list[dict]:
    """``todo`` on the current executor's workers, at the same time; results in ``todo``'s
    order. A job stopped by a worker's limit, or that raised, ends the ablation with that error."""
    from rlgpt_cli.workers import open_pool
    from rlgpt_cli.workers.limits import WorkerLimits
    from rlgpt_cli.workers.pool import WorkerBreach

    limits = WorkerLimits(seconds=JOB_SECONDS, memory_mb=JOB_MEMORY_MB)
    with open_pool(limits=limits) as pool:
        results = pool.map(run_job, todo, on_result=on_result)
    breach = next((r for r in results if isinstance(r, WorkerBreach)), None)
    if breach is not None:
        raise breach
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--tasks", nargs="+", default=["crafter", "obtain diamond"])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--max-steps", type=int, default=200_000)
    parser.add_argument("--episodes", type=int, default=5, help="evaluation episodes per attempt")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma list of variant names")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "ablation.json")
    parser.add_argument("--workers", type=int, help="jobs at the same time (default: every core)")
    parser.add_argument("--executor", choices=("local", "ray"), help="where the jobs run (default: local)")
    parser.add_argument("--ray-address", help="an existing Ray cluster (default: a local Ray)")
    opts = parser.parse_args()
    from rlgpt_cli import workers
    from rlgpt_cli.settings import Settings

    s = Settings.resolve(workers=opts.workers, executor=opts.executor, ray_address=opts.ray_address)
    workers.configure(workers.Executor(s.executor, s.workers, s.ray_address))
    chosen = [v.strip() for v in opts.variants.split(",")]
    todo = jobs(opts.tasks, chosen, opts.seeds, opts.max_steps, opts.episodes)
    started_all = time.perf_counter()
    runs = run_jobs(todo, on_result=lambda i, r: print(f"{todo[i].task} / {todo[i].variant} seed {todo[i].seed}: "
                                                       f"{r}", file=sys.stderr))
    tasks = {}
    for task_name in opts.tasks:
        key = metric(task_name)
        results = {}
        for name in chosen:
            mine = [r for job, r in zip(todo, runs) if (job.task, job.variant) == (task_name, name)]
            results[name] = {**summarise(mine, key), "mean_env_steps": statistics.mean(r["env_steps"] for r in mine),
                             "runs": mine}
        tasks[task_name] = {"metric": key, "results": results, "ordering": ordering(results)}
    out = {"tasks": tasks, "seeds": opts.seeds, "step_budget": opts.max_steps,
           "model": os.environ.get("RLGPT_MODEL", "rlgpt/offline"), "held_out_episodes": HELD_OUT,
           "executor": s.executor, "workers": s.workers,
           "wall_s": round(time.perf_counter() - started_all), "load_average": [round(x, 2) for x in os.getloadavg()]}
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    opts.out.write_text(json.dumps(out, indent=2) + "\n")
    if opts.json:
        print(json.dumps(out, indent=2))
        return
    print(f"budget {opts.max_steps} env steps per run; {opts.seeds} seeds; {HELD_OUT} held-out episodes; "
          f"model {out['model']}; {out['wall_s']} s, load average {out['load_average']}")
    for task_name, t in tasks.items():
        fmt = "{:8.1f}" if t["metric"] == "crafter_score" else "{:8.0%}"
        print(f"\n{task_name}: {t['metric'].replace('_', ' ')}")
        print(f"{'variant':28} {'mean':>8} {'sd':>8} {'env steps used':>15}")
        for name, r in t["results"].items():
            print(f"{name:28} {fmt.format(r['mean'])} {fmt.format(r['sd'])} {r['mean_env_steps']:15.0f}")
        verdict = "holds" if t["ordering"]["holds"] else "does not hold"
        print(f"RL-GPT > pure code > pure RL (non-overlapping mean +- sd): {verdict} "
              + "; ".join(f"{k}: {'yes' if v else 'no'}" for k, v in t["ordering"]["pairs"].items()))


if __name__ == "__main__":
    main()
