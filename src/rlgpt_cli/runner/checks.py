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
check means the runner's default rule (see ``runner.episode.stage_success``).
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from typing import Callable, Iterable

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
