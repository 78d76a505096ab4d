"""Persistent actors for PPO rollouts: the same objects in this process or in worker processes.

An actor is built once from a picklable spec (a callable returning the object, e.g. a
``functools.partial`` of a class) and then called by method name, every actor at once, one
message per call and actor: `learn.ppo.train` sends each rollout worker the policy weights
and gets its whole rollout back, never a round trip per step. `LocalActors` runs the objects
here; `ProcessActors` runs each in its own process ("spawn", so a worker starts from a clean
interpreter: no copied locks, tracer or torch thread pool), with one torch thread each, except
the first `here` of them, which it runs here while the others work.

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


class _Failed:
    """A worker's failure, held until every worker has answered."""

    def __init__(self, exc: BaseException):
        self.exc = exc

    def reraise(self) -> None:
        raise self.exc


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
    """Actors in worker processes, all called in parallel (send to all, then receive).

    The first `here` actors run in this process instead, while the others work: the learner
    would otherwise wait idle on its core during collection, and each process saved is one
    interpreter, torch and world less to start.
    """

    def __init__(self, specs: Sequence[Callable[[], Any]], torch_threads: int | None = 1, here: int = 0):
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        self._conns: list[Any] = []
        self._procs: list[Any] = []
        self._local = LocalActors([])
        try:
            for spec in specs[here:]:
                parent, child = ctx.Pipe()
                proc = ctx.Process(target=_serve, args=(child, spec, torch_threads), daemon=True)
                proc.start()
                child.close()
                self._conns.append(parent)
                self._procs.append(proc)
            self._local = LocalActors(specs[:here])  # built while the processes start
            for conn in self._conns:
                self._receive(conn)
        except BaseException:
            self.close()
            raise

    def __len__(self) -> int:
        return len(self._local) + len(self._conns)

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
        args = list(args) if args is not None else [()] * len(self)
        here = len(self._local)
        for conn, a in zip(self._conns, args[here:]):
            conn.send((method, tuple(a)))
        try:
            results = self._local.call_all(method, args[:here])
        finally:  # every sent call is answered, even when a local actor raised
            remote = [self._receive_all(conn) for conn in self._conns]
        for value in remote:
            if isinstance(value, _Failed):
                value.reraise()
        return results + remote

    def _receive_all(self, conn) -> Any:
        try:
            return self._receive(conn)
        except BaseException as exc:
            return _Failed(exc)

    def close(self) -> None:
        self._local.close()
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
