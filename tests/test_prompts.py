"""Prompt templates: the shipped ones are valid, render carries the machine-readable
header and context block, user templates override, and `rlgpt prompts` shows them."""

from __future__ import annotations

import json
import re

import pytest

from rlgpt_cli.errors import NotFound, UsageError
from rlgpt_cli.models.prompts import list_prompts, load_prompt, parse_messages, render
from rlgpt_cli.models.schemas import SCHEMAS

BUILTIN = {"critic": "Critique", "fast_agent_code": "CodeAnswer", "fast_agent_rl": "RLConfig", "slow_agent": "Plan",
           "task_critic": "TaskCritique"}
PLAN_CONTEXT = {
    "task": "make a wood pickaxe",
    "world": "crafter",
    "knowledge": {"recipes": ["make wood_pickaxe: uses wood 1, nearby table"]},
    "library": [{"name": "collect_wood", "success_rate": 0.9}],
    "feedback": [],
}


def test_builtin_templates_are_listed_with_their_schemas(tmp_path):
    prompts = {p.name: p for p in list_prompts(tmp_path)}
    assert {name: p.schema for name, p in prompts.items()} == BUILTIN
    assert all(p.source == "builtin" and p.description and "task" in p.context for p in prompts.values())


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_example_answer_in_each_template_matches_its_schema(tmp_path, name):
    prompt = load_prompt(name, tmp_path)
    examples = re.findall(r"```json\n(.*?)\n```", prompt.system.template, re.DOTALL)
    assert examples, f"{name} shows no example answer"
    SCHEMAS[prompt.schema].model_validate(json.loads(examples[-1]))


def test_render_carries_header_placeholders_and_context(tmp_path):
    system, user = render("slow_agent", PLAN_CONTEXT, tmp_path)
    assert system["role"] == "system" and user["role"] == "user"
    # The template's header is ours, not the model's: it is not in what the model reads.
    assert "rlgpt-prompt" not in system["content"] + user["content"]
    assert system["content"].startswith("You are the slow agent")
    assert 'game world "crafter"' in system["content"]
    assert user["content"].startswith('Plan the sub-actions for the task described in "task"')
    # The task is in the context once, not repeated above it.
    assert user["content"].count("make a wood pickaxe") == 1
    block = user["content"].split('<rlgpt-context prompt="slow_agent">\n', 1)[1].split("\n</rlgpt-context>", 1)[0]
    assert json.loads(block) == PLAN_CONTEXT
    assert parse_messages([system, user]) == ("slow_agent", PLAN_CONTEXT)


def test_render_is_deterministic_whatever_the_key_order(tmp_path):
    shuffled = dict(reversed(list(PLAN_CONTEXT.items())))
    assert render("slow_agent", shuffled, tmp_path) == render("slow_agent", PLAN_CONTEXT, tmp_path)


def test_render_needs_the_declared_context(tmp_path):
    with pytest.raises(UsageError, match="prompt slow_agent needs context keys library, feedback"):
        render("slow_agent", {"task": "t", "world": "crafter", "knowledge": {}}, tmp_path)


def test_parse_messages_reads_the_latest_context_after_repair_turns(tmp_path):
    messages = render("slow_agent", PLAN_CONTEXT, tmp_path) + [
        {"role": "assistant", "content": "oops"},
        {"role": "user", "content": "Your answer was not valid: ..."},
    ]
    assert parse_messages(messages) == ("slow_agent", PLAN_CONTEXT)
    assert parse_messages([{"role": "user", "content": "hello"}]) == (None, None)


def _write(home, name, text):
    folder = home / "prompts"
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.md").write_text(text)


def test_user_template_overrides_the_builtin(tmp_path):
    _write(tmp_path, "critic", "rlgpt-prompt: critic\nschema: Critique\ncontext: task\ndescription: mine\n\n"
                               "--- system ---\nBe harsh about $task. Costs $$0.\n--- user ---\nJudge.\n")
    prompt = load_prompt("critic", tmp_path)
    assert (prompt.source, prompt.description) == ("user", "mine")
    system, user = render("critic", {"task": "wood"}, tmp_path)
    assert "Be harsh about wood. Costs $0." in system["content"]
    assert {p.name: p.source for p in list_prompts(tmp_path)}["critic"] == "user"


@pytest.mark.parametrize(
    "text, problem",
    [
        ("schema: Plan\n\n--- system ---\nx\n--- user ---\ny\n", "first header line"),
        ("rlgpt-prompt: bad\nschema: Plann\n\n--- system ---\nx\n--- user ---\ny\n", "did you mean Plan"),
        ("rlgpt-prompt: bad\n\n--- system ---\nx\n", "one '--- user ---' section"),
        ("rlgpt-prompt: bad\ncontext: task\n\n--- system ---\n$task $world\n--- user ---\ny\n", "$world"),
        ("rlgpt-prompt: bad\n\n--- system ---\ncosts $5\n--- user ---\ny\n", "write $$ for a dollar"),
        ("rlgpt-prompt: bad\nno colon here\n\n--- system ---\nx\n--- user ---\ny\n", "not 'key: value'"),
    ],
)
def test_broken_templates_are_usage_errors(tmp_path, text, problem):
    _write(tmp_path, "bad", text)
    with pytest.raises(UsageError) as err:
        load_prompt("bad", tmp_path)
    assert problem in err.value.message and str(tmp_path) in err.value.message


def test_unknown_prompt_suggests_the_nearest(tmp_path):
    with pytest.raises(NotFound, match="no prompt named 'slow_agnt'; did you mean slow_agent"):
        load_prompt("slow_agnt", tmp_path)


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    """Run `rlgpt ...` in-process; return (exit code, stdout, stderr)."""
    from rlgpt_cli import cli as cli_module
    from rlgpt_cli.commands import prompts as prompts_command

    monkeypatch.setenv("RLGPT_HOME", str(tmp_path))
    if "prompts" not in cli_module.COMMAND_MODULES:  # until the CLI lists the command itself
        monkeypatch.setattr(cli_module.app, "registered_groups", list(cli_module.app.registered_groups))
        prompts_command.register(cli_module.app)

    def run(*args):
        with pytest.raises(SystemExit) as exit_:
            cli_module.main(list(args))
        out = capsys.readouterr()
        return exit_.value.code, out.out, out.err

    return run


def test_cli_prompts_list_and_show(cli):
    code, out, _ = cli("--json", "prompts", "list")
    assert code == 0
    assert {p["name"]: p["schema"] for p in json.loads(out)} == BUILTIN
    code, out, _ = cli("--json", "prompts", "show", "fast_agent_rl")
    shown = json.loads(out)
    assert code == 0 and shown["schema"] == "RLConfig" and "def reward(prev, obs, info)" in shown["system"]
    code, out, _ = cli("prompts", "show", "critic")
    assert code == 0 and "--- system ---" not in out and "You are the critic" in out


def test_cli_unknown_prompt_exits_with_usage_code(cli):
    code, out, err = cli("prompts", "show", "critc")
    assert code == 2 and out == ""
    assert err.strip() == "Error: no prompt named 'critc'; did you mean critic, task_critic?"
