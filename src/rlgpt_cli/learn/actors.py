"""Persistent actors for PPO rollouts: the same objects in this process or in worker processes.

An actor is built once from a picklable spec (a callable returning the object, e.g. a
``functools.partial`` of a class) and then called by method name, every actor at once, one
message per call and actor: `learn.ppo.train` sends each rollout worker the policy weights
and gets its whole rollout back, never a round trip per step. `LocalActors` runs the objects
here; `ProcessActors` runs each in its own process ("spawn", so a worker starts from a clean
interpreter: no copied locks, tracer or torch thread pool), with one torch thread each.

This module imports nothing of the learner, so a spec names its class only through pickle;
a pool of OS-limited workers elsewhere can replace `ProcessActors` with the same three calls
(`call_all`, `close`, the constructor from specs).
"""

from __future__ import annotations

import os
import pickle
import signal
import traceback
from collections.abc import Callable, Sequence
from typing import Any

WORKERS_ENV = "RLGPT_WORKERS"


def default_workers() -> int:
    """Worker processes for rollouts: ``RLGPT_WORKERS`` if set, else the cores this process may use."""
    raw = os.environ.get(WORKERS_ENV, "").strip()
    if raw:
        from rlgpt_cli.errors import UsageError

        if not raw.isdigit() or int(raw) < 1:
            raise UsageError(f"{WORKERS_ENV} must be a whole number >= 1, got {raw!r}")
        return int(raw)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


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


class ActorError(RuntimeError):
    """An actor raised in its worker process (its traceback text is the message)."""


def _failure(exc: BaseException) -> tuple[str, Any]:
    """The exception itself when it survives pickling (the parent re-raises it: a sandbox
    error keeps its class and exit code), else its traceback as text."""
    try:
        pickle.loads(pickle.dumps(exc))
        return ("raise", exc)
    except Exception:
        return ("error", "".join(traceback.format_exception(exc)))


def _serve(conn, spec: Callable[[], Any], torch_threads: int | None) -> None:
    # Ctrl-C reaches the whole process group: the parent decides when to stop (it finishes
    # the update, saves a checkpoint) and closes the workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if torch_threads is not None:
        import torch

        torch.set_num_threads(torch_threads)
    try:
        actor = spec()
    except BaseException as exc:
        conn.send(_failure(exc))
        return
    conn.send(("ok", None))
    while True:
        try:
            message = conn.recv()
        except EOFError:  # the parent is gone
            break
        if message is None:
            break
        method, args = message
        try:
            conn.send(("ok", getattr(actor, method)(*args)))
        except BaseException as exc:
            conn.send(_failure(exc))
    try:
        actor.close()
    finally:
        conn.close()


class ProcessActors:
    """Each actor in its own worker process, all called in parallel (send to all, then receive)."""

    def __init__(self, specs: Sequence[Callable[[], Any]], torch_threads: int | None = 1):
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        self._conns: list[Any] = []
        self._procs: list[Any] = []
        try:
            for spec in specs:
                parent, child = ctx.Pipe()
                proc = ctx.Process(target=_serve, args=(child, spec, torch_threads), daemon=True)
                proc.start()
                child.close()
                self._conns.append(parent)
                self._procs.append(proc)
            for conn in self._conns:  # started together, built in parallel
                self._receive(conn)
        except BaseException:
            self.close()
            raise

    def __len__(self) -> int:
        return len(self._conns)

    @staticmethod
    def _receive(conn) -> Any:
        try:
            status, value = conn.recv()
        except EOFError:
            raise ActorError("a rollout worker process died") from None
        if status == "raise":
            raise value
        if status == "error":
            raise ActorError(f"a rollout worker failed:\n{value}")
        return value

    def call_all(self, method: str, args: Sequence[tuple] | None = None) -> list[Any]:
        args = args if args is not None else [()] * len(self._conns)
        for conn, a in zip(self._conns, args):
            conn.send((method, tuple(a)))
        return [self._receive(conn) for conn in self._conns]

    def close(self) -> None:
        for conn in self._conns:
            try:
                conn.send(None)
            except (OSError, ValueError):
                pass
        for proc in self._procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
                proc.join()
        for conn in self._conns:
            conn.close()
        self._conns.clear()
        self._procs.clear()
