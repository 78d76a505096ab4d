"""benchmarks/ablation.py: every variant x seed is one job on the current executor, and the
results are the same on 1 worker, on 2 and on a local Ray (tiny budgets)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

BENCHMARKS = str(Path(__file__).resolve().parent.parent / "benchmarks")


@pytest.fixture(scope="module")
def ablation():
    sys.path.insert(0, BENCHMARKS)  # workers get the parent's sys.path with their job
    try:
        import ablation

        yield ablation
    finally:
        sys.path.remove(BENCHMARKS)


@pytest.fixture(scope="module")
def todo(ablation):
    # Two seeds of one variant: different runs (they use different env steps), one job each.
    return ablation.jobs(["collect wood"], ["pure code"], seeds=2, max_steps=2000, episodes=2, held_out=2)


def _run(ablation, todo, executor):
    from rlgpt_cli import workers

    workers.configure(executor)
    try:
        return [{k: v for k, v in r.items() if k != "wall_s"} for r in ablation.run_jobs(todo)]
    finally:
        workers.configure(None)


@pytest.fixture(scope="module")
def one_worker(ablation, todo):
    from rlgpt_cli.workers import Executor

    return _run(ablation, todo, Executor("local", 1))


def test_the_ablation_is_one_job_per_variant_and_seed(ablation):
    todo = ablation.jobs(["collect wood", "crafter"], ["pure RL", "pure code"], seeds=3, max_steps=10, episodes=1)
    assert len(todo) == 12 and len(set(todo)) == 12
    assert {(j.task, j.variant, j.seed) for j in todo} == {
        (t, v, s) for t in ("collect wood", "crafter") for v in ("pure RL", "pure code") for s in range(3)}


def test_two_local_workers_give_the_results_of_one(ablation, todo, one_worker, tmp_path):
    from rlgpt_cli.workers import Executor

    assert len(one_worker) == 2 and all(r["status"] == "succeeded" and r["env_steps"] > 0 for r in one_worker)
    assert one_worker[0] != one_worker[1]  # the seeds' runs differ: results are in the jobs' order
    assert _run(ablation, todo, Executor("local", 2)) == one_worker


def test_a_local_ray_gives_the_results_of_one_local_worker(ablation, todo, one_worker):
    import ray

    from rlgpt_cli.workers import Executor

    with pytest.MonkeyPatch.context() as mp:
        # Ray's workers import the job's module (benchmarks/ablation.py) by name.
        mp.setenv("PYTHONPATH", os.pathsep.join([BENCHMARKS, *filter(None, [os.environ.get("PYTHONPATH")])]))
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        # One job: a whole iterate run in a Ray actor is slow on 2 busy cores; the local test
        # above checks the jobs' order.
        assert _run(ablation, todo[:1], Executor("ray", 2)) == one_worker[:1]
    finally:
        ray.shutdown()
