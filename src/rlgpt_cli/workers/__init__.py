"""Worker processes: LLM-written code and the world it drives run outside the CLI's process,
under operating-system limits, spread over every core or a Ray cluster.

``limits`` (what a worker applies to itself), ``pool`` (local workers: jobs and actors),
``ray_pool`` (the same workers as Ray actors). :func:`open_pool` gives the executor this
invocation chose: ``--executor local|ray`` (``RLGPT_EXECUTOR``), ``--workers N``
(``RLGPT_WORKERS``, default the number of cores), ``--ray-address`` (``RLGPT_RAY_ADDRESS``).
See docs/workers.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rlgpt_cli.settings import Settings, default_workers


@dataclass(frozen=True)
class Executor:
    """Where worker processes run: ``local`` processes, or Ray actors (``ray_address`` None:
    a local Ray that rlgpt starts with ``workers`` CPUs)."""

    kind: str = "local"
    workers: int = field(default_factory=default_workers)
    ray_address: str | None = None


_chosen: Executor | None = None


def configure(executor: Executor | None) -> None:
    """Set this invocation's executor (the CLI does, from its settings); None: back to the
    environment's."""
    global _chosen
    _chosen = executor


def current() -> Executor:
    """The executor configured, else the one the environment names (see settings.py)."""
    if _chosen is not None:
        return _chosen
    s = Settings.resolve()
    return Executor(s.executor, s.workers, s.ray_address)


def open_pool(*, imports: tuple = (), setup: tuple | None = None, workers: int | None = None, limits=None):
    """A pool of the current executor (``LocalPool`` or ``RayPool``, the same interface:
    ``map``, ``actor``, ``close``; a context manager). Workers start on first use; see
    ``LocalPool`` for ``imports`` and ``setup``."""
    from rlgpt_cli.workers.limits import WorkerLimits

    chosen = current()
    size = workers or chosen.workers
    limits = limits or WorkerLimits.from_env()
    if chosen.kind == "ray":
        from rlgpt_cli.workers.ray_pool import RayPool

        return RayPool(size, limits, imports=imports, setup=setup, address=chosen.ray_address)
    from rlgpt_cli.workers.pool import LocalPool

    return LocalPool(size, limits, imports=imports, setup=setup)


def prestart(imports: tuple) -> None:
    """Start the local workers' fork server now with `imports` loaded (see
    `pool.start_server`), when this invocation will use more than one local worker."""
    chosen = current()
    if chosen.kind == "local" and chosen.workers > 1:
        from rlgpt_cli.workers.pool import start_server

        start_server(imports)
