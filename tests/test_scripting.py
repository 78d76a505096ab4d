"""Scripting with --json: run ids, stable types, ISO 8601 UTC times."""

from __future__ import annotations

import datetime as dt


def _utc(text: str) -> dt.datetime:
    when = dt.datetime.fromisoformat(text)
    assert when.utcoffset() == dt.timedelta(0), text
    return when


def test_recorded_commands_give_their_run_id(cli):
    plan = cli("plan", "collect", "wood", "--json").json()
    runs = cli("logs", "list", "--json").json()
    assert plan["run_id"] == runs[0]["id"] and runs[0]["command"] == "plan"
    # commands that record nothing have no run id
    assert "run_id" not in cli("models", "default", "--json").json()


def test_model_calls_is_a_count_everywhere(cli):
    cli("plan", "collect", "wood")
    [listed] = cli("logs", "list", "--json").json()
    shown = cli("logs", "show", str(listed["id"]), "--json").json()
    assert listed["model_calls"] == shown["model_calls"] == 1
    assert isinstance(shown["calls"], list) and len(shown["calls"]) == 1


def test_times_are_iso_8601_utc(cli):
    cli("plan", "collect", "wood")
    [listed] = cli("logs", "list", "--json").json()
    shown = cli("logs", "show", str(listed["id"]), "--json").json()
    assert _utc(shown["started_at"]) <= _utc(shown["ended_at"])
    _utc(shown["calls"][0]["created_at"])
    assert listed["started_at"] in cli("logs", "list").stdout
    plan = cli("plan", "show", str(cli("plan", "collect", "wood", "--json").json()["id"]), "--json").json()
    _utc(plan["created_at"])


def test_built_in_skills_have_a_creation_time(cli):
    skills = cli("skills", "list", "--json").json()
    builtin = [s for s in skills if s["source"] == "builtin"]
    assert builtin
    for skill in builtin:
        _utc(skill["created_at"])
