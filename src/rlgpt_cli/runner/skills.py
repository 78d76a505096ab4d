"""Running a skill: a code skill, a policy skill, or a macro-action inside a policy's action space.

Every skill is an iterator of action names. :func:`start` makes one from a
``library.Skill``: a trusted plugin skill calls its ``entry`` generator; a code skill
(stored, built-in or an unsaved candidate) runs its ``act(api, **params)`` in the sandbox
after its hash is checked; a policy skill runs :func:`policy_actions`. :func:`run_skill`
drives any of them over a gymnasium env. :class:`MacroActions` is the set of skills a
policy has in its action space, with their precondition mask: the same code steps them in
training (``learn.subtask_env``) and when a trained policy runs as a skill, so the two
cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

from rlgpt_cli.errors import LibraryError, SandboxError, UsageError

# Env steps one macro-action may take before control returns to the policy.
MACRO_STEP_CAP = 100


@dataclass
class SkillResult:
    steps: int
    reward: float
    terminated: bool
    truncated: bool
    info: dict
    finished: bool  # the skill's generator returned (it considers its job done)
    error: str | None = None  # why the sandbox stopped it, or what it raised
    returned: Any = None  # the generator's return value


# How deep code skills may call library skills that call library skills.
SKILL_CALL_DEPTH = 4


def start(skill, api, params: dict | None = None, *, library=None, limits=None, seed: int | None = None,
          depth: int = 0) -> Iterator[str]:
    """The skill's iterator of action names, with ``params`` over its defaults.

    ``library`` resolves a policy skill's macro-actions, and the library skills a code skill
    calls with ``yield from skill("name", **params)``. A broken (tampered) skill raises
    LibraryError and never runs; a code skill the sandbox refuses raises SandboxError.
    """
    params = {**skill.params, **(params or {})}
    if skill.entry is not None:
        return skill.entry(api, **params)
    if skill.kind == "code":
        calls = {"skill": _skill_call(library, api, limits, seed, depth)} if library is not None else {}
        return skill.load(limits, seed, calls).start("act", api, **params)
    if skill.kind == "policy":
        if library is None:
            raise LibraryError(f"policy skill {skill.name} runs only with its library (for its macro-actions)")
        return policy_actions(skill, library, api, **params)
    raise LibraryError(f"skill {skill.name} has unknown kind {skill.kind!r}")


def _skill_call(library, api, limits, seed, depth: int):
    """The ``skill(name, **params)`` a code skill calls: another library skill's actions (its
    running version, or a pinned ``name@N``), run with the same API, each code skill in its own sandbox."""

    def skill(name, **params):
        if depth >= SKILL_CALL_DEPTH:
            raise SandboxError(f"skills call skills deeper than {SKILL_CALL_DEPTH} levels")
        return start(library.get(str(name)), api, params, library=library, limits=limits, seed=seed,
                     depth=depth + 1)

    return skill


# Steps the guard may act at one hand-off, and steps it then stays quiet when it could not
# make the player safe (a danger it cannot end must not freeze the stage it interrupted).
GUARD_STEPS = 40
GUARD_QUIET = 30


@dataclass
class Guard:
    """The survival guard the runner hands control to: ``skill`` (a library skill, the running
    version of the guard's name) runs whenever the world API's ``danger()`` names a danger, until
    it names none, the skill returns, or :data:`GUARD_STEPS` pass; then the interrupted skill's
    generator resumes where it yielded (it reads the world afresh after every yield)."""

    skill: Any
    calls: int = 0  # hand-offs so far
    steps: int = 0  # env steps the guard took
    reasons: dict = field(default_factory=dict)  # danger -> hand-offs
    _quiet_until: int = -1

    def triggered(self, api) -> str | None:
        danger = getattr(api, "danger", None)
        if danger is None or api.step < self._quiet_until:
            return None
        return danger()

    def run(self, reason: str, env, api, max_steps: int, library) -> "SkillResult":
        self.calls += 1
        self.reasons[reason] = self.reasons.get(reason, 0) + 1
        result = run_skill(self.skill, env, api, min(GUARD_STEPS, max_steps), library=library,
                           until=lambda: api.danger() is None)
        self.steps += result.steps
        if api.danger() is not None:
            self._quiet_until = api.step + GUARD_QUIET
        return result


def guard_from(library, name: str = "survival_guard") -> Guard | None:
    """The library's guard (its running version), or None when the library has none."""
    skill = library.running(name) if library is not None else None
    return Guard(skill) if skill is not None and skill.status == "ok" else None


def run_skill(skill, env, api, max_steps: int, params: dict | None = None, *, library=None,
              limits=None, seed: int | None = None, guard: Guard | None = None,
              until=None) -> SkillResult:
    """Drive a skill over a gymnasium env from its current state.

    Each yielded action name becomes ``env.action_names.index(name)`` for ``env.step``; then
    ``api.observe(obs, info)`` runs before the generator resumes. Stops at ``max_steps``, at
    the end of the episode, when the generator returns, when ``until()`` holds after a step, or
    when the sandbox stops it (then ``error`` says why). With a ``guard``, every step that
    leaves the player in danger hands control to it first (its steps count in ``steps``).
    """
    actions = {name: index for index, name in enumerate(env.action_names)}
    result = SkillResult(steps=0, reward=0.0, terminated=False, truncated=False, info={}, finished=False)
    try:
        actor = start(skill, api, params, library=library, limits=limits, seed=seed)
    except SandboxError as exc:  # refused, or act() raised before its first step
        result.error = exc.message
        return result
    try:
        while result.steps < max_steps:
            reason = guard.triggered(api) if guard is not None else None
            if reason is not None:
                took = guard.run(reason, env, api, max_steps - result.steps, library)
                result.steps += took.steps
                result.reward += took.reward
                if took.info:
                    result.info = took.info
                result.terminated, result.truncated = took.terminated, took.truncated
                if took.terminated or took.truncated or result.steps >= max_steps:
                    break
            try:
                action = next(actor)
            except StopIteration as stop:
                result.finished, result.returned = True, stop.value
                break
            except SandboxError as exc:
                result.error = exc.message
                break
            if not isinstance(action, str) or action not in actions:
                result.error = f"skill {skill.name} yielded {action!r}, not an action name ({', '.join(actions)})"
                break
            obs, reward, terminated, truncated, info = env.step(actions[action])
            result.steps += 1
            result.reward += float(reward)
            result.terminated, result.truncated, result.info = bool(terminated), bool(truncated), info
            api.observe(obs, info)
            if terminated or truncated or (until is not None and until()):
                break
    finally:
        if hasattr(actor, "close"):
            actor.close()
    return result


# ---------------------------------------------------------------------------------------
# Macro-actions


def preconditions_hold(skill, api) -> bool:
    """A skill's ``preconditions`` against the API's memory: inventory counts held, stations seen."""
    pre = skill.preconditions or {}
    if not all(api.inventory.get(item, 0) >= n for item, n in (pre.get("inventory") or {}).items()):
        return False
    return all(api.seen(station) for station in (pre.get("nearby") or []))


def load_macros(library, names: list[str], versions: dict[str, int] | None = None,
                params: dict[str, dict] | None = None) -> list:
    """The library skills named as macro-actions (a given version where one is pinned);
    ``params`` are checked against the parameters each skill takes."""
    skills = []
    for name in names:
        skill = library.get(name, (versions or {}).get(name))
        if skill.status != "ok":
            raise LibraryError(f"macro-action {name} is broken: {skill.problem}")
        unknown = sorted(set((params or {}).get(name, {})) - set(skill.params or {}))
        if unknown:
            raise UsageError(f"macro-action {name} takes no parameter {', '.join(unknown)} "
                             f"(it takes: {', '.join(skill.params or {}) or 'none'})")
        skills.append(skill)
    return skills


class MacroActions:
    """Library skills inserted into a policy's action space after the world's native actions.

    A macro-action runs its skill until the skill returns, ``cap`` env steps pass, or the
    sandbox stops it; to the policy it is ONE temporally extended action. A skill that ends
    without acting still costs one ``noop``, so every decision advances the world. A macro
    is masked while its skill's preconditions fail. Code skills compile once, not per call.
    ``params`` (skill name -> parameters) runs a macro with those over its skill's defaults.
    """

    def __init__(self, skills: list, native_actions: list[str], *, library=None, seed: int | None = None,
                 params: dict[str, dict] | None = None):
        self.skills = list(skills)
        self.params = {name: dict(p) for name, p in (params or {}).items()}
        self.names = [s.name for s in self.skills]
        self.native = list(native_actions)
        self._library = library
        self._seed = seed
        self._modules: dict[int, Any] = {}

    def __len__(self) -> int:
        return len(self.skills)

    @property
    def n_actions(self) -> int:
        return len(self.native) + len(self.skills)

    def _start(self, index: int, api) -> Iterator[str]:
        skill = self.skills[index]
        params = self.params.get(skill.name, {})
        if skill.kind != "code" or skill.entry is not None:
            return start(skill, api, params, library=self._library)
        if index not in self._modules:
            self._modules[index] = skill.load(seed=self._seed)
        return self._modules[index].start("act", api, **{**skill.params, **params})

    def actions(self, index: int, api, cap: int) -> Iterator[str]:
        """The native action names macro ``index`` takes, at most ``cap`` of them."""
        taken, actor = 0, None
        try:
            actor = self._start(index, api)
            while taken < cap:
                name = next(actor)
                if name not in self.native:
                    break
                yield name
                taken += 1
        except (StopIteration, SandboxError):
            pass  # the skill finished, or its code failed or was stopped: the macro-action is over
        finally:
            if hasattr(actor, "close"):
                actor.close()
        if taken == 0:  # ended without acting: still one step of world time
            yield "noop"

    def mask(self, api) -> np.ndarray:
        """Which actions are allowed now: every native one, and the macros whose preconditions hold."""
        macros = [preconditions_hold(s, api) for s in self.skills]
        return np.concatenate([np.ones(len(self.native), bool), np.array(macros, dtype=bool)])

    def observe(self, obs: dict, api) -> dict:
        """The policy's observation: the world's, plus the action mask when there are macros."""
        if not self.skills:
            return obs
        return {**obs, "action_mask": self.mask(api).astype(np.int8)}


def observation_space(kit, n_macros: int):
    """The policy's observation space: the world's, plus an ``action_mask`` when it has macros."""
    from gymnasium import spaces

    inner = kit.observation_space()
    if not n_macros:
        return inner
    return spaces.Dict({**inner.spaces, "action_mask": spaces.MultiBinary(len(kit.action_names) + n_macros)})


# ---------------------------------------------------------------------------------------
# Policy skills

# Networks rebuilt per skill version (sha256), so a stage run many times loads weights once.
_AGENTS: dict[str, object] = {}


def _agent(skill, config: dict, state_dict: dict):
    from rlgpt_cli.learn.ppo import Agent
    from rlgpt_cli.worlds.base import get_kit

    key = skill.sha256 or f"{skill.name}@{skill.version}"
    if key not in _AGENTS:
        network = config["network"]
        space = observation_space(get_kit(skill.world), len(config["macro_actions"]))
        agent = Agent.from_spec(space, network)
        try:
            agent.load_state_dict(state_dict)
        except RuntimeError as exc:
            raise LibraryError(f"policy {skill.name} v{skill.version}: weights do not fit its network: "
                               f"{str(exc).splitlines()[0]}") from None
        _AGENTS[key] = agent.eval()
    return _AGENTS[key]


def _success_info(api, before: dict) -> dict:
    """The step info a success expression reads, rebuilt from the API's memory."""
    achievements = dict(api.achievements)
    unlocked = tuple(k for k, v in achievements.items() if v > 0 and before.get(k, 0) == 0)
    return {"achievements": achievements, "inventory": dict(api.inventory), "unlocked": unlocked}


def policy_actions(skill, library, api, max_steps: int | None = None, **_params) -> Iterator[str]:
    """A trained policy skill as a skill: yields action names until success or ``max_steps``.

    Each step it reads the latest observation the runner gave the API (``api.last_obs``),
    adds the action mask, samples an action and yields it: a native action directly, a
    macro-action as its skill's own actions, capped as in training. Returns True once its
    sub-action's judge holds (as in training, from the world's state since the skill
    started), False at its step cap.
    """
    from rlgpt_cli.runner import checks
    from rlgpt_cli.runner.rewards import RewardSpec
    from rlgpt_cli.worlds.base import get_kit

    state_dict, config = skill.load_policy()
    agent = _agent(skill, config, state_dict)
    termination = config["termination"]
    # A policy saved before the runner judged training stops as it was trained: on its expression.
    judge = checks.judge_of(config["subaction"]) if "subaction" in config else None
    expression = None if judge else RewardSpec(config["reward_code"], termination["success"], skill.name)
    start = _success_info(api, {})
    native = get_kit(skill.world).action_names
    macros = MacroActions(load_macros(library, config["macro_actions"], config.get("macro_versions")), native,
                          library=library, params=config.get("macro_params"))
    cap = max_steps or termination["max_episode_steps"]
    macro_cap = config["macro_step_cap"]
    deterministic = config.get("deterministic", False)
    begin = api.step
    while api.step - begin < cap:
        action = agent.act(macros.observe(api.last_obs, api), deterministic=deterministic)
        before = dict(api.achievements)
        if action < len(native):
            yield native[action]
        else:
            yield from macros.actions(action - len(native), api, min(macro_cap, cap - (api.step - begin)))
        info = _success_info(api, before)
        if judge is not None:
            done = judge.succeeded_at(start, info, api, steps=api.step - begin, limit=cap)
        else:
            done = expression.success(api.last_obs, info)
        if done:
            return True
    return False
