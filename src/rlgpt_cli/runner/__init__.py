"""The skill runner: the one place where skills act in a world.

``runner.skills`` starts and drives skills (code skills in the sandbox, trusted plugin
skills, policy skills) and macro-actions with their action mask and observation space;
``runner.rewards`` compiles the fast agent's reward code and success expressions;
``runner.episode`` runs a plan's sub-actions one skill after another (staging a plan's
prefix included) and judges each. Training (``learn``), evaluation, ``rlgpt run`` and
``rlgpt iterate`` all use these and nothing else to run a skill.
"""
