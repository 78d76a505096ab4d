"""Worker processes: OS limits, deadlines, replacement, actors, the executor options, the same
episodes whatever the number of workers, and the same workers as Ray actors on a local Ray."""

from __future__ import annotations

import functools
import os
import time

import pytest

from rlgpt_cli.workers.limits import WorkerLimits
from rlgpt_cli.workers.pool import CRASHED, MEMORY, TIME, LocalPool, WorkerBreach, workers_cpu

SECONDS = 2.0  # short deadlines: the suite runs on 2 shared cores


# Jobs the workers run (module-level: they travel to the worker by reference).

def probe(path: str) -> dict:
    import resource
    import signal

    fds = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            fds[int(fd)] = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            pass  # listdir's own descriptor, closed already
    return {"pid": os.getpid(), "cwd": os.getcwd(), "fds": fds, "as": resource.getrlimit(resource.RLIMIT_AS)[0],
            "sigint_ignored": signal.getsignal(signal.SIGINT) == signal.SIG_IGN,
            "threads": os.environ.get("OPENBLAS_NUM_THREADS"), "sees_parent_file": any(v == path for v in fds.values())}


def spin_in_c(_):
    return sum(range(10 ** 12))  # one C call: no Python line for any meter to see


def hoard(_):
    return [bytearray(10 ** 7) for _ in range(1000)]


def crash(_):
    os.abort()


def fail(_):
    raise ValueError("a bug in the job")


def test_workers_are_persistent_isolated_and_limited(tmp_path):
    secret = tmp_path / "parent-only.txt"
    with open(secret, "w") as held, LocalPool(2, WorkerLimits(seconds=30, memory_mb=256)) as pool:
        held.write("x")
        seen = pool.map(probe, [str(secret)] * 6)
        workdirs = {s["cwd"] for s in seen}
        assert len({s["pid"] for s in seen}) <= 2 and len(workdirs) == len({s["pid"] for s in seen})
        for s in seen:
            assert os.path.basename(s["cwd"]).startswith("rlgpt-worker-") and s["pid"] != os.getpid()
            assert not s["sees_parent_file"]  # no descriptor of the parent's leaks in
            # Beyond stdio: its pipe to the parent and the fork server's own pipes, nothing else.
            assert all(v == "/dev/null" or v.startswith(("pipe:", "socket:")) for fd, v in s["fds"].items() if fd > 2)
            assert 0 < s["as"] < 8 * 2 ** 30 and s["sigint_ignored"] and s["threads"] == "1"
        assert all(os.path.isdir(d) for d in workdirs)
    assert not any(os.path.exists(d) for d in workdirs)  # removed with their workers


def test_a_c_level_loop_is_killed_at_its_deadline_and_the_worker_replaced():
    with LocalPool(1, WorkerLimits(seconds=SECONDS, memory_mb=256)) as pool:
        first = pool.map(probe, [""])[0]["pid"]
        started = time.monotonic()
        breach, after = pool.map(spin_in_c, [0]), pool.map(probe, [""])
        assert isinstance(breach[0], WorkerBreach) and breach[0].what == TIME
        assert time.monotonic() - started < SECONDS + 1 + 5  # + a new worker's start on a loaded machine
        assert "deadline" in str(breach[0]) and after[0]["pid"] != first


def test_cpu_time_limit_ends_a_worker_before_its_wall_clock_deadline():
    with LocalPool(1, WorkerLimits(seconds=60, memory_mb=256, cpu_seconds=1)) as pool:
        pool.map(probe, [""])
        started = time.monotonic()
        breach = pool.map(spin_in_c, [0])[0]
        assert breach.what == TIME and "CPU-time" in breach.detail
        assert time.monotonic() - started < 10


def test_memory_past_the_address_space_limit_and_crashes_are_breaches_and_bugs_are_raised():
    with LocalPool(2, WorkerLimits(seconds=30, memory_mb=256)) as pool:
        out = pool.map(hoard, [0, 0])
        assert all(isinstance(b, WorkerBreach) and b.what == MEMORY for b in out)
        crashed = pool.map(crash, [0])[0]
        assert crashed.what == CRASHED and "SIGABRT" in crashed.detail
        with pytest.raises(ValueError, match="a bug in the job"):
            pool.map(fail, [0])
        assert pool.map(abs, [-3, 4]) == [3, 4]  # the pool goes on with new workers


def test_an_actor_keeps_its_state_between_calls_and_dies_with_a_breach():
    with LocalPool(1, WorkerLimits(seconds=30, memory_mb=256)) as pool:
        actor = pool.actor(list)
        actor.call("append", 1)
        actor.submit("append", 2)
        actor.result()
        assert actor.call("__len__") == 2 and actor.call("copy") == [1, 2]
        with pytest.raises(WorkerBreach) as err:
            actor.call("extend", range(10 ** 10))
        assert err.value.what == MEMORY and not actor.alive


class Rendezvous:
    """An actor that answers only once the other actor's call has started too."""

    def __init__(self, mine: str, theirs: str):
        self.mine, self.theirs = mine, theirs

    def meet(self) -> bool:
        open(self.mine, "w").close()
        deadline = time.monotonic() + 10
        while not os.path.exists(self.theirs):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True


def burn_cpu(seconds: float) -> float:
    start = time.process_time()
    while time.process_time() - start < seconds:
        pass
    return seconds


def test_calls_to_several_actors_run_at_the_same_time(tmp_path):
    # Submitted calls start at once: each call waits for the other's, so calls that ran one
    # after the other would both give up (False) after 10 s.
    from rlgpt_cli.learn.actors import PoolActors

    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    actors = PoolActors([functools.partial(Rendezvous, a, b), functools.partial(Rendezvous, b, a)],
                        torch_threads=None)
    try:
        assert actors.call_all("meet") == [True, True]
    finally:
        actors.close()


def test_the_cpu_time_of_stopped_and_killed_workers_is_counted():
    # Fork-server workers are not our children, so RUSAGE_CHILDREN never sees their time.
    before = workers_cpu()
    with LocalPool(2, WorkerLimits(seconds=60, memory_mb=256)) as pool:  # a long deadline: busy cores
        assert pool.map(burn_cpu, [0.5, 0.5]) == [0.5, 0.5]
    assert workers_cpu() - before >= 1.0
    before = workers_cpu()
    with LocalPool(1, WorkerLimits(seconds=SECONDS, memory_mb=256)) as pool:
        assert isinstance(pool.map(spin_in_c, [0])[0], WorkerBreach)  # killed at its deadline
    assert workers_cpu() - before > 0.1  # what it spun until then


PLAN = [{"name": "collect_wood", "params": {"n": 5}, "success": "wood >= 5"},
        {"name": "place_table", "success": "near table"}, {"name": "make_wood_pickaxe"}]


def _evaluate(workers: int, executor: str = "local"):
    from rlgpt_cli import workers as worker_processes
    from rlgpt_cli.settings import Settings
    from rlgpt_cli.usecases import evaluate_task
    from rlgpt_cli.workspace import open_library
    from rlgpt_cli.worlds.tasks import resolve_task

    worker_processes.configure(worker_processes.Executor(executor, workers))
    try:
        return evaluate_task(resolve_task("make wood pickaxe"), PLAN, open_library(Settings.resolve()),
                             list(range(7)), max_steps=600)
    finally:
        worker_processes.configure(None)


PRESTART = """
import functools
from rlgpt_cli import workers
from rlgpt_cli.workers.pool import LocalPool

workers.configure(workers.Executor("local", {n}))
workers.prestart(("tabnanny",))
loaded = functools.partial(eval, "'tabnanny' in __import__('sys').modules")  # run in the worker
with LocalPool(1) as pool:
    print(pool.map(loaded, [{{}}])[0])
"""


@pytest.mark.parametrize(("n", "preloaded"), [(2, "True"), (1, "False")])
def test_a_command_can_start_the_fork_server_with_what_its_workers_will_import(n, preloaded):
    """`learn` starts the workers' fork server early with torch, so workers fork with it loaded
    (the server loads it while the CLI plans); with one worker nothing is started early."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", PRESTART.format(n=n)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == preloaded


def test_episodes_are_the_same_whatever_the_number_of_workers():
    one, two = _evaluate(1), _evaluate(2)
    assert one["episode_details"] == two["episode_details"]
    assert one["success_rate"] == two["success_rate"] > 0, one["subtasks"]
    assert [e["seed"] for e in one["episode_details"]] == list(range(7))
    # And the same as the episodes run in this process.
    from rlgpt_cli.runner.episode import plan_stages, run_episode
    from rlgpt_cli.settings import Settings
    from rlgpt_cli.workspace import open_library
    from rlgpt_cli.worlds.base import get_kit

    library, kit = open_library(Settings.resolve()), get_kit("crafter")
    stages = plan_stages(PLAN, library)
    here = [run_episode(lambda: kit.make_env("make_wood_pickaxe", length=600), kit.new_api, seed, stages,
                        max_steps=600, library=library).to_dict() for seed in range(7)]
    assert here == one["episode_details"]


def test_executor_options_are_checked(cli, monkeypatch):
    r = cli("--workers", "0", "skills", "list")
    assert r.exit_code == 2 and "--workers" in r.stderr
    monkeypatch.setenv("RLGPT_EXECUTOR", "threads")
    r = cli("skills", "list")
    assert r.exit_code == 2 and "RLGPT_EXECUTOR must be one of local, ray" in r.stderr
    monkeypatch.delenv("RLGPT_EXECUTOR")
    monkeypatch.setenv("RLGPT_WORKERS", "many")
    assert cli("skills", "list").exit_code == 2
    monkeypatch.delenv("RLGPT_WORKERS")
    monkeypatch.setenv("RLGPT_WORKER_SECONDS", "0")
    r = cli("run", "collect wood", "--episodes", "1")
    assert r.exit_code == 2 and "RLGPT_WORKER_SECONDS must be between" in r.stderr


def test_settings_carry_the_executor(monkeypatch):
    from rlgpt_cli.settings import Settings, default_workers

    s = Settings.resolve()
    assert (s.executor, s.workers, s.ray_address) == ("local", default_workers(), None)
    monkeypatch.setenv("RLGPT_WORKERS", "3")
    monkeypatch.setenv("RLGPT_EXECUTOR", "ray")
    monkeypatch.setenv("RLGPT_RAY_ADDRESS", "ray://head:10001")
    s = Settings.resolve(workers=2)
    assert (s.executor, s.workers, s.ray_address) == ("ray", 2, "ray://head:10001")
    assert s.sources["workers"] == "flag" and s.sources["executor"] == "RLGPT_EXECUTOR"


# --- Ray: the same workers as Ray actors, on a local Ray started once for these tests -------


@pytest.fixture(scope="module")
def local_ray():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


def test_ray_runs_a_task_with_the_same_episodes_as_local_processes(cli, local_ray):
    r = cli("--json", "--executor", "ray", "--workers", "2", "run", "make stone pickaxe", "--episodes", "20")
    assert r.exit_code == 0, r.stderr
    on_ray = r.json()
    assert on_ray["episodes"] == 20 and on_ray["success_rate"] >= 0.8
    local = cli("--json", "--workers", "2", "run", "make stone pickaxe", "--episodes", "20", "--plan",
                str(on_ray["plan_id"])).json()
    assert local["episode_details"] == on_ray["episode_details"]


def _skill_job(source: str):
    from rlgpt_cli.library import candidate_skill
    from rlgpt_cli.runner import jobs
    from rlgpt_cli.runner.episode import Stage

    meta = "\nSKILL = {'name': 'x', 'description': 'x', 'world': 'crafter', 'params': {}}\n"
    return jobs.job("crafter", None, 0, [Stage("x", candidate_skill(source + meta))], max_steps=100,
                    library=None, env={"length": 100})


def test_ray_limits_are_the_workers_limits(local_ray):
    from rlgpt_cli.runner import jobs
    from rlgpt_cli.workers.ray_pool import RayPool

    spin = "def act(api):\n    r = [range(10 ** 6)] * 1000\n    sum(map(sum, r))\n    yield 'noop'\n"
    grow = ("def act(api):\n    a = api.map\n"
            "    b = a[:, :, None, None, None] * a[None, None, :, :, None] + a[None, None, None, None, :, 0]\n"
            "    yield 'noop'\n")
    calm = "def act(api):\n    yield 'noop'\n"
    # CPU time ends the spinning one; a loaded machine still gets the wall-clock time to fail an allocation.
    with RayPool(2, WorkerLimits(seconds=8, memory_mb=128, cpu_seconds=1), imports=jobs.imports([]),
                 setup=jobs.setup("crafter")) as pool:
        out = jobs.run_jobs([_skill_job(spin), _skill_job(grow), _skill_job(calm)], pool=pool)
        assert [o.episode.stages[-1].outcome for o in out[:2]] == ["exceeded_time", "exceeded_memory"]
        assert out[2].breach is None and out[2].episode.steps == 1
        actor = pool.actor(list)
        actor.call("append", 5)
        assert actor.call("copy") == [5]


def test_a_short_learn_passes_on_ray(cli, local_ray, tmp_path):
    from test_learn import write_config

    config = write_config(tmp_path / "rl.json")
    r = cli("--json", "--executor", "ray", "learn", "--subtask", "harvest_log", "--config", config,
            "--num-envs", "1", "--episodes", "2")
    assert r.exit_code in (0, 1), r.stderr
    report = r.json()
    assert report["skill"] == "collect_wood_rl v1" and report["promotion"]["promoted"]
    assert report["promotion"]["against"].startswith("collect_wood")
