"""The RL-GPT agents: the slow agent (planner), the fast agent (coder / RL configurator)
and the critic. Each asks a model through ``rlgpt_cli.models``; the built-in offline model
answers them with the deterministic functions in ``agents.offline``."""
