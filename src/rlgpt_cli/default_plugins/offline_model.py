"""The built-in offline model, ``rlgpt/offline``, handed to the ``register_models`` hook: a
litellm custom provider answering rlgpt's prompts deterministically (not an LLM)."""

from __future__ import annotations

from rlgpt_cli.hookspecs import hookimpl


@hookimpl
def register_models(register):
    from rlgpt_cli.models.offline_provider import PROVIDER, handler

    register(PROVIDER, handler())
