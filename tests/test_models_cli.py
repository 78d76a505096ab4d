"""`rlgpt models`: providers (key names only), aliases and a stored default, like simonw/llm."""

from __future__ import annotations

import json

import pytest


def test_list_shows_offline_model_providers_and_never_key_values(cli, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value")
    r = cli("models", "list", "--json")
    assert r.exit_code == 0 and "sk-secret-value" not in r.stdout
    data = r.json()
    assert data["offline"]["model"] == "rlgpt/offline"
    configured = {p["provider"]: p["configured"] for p in data["providers"]}
    assert configured["openai"] is True and configured["anthropic"] is False
    assert data["current"] == {"model": "rlgpt/offline", "source": "built-in default"}
    human = cli("models", "list").stdout
    assert "sk-secret-value" not in human and "OPENAI_API_KEY" in human and "rlgpt/offline" in human


def test_alias_and_default_are_used_when_no_model_is_given(cli, monkeypatch, isolated_home):
    assert cli("models", "alias", "fast", "openai/gpt-4o-mini").exit_code == 0
    assert cli("models", "default", "fast").exit_code == 0
    stored = json.loads((isolated_home / "models.json").read_text())
    assert stored == {"default": "fast", "aliases": {"fast": "openai/gpt-4o-mini"}}
    assert cli("doctor", "--json").json()["model"] == "openai/gpt-4o-mini"
    current = cli("models", "list", "--json").json()["current"]
    assert current == {"model": "openai/gpt-4o-mini", "source": "rlgpt models default"}
    # RLGPT_MODEL and --model win over the stored default; aliases work in both
    monkeypatch.setenv("RLGPT_MODEL", "anthropic/claude-x")
    assert cli("doctor", "--json").json()["model"] == "anthropic/claude-x"
    assert cli("doctor", "--json", "-m", "fast").json()["model"] == "openai/gpt-4o-mini"
    monkeypatch.delenv("RLGPT_MODEL")
    assert cli("models", "default", "--json").json() == {
        "default": "fast", "model": "openai/gpt-4o-mini", "path": str(isolated_home / "models.json"),
        "exit_code": 0, "error": None}
    assert cli("models", "default", "--clear").exit_code == 0
    assert cli("doctor", "--json").json()["model"] == "rlgpt/offline"


def test_alias_listing_and_removal(cli):
    assert cli("models", "alias", "--json").json()["aliases"] == {}
    cli("models", "alias", "a1", "openai/x")
    cli("models", "alias", "b2", "ollama_chat/llama3.1:8b")
    assert cli("models", "alias", "--json").json()["aliases"] == {"a1": "openai/x", "b2": "ollama_chat/llama3.1:8b"}
    assert cli("models", "alias", "b2", "--json").json()["aliases"] == {"b2": "ollama_chat/llama3.1:8b"}
    cli("models", "default", "a1")
    assert cli("models", "alias", "--remove", "a1", "--json").json()["removed"] == "a1"
    # the default named the removed alias, so it is gone too
    assert cli("models", "default", "--json").json()["default"] is None
    r = cli("models", "alias", "--remove", "b3")
    assert r.exit_code == 2 and r.stderr == "Error: no alias 'b3'; did you mean b2?\n"


@pytest.mark.parametrize("args, message", [
    (["alias", "bad/name", "openai/x"], "not an alias name: 'bad/name'"),
    (["alias", "9lives", "openai/x"], "not an alias name: '9lives'"),
    (["alias", "ok", "no provider"], "not a model name or alias: 'no provider'"),
    (["alias", "ok", "gpt-4o"], "not a model name or alias: 'gpt-4o'"),
    (["default", "nosuch"], "no alias 'nosuch'"),
    (["default", "openai/x", "--clear"], "give NAME or --clear, not both"),
    (["alias", "--remove"], "usage: rlgpt models alias --remove NAME"),
])
def test_bad_names_are_refused(cli, args, message, isolated_home):
    r = cli("models", *args)
    assert r.exit_code == 2 and r.stderr.startswith(f"Error: {message}"), r.stderr
    assert not (isolated_home / "models.json").exists()


def test_unknown_model_word_suggests_an_alias(cli):
    cli("models", "alias", "fast", "openai/gpt-4o-mini")
    r = cli("-m", "fats", "logs", "list")
    assert r.exit_code == 2 and r.stderr == "Error: no model alias 'fats'; did you mean fast?\n"


def test_broken_models_file_is_a_clear_error(cli, isolated_home):
    isolated_home.mkdir(parents=True, exist_ok=True)
    (isolated_home / "models.json").write_text("{not json")
    r = cli("models", "list")
    assert r.exit_code == 2 and "models.json is unreadable" in r.stderr and "delete it" in r.stderr
