"""What working commands and the loops share: the library, the model client, labels for output."""

from __future__ import annotations

from rlgpt_cli.settings import OFFLINE_MODEL, Settings


def open_library(settings: Settings):
    """The user's library, offered every skill plugins register (the built-in pack included)."""
    from rlgpt_cli.library import Library

    return Library(settings.library_path, plugins=True)


def model_client(settings: Settings, store=None, max_cost: float | None = None, max_calls: int | None = None):
    from rlgpt_cli.models.client import ModelClient

    return ModelClient(settings, store, max_cost=max_cost, max_calls=max_calls, timeout=settings.timeout,
                       retries=settings.retries, num_ctx=settings.num_ctx)


def model_label(model: str) -> str:
    """Who answered, said plainly: the offline model is a planner, not an LLM."""
    if model == OFFLINE_MODEL:
        return f"{model} (built-in offline planner, not an LLM)"
    return model
