"""ModelClient against a fake OpenAI-compatible server on 127.0.0.1, and the offline model.

No network: every request goes to ``fake_openai.FakeOpenAI`` or to the in-process offline
provider. Backoff sleeps are recorded instead of slept.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from fake_openai import FakeOpenAI, Reply
from rlgpt_cli.errors import BudgetExceeded, ModelError
from rlgpt_cli.models import ModelClient
from rlgpt_cli.models import offline_provider
from rlgpt_cli.models.client import InvalidAnswer, _import_litellm, parse_structured
from rlgpt_cli.models.schemas import Critique, Plan
from rlgpt_cli.settings import Settings
from rlgpt_cli.store import Store, current_run

pytestmark = pytest.mark.filterwarnings("ignore:Pydantic serializer warnings")

GOOD = json.dumps({"success": True, "score": 0.9, "feedback": "fine", "suggestions": [], "revise": "none"})
MESSAGES = [{"role": "user", "content": "judge this"}]


@pytest.fixture(autouse=True)
def builtin_answerers():
    """Load the offline model's built-in answerers first, so a test that swaps one for its own
    (monkeypatch.setitem) puts the built-in back afterwards instead of deleting the key."""
    offline_provider._load_builtin_answerers()


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "rlgpt.db")
    yield s
    s.close()


@pytest.fixture
def make_client(tmp_path, store):
    """A client for ``model`` at the fake server, recording its backoff sleeps."""

    def make(server, model="openai/test-model", **kwargs):
        sleeps: list[float] = []
        kwargs.setdefault("sleep", sleeps.append)
        client = ModelClient(
            Settings(model=model, home=tmp_path), store, api_base=server.url, api_key="sk-test", **kwargs
        )
        client.sleeps = sleeps
        return client

    return make


def test_normal_answer_is_parsed_and_recorded(make_client, store):
    with FakeOpenAI([GOOD]) as server:
        result = make_client(server).complete("critic", MESSAGES, Critique)
    assert result.parsed == Critique(success=True, score=0.9, feedback="fine")
    assert (result.model, result.cached, result.tokens_in, result.tokens_out) == ("openai/test-model", False, 10, 5)
    assert result.cost_usd == 0  # litellm has no price for test-model: unknown means free
    assert server.requests[0]["model"] == "test-model"
    assert server.messages(0) == MESSAGES
    [call] = store.model_calls()
    assert (call["model"], call["prompt"], call["error"], call["cache_hit"]) == ("openai/test-model", "critic", None, 0)


def test_free_text_answer_without_schema(make_client):
    with FakeOpenAI(["just words"]) as server:
        result = make_client(server).complete("chat", MESSAGES)
    assert (result.text, result.parsed) == ("just words", None)


def test_json_inside_a_fence_and_prose():
    text = f"Here is my judgement:\n```json\n{GOOD}\n```\nHope it helps."
    assert parse_structured(text, Critique).score == 0.9
    assert parse_structured(f"Sure! {GOOD} Done.", Critique).success is True
    with pytest.raises(InvalidAnswer, match="the answer contains no JSON object"):
        parse_structured("no json here", Critique)
    # A decode error says where: the model can fix the spot.
    with pytest.raises(InvalidAnswer, match=r"its \{\.\.\.\} part is not valid JSON: .*line 1 column 13"):
        parse_structured('Answer: {"success": tru, "score": 1}', Critique)
    with pytest.raises(InvalidAnswer, match="schema Critique: score"):
        parse_structured('{"success": true, "score": 7}', Critique)


def test_malformed_json_gets_a_repair_turn(make_client, store):
    with FakeOpenAI(['{"success": tru', GOOD]) as server:
        result = make_client(server).complete("critic", MESSAGES, Critique)
    assert result.parsed.success is True
    assert len(server.requests) == 2
    repair = server.messages(1)
    assert repair[:1] == MESSAGES
    assert repair[1] == {"role": "assistant", "content": '{"success": tru'}
    assert repair[2]["role"] == "user" and "is not valid JSON: Expecting" in repair[2]["content"]
    assert result.tokens_in == 20  # both turns are counted
    first, second = store.model_calls()
    assert first["error"].startswith("invalid answer:") and second["error"] is None


def test_schema_violation_beyond_repair_budget(make_client, store):
    with FakeOpenAI(['{"success": "maybe", "score": 2}']) as server:
        with pytest.raises(ModelError) as err:
            make_client(server, repairs=2).complete("critic", MESSAGES, Critique)
    assert len(server.requests) == 3
    assert "openai/test-model answered with invalid JSON/schema for critic" in err.value.message
    assert "score" in err.value.message and "\n" not in err.value.message
    assert "score" in server.messages(-1)[-1]["content"]  # the repair turn names the problem
    assert len(store.model_calls()) == 3


def test_rate_limit_is_retried(make_client, store):
    with FakeOpenAI([Reply(status=429, error="slow down"), GOOD]) as server:
        client = make_client(server)
        result = client.complete("critic", MESSAGES, Critique)
    assert result.parsed.success and len(server.requests) == 2
    assert len(client.sleeps) == 1 and 0.5 <= client.sleeps[0] <= 1.0
    assert [c["error"] for c in store.model_calls()] == ["slow down", None]


def test_server_errors_until_giving_up(make_client, store):
    with FakeOpenAI([Reply(status=500, error="boom")]) as server:
        client = make_client(server, retries=2)
        with pytest.raises(ModelError, match="openai/test-model failed after 3 attempts: boom"):
            client.complete("critic", MESSAGES, Critique)
    assert len(server.requests) == 3
    assert client.sleeps[0] < client.sleeps[1]  # exponential backoff
    assert len(store.model_calls()) == 3


@pytest.mark.parametrize("status", [400, 401, 404])
def test_client_errors_fail_at_once(make_client, status):
    with FakeOpenAI([Reply(status=status, error="no such thing")]) as server:
        client = make_client(server)
        with pytest.raises(ModelError) as err:
            client.complete("critic", MESSAGES)
    assert len(server.requests) == 1 and client.sleeps == []
    assert err.value.message.startswith(f"model openai/test-model request failed (HTTP {status})")


def test_missing_api_key_fails_at_once(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with FakeOpenAI([GOOD]) as server:
        client = ModelClient(Settings(model="openai/test-model", home=tmp_path), api_base=server.url,
                             sleep=lambda s: pytest.fail("must not retry"))
        with pytest.raises(ModelError, match=r"^model openai/test-model request failed: Missing credentials"):
            client.complete("critic", MESSAGES)
    assert server.requests == []


def test_timeout_is_retried_then_fails(make_client):
    with FakeOpenAI([Reply(GOOD, delay_s=1.0)]) as server:
        client = make_client(server, timeout=0.2, retries=1)
        with pytest.raises(ModelError, match="failed after 2 attempts: no answer within 0.2 s"):
            client.complete("critic", MESSAGES, Critique)
    assert len(server.requests) == 2


def test_cache_hit_on_repeat(make_client, store):
    with FakeOpenAI([GOOD]) as server:
        first = make_client(server).complete("critic", MESSAGES, Critique, temperature=0)
        again = make_client(server).complete("critic", MESSAGES, Critique, temperature=0)
        other = make_client(server).complete("critic", MESSAGES, Critique, temperature=1)
    assert len(server.requests) == 2  # the third differs in a parameter
    assert (first.cached, again.cached, other.cached) == (False, True, False)
    assert again.parsed == first.parsed and again.cost_usd == 0
    assert [c["cache_hit"] for c in store.model_calls()] == [0, 1, 0]


def test_cache_can_be_disabled(make_client):
    with FakeOpenAI([GOOD]) as server:
        for _ in range(2):
            assert make_client(server, cache=False).complete("critic", MESSAGES).cached is False
    assert len(server.requests) == 2


def test_cost_is_recorded_for_priced_models(make_client, store):
    run_id = store.start_run("test", {})
    token = current_run.set(run_id)
    try:
        with FakeOpenAI([Reply(GOOD, prompt_tokens=1000, completion_tokens=500)]) as server:
            result = make_client(server, model="openai/gpt-4o-mini").complete("critic", MESSAGES, Critique)
    finally:
        current_run.reset(token)
    assert result.cost_usd == pytest.approx(1000 * 0.15e-6 + 500 * 0.6e-6)
    [call] = store.model_calls()
    assert call["cost_usd"] == pytest.approx(result.cost_usd)
    assert (call["tokens_in"], call["tokens_out"], call["run_id"]) == (1000, 500, run_id)
    assert store.get_run(run_id)["cost_usd"] == pytest.approx(result.cost_usd)


def test_call_budget_stops_before_the_call(make_client):
    with FakeOpenAI([GOOD]) as server:
        client = make_client(server, max_calls=1)
        client.complete("critic", MESSAGES, Critique)
        with pytest.raises(BudgetExceeded, match="1 of at most 1 calls"):
            client.complete("critic", [{"role": "user", "content": "another"}], Critique)
    assert len(server.requests) == 1


def test_cost_budget_stops_after_the_call_that_crossed_it(make_client):
    answer = Reply(GOOD, prompt_tokens=1000, completion_tokens=500)  # $0.00045
    with FakeOpenAI([answer]) as server:
        client = make_client(server, model="openai/gpt-4o-mini", max_cost=0.0001)
        with pytest.raises(BudgetExceeded, match="cost budget exceeded"):
            client.complete("critic", MESSAGES, Critique)
        with pytest.raises(BudgetExceeded):
            client.complete("critic", [{"role": "user", "content": "another"}], Critique)
        assert len(server.requests) == 1
        # The answer that crossed the budget was paid for: a re-run gets it from the cache.
        rerun = make_client(server, model="openai/gpt-4o-mini", max_cost=0.0001).complete("critic", MESSAGES, Critique)
    assert rerun.cached and rerun.parsed.success and len(server.requests) == 1


def test_offline_provider_round_trip(tmp_path, store, monkeypatch):
    seen = []

    def judge(context):
        seen.append(context)
        return Critique(success=True, score=1.0, feedback=f"{context['task']} done")

    monkeypatch.setitem(offline_provider.answerers, "critic", judge)
    context = {"task": "collect wood", "subaction": {"name": "collect_wood"}, "kind": "code",
               "attempt": "def act(api):\n    yield 'do'\n", "results": {"success_rate": 1.0}}
    client = ModelClient(Settings(home=tmp_path), store)
    result = client.prompt("critic", context)
    assert seen == [context]
    assert result.parsed == Critique(success=True, score=1.0, feedback="collect wood done")
    assert (result.model, result.cost_usd, result.cached) == ("rlgpt/offline", 0.0, False)
    assert result.tokens_in > 100 and result.tokens_out > 5
    assert client.prompt("critic", context).cached is False  # the offline model is never cached
    assert not (tmp_path / "cache").exists()
    assert [c["model"] for c in store.model_calls()] == ["rlgpt/offline"] * 2


def test_the_offline_model_answers_without_litellm(tmp_path):
    # litellm takes seconds to import: a command on the offline model must not pay for it.
    code = ("import sys\nfrom rlgpt_cli.cli import main\nsys.argv = ['rlgpt', '--json', 'plan', 'eat cow']\n"
            "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\n"
            "print('litellm' in sys.modules, code, file=sys.stderr)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "RLGPT_HOME": str(tmp_path), "PYTHONPATH": os.pathsep.join(sys.path)})
    assert out.stderr.split()[-2:] == ["False", "0"], out.stderr
    assert json.loads(out.stdout)["model"] == "rlgpt/offline"


def test_the_offline_model_answers_the_same_through_litellm(tmp_path, monkeypatch):
    from rlgpt_cli.models.prompts import render

    monkeypatch.setitem(offline_provider.answerers, "critic", lambda context: json.loads(GOOD))
    context = {"task": "t", "subaction": {}, "kind": "code", "attempt": "", "results": {}}
    direct = ModelClient(Settings(home=tmp_path)).prompt("critic", context)
    through = _import_litellm().completion(model="rlgpt/offline", messages=render("critic", context, tmp_path))
    assert through.choices[0].message.content == direct.text
    assert (through.usage.prompt_tokens, through.usage.completion_tokens) == (direct.tokens_in, direct.tokens_out)


def test_offline_provider_without_answerer(tmp_path, monkeypatch):
    monkeypatch.delitem(offline_provider.answerers, "slow_agent", raising=False)
    client = ModelClient(Settings(home=tmp_path), sleep=lambda s: pytest.fail("must not retry"))
    context = {"task": "t", "world": "crafter", "knowledge": {}, "library": [], "feedback": []}
    with pytest.raises(ModelError, match="rlgpt/offline has no answerer for prompt slow_agent"):
        client.prompt("slow_agent", context)
    assert client.calls == 1


def test_offline_answerer_bug_is_a_model_error(tmp_path, monkeypatch):
    monkeypatch.setitem(offline_provider.answerers, "critic", lambda context: 1 / 0)
    client = ModelClient(Settings(home=tmp_path), sleep=lambda s: pytest.fail("must not retry"))
    with pytest.raises(ModelError, match="failed to answer prompt critic: ZeroDivisionError"):
        client.prompt("critic", {"task": "t", "subaction": {}, "kind": "code", "attempt": "", "results": {}})


def test_offline_answer_that_violates_schema_is_repaired_then_fails(tmp_path, monkeypatch):
    monkeypatch.setitem(offline_provider.answerers, "slow_agent", lambda context: {"task": "t", "subactions": []})
    client = ModelClient(Settings(home=tmp_path), repairs=1)
    context = {"task": "t", "world": "crafter", "knowledge": {}, "library": [], "feedback": []}
    with pytest.raises(ModelError, match="invalid JSON/schema for slow_agent"):
        client.prompt("slow_agent", context)
    assert client.calls == 2


def test_offline_plan_round_trip(tmp_path, monkeypatch):
    monkeypatch.setitem(offline_provider.answerers, "slow_agent", lambda context: {
        "task": context["task"],
        "subactions": [{"name": "collect_wood", "kind": "rl", "reason": "exploration"}],
    })
    context = {"task": "collect wood", "world": "crafter", "knowledge": {}, "library": [], "feedback": []}
    plan = ModelClient(Settings(home=tmp_path)).prompt("slow_agent", context).parsed
    assert isinstance(plan, Plan) and plan.subactions[0].kind == "rl"


def _litellm_globals(litellm) -> dict:
    names = ["api_base", "api_key", "openai_key", "num_retries", "request_timeout", "drop_params", "headers",
             "callbacks", "success_callback", "failure_callback", "input_callback", "_async_success_callback",
             "_async_failure_callback", "model_alias_map"]
    state = {n: repr(getattr(litellm, n, None)) for n in names}
    state["custom_provider_map"] = [item["provider"] for item in litellm.custom_provider_map]
    return state


def test_litellm_path_sets_nothing_global(make_client, tmp_path, monkeypatch):
    litellm = _import_litellm()
    before, environ = _litellm_globals(litellm), dict(os.environ)
    assert before["custom_provider_map"].count("rlgpt") == 1
    monkeypatch.setitem(offline_provider.answerers, "critic", lambda context: json.loads(GOOD))
    with FakeOpenAI([Reply(status=429), GOOD]) as server:
        make_client(server, timeout=5).complete("critic", MESSAGES, Critique, temperature=0)
    ModelClient(Settings(home=tmp_path)).prompt(
        "critic", {"task": "t", "subaction": {}, "kind": "code", "attempt": "", "results": {}}
    )
    _import_litellm()  # registering the offline provider again is a no-op
    assert _litellm_globals(litellm) == before
    assert dict(os.environ) == environ
