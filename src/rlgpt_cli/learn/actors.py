"""Persistent actors for PPO rollouts: the same objects in this process or in worker processes.

An actor is built once from a picklable spec (a callable returning the object, e.g. a
``functools.partial`` of a class) and then called by method name, every actor at once, one
message per call and actor: `learn.ppo.train` sends each rollout worker the policy weights
and gets its whole rollout back, never a round trip per step. `LocalActors` runs the objects
here; `PoolActors` runs each in a worker of the executor this invocation chose
(`rlgpt_cli.workers`: local processes or Ray actors, each under the workers' OS limits and
per-call deadline), so the fast agent's reward code and macro-actions never run in the
learner's process once there is more than one worker.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any


class LocalActors:
    """The actors as plain objects in this process, called one after another."""

    def __init__(self, specs: Sequence[Callable[[], Any]]):
        self.actors: list[Any] = []
        try:
            for spec in specs:
                self.actors.append(spec())
        except BaseException:
            self.close()
            raise

    def __len__(self) -> int:
        return len(self.actors)

    def call_all(self, method: str, args: Sequence[tuple] | None = None) -> list[Any]:
        """``actor.method(*args[i])`` for every actor i; the results in actor order."""
        args = args if args is not None else [()] * len(self.actors)
        return [getattr(actor, method)(*a) for actor, a in zip(self.actors, args)]

    def close(self) -> None:
        for actor in self.actors:
            actor.close()
        self.actors.clear()


def _build(spec: Callable[[], Any], torch_threads: int | None) -> Any:
    """In the worker: the actor, with ``torch_threads`` threads (one per worker: the cores are
    shared out by processes, not by torch's thread pool)."""
    if torch_threads is not None:
        import torch

        torch.set_num_threads(torch_threads)
    return spec()


class PoolActors:
    """Actors in worker processes of the current executor, all called in parallel (submit to
    all, then take every answer). A call that breaks a worker's limit raises its
    ``WorkerBreach`` (a SandboxError: exit 4) once every actor has answered."""

    # What a rollout worker loads before its address-space limit applies.
    IMPORTS = ("numpy", "torch", "rlgpt_cli.learn.ppo", "rlgpt_cli.sandbox")

    def __init__(self, specs: Sequence[Callable[[], Any]], torch_threads: int | None = 1):
        from rlgpt_cli.workers import open_pool

        self._pool = open_pool(imports=self.IMPORTS, workers=len(specs))
        self._actors: list[Any] = []
        try:
            for spec in specs:
                self._actors.append(self._pool.actor(_build, spec, torch_threads))
        except BaseException:
            self.close()
            raise

    def __len__(self) -> int:
        return len(self._actors)

    def call_all(self, method: str, args: Sequence[tuple] | None = None) -> list[Any]:
        args = list(args) if args is not None else [()] * len(self._actors)
        for actor, a in zip(self._actors, args):
            actor.submit(method, *a)
        results, failure = [], None
        for actor in self._actors:  # every submitted call is answered before anything is raised
            try:
                results.append(actor.result())
            except BaseException as exc:  # noqa: BLE001 - raised below, the first one
                failure = failure or exc
                results.append(None)
        if failure is not None:
            raise failure
        return results

    def close(self) -> None:
        for actor in self._actors:
            actor.close()
        self._actors.clear()
        self._pool.close()
