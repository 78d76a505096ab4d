"""Promotion: whether a new version of a skill becomes the version that runs.

A new version (code or policy) of a name that already runs a version (stored, built-in or a
plugin's) is stored as a candidate, then both are run as the stage of the same sub-action,
after the same set-up stages, on the same promotion seeds (``seeds.promotion``): each seed
gives a pair of episodes. The new version runs from then on only if it is better by a
one-sided exact sign test on the discordant pairs (McNemar's exact test): with ``w`` seeds
where only the new version succeeded and ``l`` where only the running one did,
``p = P(X >= w)`` for ``X ~ Binomial(w + l, 1/2)``, and it is promoted when ``p < ALPHA``.
Otherwise it stays a candidate (listed, runnable as ``name@N``), and the reason is in its
``metrics["promotion"]``. With 20 pairs, the new version must win at least 5 discordant
pairs and lose none, or win 7 and lose 1, and so on. So a running version that succeeds on 16
or more of the 20 seeds cannot be replaced, and ``iterate`` asks that first (``out_of_reach``):
it trains no policy that could not be promoted.

A new version whose contract (``library.contract``: parameter names, effects) differs from the
running one's is not a version of that skill: it is stored under a new name
(``<name>_code`` / ``<name>_rl``, then ``_2``, ``_3``, ...), as the first version there.
"""

from __future__ import annotations

import math
from typing import Callable

from rlgpt_cli.library import Skill, contract

# Paired episodes a promotion runs by default: enough for 5 clean wins to be significant,
# few enough for CI (a sub-task stage with its set-up takes well under a second per episode).
EPISODES = 20
ALPHA = 0.05
TEST = "one-sided exact sign test on discordant pairs (McNemar's exact test)"
SUFFIX = {"code": "_code", "policy": "_rl"}


def sign_test(wins: int, losses: int) -> float:
    """One-sided exact p-value that the new version is no better: P(X >= wins), X ~ Bin(wins + losses, 1/2)."""
    n = wins + losses
    return sum(math.comb(n, k) for k in range(wins, n + 1)) / 2 ** n


def placement(library, name: str, kind: str, params: dict, effects: dict) -> tuple[str, Skill | None]:
    """Where a new version of ``name`` goes: the name it is stored under and the version running
    there (None for a name with no skill yet). The first name whose running version keeps the
    same contract, or that has none, is chosen."""
    new = contract(Skill(name, 0, kind, "", "", effects=effects, params=params))
    suffix = SUFFIX[kind]
    for number in range(1, 100):
        candidate = name if number == 1 else f"{name}{suffix}" if number == 2 else f"{name}{suffix}_{number - 1}"
        running = library.running(candidate)
        if running is None or contract(running) == new:
            return candidate, running
    raise RuntimeError(f"no free name for a new {kind} version of {name}")  # 99 contracts of one name


def _outcomes(library, sub: dict, prefix: list, skill: Skill, seeds: list[int], pool, *, task: str,
              world: str) -> dict[int, tuple[bool, int, str | None]]:
    """``skill`` as the stage of ``sub`` after ``prefix`` on each seed, run on the pool:
    ``(success, steps, breach)`` per seed."""
    from rlgpt_cli.runner import jobs
    from rlgpt_cli.runner.episode import stage_from_subaction

    stage = stage_from_subaction(sub, skill)
    todo = [jobs.job(world, task, seed, [*prefix, stage], max_steps=10_000, library=library,
                     env={"length": 10_000}) for seed in seeds]
    return {seed: (any(r.name == stage.name and r.success for r in o.episode.stages), o.episode.steps, o.breach)
            for seed, o in zip(seeds, jobs.run_jobs(todo, pool=pool))}


def out_of_reach(library, sub: dict, prefix: list, *, task: str, world: str, seeds: list[int]) -> dict | None:
    """Whether any new version of ``sub`` could be promoted, asked before one is made.

    Runs the skill the sub-action runs now on the promotion seeds, as `judge` would first. When
    it fails on too few of them for a new version to win significantly even on all of those
    (the sign test with every one of them won and none lost), nothing new can replace it. Returns
    the record (``out_of_reach``, ``old_successes``, ``env_steps``, ``seeds``, and the ``reason``
    when out of reach), or None when no skill runs for the sub-action.
    """
    from rlgpt_cli.runner import jobs
    from rlgpt_cli.runner.episode import stage_from_subaction
    from rlgpt_cli.workers import open_pool

    old = library.running(sub.get("skill") or sub["name"])
    if old is None:
        return None
    stages = [*prefix, stage_from_subaction(sub, old)]
    with open_pool(imports=jobs.imports(stages), setup=jobs.setup(world)) as pool:
        runs = _outcomes(library, sub, prefix, old, list(seeds), pool, task=task, world=world)
    held = sum(ok for ok, _, _ in runs.values())
    record = {"against": f"{old.name} v{old.version}", "test": TEST, "alpha": ALPHA, "seeds": list(seeds),
              "old_successes": held, "env_steps": sum(n for _, n, _ in runs.values()),
              "out_of_reach": sign_test(len(seeds) - held, 0) >= ALPHA}
    if record["out_of_reach"]:
        record["reason"] = (f"{old.name} v{old.version} succeeded in {held} of {len(seeds)} promotion episodes, so "
                            f"a new version could win at most {len(seeds) - held}, too few to be significant")
    return record


def judge(library, new: Skill, old: Skill, sub: dict, prefix: list, *, task: str, world: str,
          seeds: list[int]) -> dict:
    """Run ``old`` then ``new`` as the stage of ``sub`` after ``prefix`` on each seed, and decide.

    The running version runs on every seed first; the new one only while promotion is still
    within reach (first where the old one failed: only there can it win), so a clearly good
    running version costs one episode per seed. The decision is the same as running every pair.
    """
    from rlgpt_cli.runner import jobs
    from rlgpt_cli.runner.episode import stage_from_subaction
    from rlgpt_cli.workers import open_pool

    against = f"{old.name} v{old.version}"
    record = {"against": against, "test": TEST, "alpha": ALPHA, "seeds": list(seeds)}
    if new.sha256 and new.sha256 == old.sha256:
        return {**record, "better": False, "pairs": 0, "wins": 0, "losses": 0, "p_value": 1.0, "env_steps": 0,
                "reason": f"identical to {against}"}
    stages = [*prefix, stage_from_subaction(sub, old), stage_from_subaction(sub, new)]
    breach = None
    with open_pool(imports=jobs.imports(stages), setup=jobs.setup(world)) as pool:
        runs = _outcomes(library, sub, prefix, old, list(seeds), pool, task=task, world=world)
        old_ok = {seed: ok for seed, (ok, _, _) in runs.items()}
        steps = sum(n for _, n, _ in runs.values())
        order = [s for s in seeds if not old_ok[s]] + [s for s in seeds if old_ok[s]]
        wins = losses = pairs = index = 0
        # The new version runs a pool's width of seeds at a time, taken in the order one by one
        # would; what ran past the point where promotion went out of reach is not counted, so
        # the decision and its record are the same whatever the number of workers.
        while index < len(order):
            batch = order[index:index + pool.size]
            runs = _outcomes(library, sub, prefix, new, batch, pool, task=task, world=world)
            for seed in batch:
                if sign_test(wins + sum(not old_ok[s] for s in order[index:]), losses) >= ALPHA:
                    index = len(order)
                    break
                ok, n, stopped = runs[seed]
                steps, pairs, index = steps + n, pairs + 1, index + 1
                if stopped:  # a new version that breaks a worker's limit is not promoted
                    breach, index = f"seed {seed}: {stopped}", len(order)
                    break
                wins += ok and not old_ok[seed]
                losses += old_ok[seed] and not ok
    p = sign_test(wins, losses)
    better = p < ALPHA
    held = sum(old_ok.values())
    counts = (f"won {wins}, lost {losses} of {pairs} paired episodes (p = {p:.3f}"
              f"{' <' if better else ', not below'} {ALPHA})")
    if breach is not None:
        better = False
        reason = f"not better than {against}: the new version was stopped on promotion {breach}"
    elif better:
        reason = f"better than {against}: {counts}"
    elif pairs == 0:
        reason = (f"not better than {against}: it succeeded in {held} of {len(seeds)} promotion episodes, so the "
                  f"new version could win at most {len(seeds) - held}, too few to be significant")
    else:
        early = " (stopped early: promotion out of reach)" if pairs < len(seeds) else ""
        reason = f"not better than {against} ({held}/{len(seeds)} successes): {counts}{early}"
    return {**record, "better": better, "pairs": pairs, "wins": wins, "losses": losses,
            "old_successes": held, "p_value": round(p, 6), "env_steps": steps, "reason": reason}


def save(library, add: Callable[[str, dict], Skill], sub: dict, prefix: list, *, kind: str, params: dict,
         effects: dict, task: str, world: str, seeds: list[int]) -> tuple[Skill, dict]:
    """Store a new version for sub-action ``sub`` and decide whether it runs.

    ``add(name, promotion)`` stores it under ``name`` with ``metrics["promotion"] = promotion``.
    Returns the stored skill (as judged) and its promotion record: ``promoted`` (it runs as
    its name's version) and ``better`` (it beat the skill the sub-action ran, when one did). The
    first version of a new name runs there, and is judged against the sub-action's skill all
    the same, so a plan can take it up where it is better (``iterate`` does).
    """
    base = sub["name"]
    name, old = placement(library, base, kind, params, effects)
    renamed = {"renamed_from": base} if name != base else {}
    if old is None:
        why = f" (a new name: its parameters or effects differ from {base}'s)" if renamed else ""
        record = {"promoted": True, "reason": f"first version of {name}{why}", **renamed}
        rival = library.running(sub.get("skill") or base) if renamed else None
        skill = add(name, record)
        if rival is None:
            return skill, record
        verdict = judge(library, skill, rival, sub, prefix, task=task, world=world, seeds=seeds)
        record = {**verdict, **record, "reason": f"{record['reason']}; {verdict['reason']}"}
        return library.update_metrics(name, skill.version, {"promotion": record}), record
    skill = add(name, {"promoted": False, "reason": f"being judged against {old.name} v{old.version}", **renamed})
    verdict = judge(library, skill, old, sub, prefix, task=task, world=world, seeds=seeds)
    record = {**verdict, **renamed, "promoted": verdict["better"]}
    if not record["promoted"]:
        record["reason"] += f"; kept as a candidate (run it with {name}@{skill.version})"
    return library.update_metrics(name, skill.version, {"promotion": record}), record
