"""Every model call: litellm behind one client, with cache, budgets, retries and the
offline model. Importing this package is cheap; litellm loads on the first call."""

from rlgpt_cli.models.client import ModelClient, ModelResult
from rlgpt_cli.models.offline_provider import register_offline_answerer
from rlgpt_cli.models.prompts import list_prompts, load_prompt, render

__all__ = ["ModelClient", "ModelResult", "list_prompts", "load_prompt", "register_offline_answerer", "render"]
