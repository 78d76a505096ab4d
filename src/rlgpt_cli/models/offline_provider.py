"""The offline model ``rlgpt/offline``, answered by rlgpt itself.

``ModelClient`` calls :func:`answer` directly, with the same call budget, validation, repair
turns and logging as any model, but without importing litellm (seconds of start-up, for a
model that needs none of it). It is also registered as a litellm custom provider
(:func:`handler`), so ``litellm.completion(model="rlgpt/offline", ...)`` answers the same.

It is not an LLM. It reads the prompt name and the task context from the
``<rlgpt-context prompt="...">`` JSON block (see ``models.prompts``), i.e. exactly what
an LLM reads, and answers with a registered deterministic function of that context::

    from rlgpt_cli.models.offline_provider import register_offline_answerer

    def plan(context: dict) -> dict:        # or a pydantic model
        return {"task": context["task"], "subactions": [...]}

    register_offline_answerer("slow_agent", plan)

The answer's JSON is the response text; usage is counted roughly (4 characters a token)
and the cost is 0.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any, Callable

from rlgpt_cli.errors import ModelError, RlgptError

PROVIDER = "rlgpt"
MODEL = "offline"

Answerer = Callable[[dict[str, Any]], Any]

# prompt name -> answer function. The built-in answerers register themselves when one of
# ANSWERER_MODULES is imported; that happens on the first offline call, so a command that
# never asks the offline model never imports them.
answerers: dict[str, Answerer] = {}
ANSWERER_MODULES: list[str] = ["rlgpt_cli.agents.offline"]


def register_offline_answerer(prompt_name: str, fn: Answerer) -> None:
    """Answer prompt ``prompt_name`` offline with ``fn(context) -> dict | BaseModel``."""
    answerers[prompt_name] = fn


@cache
def _load_builtin_answerers() -> None:
    import importlib

    for module in ANSWERER_MODULES:
        importlib.import_module(module)


def rough_tokens(text: str) -> int:
    return (len(text) + 3) // 4


def usage(messages: list[dict[str, Any]], text: str) -> tuple[int, int]:
    """(prompt tokens, completion tokens) of an offline exchange, counted roughly."""
    return sum(rough_tokens(json.dumps(m.get("content", ""))) for m in messages), rough_tokens(text)


def answer(model: str, messages: list[dict[str, Any]]) -> str:
    """The offline model's reply text to ``messages``."""
    from rlgpt_cli.models.prompts import parse_messages

    if model != MODEL:
        raise ModelError(f"unknown offline model {PROVIDER}/{model}; the built-in one is {PROVIDER}/{MODEL}")
    name, context = parse_messages(messages)
    if name is None:
        raise ModelError(f"{PROVIDER}/{MODEL} answers only rlgpt prompts; no <rlgpt-context prompt=...> block "
                         "in the messages")
    if context is None:
        raise ModelError(f"{PROVIDER}/{MODEL} found no valid JSON in the <rlgpt-context> block of prompt {name}")
    _load_builtin_answerers()
    fn = answerers.get(name)
    if fn is None:
        known = ", ".join(sorted(answerers)) or "none"
        raise ModelError(
            f"{PROVIDER}/{MODEL} has no answerer for prompt {name} (registered: {known}); use an LLM with --model"
        )
    try:
        result = fn(context)
    except RlgptError:
        raise
    except Exception as exc:
        raise ModelError(f"{PROVIDER}/{MODEL} failed to answer prompt {name}: {type(exc).__name__}: {exc}") from exc
    if hasattr(result, "model_dump"):
        result = result.model_dump(mode="json")
    return json.dumps(result, ensure_ascii=False)


@cache
def handler():
    """The CustomLLM instance (built lazily: subclassing it needs litellm imported)."""
    import time

    import litellm
    from litellm import CustomLLM

    class OfflineLLM(CustomLLM):
        def completion(self, model, messages, *args, **kwargs):
            text = answer(model, messages)
            response = kwargs["model_response"]
            response.choices[0].message.content = text
            response.choices[0].finish_reason = "stop"
            response.model = f"{PROVIDER}/{model}"
            response.created = int(time.time())
            prompt_tokens, completion_tokens = usage(messages, text)
            response.usage = litellm.Usage(
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                total_tokens=prompt_tokens + completion_tokens,
            )
            return response

    return OfflineLLM()
