"""Reinforcement learning for rlgpt.

`rlgpt_cli.learn.ppo` holds the PPO learner (CleanRL's design, written here). This package
file imports nothing heavy on purpose: torch is imported only by `ppo` itself, which only
the commands that train or run a policy import.
"""
