"""rlgpt: RL-GPT — LLM agents that code what can be coded and learn the rest."""

__version__ = "0.1.0"
