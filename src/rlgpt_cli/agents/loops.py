"""The inner loop of RL-GPT for one sub-action: the fast agent writes, the world runs it, the
critic judges, and the fast agent revises from that feedback, a bounded number of times."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from rlgpt_cli.agents.coder import binds_skill, judge, skill_source, write_code
from rlgpt_cli.errors import SandboxError
from rlgpt_cli.runner.episode import Stage, stage_from_subaction, summarise

# A sub-action's skill is good enough when it succeeds this often on the evaluation seeds.
SUCCESS_TARGET = 0.8


@dataclass
class Attempt:
    number: int
    kind: str
    source: str | None = None
    refused: str | None = None
    results: dict = field(default_factory=dict)
    critique: dict = field(default_factory=dict)
    model: str = ""

    @property
    def success_rate(self) -> float:
        return float(self.results.get("success_rate", 0.0))

    @property
    def stopped(self) -> str | None:
        """Why a worker's limit stopped the attempt's episodes (such code is never saved)."""
        return self.results.get("stopped")


# Steps of the first failed episode the critic sees (the last ones, where it went wrong).
TRACE_STEPS = 24


def evaluate(world: str, task: str | None, prefix: list[Stage], stage: Stage, seeds: list[int], library=None, *,
             env: dict | None = None, on_episode: Callable[[], None] = lambda: None) -> dict:
    """Run set-up stages then ``stage`` on each seed, in worker processes (``runner.jobs``);
    the stage's success statistics, and for the first episode where it failed, how (its
    outcome, the failed check, the inventory then) and the trace of its last steps.

    The attempt's budget: it stops at the first episode that broke a worker's limit
    (``stopped`` says which and how); the episodes it did not finish are left out."""
    from rlgpt_cli.runner import jobs

    todo = [jobs.job(world, task, seed, [*prefix, stage], max_steps=10_000, library=library,
                     env=env if env is not None else {"length": 10_000}, trace=TRACE_STEPS) for seed in seeds]
    outcomes = [o for o in jobs.run_jobs(todo, stop_on_breach=True, on_result=lambda i, o: on_episode())
                if o is not None]
    episodes, trace = [o.episode for o in outcomes], None
    for outcome in outcomes:
        episode = outcome.episode
        failed = next((r for r in episode.stages if r.name == stage.name and not r.success), None)
        if trace is None and failed is not None:
            trace = {"seed": episode.seed, "outcome": failed.outcome, "failed_check": failed.failed_check,
                     "inventory": failed.inventory, "error": failed.error, "last_steps": outcome.trace or []}
    stopped = next((f"episode on seed {o.episode.seed} {o.breach}" for o in outcomes if o.breach), None)
    return {**summarise(episodes, [stage.name])[stage.name], "seeds": list(seeds),
            "env_steps": sum(e.steps for e in episodes), "first_failure": trace, "stopped": stopped}


def code_loop(
    client, task, sub: dict, prefix: list[Stage], library_skills: list[dict], *,
    seeds: list[int], attempts: int, feedback: list[dict] | None = None,
    log: Callable[[str], None] = lambda _: None, library=None, on_episode: Callable[[], None] = lambda: None,
) -> list[Attempt]:
    """Write, sandbox-check, run and judge code for ``sub`` until the critic is satisfied.

    Returns every attempt; the caller keeps the best. Raises SandboxError when every attempt
    was refused by the sandbox or stopped by a worker's limit (nothing ran to its end).
    """
    from rlgpt_cli import sandbox
    from rlgpt_cli.library import candidate_skill

    feedback = list(feedback or [])
    done: list[Attempt] = []
    for number in range(1, attempts + 1):
        answer, result = write_code(client, task, sub, library_skills, feedback, prefix)
        answer.skill = sub["name"]  # the sub-action's name is the skill's name, whatever the code says
        answer.description = answer.description or f"{sub['name'].replace('_', ' ').capitalize()} (code skill)."
        source = skill_source(answer, task.world)
        attempt = Attempt(number, "code", source=source, model=result.model)
        reasons = sandbox.check_source(answer.source.strip() + "\n", answer.skill)
        if binds_skill(answer.source):
            reasons.append("the code assigns SKILL: rlgpt writes a skill's name and metadata, not the code")
        if reasons:
            attempt.refused = "; ".join(reasons)
            log(f"  attempt {number}: refused by the sandbox: {attempt.refused}")
            feedback.append({"attempt": number, "source": answer.source,
                             "error": f"refused by the sandbox: {attempt.refused}"})
            done.append(attempt)
            continue
        stage = stage_from_subaction(sub, candidate_skill(source))
        attempt.results = evaluate(task.world, task.name, prefix, stage, seeds, library, on_episode=on_episode)
        critique, _ = judge(client, task, sub, "code", {"number": number, "source": answer.source},
                            {**attempt.results, "target": SUCCESS_TARGET})
        attempt.critique = critique.model_dump()
        done.append(attempt)
        log(f"  attempt {number}: success {attempt.success_rate:.0%} over {len(seeds)} episodes; "
            f"critic: {critique.feedback}")
        if critique.success:
            break
        feedback.append({"attempt": number, "source": answer.source, "success_rate": attempt.success_rate,
                         "failures": attempt.results.get("failures", {}), "errors": attempt.results.get("errors", []),
                         "first_failure": {k: v for k, v in (attempt.results.get("first_failure") or {}).items()
                                           if k != "last_steps"},
                         "critique": critique.feedback, "suggestions": critique.suggestions})
    if all(a.refused for a in done):
        raise SandboxError(f"every code answer for {sub['name']} was refused by the sandbox: {done[-1].refused}")
    if all(a.refused or a.stopped for a in done):
        last = next(a for a in reversed(done) if a.stopped)
        raise SandboxError(f"every code answer for {sub['name']} was refused or stopped: attempt {last.number}: "
                           f"{last.stopped}")
    return done


def best(attempts: list[Attempt]) -> Attempt | None:
    ran = [a for a in attempts if not a.refused and not a.stopped]
    return max(ran, key=lambda a: (a.success_rate, a.number)) if ran else None


def save_code_skill(library, attempt: Attempt, provenance: dict[str, Any], *, sub: dict, prefix: list[Stage],
                    task: str, world: str, seeds: list[int]):
    """Store the attempt's code as a new version for ``sub``; it runs only if promoted (see
    ``runner.promotion``: judged on ``seeds`` against the running version, after ``prefix``).
    Returns ``(skill, promotion record)``."""
    from rlgpt_cli.library import candidate_skill, renamed_source
    from rlgpt_cli.runner import promotion

    r = attempt.results
    metrics = {"success_rate": attempt.success_rate, "episodes": r.get("episodes", 0), "seeds": r.get("seeds", []),
               "mean_steps": r.get("mean_steps"), "target": SUCCESS_TARGET}
    provenance = {**provenance, "model": attempt.model, "attempt": attempt.number}
    meta = candidate_skill(attempt.source)

    def add(name: str, record: dict):
        source = attempt.source if name == meta.name else renamed_source(attempt.source, name)
        return library.add_code_skill(source, metrics={**metrics, "promotion": record}, provenance=provenance)

    return promotion.save(library, add, sub, prefix, kind="code", params=meta.params, effects=meta.effects,
                          task=task, world=world, seeds=seeds)
