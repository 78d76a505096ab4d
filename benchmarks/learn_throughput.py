"""`rlgpt learn --subtask harvest_log` with 1 rollout worker against 2 (or N), as a user runs it.

    PYTHONPATH=src python benchmarks/learn_throughput.py [--json] [--steps 16384] [--repeats 3]
        [--workers 1,2] [--out benchmarks/results/learn_throughput.json]

Each run is the whole command in a fresh process (the offline fast agent's RL config, with the
`explore` macro-action, 8 envs, `--no-save`, 5 held-out episodes), with ``RLGPT_WORKERS`` set;
the arms alternate, so a change in machine load hits all of them. Reported per run:

* training: env steps (macro-actions counted by their world steps) per wall-second and per
  CPU-second of the PPO phase, read off the run's progress.json (its last point) and the CPU
  time of the command (``RUSAGE_CHILDREN``) and of its worker processes (the command's own
  ``cpu_seconds.workers``: fork-server workers are not its children) -- the CPU figure covers
  the whole command, start-up and evaluation included, so it is the conservative one;
* the PPO phase after its first update: env steps per CPU-second of every core (the run's
  progress.json points carry the CPU time so far, its workers included) -- start-up, the first
  update and the final evaluation left out, validation episodes in;
* the whole command: wall seconds and env steps (training + validation + evaluation) per
  CPU-second.

The ratio of the medians (N workers / 1 worker) is the figure that matters on a shared machine;
goals on 2 idle cores: >= 3,000 training env steps/s with 2 workers, 2 workers >= 1.6x 1, and
>= 1,310 env steps per CPU-second. Every run trains the same thing (same seed, same envs), so
the learning is identical across arms by construction (tests/test_learn.py checks it).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results" / "learn_throughput.json"


def run_learn(workers: int, steps: int, seed: int) -> dict:
    home = tempfile.mkdtemp(prefix="rlgpt-bench-learn-")
    env = {**os.environ, "RLGPT_HOME": home, "RLGPT_WORKERS": str(workers),
           "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    cmd = [sys.executable, "-m", "rlgpt_cli", "--json", "--model", "rlgpt/offline", "learn", "--subtask",
           "harvest_log", "--steps", str(steps), "--seed", str(seed), "--episodes", "5", "--no-save"]
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"rlgpt learn failed ({proc.returncode}): {proc.stderr[-2000:]}")
    report = json.loads(proc.stdout)
    # The fork-server workers are not our children: the command reports their CPU itself.
    cpu += report["cpu_seconds"]["workers"]
    curve = json.loads((Path(report["run_dir"]) / "progress.json").read_text())["curve"]
    trained, seconds = curve[-1]["env_steps"], curve[-1]["seconds"]
    all_steps = trained + report["eval_env_steps"] + (report["best"]["validation_env_steps"] or 0)
    # The PPO phase after its first update, on every core (the curve's CPU counts the workers).
    first, last = curve[0], curve[-1]
    ppo_cpu = last["cpu_seconds"] - first["cpu_seconds"]
    return {
        "workers": workers, "seed": seed, "env_steps": trained, "train_seconds": round(seconds, 2),
        "train_sps": round(trained / seconds), "command_wall_s": round(wall, 2), "command_cpu_s": round(cpu, 2),
        "cpu_sps": round(all_steps / cpu), "train_steps_per_command_cpu_s": round(trained / cpu),
        "ppo_cpu_sps": round((last["env_steps"] - first["env_steps"]) / ppo_cpu) if ppo_cpu > 0 else None,
        "success_rate": report["success_rate"], "load_before": round(load, 2),
    }


def spread(values: list[float | None]) -> dict:
    values = [v for v in values if v is not None]
    if not values:
        return {"median": None, "min": None, "max": None}
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=16_384, help="env-step budget of each learn run")
    parser.add_argument("--repeats", type=int, default=3, help="runs per arm, alternating")
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts (the first is the base)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--json", action="store_true", help="print the JSON report on stdout")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]

    runs: dict[int, list[dict]] = {w: [] for w in counts}
    for _ in range(args.repeats):
        for w in counts:
            runs[w].append(run_learn(w, args.steps, args.seed))
            print(f"{w} worker(s): {runs[w][-1]}", file=sys.stderr)
    arms = {str(w): {key: spread([r[key] for r in rs]) for key in
                     ("train_sps", "ppo_cpu_sps", "cpu_sps", "train_steps_per_command_cpu_s", "command_wall_s")}
            | {"runs": rs}
            for w, rs in runs.items()}
    base = arms[str(counts[0])]["train_sps"]["median"]
    report = {
        "benchmark": "learn_throughput",
        "command": "rlgpt learn --subtask harvest_log (offline RL config, explore macro-action, 8 envs)",
        "steps": args.steps, "repeats": args.repeats, "cpu_count": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "arms": arms,
        "train_sps_ratio": {str(w): round(arms[str(w)]["train_sps"]["median"] / base, 2) for w in counts},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"{report['command']}, {args.steps} env steps, {args.repeats} runs per arm, "
          f"load average {report['load_average']} on {report['cpu_count']} cores")
    print(f"{'workers':>8} {'train env steps/s':>20} {'PPO env steps/CPU-s':>20} {'env steps/CPU-s':>20} "
          f"{'command wall s':>18}   median [min-max]")
    for w in counts:
        a = arms[str(w)]
        cells = [f"{a[k]['median']} [{a[k]['min']}-{a[k]['max']}]"
                 for k in ("train_sps", "ppo_cpu_sps", "cpu_sps", "command_wall_s")]
        print(f"{w:>8} {cells[0]:>20} {cells[1]:>20} {cells[2]:>20} {cells[3]:>18}   "
              f"x{report['train_sps_ratio'][str(w)]}")
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
