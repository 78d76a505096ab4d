"""Answers written the way an LLM writes them (prose around fenced JSON, code in a ```python
block, a wrong first attempt, a first plan that reuses everything), served by
``fake_openai.FakeOpenAI`` as a model that reads its prompt.

``ScriptedLLM`` picks the answer from the prompt's name and from what the prompt says, as
a model would: its second plan is given only when the task feedback names the failing
stage. ``requests`` keeps, per prompt name, the messages each request carried.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict

from fake_openai import Reply

_PROMPT = re.compile(r'<rlgpt-context prompt="([a-z_]+)">\n(.*?)\n</rlgpt-context>', re.DOTALL)


def fenced(prose: str, answer: dict, after: str = "") -> str:
    return f"{prose}\n\n```json\n{json.dumps(answer, indent=2)}\n```\n{after}".rstrip() + "\n"


def _sub(name, kind, success, *, skill=None, params=None, pre=(), eff=(), reason=""):
    sub = {"name": name, "kind": kind, "reason": reason or f"{kind} fits", "preconditions": list(pre),
           "effects": list(eff), "success": success}
    if skill:
        sub["skill"] = skill
    if params:
        sub["params"] = params
    return sub


# make stone pickaxe: the first plan reuses every library skill with the fewest wood...
REUSE_ALL = {"task": "make_stone_pickaxe", "subactions": [
    _sub("collect_wood", "reuse", "wood increased by 2", skill="collect_wood", params={"n": 2}, eff=["wood >= 2"]),
    _sub("place_table", "reuse", "achievement place_table unlocked", skill="place_table", pre=["wood >= 2"],
         eff=["near table"]),
    _sub("make_wood_pickaxe", "reuse", "inventory wood_pickaxe >= 1", skill="make_wood_pickaxe",
         pre=["wood >= 1", "near table"], eff=["wood_pickaxe >= 1"]),
    _sub("collect_stone", "reuse", "stone increased by 1", skill="collect_stone", params={"n": 1},
         pre=["wood_pickaxe >= 1"], eff=["stone >= 1"]),
    _sub("make_stone_pickaxe", "reuse", "inventory stone_pickaxe >= 1", skill="make_stone_pickaxe",
         pre=["wood >= 1", "stone >= 1", "near table"], eff=["stone_pickaxe >= 1"]),
]}
# ...and once the task feedback shows make_wood_pickaxe failing with no wood, it collects enough
# and writes its own code for the last step.
REVISED = {"task": "make_stone_pickaxe", "subactions": [
    {**REUSE_ALL["subactions"][0], "params": {"n": 4}, "success": "wood increased by 4", "effects": ["wood >= 4"],
     "reason": "the table uses 2 wood and each pickaxe 1: collect 4"},
    *REUSE_ALL["subactions"][1:4],
    _sub("make_stone_pickaxe", "code", "inventory stone_pickaxe >= 1", pre=["wood >= 1", "stone >= 1", "near table"],
         eff=["stone_pickaxe >= 1"], reason="one crafting step next to the table: easy to code"),
]}
WRONG_CODE = "def act(api):\n    yield 'noop'\n    ok = yield from api.make('stone_pickax')\n    return ok\n"
RIGHT_CODE = "def act(api):\n    ok = yield from api.make('stone_pickaxe')\n    return ok\n"


class ScriptedLLM:
    """A model that reads rlgpt's prompts and answers in an LLM's style."""

    def __init__(self):
        self.requests: dict[str, list[list[dict]]] = defaultdict(list)
        self.code_attempts = 0

    def __call__(self, body: dict) -> Reply:
        messages = body["messages"]
        name, context = None, {}
        for message in reversed(messages):
            match = _PROMPT.search(message.get("content") or "")
            if message["role"] == "user" and match:
                name, context = match.group(1), json.loads(match.group(2))
                break
        self.requests[name].append(messages)
        answer = getattr(self, f"answer_{name}")(context)
        return Reply(answer, prompt_tokens=1000, completion_tokens=200)

    def answer_slow_agent(self, ctx: dict) -> str:
        task_records = [f for f in ctx["feedback"] if f.get("kind") == "task"]
        failing = task_records[-1].get("critic", {}).get("stage") if task_records else None
        if failing == "make_wood_pickaxe":
            return fenced("The last evaluation failed at make_wood_pickaxe with no wood left: the table took "
                          "both pieces. I will collect 4 wood and code the final step myself.", REVISED)
        return fenced("The library has a skill for every step, so I will reuse them all.", REUSE_ALL)

    def answer_task_critic(self, ctx: dict) -> str:
        stages = ctx["results"]["stages"]
        worst = next(name for name, s in stages.items() if {k for k in s["failures"]} - {"precondition"})
        return fenced(f"Most episodes stop at {worst}.", {
            "success": False, "stage": worst, "change": "params",
            "feedback": f"{worst} fails: {stages[worst]['failures']}",
            "suggestions": ["collect more wood before placing the table"]})

    def answer_fast_agent_code(self, ctx: dict) -> str:
        self.code_attempts += 1
        code = WRONG_CODE if not ctx["feedback"] else RIGHT_CODE
        return ("Here is the skill.\n\n```python\n" + code + "```\n\n"
                + fenced("Metadata:", {"description": "Make a stone pickaxe next to the table.",
                                       "effects": ["stone_pickaxe >= 1"], "params": {}}))

    def answer_critic(self, ctx: dict) -> str:
        r = ctx["results"]
        ok = r["success_rate"] >= r["target"]
        return fenced("Judging from the results:", {
            "success": ok, "score": r["success_rate"], "revise": "none" if ok else "code",
            "feedback": "works" if ok else f"failed: {r['failures']}; errors {r['errors']}",
            "suggestions": [] if ok else ["spell the item stone_pickaxe"]})


# obtain diamond: a first plan that reuses every skill but collects a single piece of wood...
_DIAMOND_STEPS = [
    ("collect_wood", "wood increased by {n}", {"n": 1}, []),
    ("place_table", "achievement place_table unlocked", None, ["wood >= 2"]),
    ("make_wood_pickaxe", "inventory wood_pickaxe >= 1", None, ["wood >= 1", "near table"]),
    ("collect_stone", "stone increased by 5", {"n": 5}, ["wood_pickaxe >= 1"]),
    ("make_stone_pickaxe", "inventory stone_pickaxe >= 1", None, ["wood >= 1", "stone >= 1", "near table"]),
    ("collect_iron", "iron increased by 1", {"n": 1}, ["stone_pickaxe >= 1"]),
    ("place_furnace", "achievement place_furnace unlocked", None, ["stone >= 1", "near table"]),
    ("collect_coal", "coal increased by 1", {"n": 1}, ["wood_pickaxe >= 1"]),
    ("make_iron_pickaxe", "inventory iron_pickaxe >= 1", None, ["wood >= 1", "coal >= 1", "iron >= 1"]),
    ("collect_diamond", "diamond increased by 1", {"n": 1}, ["iron_pickaxe >= 1"]),
]


def diamond_plan(wood: int) -> dict:
    subs = []
    for name, success, params, pre in _DIAMOND_STEPS:
        if name == "collect_wood":
            params, success = {"n": wood}, success.format(n=wood)
        subs.append(_sub(name, "reuse", success, skill=name, params=params, pre=pre,
                         reason=f"the library's {name} does this"))
    return {"task": "collect_diamond", "subactions": subs}


class DiamondLLM(ScriptedLLM):
    """...and, told that place_table failed with one piece of wood, collects up to the cap."""

    def answer_slow_agent(self, ctx: dict) -> str:
        task_records = [f for f in ctx["feedback"] if f.get("kind") == "task"]
        if task_records and task_records[-1].get("critic", {}).get("stage") == "place_table":
            return fenced("place_table failed: one wood is not enough for a table (2), both pickaxes (1 each) "
                          "and the tables placed anew far from the first. Collect 9 wood.", diamond_plan(9))
        return fenced("Every step has a library skill: reuse them all.", diamond_plan(1))


RL_CONFIG = {"subtask": "collect_iron", "macro_actions": ["goto_iron", "explore"],
             "reward_code": "def reward(prev, obs, info):\n    return float(obs['inventory'][8] - prev['inventory'][8])\n",
             "termination": {"success": "info['inventory']['iron'] >= 1", "max_episode_steps": 500},
             "total_steps": 20000, "notes": "iron is inventory slot 8"}


def answer_fast_agent_rl(self, ctx: dict) -> str:
    return fenced("Iron needs finding and mining; the goto and explore skills do the walking.", RL_CONFIG)


ScriptedLLM.answer_fast_agent_rl = answer_fast_agent_rl
