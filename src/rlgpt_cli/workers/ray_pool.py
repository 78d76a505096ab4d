"""The same workers as Ray actors: ``--executor ray`` on a local Ray or an existing cluster.

Each Ray actor (:class:`_Host`, one CPU) holds a one-worker :class:`~rlgpt_cli.workers.pool.LocalPool`
on its node, so a job runs under exactly the limits it has locally (address space, CPU
time, a wall-clock deadline after which the host kills its worker and starts another); Ray
only places the hosts and carries jobs and answers. ``ray`` is imported only here, when a
pool is opened. rlgpt's own settings (``RLGPT_*``) travel with every host, so a worker on
another machine reads the same library folder and plugins (the folder must be shared, or
the same path on every node; see docs/workers.md).
"""

from __future__ import annotations

import os
from typing import Any, Callable

from rlgpt_cli.workers.limits import WorkerLimits


class _Host:
    """A Ray actor that runs jobs (or holds one actor) in its own local worker process."""

    def __init__(self, limits: WorkerLimits, imports: tuple, setup: tuple | None, environ: dict):
        from rlgpt_cli.workers.pool import LocalPool

        self.pool = LocalPool(1, limits, imports=imports, setup=setup, environ={**os.environ, **environ})
        self.actor = None

    def run(self, func, item):
        try:
            return ("ok", self.pool.map(func, [item])[0])  # a WorkerBreach comes back as a value
        except Exception as exc:  # noqa: BLE001 - re-raised by the driver, as it is
            return ("raise", exc)

    def make(self, factory, args):
        try:
            self.actor = self.pool.actor(factory, *args)
            return ("ok", None)
        except Exception as exc:  # noqa: BLE001
            return ("raise", exc)

    def call(self, method: str, args: tuple):
        try:
            return ("ok", self.actor.call(method, *args))
        except Exception as exc:  # noqa: BLE001 - a WorkerBreach included
            return ("raise", exc)

    def drop(self) -> None:
        if self.actor is not None:
            self.actor.close()
            self.actor = None

    def close(self) -> None:
        self.pool.close()


def _answer(reply):
    if reply[0] == "raise":
        raise reply[1]
    return reply[1]


def _ray(workers: int, address: str | None):
    """Ray, connected: to ``address``, or to a local Ray started with ``workers`` CPUs."""
    from rlgpt_cli.errors import UsageError, WorldError

    try:
        import ray
    except ImportError:
        raise UsageError("--executor ray needs Ray: pip install 'rlgpt-cli[ray]'") from None
    if not ray.is_initialized():
        try:
            ray.init(address=address, num_cpus=None if address else workers, include_dashboard=False,
                     log_to_driver=False, configure_logging=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise WorldError(f"could not {'reach Ray at ' + address if address else 'start Ray'}: "
                             f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    return ray


class RayPool:
    """Up to ``workers`` hosts on a Ray cluster; ``map``, ``actor`` and ``close`` as LocalPool's."""

    def __init__(self, workers: int, limits: WorkerLimits | None = None, *, imports: tuple = (),
                 setup: tuple | None = None, address: str | None = None):
        self.size = max(1, int(workers))
        self.limits = limits or WorkerLimits.from_env()
        self.imports = tuple(imports)
        self.setup = setup
        self.address = address
        self.environ = {k: v for k, v in os.environ.items() if k.startswith("RLGPT_")}
        self._hosts: list = []
        self._actor_hosts: list = []
        self._ray = None

    def __enter__(self) -> "RayPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _host(self):
        if self._ray is None:
            ray = _ray(self.size, self.address)
            self._ray, self._remote = ray, ray.remote(num_cpus=1)(_Host)
        host = self._remote.remote(self.limits, self.imports, self.setup, self.environ)
        self._hosts.append(host)
        return host

    def map(self, func: Callable, items: list, *, on_result: Callable[[int, Any], None] | None = None,
            stop: Callable[[], bool] | None = None) -> list:
        """As ``LocalPool.map``."""
        results: list = [None] * len(items)
        todo = list(range(len(items)))[::-1]
        while len(self._hosts) < min(self.size, len(items)):
            self._host()
        idle = list(self._hosts)
        running: dict = {}  # ray object ref -> (index, host)
        while todo or running:
            while todo and idle:
                i, host = todo.pop(), idle.pop()
                running[host.run.remote(func, items[i])] = (i, host)
            ready, _ = self._ray.wait(list(running), num_returns=1)
            i, host = running.pop(ready[0])
            results[i] = _answer(self._ray.get(ready[0]))
            idle.append(host)
            if on_result:
                on_result(i, results[i])
            if stop is not None and stop():
                busy = [h for _, h in running.values()]
                for h in busy:  # its worker is stopped by its own limits even if it outlives it
                    self._ray.kill(h)
                self._hosts = [h for h in self._hosts if not any(h is b for b in busy)]
                return results
        return results

    def actor(self, factory: Callable, *args) -> "RayActor":
        """An actor in a host of its own while the pool has room, else in a host that holds
        none yet (a host runs jobs and holds an actor in separate workers): a host keeps a CPU
        for its life, so a full cluster would never place another."""
        free = [h for h in self._hosts if not any(h is a for a in self._actor_hosts)]
        host = free[0] if free and len(self._hosts) >= self.size else self._host()
        _answer(self._ray.get(host.make.remote(factory, args)))
        self._actor_hosts.append(host)
        return RayActor(self._ray, host)

    def close(self) -> None:
        if self._ray is None:
            return
        for host in self._hosts:
            try:
                self._ray.get(host.close.remote(), timeout=30)
            except Exception:  # noqa: BLE001 - a host that is gone already
                pass
            self._ray.kill(host)
        self._hosts, self._actor_hosts = [], []


class RayActor:
    """An actor in a host's worker; ``call``, ``submit``/``result`` as a local Actor's."""

    def __init__(self, ray, host):
        self._ray, self._host, self._pending = ray, host, None

    def submit(self, method: str, *args) -> None:
        self._pending = self._host.call.remote(method, args)

    def result(self):
        ref, self._pending = self._pending, None
        return _answer(self._ray.get(ref))

    def call(self, method: str, *args):
        self.submit(method, *args)
        return self.result()

    def close(self) -> None:
        """Ends the actor's worker; its host goes with the pool."""
        self._ray.get(self._host.drop.remote())
