"""Median wall time of fast rlgpt commands over fresh processes.

    python benchmarks/cli_latency.py [--json] [--runs 7]

Each command runs in a new process with an empty RLGPT_HOME (after one warm-up run that creates
the run store), as a user's shell would start it. Goal: <= 0.3 s each.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

COMMANDS = [["--help"], ["--version"], ["logs", "list"], ["skills", "list"]]


def rlgpt_command() -> list[str]:
    exe = shutil.which("rlgpt", path=os.path.dirname(sys.executable)) or shutil.which("rlgpt")
    return [exe] if exe else [sys.executable, "-m", "rlgpt_cli"]


def measure(args: list[str], runs: int, env: dict) -> dict:
    base = rlgpt_command()
    subprocess.run(base + args, env=env, capture_output=True)  # warm-up: disk cache, store
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(base + args, env=env, capture_output=True)
        times.append(time.perf_counter() - start)
    return {
        "command": "rlgpt " + " ".join(args),
        "exit_code": proc.returncode,
        "median_s": statistics.median(times),
        "min_s": min(times),
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per command (>= 5)")
    opts = parser.parse_args()
    runs = max(5, opts.runs)
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "RLGPT_HOME": home}
        results = [measure(args, runs, env) for args in COMMANDS]
    report = {"goal_s": 0.3, "python": sys.version.split()[0], "results": results}
    if opts.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{'command':28} {'median s':>9} {'min s':>7}  exit  goal<=0.3s")
    for r in results:
        ok = "yes" if r["median_s"] <= 0.3 else "NO"
        print(f"{r['command']:28} {r['median_s']:9.3f} {r['min_s']:7.3f}  {r['exit_code']:>4}  {ok}")


if __name__ == "__main__":
    main()
