"""The slow agent: split a task into sub-actions marked code, rl or reuse."""

from __future__ import annotations

from typing import Any

from rlgpt_cli.agents import facts

# A catalogue description longer than this is cut: the prompt must fit a small model's context.
ABOUT_CHARS = 64


def knowledge(task) -> dict[str, Any]:
    """What the task's world teaches about it (its kit's recipe graph or equivalent)."""
    from rlgpt_cli.worlds.base import get_kit

    return get_kit(task.world).knowledge(task)


def catalogue(library, world: str | None = None) -> list[dict[str, Any]]:
    """The library as the agents read it (only ``world``'s skills when given): each skill's best
    version, its parameters, what it needs and gives as facts, and its measured success."""
    out = []
    for skill in library.list(world=world):
        if getattr(skill, "status", "ok") != "ok":
            continue
        metrics = skill.metrics or {}
        pre, eff = skill.preconditions or {}, skill.effects or {}
        about = " ".join((skill.description or "").split())
        entry = {
            "name": skill.name, "version": skill.version, "kind": skill.kind, "params": skill.params,
            "needs": facts.to_strings(pre.get("inventory", {}), pre.get("nearby", [])),
            "gives": facts.to_strings(eff.get("inventory", {}), eff.get("nearby", [])),
            "success_rate": metrics.get("success_rate"), "episodes": metrics.get("episodes"),
            "about": about if len(about) <= ABOUT_CHARS else about[: ABOUT_CHARS - 1] + "…",
        }
        if entry["gives"]:
            del entry["about"]  # its name and what it gives say it; the context of small models is short
        # Empty and unmeasured fields cost a small model's context and say nothing.
        out.append({k: v for k, v in entry.items() if v not in (None, [], {}, "")})
    return out


def signatures(skills: list[dict[str, Any]]) -> list[str]:
    """The library as code calls it: one line per skill, ``name(param=default): gives ...``."""
    def line(s):
        args = ", ".join(f"{k}={v!r}" for k, v in s.get("params", {}).items())
        gives = f": gives {', '.join(s['gives'])}" if s.get("gives") else f": {s.get('about', '')}"
        return f"{s['name']}({args}){gives}"

    return [line(s) for s in skills]


def relevant(skills: list[dict[str, Any]], knowledge: dict[str, Any]) -> list[dict[str, Any]]:
    """The skills a plan for this task can use: those that give or reach something its knowledge
    steps involve (targets, sources, stations, materials used), and the general ones that give
    nothing in particular (explore, survive). All of them when the knowledge names nothing."""
    words: set[str] = set()
    for step in knowledge.get("steps", []):
        words |= {step.get("target"), step.get("source"), *step.get("nearby", []), *step.get("preconditions", {})}
        words |= {subaction_name(step), step.get("skill"), step.get("again")}
    words.discard(None)
    if not words:
        return skills

    return [s for s in skills
            if s["name"] in words or not s.get("gives") or {_subject(f) for f in s["gives"]} & words]


def subaction_name(step: dict) -> str:
    """The sub-action a knowledge step becomes: its own name (a repeat, or a goal no achievement
    names), else its achievement, else ``kind_target``."""
    return step.get("name") or step.get("achievement") or f"{step.get('kind')}_{step.get('target')}"


def _subject(fact: str) -> str | None:
    """What a fact is about: ``"wood >= 2"`` → wood, ``"near table"`` → table."""
    parsed = facts.parse([fact])
    return next(iter(parsed["inventory"]), None) or next(iter(parsed["nearby"]), None)


def compact_knowledge(know: dict[str, Any]) -> dict[str, Any]:
    """The knowledge as the slow agent reads it: the steps once (the one-line facts repeat them),
    without the action name (the step's kind and target say it) or empty fields."""
    steps = [{k: v for k, v in step.items() if k != "action" and v not in (None, [], {})}
             for step in know.get("steps", [])]
    return {**{k: v for k, v in know.items() if k not in ("steps", "facts")}, "steps": steps}


def plan_problems(plan, skills: list[dict[str, Any]], kit) -> list[str]:
    """What makes a parsed plan unusable here: a reused skill the library lacks, parameters it
    does not take or of the wrong type, success checks naming what the world does not have."""
    from rlgpt_cli.errors import nearest
    from rlgpt_cli.runner import checks

    by_name = {s["name"]: s for s in skills}
    docs = kit.observation_docs()
    items = docs.get("inventory", [])
    targets = [*_names(docs.get("materials")), *_names(docs.get("objects")), *docs.get("nearby", []),
               *docs.get("nearby_tools", [])]
    problems = []
    for sub in plan.subactions:
        if sub.kind == "reuse":
            skill = by_name.get(sub.skill)
            if skill is None:
                problems.append(f"{sub.name}: reuses {sub.skill!r}, which the library does not have"
                                f"{nearest(sub.skill, by_name)}")
                continue
            takes = skill.get("params", {})
            for key, value in sub.params.items():
                if key not in takes:
                    problems.append(f"{sub.name}: skill {sub.skill} takes no parameter {key!r} "
                                    f"(it takes: {', '.join(takes) or 'none'})")
                elif not _same_type(value, takes[key]):
                    problems.append(f"{sub.name}: parameter {key}={value!r} should be like its default "
                                    f"{takes[key]!r}")
        try:
            checks.validate(checks.parse(sub.success), items=items, achievements=kit.achievements(), targets=targets)
        except checks.CheckError as exc:
            problems.append(f"{sub.name}: success check: {exc}")
    return problems


def _names(table) -> list[str]:
    return list(table.values()) if isinstance(table, dict) else list(table or [])


def _same_type(value, default) -> bool:
    if default is None:
        return True
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, (int, float)):
        return isinstance(value, (int, float))
    return isinstance(value, type(default))


def make_plan(client, task, library_skills: list[dict], feedback: list[dict] | None = None):
    """Ask the slow agent for a plan over the relevant part of the library; returns
    ``(Plan, ModelResult)``. A plan that reuses missing skills, passes parameters a skill does
    not take or checks what the world lacks goes back to the model with the problems."""
    from rlgpt_cli.models.client import InvalidAnswer
    from rlgpt_cli.worlds.base import get_kit

    kit = get_kit(task.world)
    know = knowledge(task)

    def usable(plan) -> None:
        problems = plan_problems(plan, library_skills, kit)
        if problems:
            raise InvalidAnswer("the plan cannot run: " + "; ".join(problems))

    result = client.prompt("slow_agent", {
        "task": {k: v for k, v in task.to_dict().items() if k != "aliases"},  # names only the CLI resolves
        "world": task.world,
        "knowledge": compact_knowledge(know),
        "library": relevant(library_skills, know),
        "feedback": for_planner(feedback or []),
    }, validate=usable)
    return result.parsed, result


# Whole-task records the slow agent sees (the latest ones), and the length of texts in them.
TASK_RECORDS_SHOWN = 2
TEXT_CHARS = 160


def for_planner(feedback: list[dict]) -> list[dict]:
    """The feedback as the slow agent reads it: every sub-action record without code or reward
    code (the fast agent's business), attempts reduced to their results and the critic's
    words, and the latest whole-task records."""
    def cut(text):
        text = " ".join(str(text or "").split())
        return text if len(text) <= TEXT_CHARS else text[: TEXT_CHARS - 1] + "…"

    tasks = [f for f in feedback if f.get("kind") == "task"][-TASK_RECORDS_SHOWN:]
    out = []
    for record in feedback:
        if record.get("kind") == "task":
            if any(record is t for t in tasks):
                stages = record.get("stages", {})
                out.append({**record,
                            "stages": {n: s for n, s in stages.items() if s.get("failures")},
                            "stages_without_failures": [n for n, s in stages.items() if not s.get("failures")]})
            continue
        slim = {k: v for k, v in record.items() if k not in ("rl_config", "attempts", "promotion")}
        if record.get("promotion"):  # whether the new version runs, and under which name
            slim["promotion"] = {k: v for k, v in record["promotion"].items() if k in ("promoted", "renamed_from")}
        if record.get("attempts") and not record.get("success"):  # how it went wrong, when it did
            slim["attempts"] = [{"attempt": a.get("attempt"), "success_rate": a.get("success_rate"),
                                 "refused": cut(a.get("refused")) or None, "critique": cut(a.get("critique"))}
                                for a in record["attempts"]]
        out.append(slim)
    return out

