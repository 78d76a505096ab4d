"""The two loops with a model that answers as an LLM does, through an OpenAI-compatible server
on 127.0.0.1: the task's outcome reaches the slow agent, which revises its plan; `run` then
uses the plan `iterate` validated; every prompt of the chain fits a small model's context."""

from __future__ import annotations

import json

import pytest

from fake_openai import FakeOpenAI
from llm_answers import REVISED, RL_CONFIG, ScriptedLLM, diamond_plan

MODEL = "openai/gpt-4o"
# Ollama's default context is 4k tokens: each prompt must fit it.
PROMPT_TOKENS = 4096


@pytest.fixture
def llm(monkeypatch):
    script = ScriptedLLM()
    with FakeOpenAI(script) as server:
        monkeypatch.setenv("OPENAI_API_BASE", server.url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        script.server = server
        yield script


def _tokens(messages) -> int:
    import litellm

    return litellm.token_counter(model="gpt-4o", messages=messages)


def test_task_feedback_revises_a_plan_that_reuses_everything_and_run_uses_the_validated_plan(cli, llm):
    r = cli("--json", "-m", MODEL, "iterate", "make", "stone", "pickaxe", "--episodes", "3", "--outer", "3")
    assert r.exit_code == 0, r.stderr
    report = r.json()
    assert report["status"] == "succeeded" and report["outer"] == 2
    first, second = report["iterations"]
    assert first["task_success_rate"] == 0.0 and second["task_success_rate"] >= 0.5

    # The second plan was asked for with the whole-task outcome: the failing stage, how it
    # failed and with what in the inventory, and the task critic's advice.
    plans = llm.requests["slow_agent"]
    assert len(plans) == 2
    context = json.loads(plans[1][-1]["content"].split('<rlgpt-context prompt="slow_agent">\n')[1]
                         .split("\n</rlgpt-context>")[0])
    [task_record] = [f for f in context["feedback"] if f["kind"] == "task"]
    assert task_record["success_rate"] == 0.0
    assert task_record["stages"]["make_wood_pickaxe"]["success_rate"] == 0.0
    failure = task_record["failed_episodes"][0]
    assert failure["stage"] == "make_wood_pickaxe" and failure["outcome"] in ("gave_up", "check_failed")
    assert failure["failed_check"] == ["inventory wood_pickaxe >= 1"] and "wood" not in failure["inventory"]
    assert task_record["critic"]["stage"] == "make_wood_pickaxe"
    # Reused sub-actions are measured by the task evaluation, not left unmeasured.
    assert all(s["success_rate"] is not None for s in first["subactions"])
    # The wrong first code attempt's error reached the fast agent, with the line of its own code.
    assert llm.code_attempts == 2
    retry = json.loads(llm.requests["fast_agent_code"][1][-1]["content"]
                       .split('<rlgpt-context prompt="fast_agent_code">\n')[1].split("\n</rlgpt-context>")[0])
    assert "(line 3)" in json.dumps(retry["feedback"])

    # `run` uses the plan iterate validated, without asking the slow agent again.
    r = cli("--json", "-m", MODEL, "run", "make", "stone", "pickaxe", "--episodes", "3")
    assert r.exit_code == 0, r.stderr
    assert r.json()["plan_id"] == report["iterations"][1]["plan_id"] and len(llm.requests["slow_agent"]) == 2
    assert r.json()["skills"]["make_stone_pickaxe"].endswith("v1")  # the skill iterate wrote
    r = cli("--json", "-m", MODEL, "run", "make", "stone", "pickaxe", "--episodes", "2",
            "--plan", str(report["iterations"][0]["plan_id"]))
    assert r.exit_code == 0 and r.json()["plan_id"] == report["iterations"][0]["plan_id"]
    assert r.json()["success_rate"] == 0.0  # the plan that reused everything still fails

    # Every prompt of the chain fits a 4k context.
    sizes = {name: max(_tokens(m) for m in calls) for name, calls in llm.requests.items()}
    assert set(sizes) == {"slow_agent", "task_critic", "fast_agent_code", "critic"}
    assert max(sizes.values()) < PROMPT_TOKENS, sizes


def test_a_plan_reusing_a_missing_skill_or_a_bad_parameter_gets_a_repair_turn(cli, llm, monkeypatch):
    bad = {**REVISED, "subactions": [{**REVISED["subactions"][0], "params": {"count": 4}},
                                     {**REVISED["subactions"][1], "skill": "place_tabel"}]}
    answers = iter([json.dumps(bad), json.dumps(REVISED)])
    monkeypatch.setattr(llm, "answer_slow_agent", lambda ctx: next(answers))
    r = cli("--json", "-m", MODEL, "plan", "make", "stone", "pickaxe")
    assert r.exit_code == 0, r.stderr
    assert [s["params"] for s in r.json()["plan"]["subactions"]][0] == {"n": 4}
    repair = llm.requests["slow_agent"][1][-1]["content"]
    assert "skill collect_wood takes no parameter 'count' (it takes: n)" in repair
    assert "reuses 'place_tabel', which the library does not have; did you mean place_table" in repair


def test_a_success_check_outside_the_language_is_refused_with_the_grammar(cli, llm, monkeypatch):
    vague = {**REVISED, "subactions": [{**REVISED["subactions"][0], "success": "a tree has been chopped"}]}
    monkeypatch.setattr(llm, "answer_slow_agent", lambda ctx: json.dumps(vague))
    r = cli("--json", "-m", MODEL, "plan", "make", "stone", "pickaxe")
    assert r.exit_code != 0
    assert "'a tree has been chopped' is not a success check" in r.stderr
    assert len(llm.requests["slow_agent"]) == 3  # the answer and two repair turns


def test_obtain_diamond_bounded_reaches_its_target_after_the_task_feedback(cli, monkeypatch):
    from llm_answers import DiamondLLM

    script = DiamondLLM()
    with FakeOpenAI(script) as server:
        monkeypatch.setenv("OPENAI_API_BASE", server.url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        r = cli("--json", "-m", MODEL, "iterate", "obtain", "diamond", "--episodes", "3", "--outer", "2",
                "--target", "0.3")
    assert r.exit_code == 0, r.stderr
    report = r.json()
    assert [it["task_success_rate"] for it in report["iterations"]][0] == 0.0
    assert report["iterations"][-1]["task_success_rate"] >= 0.3 and report["status"] == "succeeded"
    sizes = {name: max(_tokens(m) for m in calls) for name, calls in script.requests.items()}
    assert max(sizes.values()) < PROMPT_TOKENS, sizes


def test_requests_carry_the_schema_temperature_and_token_limit(cli, llm):
    r = cli("--json", "-m", MODEL, "plan", "make", "wood", "pickaxe")
    assert r.exit_code == 0, r.stderr
    body = llm.server.requests[0]
    assert body["temperature"] == 0.2 and body["max_tokens"] == 2000
    schema = body["response_format"]["json_schema"]
    assert schema["name"] == "Plan" and "subactions" in schema["schema"]["properties"]
    # Nothing of the template's own header reaches the model.
    assert "rlgpt-prompt" not in json.dumps(body["messages"])


def test_the_rl_configuration_prompt_for_obtain_diamond_fits_and_documents_the_observation(llm):
    from rlgpt_cli.settings import Settings
    from rlgpt_cli.store import Store
    from rlgpt_cli.usecases import configure_rl, plan_task
    from rlgpt_cli.workspace import model_client, open_library
    from rlgpt_cli.worlds.tasks import resolve_task

    settings = Settings.resolve(model=MODEL)
    library, store = open_library(settings), Store(settings.db_path)
    llm.answer_slow_agent = lambda ctx: json.dumps(diamond_plan(9))
    task = resolve_task("obtain diamond", world="crafter")
    plan = plan_task(model_client(settings, store), store, task, library)
    sub = next(s for s in plan["plan"]["subactions"] if s["name"] == "collect_iron")
    # Three earlier configurations that did not learn: the most the fast agent is shown.
    feedback = [{"subaction": "collect_iron", "kind": "rl", "success": False, "success_rate": 0.2,
                 "rl_config": RL_CONFIG}] * 3
    config, model = configure_rl(model_client(settings, store), task, sub, library, feedback,
                                 total_steps=50_000, max_episode_steps=1000)
    store.close()
    assert config.macro_actions == ["goto_iron", "explore"] and model == MODEL
    [messages] = llm.requests["fast_agent_rl"]
    text = json.dumps(messages)
    # The reward code's author gets the inventory order, the view's id tables and the facing.
    assert '\\"iron\\"' in text and "materials" in text and "facing" in text
    assert _tokens(messages) < PROMPT_TOKENS
