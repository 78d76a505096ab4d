"""The Crafter score of the agent `rlgpt iterate` builds, beside the published table.

    python benchmarks/crafter_score.py [--json] [--task "obtain diamond"] [--episodes 50] [--home DIR]

Runs, in a fresh RLGPT_HOME (or --home to reuse one): `rlgpt iterate TASK` with its default
budget, then `rlgpt run TASK --episodes N` on held-out seeds, and prints the success rate, the
22 achievement rates and the Crafter score (geometric mean of achievement rates in percent,
+1 offset) next to published scores. Everything runs on the offline model unless RLGPT_MODEL
is set; the model, seeds and step budget are printed with the results.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

def rlgpt(*args: str, env: dict) -> dict:
    cmd = [sys.executable, "-m", "rlgpt_cli", "--json", "--quiet", *args]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if not proc.stdout.strip():
        raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    return json.loads(proc.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--task", default="obtain diamond")
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--home", help="RLGPT_HOME to use (default: a fresh temporary one)")
    parser.add_argument("--skip-iterate", action="store_true", help="evaluate the library as it is")
    opts = parser.parse_args()
    home = opts.home or tempfile.mkdtemp(prefix="rlgpt-score-")
    env = {**os.environ, "RLGPT_HOME": home}
    started = time.perf_counter()
    built = None if opts.skip_iterate else rlgpt("iterate", opts.task, env=env)
    iterate_s = time.perf_counter() - started
    report = rlgpt("run", opts.task, "--episodes", str(opts.episodes), env=env)
    report.pop("episode_details", None)
    out = {
        "task": report["task"], "model": report.get("model"), "episodes": report["episodes"],
        "seeds": [report["seeds"][0], report["seeds"][-1]], "max_steps_per_episode": report["max_steps"],
        "iterate": None if built is None else {
            "status": built["status"], "outer_iterations": built["outer"], "env_steps": built["env_steps"],
            "cost_usd": built["cost_usd"], "wall_s": round(iterate_s, 1)},
        "success_rate": report["success_rate"], "crafter_score": report["crafter_score"],
        "achievements": report["achievements"], "published": report["published_scores"],
    }
    if opts.json:
        print(json.dumps(out, indent=2))
        return
    if built:
        print(f"iterate {opts.task}: {built['status']} after {built['outer']} outer iteration(s), "
              f"{built['env_steps']} env steps, ${built['cost_usd']:.4f}, {iterate_s:.0f} s")
    print(f"run {out['task']}: success {out['success_rate']:.0%} over {out['episodes']} held-out episodes "
          f"(seeds {out['seeds'][0]}..{out['seeds'][1]}), model {out['model']}")
    rows = sorted([("rlgpt (this run)", out["crafter_score"]), *out["published"].items()], key=lambda r: -r[1])
    print(f"\n{'agent':30} {'Crafter score':>13}")
    for name, score in rows:
        print(f"{name:30} {score:13.1f}")
    print(f"\n{'achievement':20} {'rate':>6}")
    for name, rate in out["achievements"].items():
        print(f"{name:20} {rate:6.0%}")


if __name__ == "__main__":
    main()
