"""A plan's success checks: a small language the runner evaluates itself (never ``eval``).

Every sub-action of a plan carries a ``success`` check; the runner judges the stage by it,
from the world's state before and after the stage, after the skill has returned, so no
skill can grade itself. The language (documented in docs/CONTRACTS.md and in the slow
agent's prompt)::

    check  := clause ("and" clause)*
    clause := ["inventory"] ITEM OP N     count held at the end,  e.g. "inventory wood >= 3"
            | ITEM "increased by" N       gained during the stage, e.g. "stone increased by 2"
            | "achievement" NAME ["unlocked"]   the achievement's counter rose during the stage
            | "near" TARGET               a material or creature next to the player at the end
            | "alive"                     the player is alive at the end
    OP     := ">=" | ">" | "==" | "<=" | "<" | "!="

An item already at the world's inventory cap counts as increased (it cannot grow). An empty
check means the runner's default rule (see :class:`Judge`): every stage of an episode, every
PPO training step of a sub-task and a policy skill's stop are judged by a :class:`Judge`.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass, field
from typing import Callable, Iterable

from rlgpt_cli.agents import facts
from rlgpt_cli.errors import UsageError

# Crafter's inventory cap: an item held 9 times cannot grow any further, so holding 9 is enough.
INVENTORY_CAP = 9

_OPS: dict[str, Callable[[int, int], bool]] = {
    ">=": operator.ge, ">": operator.gt, "==": operator.eq, "<=": operator.le, "<": operator.lt, "!=": operator.ne,
}
_NAME = r"([a-z][a-z0-9_]*)"
_FORMS = [
    ("count", re.compile(rf"^(?:inventory\s+)?{_NAME}\s*(>=|<=|==|!=|>|<)\s*(\d+)$")),
    ("gained", re.compile(rf"^{_NAME}\s+increased\s+by\s+(\d+)$")),
    ("achievement", re.compile(rf"^achievement\s+{_NAME}(?:\s+unlocked)?$")),
    ("near", re.compile(rf"^(?:near|nearby)\s+{_NAME}$")),
    ("alive", re.compile(r"^alive$")),
]
SYNTAX = ('clauses joined by "and": "[inventory] ITEM >= N" (also > == <= < !=), "ITEM increased by N", '
          '"achievement NAME [unlocked]", "near TARGET", "alive"')


class CheckError(ValueError):
    """A check that is not in the language, or names what the world does not have."""


@dataclass(frozen=True)
class Clause:
    form: str  # "count", "gained", "achievement", "near", "alive"
    name: str = ""
    op: str = ""
    n: int = 0

    def __str__(self) -> str:
        return {"count": f"inventory {self.name} {self.op} {self.n}", "gained": f"{self.name} increased by {self.n}",
                "achievement": f"achievement {self.name} unlocked", "near": f"near {self.name}",
                "alive": "alive"}[self.form]


@dataclass(frozen=True)
class Check:
    clauses: tuple[Clause, ...]

    def __str__(self) -> str:
        return " and ".join(str(c) for c in self.clauses)

    def __bool__(self) -> bool:
        return bool(self.clauses)

    def gains(self) -> dict[str, int]:
        """The items this check wants gained (what a stage's ``count`` parameter should collect)."""
        return {c.name: c.n for c in self.clauses if c.form == "gained"}

    def failed(self, before: dict, after: dict, near: Callable[[str], bool] | None = None,
               cap: int | None = None) -> list[str]:
        """The clauses that do not hold (empty: the check passed).

        ``before``/``after``: ``{"inventory": {...}, "achievements": {...}}`` at the stage's
        start and end (``after`` may carry ``"alive"``); ``near(target)`` answers ``near``
        clauses from the world's API at the end of the stage.
        """
        inv0, inv1 = before.get("inventory", {}), after.get("inventory", {})
        ach0, ach1 = before.get("achievements", {}), after.get("achievements", {})
        out = []
        for c in self.clauses:
            if c.form == "count":
                ok = _OPS[c.op](int(inv1.get(c.name, 0)), c.n)
            elif c.form == "gained":
                have = int(inv1.get(c.name, 0))
                ok = have - int(inv0.get(c.name, 0)) >= c.n or (cap is not None and have >= cap)
            elif c.form == "achievement":
                ok = ach1.get(c.name, 0) > ach0.get(c.name, 0)
            elif c.form == "near":
                ok = bool(near and near(c.name))
            else:
                ok = bool(after.get("alive", True))
            if not ok:
                out.append(str(c))
        return out


def parse(text: str | None) -> Check:
    """The check in ``text`` (empty text: an empty check); CheckError names the bad clause."""
    text = " ".join((text or "").strip().lower().split())
    if not text:
        return Check(())
    clauses = []
    for part in re.split(r"\s+and\s+", text):
        for form, pattern in _FORMS:
            m = pattern.match(part.strip())
            if m:
                groups = m.groups()
                if form == "count":
                    clauses.append(Clause(form, groups[0], groups[1], int(groups[2])))
                elif form == "gained":
                    clauses.append(Clause(form, groups[0], n=int(groups[1])))
                elif form in ("achievement", "near"):
                    clauses.append(Clause(form, groups[0]))
                else:
                    clauses.append(Clause(form))
                break
        else:
            raise CheckError(f"{part!r} is not a success check; write {SYNTAX}")
    return Check(tuple(clauses))


def validate(check: Check, *, items: Iterable[str], achievements: Iterable[str], targets: Iterable[str]) -> None:
    """Refuse names the world does not have (CheckError lists every one)."""
    known = {"count": set(items), "gained": set(items), "achievement": set(achievements), "near": set(targets)}
    bad = [f"{c.name!r} in {str(c)!r} is not a known {'item' if c.form in ('count', 'gained') else c.form}"
           for c in check.clauses if c.form in known and c.name not in known[c.form]]
    if bad:
        raise CheckError("; ".join(bad))


@dataclass(frozen=True)
class Judge:
    """What decides whether a sub-action did what it is for, from the world's state before and
    after (never from anything the skill or the model's code says): the plan's check when it
    has one, otherwise the default rule (the achievement of the sub-action's name rose, or the
    items of its effects were gained)."""

    name: str
    effects: dict = field(default_factory=dict)  # parsed facts, see agents.facts.parse
    check: Check = field(default_factory=lambda: Check(()))

    def failed(self, before: dict, after: dict, near: Callable[[str], bool] | None = None) -> list[str]:
        """The reasons it did not hold (empty: it succeeded); ``before``/``after`` as
        :meth:`Check.failed` takes them."""
        if self.check:
            return self.check.failed(before, after, near, cap=INVENTORY_CAP)
        ach_before, ach_after = before.get("achievements", {}), after.get("achievements", {})
        if self.name in ach_after:
            return [] if ach_after[self.name] > ach_before.get(self.name, 0) else [f"achievement {self.name} unlocked"]
        gains = self.effects.get("inventory", {})
        if not gains:
            return ["the stage has no success check and no effects to check"]
        default = Check(tuple(Clause("gained", k, n=n) for k, n in gains.items()))
        return default.failed(before, after, cap=INVENTORY_CAP)

    @property
    def lasting(self) -> bool:
        """Its check asks only that the player be alive: it holds from the first step, so it can
        be judged only once the sub-action's time is up (a stage when its skill returns; a PPO
        episode or a policy skill at its step limit), never as a reason to stop early."""
        return bool(self.check) and all(c.form == "alive" for c in self.check.clauses)

    def succeeded_at(self, before: dict, info: dict, api, *, steps: int, limit: int, alive: bool = True) -> bool:
        """Whether ``steps`` steps into the sub-action (of at most ``limit``) it has succeeded:
        its check holds, and a :attr:`lasting` one only once the time is up. What ends a PPO
        episode and a policy skill."""
        if self.lasting and steps < limit:
            return False
        return not self.failed(before, {**state_of(info), "alive": alive}, near_of(api))


def judge_of(sub: dict) -> Judge:
    """The judge of a plan's sub-action (its ``name``, ``effects`` and ``success`` check)."""
    try:
        check = parse(sub.get("success"))
    except CheckError as exc:
        raise UsageError(f"sub-action {sub['name']}: {exc}") from None
    return Judge(sub["name"], facts.parse(sub.get("effects", [])), check)


def state_of(info: dict) -> dict:
    """The achievements and inventory in a step's ``info`` (copies: what a stage is judged on)."""
    return {"achievements": dict(info.get("achievements", {})), "inventory": dict(info.get("inventory", {}))}


def near_of(api) -> Callable[[str], bool] | None:
    """``near TARGET`` clauses, answered by the world's API (adjacent to the player)."""
    nearby = getattr(api, "nearby", None)
    return (lambda target: bool(nearby(target))) if nearby else None
