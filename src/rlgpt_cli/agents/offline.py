"""The offline model's answers: deterministic functions of the same context an LLM reads.

This is a planner and a template coder, not an LLM. The slow agent backward-chains over
the world's recipe graph (given in the prompt's ``knowledge``); the fast agent fills code
templates over the primitive API and revises them from the critic's feedback; the RL
configurator writes standard reward terms and picks macro-actions from the library; the
critic applies rules to the results. Registered with ``models.offline_provider``.
"""

from __future__ import annotations

from typing import Any

from rlgpt_cli.agents import facts
from rlgpt_cli.agents.planner import subaction_name
from rlgpt_cli.models.offline_provider import answerers, register_offline_answerer

# A library skill measured at least this good is reused, not re-planned.
REUSE_AT = 0.8
# Failed code attempts on one sub-action before the outer loop moves it to RL.
CODE_ATTEMPTS_BEFORE_RL = 3

# Sub-actions whose step is an action rather than an item: the primitive that performs it.
_ACTS = {
    "collect_drink": ("drink", "api.drink()"),
    "eat_cow": ("eat", "api.eat()"),
    "eat_plant": ("eat", "api.eat()"),
    "defeat_zombie": ("attack", 'api.attack("zombie")'),
    "defeat_skeleton": ("attack", 'api.attack("skeleton")'),
    "wake_up": ("sleep", "api.sleep()"),
}


# Why a sub-action of each nature (worlds' knowledge steps, see worlds/crafter/goals.py) is
# learned rather than coded; deterministic ones are coded.
_LEARNED = {
    "reactive": "it must respond to creatures that wander or fight back",
    "waiting": "its outcome comes after a long wait that must be guarded",
    "survival": "vitals must be kept up and death avoided over a long time",
}


def _step_facts(step: dict) -> tuple[list[str], list[str], str]:
    pre = facts.to_strings(step.get("preconditions", {}), step.get("nearby", []))
    gains = {k: v for k, v in step.get("effects", {}).items() if v > 0}
    eff = facts.to_strings(gains)
    if step.get("placed"):
        eff.append(f"near {step['placed']}")
    # In the runner's check language (runner.checks): the step's achievement where the world
    # counts one, else the items it gains.
    if step.get("achievement"):
        success = f"achievement {step['achievement']} unlocked"
    elif gains:
        success = " and ".join(f"{k} increased by {v}" for k, v in gains.items())
    else:
        success = "alive"
    return pre, eff, success


def _spare_station_material(steps: list[dict]) -> list[dict]:
    """The recipe graph places each station once, but the player walks far between them: when
    a later make needs two stations together (table and furnace), the first collect of the
    table's material fills up to the inventory cap, so tables can be placed anew where needed."""
    placed = {s["target"]: s for s in steps if s["kind"] == "place"}
    table = placed.get("table")
    if not table or not any(len(s.get("nearby", [])) > 1 for s in steps if s["kind"] == "make"):
        return steps
    out = [dict(s) for s in steps]
    for item in table.get("preconditions", {}):
        first = next((s for s in out if s["kind"] == "collect" and s["target"] == item), None)
        if first:
            first["count"] = 9  # Crafter's inventory cap
            first["effects"] = {**first.get("effects", {}), item: first["count"]}
    return out


def answer_plan(ctx: dict[str, Any]) -> dict:
    """Backward-chained plan; reuse good library skills; move failing code to RL."""
    library = {s["name"]: s for s in ctx.get("library", [])}
    history: dict[str, list[dict]] = {}
    for item in ctx.get("feedback", []):
        history.setdefault(item.get("subaction", ""), []).append(item)
    subactions = []
    for step in _spare_station_material(ctx["knowledge"]["steps"]):
        name = subaction_name(step)
        pre, eff, success = _step_facts(step)
        tried = history.get(name, [])
        code_failures = [a for h in tried if h.get("kind") == "code" and not h.get("success")
                         for a in h.get("attempts") or [h]]
        skill = library.get(name)
        nature = step.get("nature", "deterministic")
        sub = {"name": name, "preconditions": pre, "effects": eff, "success": success}
        if step.get("params"):
            sub["params"] = dict(step["params"])
        kept = _kept_running(name, tried, ctx.get("feedback", [])) if skill else None
        if skill and (skill.get("success_rate") or 0) >= REUSE_AT:
            sub |= {"kind": "reuse", "skill": name,
                    "reason": f"library skill {name} v{skill.get('version', 1)} succeeds "
                              f"{skill['success_rate']:.0%} of the time"}
        elif kept:
            sub |= {"kind": "reuse", "skill": name,
                    "reason": f"library skill {name} v{skill.get('version', 1)} keeps running: {kept}"}
        elif step.get("again") in library:
            sub |= {"kind": "reuse", "skill": step["again"],
                    "reason": f"the same sub-action as {step['again']} again, run by its skill"}
        elif nature in _LEARNED:
            sub |= {"kind": "rl", "reason": f"{nature}: {_LEARNED[nature]}; PPO learns it with coded "
                                            "library skills as macro-actions"}
        elif len(code_failures) >= CODE_ATTEMPTS_BEFORE_RL:
            best_rate = max(a.get("success_rate") or 0 for a in code_failures)
            sub |= {"kind": "rl", "reason": f"{len(code_failures)} code attempts failed (best {best_rate:.0%}): "
                                            "learn it with coded macro-actions instead"}
        else:
            how = {"collect": "find the source, face it and do", "place": "place it on a free tile",
                   "make": "stand near the stations and make it",
                   "sleep": "seal yourself into stone, then sleep until energy is full"}.get(
                       step["kind"], "call the primitive")
            sub |= {"kind": "code", "reason": f"deterministic with the primitive API: {how}"}
        subactions.append(sub)
    chain = " -> ".join(s["name"] for s in subactions)
    return {"task": ctx["task"]["name"], "subactions": subactions,
            "notes": f"backward-chained over the recipe graph: {chain}"}


def _kept_running(name: str, tried: list[dict], feedback: list[dict]) -> str | None:
    """Why the library's running version of ``name`` is reused rather than coded again: a new
    version was written and judged against it and did not win (it stayed a candidate), and no
    later task critic asked to change this stage. None when that is not so."""
    lost = [h for h in tried if h.get("kind") in ("code", "rl") and h.get("promotion")
            and not h["promotion"].get("promoted") and not h["promotion"].get("renamed_from")]
    if not lost:
        return None
    critics = [f.get("critic") or {} for f in feedback if f.get("kind") == "task"]
    if critics and critics[-1].get("stage") == name:
        return None
    return (f"its new {lost[-1]['kind']} version did not beat it on paired seeds "
            f"({len(lost)} attempt{'s' if len(lost) > 1 else ''})")


def _code_for(sub: dict, count: int, fixes: set[str]) -> tuple[str, dict]:
    """Source of a code skill for a sub-action, with the fixes the critic asked for:
    ``retry`` (explore and try again when the primitive gives up) and ``survive`` (tend
    vitals between tries)."""
    name = sub["name"]
    kind, _, target = name.partition("_")
    if name in _ACTS:
        call = _ACTS[name][1]
        params: dict = {}
    elif kind == "collect":
        call, params = f'api.collect("{target}", count)', {"count": count}
    elif kind == "place":
        call, params = f'api.place("{target}")', {}
    elif kind == "make":
        call, params = f'api.make("{target}")', {}
    else:
        call, params = f"api.explore(100, hint={target!r})", {}
    if not fixes:
        args = ", ".join(["api", *(f"{k}={v!r}" for k, v in params.items())])
        body = [f"    done = yield from {call}", "    return done"]
        return f"def act({args}):\n" + "\n".join(body) + "\n", params
    params = {**params, "attempts": 4 if "retry" in fixes else 1}
    args = ", ".join(["api", *(f"{k}={v!r}" for k, v in params.items())])
    hint = {"collect": target, "place": "grass", "make": "table"}.get(kind, target)
    lines = [f"def act({args}):", "    for attempt in range(attempts):"]
    if "survive" in fixes:
        lines.append("        yield from api.survive()")
    lines += [f"        done = yield from {call}", "        if done:", "            return True"]
    if "retry" in fixes:
        lines.append(f"        yield from api.explore(40 * (attempt + 1), hint={hint!r})")
    lines.append("    return False")
    return "\n".join(lines) + "\n", params


def _fixes(feedback: list[dict]) -> set[str]:
    """What the critic's suggestions on earlier attempts ask the code to do."""
    text = " ".join(s for f in feedback for s in f.get("suggestions", [])).lower()
    return {fix for fix, words in (("retry", ("explore", "retry")), ("survive", ("survive", "drink", "eat")))
            if any(w in text for w in words)}


def answer_code(ctx: dict[str, Any]) -> dict:
    sub = ctx["subaction"]
    fixes = _fixes(ctx.get("feedback", []))
    count = 1
    for fact in sub.get("effects", []):
        parsed = facts.parse([fact])["inventory"]
        if parsed and sub["name"].endswith("_" + next(iter(parsed))):
            count = next(iter(parsed.values()))
    source, params = _code_for(sub, count, fixes)
    return {
        "skill": sub["name"],
        "description": f"{sub['name'].replace('_', ' ').capitalize()} with the primitive API"
                       + (f" ({' and '.join(sorted(fixes))} as the critic advised)." if fixes else "."),
        "preconditions": sub.get("preconditions", []),
        "effects": sub.get("effects", []),
        "params": params,
        "source": source,
    }


# What each env step costs in the reward code of an RL sub-action (see answer_rl).
STEP_COST = 0.002


def rl_macros(name: str, needs: dict, item: str | None, library: list[dict]) -> tuple[list[str], dict]:
    """The macro-actions of an RL sub-action (library code skills, in library order) and their
    parameters. Every macro-action's world steps count as samples, so a macro that cannot
    advance the sub-action where it stands only spends them; the choice keeps the ones that do:

    * the skills that give a precondition, and the ``goto_`` skill of the target's source;
    * a station the sub-action needs near is placed, not walked to, when a ``place_`` skill
      gives it: it is placed beside the player, right where its materials were just collected,
      so the make that follows needs no walk (a ``goto_`` of it only explores while none is
      placed, up to the macro step cap);
    * ``explore`` only when no chosen skill searches by itself (``collect_`` and ``goto_``
      skills explore for their source while none is known);
    * a ``collect_`` skill fetches in one go all of its item the preconditions need plus what
      the chosen skills that spend it use (a table's wood), its ``n`` (or ``count``) parameter,
      so the station can be placed where the materials were gathered.
    """
    def facts_of(skill: dict, key: str) -> dict:
        return facts.parse(skill.get(key) or [])

    def gives(skill: dict) -> set[str]:
        effects = facts_of(skill, "gives")
        return set(effects["inventory"]) | set(effects["nearby"])

    skills = [s for s in library if s.get("kind") == "code" and s["name"] != name]
    needed = set(needs.get("inventory", {})) | set(needs.get("nearby", []))
    placed = {st for s in skills if s["name"].startswith("place_") for st in gives(s) & set(needs.get("nearby", []))}
    chosen = []
    for skill in skills:
        provided = gives(skill) & needed
        if skill["name"].startswith("goto_") and provided and provided <= placed:
            continue
        if provided or (item and skill["name"] == f"goto_{item}"):
            chosen.append(skill)
    if not any(s["name"].startswith(("collect_", "goto_")) for s in chosen):
        chosen += [s for s in skills if s["name"] == "explore"]
    params: dict[str, dict] = {}
    for skill in chosen:
        key = next((k for k in ("n", "count") if k in (skill.get("params") or {})), None)
        fetched = set(facts_of(skill, "gives")["inventory"]) & set(needs.get("inventory", {}))
        if not skill["name"].startswith("collect_") or key is None or len(fetched) != 1:
            continue
        material = fetched.pop()
        spent = sum(facts_of(other, "needs")["inventory"].get(material, 0) for other in chosen if other is not skill)
        count = int(needs["inventory"][material]) + spent
        if count != skill["params"][key]:
            params[skill["name"]] = {key: count}
    order = [s["name"] for s in library]
    return sorted((s["name"] for s in chosen), key=order.index), params


def answer_rl(ctx: dict[str, Any]) -> dict:
    """Reward: progress toward the sub-action's success check (the items its preconditions
    need, up to the counts they need; the target item gained; the stations it needs placed;
    its achievement), a small penalty for losing health and a small cost per env step.
    Macro-actions: the library code skills that provide the sub-action's preconditions (what
    code does well: fetching materials, placing stations) and the ``goto_`` skill of the
    target's source; the policy learns when to use them. See `rl_macros` for which, and with
    what parameters."""
    sub = ctx["subaction"]
    name = sub["name"]
    kind, _, target = name.partition("_")
    item = target if kind in ("collect", "make", "place") else None
    needs = facts.parse(sub.get("preconditions", []))
    macros, macro_params = rl_macros(name, needs, item, ctx.get("library", []))
    slots = ctx.get("observation", {}).get("inventory", [])

    def gained(name: str, cap: int | None = None) -> str:
        i = slots.index(name)
        if cap is None:
            return f"    r += float(obs['inventory'][{i}]) - float(prev['inventory'][{i}])  # {name}"
        return (f"    r += min(float(obs['inventory'][{i}]), {cap}.0) - min(float(prev['inventory'][{i}]), {cap}.0)"
                f"  # {name}, up to {cap}")

    lines = ["def reward(prev, obs, info):", "    r = 0.0"]
    # Items the preconditions need count up to the needed amount and back down when spent, a
    # potential: no loop of gathering and spending pays, only getting closer to the check.
    lines += [gained(k, int(v)) for k, v in needs.get("inventory", {}).items() if k in slots]
    if item in slots and item not in needs.get("inventory", {}):
        lines.append(gained(item))
    lines += [f"    if {f'place_{station}'!r} in info.get('unlocked', []):\n        r += 1.0"
              for station in needs.get("nearby", [])]
    lines.append(f"    if {name!r} in info.get('unlocked', []):\n        r += 1.0")
    lines.append("    health = 0  # health is inventory slot 0\n"
                 "    r -= 0.1 * max(0.0, float(prev['inventory'][health]) - float(obs['inventory'][health]))")
    # The learner discounts once per decision, so a macro-action's world steps are free to it
    # unless each step costs a little: a time limit then cannot be reached by macro-actions
    # alone at no loss, and the shortest route to the check wins.
    lines.append(f"    r -= {STEP_COST}  # per env step")
    lines.append("    return r")
    success = f"info['achievements'].get({name!r}, 0) > 0"
    return {
        "subtask": name,
        "macro_actions": macros,
        "macro_params": macro_params,
        "reward_code": "\n".join(lines) + "\n",
        "termination": {"success": success, "max_episode_steps": int(ctx.get("max_episode_steps", 500))},
        # An earlier configuration that did not learn enough: train longer (the critic's advice).
        "total_steps": int(ctx.get("total_steps", 50_000)) * 2 ** len(ctx.get("feedback", [])),
        "notes": "reward = progress toward the success check (needed items, target, stations, achievement) "
                 f"- health lost - {STEP_COST} per env step; macro-actions: "
                 + (", ".join(m + "".join(f" {k}={v}" for k, v in macro_params.get(m, {}).items()) for m in macros)
                    or "none in the library"),
    }


def answer_critic(ctx: dict[str, Any]) -> dict:
    r = ctx["results"]
    rate = float(r.get("success_rate", 0.0))
    target = float(r.get("target", REUSE_AT))
    causes = r.get("failures", {})
    errors = r.get("errors", [])
    if rate >= target:
        return {"success": True, "score": rate, "revise": "none",
                "feedback": f"succeeded in {rate:.0%} of {r.get('episodes', 0)} episodes", "suggestions": []}
    suggestions: list[str] = []
    feedback = [f"succeeded in {rate:.0%} of {r.get('episodes', 0)} episodes (target {target:.0%})"]
    if errors:
        feedback.append(f"the code raised: {errors[0]}")
        suggestions.append("fix the error; use only documented primitives")
    if causes.get("died"):
        feedback.append(f"the player died in {causes['died']} episode(s)")
        suggestions.append("call api.survive() between tries to drink, eat and sleep")
    if causes.get("step_cap") or causes.get("gave_up"):
        feedback.append(f"{causes.get('step_cap', 0) + causes.get('gave_up', 0)} episode(s) ran out of steps "
                        "or the primitive gave up")
        suggestions.append("retry after exploring with api.explore(..., hint=<source>)")
    if causes.get("precondition"):
        feedback.append(f"preconditions were not met in {causes['precondition']} episode(s)")
    attempts = int(ctx.get("attempt", {}).get("number", 1)) if isinstance(ctx.get("attempt"), dict) else 1
    kind = ctx.get("kind", "code")
    if kind == "code" and attempts >= CODE_ATTEMPTS_BEFORE_RL:
        revise = "plan"
        suggestions.append("move this sub-action to RL with coded macro-actions, or split it")
    elif kind == "rl":
        revise = "rl_config"
        suggestions.append("train longer or add a macro-action that reaches the target")
    else:
        revise = "code"
    return {"success": False, "score": rate, "revise": revise,
            "feedback": "; ".join(feedback) + ".", "suggestions": suggestions}


# What the task critic advises for the commonest way a stage fails.
_CHANGE_FOR = {"died": ("add", "add a sub-action that keeps the player alive (survive) before it"),
               "error": ("code", "write new code for it: the skill raised an error"),
               "check_failed": ("params", "give it what its check needs (a larger count, or the missing item)"),
               "gave_up": ("code", "write code that explores and retries when the primitive gives up"),
               "step_cap": ("code", "write code that finishes within the step limit"),
               "episode_end": ("split", "split it: the episode ended before it finished")}


def answer_task_critic(ctx: dict[str, Any]) -> dict:
    """The stage that fails most often first (ignoring failures caused by earlier stages), and
    the change its commonest failure calls for."""
    r = ctx["results"]
    rate, target = float(r.get("success_rate", 0.0)), float(ctx.get("target", 0.5))
    if rate >= target:
        return {"success": True, "stage": "", "change": "none",
                "feedback": f"the task succeeded in {rate:.0%} of episodes (target {target:.0%})"}
    order = [s["name"] for s in ctx.get("plan", [])]
    counts: dict[str, dict[str, int]] = {}
    for name, stage in (r.get("stages") or {}).items():
        own = {k: v for k, v in stage.get("failures", {}).items() if k != "precondition"}
        if own:
            counts[name] = own
    if not counts:
        return {"success": False, "stage": "", "change": "none",
                "feedback": r.get("reason") or f"the task succeeded in {rate:.0%} of episodes; no stage failed"}
    stage = min(counts, key=lambda n: (-sum(counts[n].values()), order.index(n) if n in order else len(order)))
    cause = max(counts[stage], key=counts[stage].get)
    change, advice = _CHANGE_FOR.get(cause, ("code", "write new code for it"))
    held = next((e.get("inventory") for e in r.get("failed_episodes", []) if e.get("stage") == stage), None)
    return {"success": False, "stage": stage, "change": change,
            "feedback": f"{stage} failed in {sum(counts[stage].values())} episode(s), mostly {cause}"
                        + (f"; inventory then: {held}" if held else ""),
            "suggestions": [advice]}


# Built-ins never replace an answerer registered before they load (a plugin's, a test's).
for _name, _fn in (("slow_agent", answer_plan), ("fast_agent_code", answer_code),
                   ("fast_agent_rl", answer_rl), ("critic", answer_critic), ("task_critic", answer_task_critic)):
    if _name not in answerers:
        register_offline_answerer(_name, _fn)
