"""Episodes as jobs for worker processes (``rlgpt_cli.workers``).

Every evaluation episode that runs LLM-written code (the inner loop's judging, ``rlgpt
run``/``iterate`` task evaluation, promotion judging) goes to a worker as one picklable
:class:`EpisodeJob`: the world's name and env options, the seed, the stages (skills by
name and version, re-read from the library by the worker, or an unsaved candidate's
source) and the step budget. The worker builds the world, runs the existing
:func:`~rlgpt_cli.runner.episode.run_episode` and sends back the :class:`EpisodeOutcome`.
An episode's result depends only on its job, so it is the same whatever the number of
workers.

A job that breaks a worker's limit (``exceeded time``, ``exceeded memory``) comes back as an
episode whose stage that was running when it broke failed with that outcome, so the critic
and the reports see it like any other failure cause.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

from rlgpt_cli.runner.episode import Episode, Stage, StageResult, run_episode

# Stage outcomes of a breach (next to "died", "step_cap", ... in runner.episode).
BREACH_OUTCOMES = {"exceeded time": "exceeded_time", "exceeded memory": "exceeded_memory", "crashed": "crashed"}


@dataclass(frozen=True)
class EpisodeJob:
    world: str
    task: str | None
    seed: int
    stages: tuple  # Stage, each skill without its entry (the worker re-reads it from the library)
    max_steps: int
    library: Any  # library.Library: a folder path and flags, rebuilt in the worker
    env: dict = dataclasses.field(default_factory=dict)  # the kit's make_env options (length)
    trace: int = 0  # the last steps to keep for the critic (0: none)
    guard: bool = False  # hand control to the library's survival guard in danger (runner.skills.Guard)


@dataclass
class EpisodeOutcome:
    episode: Episode
    reward: float = 0.0  # the world's reward summed over the episode
    trace: list | None = None  # the last ``job.trace`` steps
    breach: str | None = None  # "exceeded time (...)" when the worker was stopped
    guard_calls: int = 0  # hand-offs to the survival guard
    guard_steps: int = 0  # env steps the guard took


def job(world: str, task: str | None, seed: int, stages: list[Stage], *, max_steps: int, library,
        env: dict | None = None, trace: int = 0, guard: bool = False) -> EpisodeJob:
    """An episode job; a trusted skill's ``entry`` stays behind (the worker finds it again)."""
    portable = tuple(dataclasses.replace(s, skill=dataclasses.replace(s.skill, entry=None)) for s in stages)
    return EpisodeJob(world, task, seed, portable, max_steps, library, dict(env or {}), trace, guard)


def _stage_reporter(index: int, skill, library, steps: list[int]):
    """``skill`` wrapped so that the worker tells its parent when the stage starts (with the
    steps the stages before it took): a breach is then reported at the stage it hit."""
    from rlgpt_cli.runner.skills import start
    from rlgpt_cli.workers.pool import report

    def entry(api, **params):
        report({"stage": index, "steps": list(steps)})
        steps.append(0)
        actions = start(skill, api, params, library=library)
        try:
            while True:
                try:
                    action = next(actions)
                except StopIteration as stop:
                    return stop.value  # the skill's own verdict (True, False), as the runner reads it
                steps[-1] += 1
                yield action
        finally:
            if hasattr(actions, "close"):
                actions.close()

    return dataclasses.replace(skill, entry=entry)


# The skills a worker has read from a library, by folder, name, version and content hash: a
# version never changes its files, so later episodes need not read and hash them again.
_SKILLS: dict[tuple, Any] = {}


def _resolve(library, skill):
    """The library's own record of ``skill`` (its ``entry``, for a plugin's), read here, in
    the worker, with its files' hash checked."""
    key = (str(library.path), skill.name, skill.version, skill.sha256)
    if not skill.sha256 or key not in _SKILLS:
        _SKILLS[key] = library.get(skill.name, skill.version)
    return _SKILLS[key]


def run_job(job: EpisodeJob) -> EpisodeOutcome:
    """In the worker: one episode, as :func:`run_episode` runs it in the parent."""
    from collections import deque

    from rlgpt_cli.runner.skills import guard_from
    from rlgpt_cli.workers.pool import MEMORY
    from rlgpt_cli.worlds.base import get_kit

    kit = get_kit(job.world)
    steps: list[int] = []
    stages = []
    for i, stage in enumerate(job.stages):
        skill = stage.skill
        if skill.source is None and job.library is not None:
            skill = _resolve(job.library, skill)
        stages.append(dataclasses.replace(stage, skill=_stage_reporter(i, skill, job.library, steps)))
    trace = deque(maxlen=job.trace) if job.trace else None
    world: list = []

    def make_world():
        world.append(_Summed(kit.make_env(job.task, **job.env)))
        return world[0]

    guard = guard_from(job.library) if job.guard else None
    episode = run_episode(make_world, kit.new_api, job.seed, stages, max_steps=job.max_steps,
                          library=job.library, trace=trace, guard=guard)
    # A MemoryError the skill's code raised (and the sandbox reported as its error) is the
    # address-space limit: the worker, which may be short of memory now, is replaced.
    if any(": MemoryError" in (r.error or "") for r in episode.stages):
        raise MemoryError(MEMORY)
    return EpisodeOutcome(episode, world[0].reward, list(trace) if trace is not None else None,
                          guard_calls=guard.calls if guard else 0, guard_steps=guard.steps if guard else 0)


class _Summed:
    """A world that sums its rewards (crafter's ``stats.jsonl`` wants the episode's reward)."""

    def __init__(self, world):
        self._world, self.reward = world, 0.0

    def __getattr__(self, name):
        return getattr(self._world, name)

    def step(self, action):
        out = self._world.step(action)
        self.reward += float(out[1])
        return out


def breached(job: EpisodeJob, breach) -> EpisodeOutcome:
    """The outcome of a job its worker was stopped in: the stages before the one running
    then succeeded (a stage starts only after the ones before it held), that one failed with
    the breach as its outcome and error."""
    progress = breach.progress or {"stage": 0, "steps": []}
    index, steps = progress["stage"], progress["steps"]
    results = [StageResult(s.name, s.skill.name, True, n, "success") for s, n in zip(job.stages, steps)]
    stage = job.stages[min(index, len(job.stages) - 1)]
    results.append(StageResult(stage.name, stage.skill.name, False, 0, BREACH_OUTCOMES[breach.what],
                               str(breach)))
    episode = Episode(job.seed, results, sum(steps), {}, {}, False)
    return EpisodeOutcome(episode, breach=str(breach))


def prepare(worlds: tuple) -> None:
    """In a new worker, before its limits and deadlines: load plugins and start each world
    once, so the first episode costs what the others do."""
    from rlgpt_cli.worlds.base import get_kit

    for name in worlds:
        try:
            world = get_kit(name).make_env(None)
            world.reset(seed=0)
            world.close()
        except Exception:  # noqa: BLE001 - an episode in this world reports it, as it would here
            pass


def setup(*worlds: str) -> tuple:
    """The ``setup`` of a pool whose episodes run in ``worlds`` (see ``LocalPool``)."""
    return prepare, (tuple(sorted(set(worlds))),)


def imports(stages: list[Stage]) -> tuple:
    """What a worker imports before its address-space limit: the runner, the world, and
    torch when a stage runs a policy (a policy that a code skill calls loads it later)."""
    modules = ("numpy", "rlgpt_cli.runner.jobs", "rlgpt_cli.sandbox")
    return modules + (("torch",) if any(s.skill.kind == "policy" for s in stages) else ())


def run_jobs(jobs: list[EpisodeJob], *, pool=None, stop_on_breach: bool = False,
             on_result: Callable[[int, EpisodeOutcome], None] | None = None) -> list[EpisodeOutcome | None]:
    """Run ``jobs`` on ``pool`` (default: a pool of the current executor, closed after);
    outcomes in the jobs' order. With ``stop_on_breach``, the first breach ends the run:
    jobs not finished then are None."""
    from rlgpt_cli.workers import open_pool
    from rlgpt_cli.workers.pool import WorkerBreach

    if not jobs:
        return []
    own = pool is None
    if own:
        stages = [s for j in jobs for s in j.stages]
        pool = open_pool(imports=imports(stages), setup=setup(*(j.world for j in jobs)), workers=min(len(jobs), _size()))
    stopped: list = []

    def done(i: int, value) -> None:
        outcome = breached(jobs[i], value) if isinstance(value, WorkerBreach) else value
        if on_result:
            on_result(i, outcome)
        if stop_on_breach and outcome.breach:
            stopped.append(i)

    try:
        values = pool.map(run_job, jobs, on_result=done, stop=lambda: bool(stopped))
    finally:
        if own:
            pool.close()
    return [None if v is None else breached(jobs[i], v) if isinstance(v, WorkerBreach) else v
            for i, v in enumerate(values)]


def _size() -> int:
    from rlgpt_cli.workers import current

    return current().workers
