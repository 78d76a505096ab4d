"""Worker processes: evaluation episodes/s with 1 vs all workers, Ray vs local processes, and
the hostile battery's wall time against its deadline with the parent's peak memory.

    python benchmarks/workers.py [--episodes N] [--repeats R] [--no-ray] [--deadline S]

* **throughput**: the same N evaluation episodes of ``make stone pickaxe`` (the built-in
  skills, held-out seeds) as episode jobs on a warm pool: local with 1 worker, local with
  every core, Ray (a local Ray with every core) — interleaved R times; median, min, max of
  episodes/s. Pools are started and warmed first (their start-up is timed apart), and the
  episodes are checked to be identical across the three.
* **hostile battery**: every bomb of ``tests/test_hostile_workers.py`` as a code skill in a
  worker with a ``--deadline`` s deadline and a 256 MB address-space limit: its wall time
  and how it ended; the parent's peak RSS (VmHWM) before and after.

Writes ``benchmarks/results/workers.json`` with the load average (``uptime``) at start and end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "src"))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

PLAN = [{"name": "collect_wood", "params": {"n": 2}, "success": "wood >= 2"},
        {"name": "place_table", "success": "near table"}, {"name": "make_wood_pickaxe"},
        {"name": "collect_stone"}, {"name": "make_stone_pickaxe"}]


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def peak_rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024


def episode_jobs(n: int):
    from rlgpt_cli import seeds
    from rlgpt_cli.runner import jobs
    from rlgpt_cli.runner.episode import plan_stages
    from rlgpt_cli.workspace import open_library
    from rlgpt_cli.settings import Settings
    from rlgpt_cli.worlds.tasks import resolve_task

    task = resolve_task("make stone pickaxe")
    library = open_library(Settings.resolve())
    stages = plan_stages(PLAN, library)
    return [jobs.job(task.world, task.name, seed, stages, max_steps=2000, library=library, env={"length": 2000})
            for seed in seeds.held_out(n)], stages


def throughput(opts) -> dict:
    from rlgpt_cli.runner import jobs
    from rlgpt_cli.settings import default_workers
    from rlgpt_cli.workers.limits import WorkerLimits
    from rlgpt_cli.workers.pool import LocalPool

    cores = default_workers()
    todo, stages = episode_jobs(opts.episodes)
    limits = WorkerLimits()
    kinds = {"local_1": lambda: LocalPool(1, limits, imports=jobs.imports(stages), setup=jobs.setup("crafter")),
             f"local_{cores}": lambda: LocalPool(cores, limits, imports=jobs.imports(stages),
                                                 setup=jobs.setup("crafter"))}
    if not opts.no_ray:
        import ray

        from rlgpt_cli.workers.ray_pool import RayPool

        started = time.perf_counter()
        ray.init(num_cpus=cores, include_dashboard=False, log_to_driver=False, configure_logging=False)
        ray_start = time.perf_counter() - started
        kinds[f"ray_{cores}"] = lambda: RayPool(cores, limits, imports=jobs.imports(stages),
                                                setup=jobs.setup("crafter"))
    pools, start_s, rates, episodes = {}, {}, {k: [] for k in kinds}, {}
    for name, make in kinds.items():
        started = time.perf_counter()
        pools[name] = make()
        jobs.run_jobs(todo[:cores], pool=pools[name])  # every worker started and warm
        start_s[name] = time.perf_counter() - started
    for _ in range(opts.repeats):
        for name, pool in pools.items():  # interleaved: machine noise hits every way alike
            started = time.perf_counter()
            out = jobs.run_jobs(todo, pool=pool)
            rates[name].append(len(todo) / (time.perf_counter() - started))
            episodes[name] = [o.episode.to_dict() for o in out]
    for pool in pools.values():
        pool.close()
    if len({json.dumps(e, sort_keys=True) for e in episodes.values()}) != 1:
        raise SystemExit("the executors ran different episodes: the timings are not comparable")
    rows = {k: {"median": statistics.median(v), "min": min(v), "max": max(v)} for k, v in rates.items()}
    result = {"episodes": len(todo), "env_steps": sum(e["steps"] for e in episodes["local_1"]),
              "episodes_per_s": rows, "pool_start_s": start_s,
              "all_over_one": rows[f"local_{cores}"]["median"] / rows["local_1"]["median"]}
    if not opts.no_ray:
        result["ray_start_s"] = ray_start
        result["ray_over_local"] = rows[f"ray_{cores}"]["median"] / rows[f"local_{cores}"]["median"]
    return result


def battery(opts) -> dict:
    from test_hostile_workers import BOMBS, META

    from rlgpt_cli.library import candidate_skill
    from rlgpt_cli.runner import jobs
    from rlgpt_cli.runner.episode import Stage
    from rlgpt_cli.workers.limits import WorkerLimits
    from rlgpt_cli.workers.pool import LocalPool

    def job(source):
        stage = Stage("collect_wood", candidate_skill(source + META), max_steps=10 ** 6)
        return jobs.job("crafter", None, 0, [stage], max_steps=10 ** 6, library=None, env={"length": 10 ** 6})

    rows = {}
    before = peak_rss_mb()
    with LocalPool(1, WorkerLimits(seconds=opts.deadline, memory_mb=256), imports=jobs.imports([]),
                   setup=jobs.setup("crafter")) as pool:
        for name, source in BOMBS.items():
            jobs.run_jobs([job("def act(api):\n    yield 'noop'\n")], pool=pool)  # a warm worker
            started = time.perf_counter()
            stage = jobs.run_jobs([job(source)], pool=pool)[0].episode.stages[-1]
            rows[name] = {"wall_s": round(time.perf_counter() - started, 3), "outcome": stage.outcome,
                          "error": (stage.error or "")[:120]}
    return {"deadline_s": opts.deadline, "memory_mb": 256, "snippets": rows,
            "max_wall_s": max(r["wall_s"] for r in rows.values()),
            "all_within_deadline_plus_1s": all(r["wall_s"] < opts.deadline + 1 for r in rows.values()),
            "parent_peak_rss_mb": {"before": round(before, 1), "after": round(peak_rss_mb(), 1)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=16, help="evaluation episodes per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats of each executor")
    parser.add_argument("--deadline", type=float, default=2.0, help="per-episode deadline of the battery (s)")
    parser.add_argument("--no-ray", action="store_true", help="leave Ray out")
    opts = parser.parse_args()
    result = {"benchmark": "workers", "python": platform.python_version(), "cpu_count": os.cpu_count(),
              "uptime_start": uptime(), "repeats": opts.repeats}
    result["throughput"] = throughput(opts)
    result["hostile_battery"] = battery(opts)
    result["uptime_end"] = uptime()
    path = os.path.join(HERE, "results", "workers.json")
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
    t = result["throughput"]
    for name, row in t["episodes_per_s"].items():
        print(f"{name:<10} {row['median']:7.2f} episodes/s (min {row['min']:.2f}, max {row['max']:.2f}); "
              f"pool start {t['pool_start_s'][name]:.1f} s")
    print(f"all cores / 1 worker: {t['all_over_one']:.2f}x"
          + (f"; Ray / local: {t['ray_over_local']:.2f}x (Ray's own start {t['ray_start_s']:.1f} s)"
             if "ray_over_local" in t else ""))
    b = result["hostile_battery"]
    print(f"hostile battery: {len(b['snippets'])} snippets, slowest {b['max_wall_s']:.2f} s against a "
          f"{b['deadline_s']:g} s deadline; parent peak RSS {b['parent_peak_rss_mb']['before']} -> "
          f"{b['parent_peak_rss_mb']['after']} MB")
    print(f"{result['uptime_start']}  ->  {result['uptime_end']}; written to {path}")


if __name__ == "__main__":
    main()
