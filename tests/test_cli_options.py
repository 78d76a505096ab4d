"""Global options before or after the subcommand, and where they clash with a command's own."""

from __future__ import annotations

import json

import pytest

from fake_openai import FakeOpenAI
from rlgpt_cli.cli import build_command, hoist_global_options


@pytest.fixture(scope="module")
def command():
    return build_command()


@pytest.mark.parametrize(
    "argv, expected",
    [
        # after the task's words, and between them: the words stay the task's, in order
        (["plan", "obtain", "diamond", "--model", "openai/gpt-4o"],
         ["--model", "openai/gpt-4o", "plan", "obtain", "diamond"]),
        (["plan", "obtain", "-m", "x/y", "diamond"], ["-m", "x/y", "plan", "obtain", "diamond"]),
        (["plan", "make", "-m", "offline/x"], ["-m", "offline/x", "plan", "make"]),
        (["plan", "x", "--model=openai/a"], ["--model=openai/a", "plan", "x"]),
        # nested commands, flags and values
        (["skills", "list", "--json"], ["--json", "skills", "list"]),
        (["logs", "show", "3", "--json", "-q"], ["--json", "-q", "logs", "show", "3"]),
        (["plan", "x", "--seed", "4"], ["--seed", "4", "plan", "x"]),
        # a command's own option of the same name stays its own
        (["learn", "--seed", "3", "-s", "harvest_log", "--json"], ["--json", "learn", "--seed", "3", "-s", "harvest_log"]),
        (["tasks", "list", "--world", "minedojo", "-m", "x"], ["-m", "x", "tasks", "list", "--world", "minedojo"]),
        (["skills", "show", "craft", "--version", "2", "-w", "crafter"],
         ["-w", "crafter", "skills", "show", "craft", "--version", "2"]),
        # an own option's value is never taken for a global option
        (["run", "x", "--seeds", "--json"], ["run", "x", "--seeds", "--json"]),
        # nothing moves after `--`, or when the command is unknown, or in front
        (["plan", "--", "-m", "x"], ["plan", "--", "-m", "x"]),
        (["no-such", "--json"], ["no-such", "--json"]),
        (["--world", "tiny", "plan", "x"], ["--world", "tiny", "plan", "x"]),
        # --help and --version after a command are the command's
        (["plan", "--help"], ["plan", "--help"]),
    ],
)
def test_hoisting(command, argv, expected):
    assert hoist_global_options(command, argv) == expected


def test_options_after_the_subcommand_take_effect(cli):
    data = cli("plan", "obtain", "diamond", "--world", "crafter", "--model", "rlgpt/offline", "--json").json()
    assert data["task"] == "collect_diamond" and data["model"] == "rlgpt/offline"
    assert cli("skills", "list", "--json").json()  # the built-in pack, as JSON
    r = cli("logs", "list", "--seed", "-3")
    assert r.exit_code == 2 and "seed must be a non-negative integer" in r.stderr


def test_world_before_or_after_tasks_list_means_the_same(cli):
    after = cli("tasks", "list", "--world", "minedojo", "--json").json()
    before = cli("--world", "minedojo", "tasks", "list", "--json").json()
    assert after == before and {t["world"] for t in after} == {"minedojo"}
    # without --world (flag or RLGPT_WORLD) it lists every world's tasks
    assert {t["world"] for t in cli("tasks", "list", "--json").json()} == {"crafter", "minedojo"}


def test_learn_seed_is_its_own(cli, isolated_home):
    # learn's --seed is the training seed; refused values are refused by learn, not the global
    r = cli("learn", "--subtask", "harvest_log", "--seed", "-1")
    assert r.exit_code == 2 and "--seed" in r.stderr


def test_model_after_the_task_reaches_the_provider(cli, monkeypatch):
    plan = cli("plan", "obtain", "wood", "--json").json()["plan"]
    with FakeOpenAI([json.dumps(plan)]) as server:
        monkeypatch.setenv("OPENAI_API_BASE", server.url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        r = cli("plan", "obtain", "wood", "--model", "openai/gpt-4o", "--json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["model"] == "openai/gpt-4o"
    assert server.requests[0]["model"] == "gpt-4o"
