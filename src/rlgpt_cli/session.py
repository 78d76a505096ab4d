"""What the working commands share: the library, the model client, labels for output."""

from __future__ import annotations

from rlgpt_cli.settings import OFFLINE_MODEL, Settings


def open_library(settings: Settings):
    from rlgpt_cli.library import Library
    from rlgpt_cli.resources import builtin_skills_dir

    return Library(settings.library_path, builtin_dirs=[builtin_skills_dir()])


def model_client(settings: Settings, store=None, max_cost: float | None = None, max_calls: int | None = None):
    from rlgpt_cli.models.client import ModelClient

    return ModelClient(settings, store, max_cost=max_cost, max_calls=max_calls)


def model_label(model: str) -> str:
    """Who answered, said plainly: the offline model is a planner, not an LLM."""
    if model == OFFLINE_MODEL:
        return f"{model} (built-in offline planner, not an LLM)"
    return model


def crafter_world_factory(length: int = 10_000):
    def make():
        from rlgpt_cli.worlds.base import get_world

        return get_world("crafter", length=length)

    return make
