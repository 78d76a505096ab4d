"""The run store keeps each call's conversation; `rlgpt logs` shows it, readable and as JSON."""

from __future__ import annotations

import json

import pytest

from fake_openai import FakeOpenAI, Reply
from rlgpt_cli import store as store_mod
from rlgpt_cli.models import ModelClient
from rlgpt_cli.settings import Settings
from rlgpt_cli.store import MIGRATIONS, Store

pytestmark = pytest.mark.filterwarnings("ignore:Pydantic serializer warnings")

MESSAGES = [{"role": "system", "content": "You judge."}, {"role": "user", "content": "judge this"}]


def test_served_model_messages_and_response_are_recorded(tmp_path):
    store = Store(tmp_path / "rlgpt.db")
    with FakeOpenAI([Reply("a fine answer", model="gpt-4o-2024-08-06")]) as server:
        client = ModelClient(Settings(model="openai/gpt-4o", home=tmp_path), store,
                             api_base=server.url, api_key="sk-test")
        client.complete("critic", MESSAGES)
        client.complete("critic", MESSAGES)  # a cache hit
    first, hit = store.model_calls()
    assert first["model"] == "openai/gpt-4o" and first["served_model"] == "gpt-4o-2024-08-06"
    assert first["messages"] == MESSAGES and first["response"] == "a fine answer"
    assert hit["cache_hit"] == 1 and hit["response"] == "a fine answer" and hit["messages"] == MESSAGES
    assert hit["served_model"] == "gpt-4o-2024-08-06"


def test_failed_call_keeps_what_was_sent(tmp_path):
    store = Store(tmp_path / "rlgpt.db")
    with FakeOpenAI([Reply(status=400, error="bad request")]) as server:
        client = ModelClient(Settings(model="openai/gpt-4o", home=tmp_path), store,
                             api_base=server.url, api_key="sk-test")
        with pytest.raises(Exception):
            client.complete("critic", MESSAGES)
    [call] = store.model_calls()
    assert call["messages"] == MESSAGES and call["response"] is None and "bad request" in call["error"]


def test_logs_show_prints_prompt_and_response(cli):
    assert cli("plan", "collect", "wood").exit_code == 0
    run_id = cli("logs", "list", "--json").json()[0]["id"]
    data = cli("logs", "show", str(run_id), "--json").json()
    assert data["model_calls"] == len(data["calls"]) == 1
    [call] = data["calls"]
    assert call["served_model"] == "rlgpt/offline"
    assert call["messages"][0]["role"] == "system" and "slow agent" in call["messages"][0]["content"]
    assert json.loads(call["response"])["task"] == "collect_wood"
    human = cli("logs", "show", str(run_id)).stdout
    assert "── system" in human and "── user" in human and "── response" in human
    assert '"task": "collect_wood"' in human and "You are the slow agent" in human


def test_old_store_is_migrated_and_still_shown(cli, isolated_home, monkeypatch):
    # A store from before conversations were kept: its calls show without them.
    monkeypatch.setattr(store_mod, "MIGRATIONS", MIGRATIONS[:4])
    old = Store(isolated_home / "rlgpt.db")
    run_id = old.start_run("plan", {"task": "x"})
    old.db.execute("INSERT INTO model_calls (run_id, model, prompt, created_at) VALUES (?, 'openai/x', 'slow_agent', 0)",
                   (run_id,))
    old.finish_run(run_id, 0)
    old.close()
    monkeypatch.setattr(store_mod, "MIGRATIONS", MIGRATIONS)
    data = cli("logs", "show", str(run_id), "--json").json()
    assert data["calls"][0]["messages"] is None and data["calls"][0]["response"] is None
    r = cli("logs", "show", str(run_id))
    assert r.exit_code == 0 and "recorded before conversations were kept" in r.stdout
