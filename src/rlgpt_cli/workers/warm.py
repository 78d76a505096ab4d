"""What every worker would otherwise load and compile itself, loaded once by the workers'
fork server (multiprocessing's forkserver preload imports this module) before it forks them:
numpy, the sandbox, the episode runner, and the built-in world with its compiled kernels.
Plugins are not loaded here: each worker loads them from its own environment."""

import numpy  # noqa: F401

from rlgpt_cli import sandbox  # noqa: F401
from rlgpt_cli.runner import jobs  # noqa: F401
from rlgpt_cli.worlds import base

base.warm_up()
