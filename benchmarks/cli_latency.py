"""CPU time (user + sys) of fast rlgpt commands, each in a fresh process, on an installed wheel.

    python benchmarks/cli_latency.py [--json] [--runs 9] [--current]

By default it builds a wheel of this checkout and installs it (no dependencies, byte-compiled
as pip does) into a temporary folder that goes first on PYTHONPATH, so the figures are those
of an installed rlgpt, not of an editable checkout. ``--current`` measures the rlgpt this
Python imports instead. Each command runs once to warm up (it creates the run store in a
fresh RLGPT_HOME), then ``--runs`` times; the CPU time is the child's own, from ``os.wait4``,
so other processes on the machine do not count (wall time is reported beside it, and it does
depend on them: the load average is stated). Goal: <= 0.3 s of CPU each.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = [["--help"], ["--version"], ["skills", "list"], ["logs", "list"], ["tasks", "list"]]
GOAL_S = 0.3
# What the `rlgpt` console script runs.
ENTRY = "import sys; from rlgpt_cli.cli import main; sys.exit(main())"


def install_wheel(folder: Path) -> Path:
    """This checkout as a wheel, installed into ``folder/site``."""
    pip = [sys.executable, "-m", "pip"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(folder), str(ROOT)],
                   check=True, capture_output=True)
    wheel = next(folder.glob("rlgpt_cli-*.whl"))
    site = folder / "site"
    subprocess.run([*pip, "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, capture_output=True)
    return site


def once(args: list[str], env: dict) -> tuple[float, float, int]:
    """(CPU seconds, wall seconds, exit code) of one fresh process."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", ENTRY, *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    return usage.ru_utime + usage.ru_stime, wall, proc.returncode


def measure(args: list[str], runs: int, env: dict) -> dict:
    once(args, env)  # warm-up: disk cache, run store
    samples = [once(args, env) for _ in range(runs)]
    cpu = [s[0] for s in samples]
    wall = [s[1] for s in samples]
    return {
        "command": "rlgpt " + " ".join(args),
        "exit_code": samples[-1][2],
        "cpu_median_s": round(statistics.median(cpu), 3),
        "cpu_min_s": round(min(cpu), 3),
        "cpu_max_s": round(max(cpu), 3),
        "wall_median_s": round(statistics.median(wall), 3),
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--runs", type=int, default=9, help="fresh processes per command (>= 5)")
    parser.add_argument("--current", action="store_true", help="measure the rlgpt this Python imports")
    opts = parser.parse_args()
    runs = max(5, opts.runs)
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "RLGPT_HOME": str(Path(tmp) / "home")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        if not opts.current:
            env["PYTHONPATH"] = str(install_wheel(Path(tmp)))
        load_before = os.getloadavg()[0]
        results = [measure(args, runs, env) for args in COMMANDS]
        load_after = os.getloadavg()[0]
    report = {
        "goal_cpu_s": GOAL_S,
        "installed_wheel": not opts.current,
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "load_average_1min": [round(load_before, 2), round(load_after, 2)],
        "results": results,
    }
    if opts.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{'installed wheel' if not opts.current else 'current checkout'}, python {report['python']}, "
          f"{runs} runs each, load average {load_before:.2f} -> {load_after:.2f} on {os.cpu_count()} CPUs")
    print(f"{'command':20} {'CPU median':>10} {'min':>6} {'max':>6} {'wall med':>9}  exit  CPU<=0.3s")
    for r in results:
        ok = "yes" if r["cpu_median_s"] <= GOAL_S else "NO"
        print(f"{r['command']:20} {r['cpu_median_s']:10.3f} {r['cpu_min_s']:6.3f} {r['cpu_max_s']:6.3f} "
              f"{r['wall_median_s']:9.3f}  {r['exit_code']:>4}  {ok}")


if __name__ == "__main__":
    main()
