"""Run a plan's sub-actions in a world, one skill after another, and judge each one.

The evaluation of a new code skill, the start state of a sub-task being learned,
``rlgpt iterate`` and ``rlgpt run`` all do the same thing: reset the world on a seed, run
the skills of the earlier sub-actions to reach the state the next one starts from, run it,
and record whether its success check held.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from rlgpt_cli.errors import NotFound
from rlgpt_cli.runner import checks
from rlgpt_cli.runner.skills import run_skill

# Steps a single sub-action may take before it counts as stuck.
STAGE_STEPS = 1500
# The last stage of a plan: no later stage needs its time, so only the episode's own end stops it.
LAST_STAGE_STEPS = 2**31 - 1


@dataclass
class Stage:
    """One sub-action to run: its name, the skill that performs it, and what it should achieve."""

    name: str
    skill: Any  # library.Skill
    effects: dict = field(default_factory=dict)  # parsed facts, see agents.facts.parse
    params: dict = field(default_factory=dict)
    max_steps: int = STAGE_STEPS
    check: checks.Check = field(default_factory=lambda: checks.Check(()))  # the plan's success check

    @property
    def judge(self) -> checks.Judge:
        """What decides whether the stage succeeded (``runner.checks.Judge``)."""
        return checks.Judge(self.name, self.effects, self.check)


@dataclass
class StageResult:
    name: str
    skill: str
    success: bool
    steps: int
    # "success", "died", "step_cap", "gave_up" (the skill returned False), "check_failed" (it
    # returned True but the success check did not hold), "error", "episode_end"
    outcome: str
    error: str | None = None
    failed_check: list[str] = field(default_factory=list)  # the clauses that did not hold
    inventory: dict | None = None  # inventory and vitals when a stage failed


@dataclass
class Episode:
    seed: int
    stages: list[StageResult]
    steps: int
    achievements: dict[str, int]
    inventory: dict[str, int]
    died: bool

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class StagesRun:
    """What running a list of stages from some state gave."""

    results: list[StageResult]
    state: dict  # achievements and inventory after the last stage
    info: dict  # the last step's info (the one given when no stage took a step)
    steps: int
    died: bool
    ended: bool  # the episode ended (death or the world's step limit)

    @property
    def ok(self) -> bool:
        return not self.ended and all(r.success for r in self.results)


def run_stages(env, api, stages: list[Stage], info: dict, *, max_steps: float = float("inf"),
               stop_on_failure: bool = True, library=None, guard=None) -> StagesRun:
    """Run ``stages`` in order from the state ``info`` describes (``api`` already observed it).

    With ``stop_on_failure`` the run ends at the first stage that fails (later ones cannot
    start from the state they need). ``max_steps`` caps the steps of all stages together.
    ``guard`` (a ``runner.skills.Guard``) takes over during any stage whenever the player is in
    danger, then the stage's skill resumes where it was; its steps count in the stage's, and
    the stage is judged as before, on the state after its skill returned.
    """
    state, last = checks.state_of(info), info
    results: list[StageResult] = []
    steps, died, ended = 0, False, False
    for stage in stages:
        budget = min(stage.max_steps, max_steps - steps)
        if budget <= 0:
            results.append(StageResult(stage.name, stage.skill.name, False, 0, "step_cap"))
            break
        before = state
        res = run_skill(stage.skill, env, api, max_steps=budget, params=stage.params, library=library, guard=guard)
        steps += res.steps
        if res.info:
            state, last = checks.state_of(res.info), res.info
        # Judged here, from the world's state, after the skill has returned: never by the skill.
        failed = stage.judge.failed(before, {**state, "alive": not res.terminated}, checks.near_of(api))
        ok = not failed
        if ok:
            outcome = "success"
        elif res.error:
            outcome = "error"
        elif res.terminated:
            outcome, died = "died", True
        elif res.truncated:
            outcome = "episode_end"
        elif res.finished:
            outcome = "check_failed" if res.returned else "gave_up"
        else:
            outcome = "step_cap"
        results.append(StageResult(stage.name, stage.skill.name, ok, res.steps, outcome, res.error,
                                   failed_check=failed, inventory=None if ok else dict(state["inventory"])))
        if res.terminated or res.truncated:
            died, ended = died or res.terminated, True
            break
        if stop_on_failure and not ok:
            break
    return StagesRun(results, state, last, steps, died, ended)


def run_episode(
    make_world: Callable[[], Any],
    make_api: Callable[[], Any],
    seed: int,
    stages: list[Stage],
    *,
    max_steps: int = 10_000,
    stop_on_failure: bool = True,
    on_step: Callable[[Any, dict], None] | None = None,
    library=None,
    trace: list | None = None,
    guard=None,
) -> Episode:
    """Reset a new world on ``seed`` and run ``stages`` in order (see :func:`run_stages`).

    ``trace`` (a list, or a bounded ``collections.deque``) receives one short record per step:
    the action, the inventory changes, achievements unlocked, the position where the world
    gives one; the critic reads it. ``guard``: see :func:`run_stages`."""
    if any(stage.skill.kind == "policy" for stage in stages):
        import torch

        torch.manual_seed(seed)  # policies sample their actions: the same seed, the same episode
    world = make_world()
    obs, info = world.reset(seed=seed)
    api = make_api()
    api.observe(obs, info)
    env = _Recorder(world, on_step, trace, info) if on_step or trace is not None else world
    run = run_stages(env, api, stages, info, max_steps=max_steps, stop_on_failure=stop_on_failure, library=library,
                     guard=guard)
    world.close()
    return Episode(seed, run.results, run.steps, run.state["achievements"], run.state["inventory"], run.died)


class _Recorder:
    """A world wrapper that reports every step (for recording an animation, or a trace)."""

    def __init__(self, world, on_step, trace, info):
        self.world, self.on_step, self.trace = world, on_step, trace
        self.action_names = world.action_names
        self._inventory = dict(info.get("inventory", {}))
        self._steps = 0

    def step(self, action):
        out = self.world.step(action)
        obs, info = out[0], out[4]
        self._steps += 1
        if self.on_step:
            self.on_step(self.world, info)
        if self.trace is not None:
            inventory = dict(info.get("inventory", {}))
            record = {"step": self._steps, "action": self.action_names[action],
                      "gained": {k: v - self._inventory.get(k, 0) for k, v in inventory.items()
                                 if v != self._inventory.get(k, 0)}}
            if isinstance(obs, dict) and "pos" in obs:
                record["pos"] = [int(v) for v in obs["pos"]]
            if info.get("unlocked"):
                record["unlocked"] = list(info["unlocked"])
            self.trace.append(record)
            self._inventory = inventory
        return out


def summarise(episodes: list[Episode], judged: list[str]) -> dict:
    """Success rate per judged stage, with counted failure causes and the first errors."""
    out: dict[str, Any] = {}
    for name in judged:
        runs = [r for e in episodes for r in e.stages if r.name == name]
        causes: dict[str, int] = {}
        for r in runs:
            if not r.success:
                causes[r.outcome] = causes.get(r.outcome, 0) + 1
        reached = len(runs)
        out[name] = {
            "episodes": len(episodes),
            "reached": reached,
            "successes": sum(r.success for r in runs),
            # An episode whose set-up failed never reached this stage: that counts against it.
            "success_rate": sum(r.success for r in runs) / len(episodes) if episodes else 0.0,
            "failures": causes | ({"precondition": len(episodes) - reached} if reached < len(episodes) else {}),
            "errors": sorted({r.error for r in runs if r.error})[:3],
            "mean_steps": sum(r.steps for r in runs) / reached if reached else 0.0,
        }
    return out


def stage_from_subaction(sub: dict, skill, max_steps: int = STAGE_STEPS) -> Stage:
    """The stage for a plan's sub-action: its skill with the plan's ``params``, and its success
    check. A skill with a ``count`` (or ``n``) parameter the plan does not set collects what the
    plan needs (``wood >= 5`` → ``count=5``)."""
    judge = checks.judge_of(sub)
    gains = judge.check.gains() or judge.effects.get("inventory", {})
    amount = next((p for p in ("count", "n") if p in (skill.params or {})), None)
    params = {amount: next(iter(gains.values()))} if amount and len(gains) == 1 else {}
    params.update({k: v for k, v in (sub.get("params") or {}).items() if k in (skill.params or {})})
    return Stage(sub["name"], skill, judge.effects, params=params, max_steps=max_steps, check=judge.check)


def plan_stages(subactions: list[dict], library) -> list[Stage]:
    """The stages of a plan's sub-actions, each run by its library skill (the sub-action's
    ``skill`` when it names one, else the skill of the sub-action's own name): the running
    version, or the version a pin names (``collect_iron@2``)."""
    from rlgpt_cli.library import split_pin

    stages = []
    for i, sub in enumerate(subactions):
        name = sub.get("skill") or sub["name"]
        try:
            skill = library.get(name)
        except NotFound as exc:
            if split_pin(name)[1] is not None and library.running(split_pin(name)[0]) is not None:
                raise NotFound(f"sub-action {sub['name']}: {exc.message}") from None  # a pin to no version
            raise NotFound(f"the library has no skill for sub-action {sub['name']}; "
                           f"build it with: rlgpt iterate or rlgpt code --subtask {sub['name']}") from None
        last = i == len(subactions) - 1
        stages.append(stage_from_subaction(sub, skill, max_steps=LAST_STAGE_STEPS if last else STAGE_STEPS))
    return stages
