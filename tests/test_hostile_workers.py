"""A battery of C-level CPU and memory bombs, as code skills run by worker processes: each ends
within its deadline (+1 s), `code` and `run` with one end with exit 4 and one line, and the
parent's memory stays where it was. Untrusted code cannot decide its own grade or name."""

from __future__ import annotations

import json
import textwrap
import time

import pytest

from fake_openai import FakeOpenAI, Reply

DEADLINE = 2.0  # seconds per episode in these tests (the default is 120)
MEMORY_MB = 256  # address space a worker may add (the default is 1024)
BREACHES = {"exceeded_time", "exceeded_memory"}

# Each one hung the CLI's process, or broke its memory cap, when skills ran in it.
BOMBS = {
    # CPU inside C: no Python line runs, so no line meter ever gets control back.
    "sum_map_sum": "def act(api):\n    r = [range(10**6)] * 1000\n    yield 'noop'\n    sum(map(sum, r))\n    yield 'noop'\n",
    "max_chain": "import itertools\n\ndef act(api):\n    r = [range(10**6)] * 1000\n    max(itertools.chain(*r))\n    yield 'noop'\n",
    "nlargest_chain": "import heapq\nimport itertools\n\ndef act(api):\n    r = [range(10**6)] * 1000\n    heapq.nlargest(3, itertools.chain(*r))\n    yield 'noop'\n",
    "mean_chain": "import itertools\nimport statistics\n\ndef act(api):\n    r = [range(10**6)] * 1000\n    statistics.mean(itertools.chain(*r))\n    yield 'noop'\n",
    "modular_pow": "def act(api):\n    x = 2 ** 45000 - 1\n    for i in range(1000):\n        pow(x, x, x - 2)\n    yield 'noop'\n",
    "from_bytes_pow": "def act(api):\n    x = int.from_bytes(b'\\xff' * 12000, 'big')\n    for i in range(1000):\n        pow(x, x - 1, x + 2)\n    yield 'noop'\n",
    "lcm_range": "import math\n\ndef act(api):\n    math.lcm(*range(1, 10**6))\n    yield 'noop'\n",
    "repr_shared_rows": "def act(api):\n    row = [1] * 10**5\n    m = [row] * 10**5\n    s = repr(m)\n    yield 'noop'\n",
    # Memory: one line of C grows past any check between lines.
    "list_map_list": "def act(api):\n    r = [range(10**6)] * 1000\n    x = list(map(list, r))\n    yield 'noop'\n",
    "str_of_repeats": "def act(api):\n    s = 'x' * 10**6\n    t = str([s] * 3000)\n    yield 'noop'\n",
    "doubling_strings": "def act(api):\n    strings = ['x' * 10**6]\n    while True:\n        strings = strings + [s[1:] + 'y' for s in strings]\n    yield 'noop'\n",
    "numpy_broadcast": "def act(api):\n    a = api.map\n    b = a[:, :, None, None, None] * a[None, None, :, :, None] + a[None, None, None, None, :, 0]\n    yield 'noop'\n",
    "yield_repeats": "def act(api):\n    s = 'x' * 10**6\n    yield [s] * 3000\n",
    "hoard_across_yields": "def act(api):\n    hoard = []\n    while True:\n        for i in range(10):\n            hoard.append('x' * 999000 + str(len(hoard)))\n        yield 'noop'\n",
    # Generators finalized under the meter while a long loop runs (the abort-in-a-finalizer trick).
    "finalizer_abort": "def act(api):\n    def spin():\n        n = 0\n        while True:\n            n += 1\n            yield n\n    while True:\n        g = spin()\n        next(g)\n        g = None\n        for i in range(10**6):\n            pass\n    yield 'noop'\n",
    # Every per-call cap holds; only a per-episode budget stops it (it took 17 minutes).
    "sorted_per_step": "def act(api):\n    while True:\n        for i in range(4):\n            sorted(list(range(10**6)))\n        yield 'noop'\n",
}
META = ("\n\nSKILL = {'name': 'bomb', 'description': 'a bomb', 'world': 'crafter', 'preconditions': {}, "
        "'effects': {'inventory': {'wood': 1}}, 'params': {}}\n")


def peak_rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024


@pytest.fixture(scope="module")
def pool():
    from rlgpt_cli.runner import jobs
    from rlgpt_cli.workers.limits import WorkerLimits
    from rlgpt_cli.workers.pool import LocalPool

    with LocalPool(1, WorkerLimits(seconds=DEADLINE, memory_mb=MEMORY_MB), imports=jobs.imports([]),
                   setup=jobs.setup("crafter")) as p:
        yield p


def _job(source: str):
    from rlgpt_cli.library import candidate_skill
    from rlgpt_cli.runner import jobs
    from rlgpt_cli.runner.episode import Stage

    stage = Stage("collect_wood", candidate_skill(source + META), max_steps=10**6)
    return jobs.job("crafter", None, 0, [stage], max_steps=10**6, library=None, env={"length": 10**6})


@pytest.mark.parametrize("name", list(BOMBS))
def test_each_bomb_ends_within_its_deadline_and_the_parent_keeps_its_memory(pool, name):
    from rlgpt_cli.runner import jobs

    assert jobs.run_jobs([_job("def act(api):\n    yield 'noop'\n")], pool=pool)[0].breach is None  # warm
    before = peak_rss_mb()
    started = time.monotonic()
    outcome = jobs.run_jobs([_job(BOMBS[name])], pool=pool)[0]
    elapsed = time.monotonic() - started
    stage = outcome.episode.stages[-1]
    assert elapsed < DEADLINE + 1, f"{name} took {elapsed:.1f} s"
    assert not stage.success
    # Stopped by the worker's limits, or by the sandbox's own caps where they see it first.
    assert stage.outcome in BREACHES or (stage.outcome == "error" and "stopped" in stage.error), stage
    if stage.outcome in BREACHES:
        assert stage.error.startswith(stage.outcome.replace("_", " "))
    assert peak_rss_mb() - before < 32  # the parent only waited on a pipe


# --- the CLI: one line and exit 4 -------------------------------------------------------------

PLAN = {"task": "collect_wood", "subactions": [{"name": "collect_wood", "kind": "code", "effects": ["wood >= 1"]}]}


def _answer(source: str, skill: str = "collect_wood") -> Reply:
    return Reply(json.dumps({"skill": skill, "description": "Collect wood.", "source": source,
                             "effects": ["wood >= 1"]}))


def _critic(success: bool) -> Reply:
    return Reply(json.dumps({"success": success, "score": 1.0 if success else 0.0, "feedback": "judged",
                             "suggestions": [], "revise": "none" if success else "code"}))


@pytest.fixture
def limited(monkeypatch):
    monkeypatch.setenv("RLGPT_WORKER_SECONDS", str(DEADLINE))
    monkeypatch.setenv("RLGPT_WORKER_MEMORY_MB", str(MEMORY_MB))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")

    def use(server):
        monkeypatch.setenv("OPENAI_API_BASE", server.url)
    return use


@pytest.mark.parametrize("bomb, what", [("sum_map_sum", "exceeded time"), ("numpy_broadcast", "exceeded memory")])
def test_code_with_a_bomb_ends_with_exit_4_and_one_line(cli, limited, bomb, what):
    with FakeOpenAI([Reply(json.dumps(PLAN)), _answer(BOMBS[bomb]), _critic(False), _answer(BOMBS[bomb]),
                     _critic(False)]) as server:
        limited(server)
        started = time.monotonic()
        r = cli("--model", "openai/test-model", "--workers", "2", "code", "--subtask", "harvest_log",
                "--attempts", "2", "--episodes", "4")
    assert r.exit_code == 4, r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "refused or stopped" in errors[0] and what in errors[0], r.stderr
    assert time.monotonic() - started < 2 * (DEADLINE + 1) + 30  # one episode per attempt, not four
    assert all(s["provenance"].get("source") == "builtin" for s in cli("--json", "skills", "list").json())


def test_the_critic_sees_a_breach_as_the_attempts_failure(cli, limited):
    good = "def act(api):\n    ok = yield from skill('collect_wood', n=1)\n    return ok\n"
    with FakeOpenAI([Reply(json.dumps(PLAN)), _answer(BOMBS["max_chain"]), _critic(False), _answer(good),
                     _critic(True)]) as server:
        limited(server)
        r = cli("--json", "--model", "openai/test-model", "code", "--subtask", "harvest_log", "--attempts", "2",
                "--episodes", "2", "--promotion-episodes", "2")
        critic_request = server.requests[2]["messages"][-1]["content"]
    assert r.exit_code == 0, r.stderr
    assert "exceeded_time" in critic_request and "exceeded time" in critic_request
    report = r.json()
    assert [a["success_rate"] for a in report["attempts"]] == [0.0, 1.0] and report["saved"]
    assert "exceeded time" in report["attempts"][0]["stopped"] and report["attempts"][1]["stopped"] is None


def test_run_with_a_bomb_in_the_library_ends_with_exit_4(cli, limited, isolated_home):
    from rlgpt_cli.library import Library
    from rlgpt_cli.store import Store

    library = Library(isolated_home / "library")
    library.add_code_skill(BOMBS["lcm_range"] + META.replace("'bomb'", "'lcm_bomb'"))
    plan = {"task": "collect_wood", "subactions": [
        {"name": "collect_wood", "kind": "reuse", "skill": "lcm_bomb", "success": "wood >= 1"}]}
    isolated_home.mkdir(parents=True, exist_ok=True)
    plan_id = Store(isolated_home / "rlgpt.db").add_plan("collect_wood", "crafter", "test", plan)
    r = cli("--json", "run", "collect wood", "--plan", str(plan_id), "--episodes", "6")
    assert r.exit_code == 4, r.stderr
    document = r.json()
    assert document["exit_code"] == 4 and "exceeded time" in document["error"] and "lcm_bomb" in document["error"]
    assert len([line for line in r.stderr.splitlines() if line.startswith("Error:")]) == 1


# --- untrusted code cannot decide its own grade or name ----------------------------------------


def test_a_skill_that_writes_its_apis_memory_cannot_fake_its_success():
    from rlgpt_cli.library import candidate_skill
    from rlgpt_cli.runner import jobs
    from rlgpt_cli.runner.episode import stage_from_subaction

    faker = textwrap.dedent("""\
        def act(api):
            x, y = api.pos
            for cell in [(x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)]:
                api.objects[cell] = ('cow', api.step + 1)
            api.achievements['place_table'] = 5
            api.inventory['wood'] = 9
            yield 'noop'
            api.achievements['place_table'] = 5
            api.inventory['wood'] = 9
            return True
        """) + META.replace("'bomb'", "'place_table'")
    for check in ("near cow", "achievement place_table", "wood >= 1"):
        stage = stage_from_subaction({"name": "place_table", "success": check}, candidate_skill(faker))
        out = jobs.run_jobs([jobs.job("crafter", None, 0, [stage], max_steps=50, library=None,
                                      env={"length": 50})])[0]
        assert [(r.success, r.outcome) for r in out.episode.stages] == [(False, "check_failed")], check


def test_reward_code_and_success_expressions_cannot_change_what_the_runner_reads():
    import numpy as np

    from rlgpt_cli.runner.rewards import RewardCodeError, RewardSpec

    tamper = textwrap.dedent("""\
        def reward(prev, obs, info):
            info['achievements']['collect_wood'] = 99
            info['inventory'].clear()
            info['unlocked'] = ['collect_diamond']
            return 1.0
        """)
    spec = RewardSpec(tamper, "info['achievements'].update({'collect_diamond': 1}) "
                              "or info['achievements'].get('collect_wood', 0) > 50", "collect_wood")
    obs = {"inventory": np.zeros(16, np.uint8), "pos": np.array([3, 3])}
    info = {"achievements": {"collect_wood": 0}, "inventory": {"wood": 0}, "unlocked": []}
    assert spec.reward(obs, obs, info) == 1.0
    assert not spec.success(obs, info)  # the reward code's tampering does not even reach the expression
    assert info == {"achievements": {"collect_wood": 0}, "inventory": {"wood": 0}, "unlocked": []}
    writer = RewardSpec("def reward(prev, obs, info):\n    obs['inventory'][5] = 9\n    return 0.0\n", "True",
                        "collect_wood")
    with pytest.raises(RewardCodeError, match="may not assign to ndarray"):
        writer.reward(obs, obs, info)
    assert not obs["inventory"].any()


def test_a_models_code_cannot_name_its_skill(cli, limited):
    renaming = ("SKILL = {'name': 'place_table', 'description': 'mine now'}\n\n"
                "def act(api):\n    ok = yield from skill('collect_wood', n=1)\n    return ok\n")
    with FakeOpenAI([Reply(json.dumps(PLAN)), _answer(renaming, skill="place_table")]) as server:
        limited(server)
        r = cli("--model", "openai/test-model", "code", "--subtask", "harvest_log", "--attempts", "1")
    assert r.exit_code == 4 and "assigns SKILL" in r.stderr
    assert all(s["provenance"].get("source") == "builtin" for s in cli("--json", "skills", "list").json())


def test_a_skills_name_comes_from_the_sub_action_not_the_answer(cli, limited):
    honest = "def act(api):\n    ok = yield from skill('collect_wood', n=1)\n    return ok\n"
    with FakeOpenAI([Reply(json.dumps(PLAN)), _answer(honest, skill="place_table"), _critic(True)]) as server:
        limited(server)
        r = cli("--json", "--model", "openai/test-model", "code", "--subtask", "harvest_log", "--attempts", "1",
                "--episodes", "2", "--promotion-episodes", "2")
    assert r.exit_code == 0, r.stderr
    assert r.json()["skill"]["name"].startswith("collect_wood")  # the sub-action's name, not the answer's
    listed = {s["name"]: s for s in cli("--json", "skills", "list").json()}
    assert listed["place_table"]["provenance"].get("source") == "builtin"
