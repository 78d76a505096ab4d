"""Facts in the world's terms, as the agents write them: ``"wood >= 1"``, ``"near table"``.

Plans and code answers carry preconditions and effects as short strings (what a model
writes); skills store them as dicts. These helpers convert between the two.
"""

from __future__ import annotations

import re
from typing import Iterable, Mapping

_COUNT = re.compile(r"^\s*([a-z_]+)\s*(>=|>|==)\s*(\d+)\s*$")
_NEAR = re.compile(r"^\s*(?:near|nearby)\s+([a-z_]+)\s*$")


def to_strings(inventory: Mapping[str, int] = (), nearby: Iterable[str] = ()) -> list[str]:
    out = [f"{item} >= {n}" for item, n in dict(inventory).items() if n > 0]
    return out + [f"near {station}" for station in nearby]


def parse(facts: Iterable[str]) -> dict:
    """``["wood >= 1", "near table"]`` → ``{"inventory": {"wood": 1}, "nearby": ["table"]}``.

    Facts in no known form are kept under ``"other"`` (shown to people, never checked)."""
    inventory: dict[str, int] = {}
    nearby: list[str] = []
    other: list[str] = []
    for fact in facts:
        if m := _COUNT.match(fact):
            item, op, n = m.group(1), m.group(2), int(m.group(3))
            inventory[item] = n + 1 if op == ">" else n
        elif m := _NEAR.match(fact):
            nearby.append(m.group(1))
        else:
            other.append(fact)
    out: dict = {"inventory": inventory, "nearby": nearby}
    if other:
        out["other"] = other
    return out

