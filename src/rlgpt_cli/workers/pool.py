"""Local worker processes: whole jobs and stateful actors, under OS limits (``workers.limits``).

A :class:`LocalPool` starts workers lazily from multiprocessing's fork server (a clean,
small process: no inherited descriptors beyond the worker's pipe, no parent state) and
keeps them for the pool's life. ``map(func, items)`` runs ``func(item)`` for each item
spread over the workers, one message per item, so a message is a whole job (an episode),
never one step. ``actor(factory, *args)`` builds ``factory(*args)`` inside a dedicated
worker, which keeps it between messages (``call(method, *args)``; ``submit``/``result`` to
keep several actors busy at once).

Every message has a wall-clock deadline (``WorkerLimits.seconds``), counted from when the
worker takes it: past it the parent kills the worker. A worker that ran out of address
space, ran past its CPU time or died otherwise is replaced by a new one for the next
message; the message's answer is a :class:`WorkerBreach` (``exceeded time``, ``exceeded
memory`` or ``crashed``). The parent only waits on pipes: its memory and responsiveness
never depend on what the job does.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import tempfile
import time
import weakref
from typing import Any, Callable

from rlgpt_cli.errors import SandboxError
from rlgpt_cli.workers import limits as oslimits
from rlgpt_cli.workers.limits import WorkerLimits

TIME, MEMORY, CRASHED = "exceeded time", "exceeded memory", "crashed"
# A worker that could not even report its MemoryError exits with this code.
_EXIT_MEMORY = 86
# Seconds a new worker may take to import what it needs before it counts as broken.
START_SECONDS = 120.0


class WorkerBreach(SandboxError):
    """A job that broke a worker's limit: ``what`` is TIME, MEMORY or CRASHED; ``progress``
    is the last thing the job reported (see :func:`report`) before it was stopped."""

    def __init__(self, what: str, detail: str, progress: Any = None):
        super().__init__(f"{what} ({detail})")
        self.what, self.detail, self.progress = what, detail, progress

    def __reduce__(self):  # crosses process (and Ray) boundaries whole
        return WorkerBreach, (self.what, self.detail, self.progress)


# ---------------------------------------------------------------------------------------
# The worker side

_conn = None  # this worker's pipe to its parent (None in the parent)


def report(value) -> None:
    """From inside a job: tell the parent how far it got (kept with a breach). Costs one
    small message; call it per stage of an episode, never per step. No-op outside workers."""
    if _conn is not None:
        _conn.send(("progress", value))


def _serve(conn, limits: WorkerLimits, environ: dict, workdir: str, imports: tuple, setup: tuple | None) -> None:
    global _conn
    import gc
    import importlib

    os.environ.clear()
    os.environ.update(oslimits.quiet_threads(environ))
    os.chdir(workdir)
    for module in imports:  # before the address-space cap, which counts what they map
        importlib.import_module(module)
    if setup is not None:  # first-use costs (plugins, a world's start), before any deadline runs
        setup[0](*setup[1])
    oslimits.apply_at_start(limits)
    _conn = conn
    conn.send(("ready",))
    actor = None
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if message[0] == "stop":
            return
        oslimits.apply_per_job(limits)
        try:
            if message[0] == "call":
                reply = ("ok", message[1](*message[2]))
            elif message[0] == "actor":
                actor = message[1](*message[2])
                reply = ("ok", None)
            else:
                reply = ("ok", getattr(actor, message[1])(*message[2]))
        except MemoryError:
            reply = None
            gc.collect()
            reply = ("breach", MEMORY, f"allocation past the worker's {limits.memory_mb} MB address-space limit")
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent
            reply = ("raise", exc)
        try:
            conn.send(reply)
        except MemoryError:
            os._exit(_EXIT_MEMORY)
        except Exception as exc:  # an answer that does not pickle
            conn.send(("raise", RuntimeError(f"worker could not send its answer: {type(exc).__name__}: {exc}")))
        if reply[0] == "breach":
            return  # a process that ran out of memory is not trusted with more work


# ---------------------------------------------------------------------------------------
# The parent side

_context = None


def _ctx():
    """The fork server context (spawn where there is none), its server started warm once."""
    if _context is None:
        start_server()
    return _context


def start_server(preload: tuple = ()) -> None:
    """Start the workers' fork server now (once per process), loading `preload` beside
    `rlgpt_cli.workers.warm` before it forks any worker. It loads them in its own process
    while this one goes on, so a command that will need them in its workers (`learn`: torch)
    starts it first. No-op once started, or where there is no fork server."""
    global _context
    if _context is not None:
        return
    if "forkserver" not in multiprocessing.get_all_start_methods():
        _context = multiprocessing.get_context("spawn")
        return
    from multiprocessing import forkserver

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["rlgpt_cli.workers.warm", *preload])
    # The server imports numpy for its workers: with one thread per library (it takes its
    # environment from ours at this moment; ours is put back at once).
    saved = dict(os.environ)
    os.environ.update(oslimits.quiet_threads({}))
    try:
        forkserver.ensure_running()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    _context = context


_stopped_cpu = 0.0
_running: "weakref.WeakSet[_Worker]" = weakref.WeakSet()


def workers_cpu() -> float:
    """CPU seconds (user + system) of every local worker this process started: those it
    stopped or killed, and those still running, so far.

    Fork-server workers are the server's children, not ours, so our ``RUSAGE_CHILDREN`` never
    counts them: a worker's time is read from /proc as it ends, or now while it runs (0 where
    there is no /proc).
    """
    return _stopped_cpu + sum(_cpu_seconds(w.process.pid) for w in list(_running)
                              if not w.cpu_counted and w.process.is_alive())


def _cpu_seconds(pid: int | None) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
    except (OSError, ValueError, IndexError):
        return 0.0


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class _Worker:
    """One worker process, its pipe, its working directory and the message it is running."""

    def __init__(self, limits: WorkerLimits, environ: dict, imports: tuple, setup: tuple | None = None):
        ctx = _ctx()
        self.limits = limits
        self.workdir = tempfile.mkdtemp(prefix="rlgpt-worker-")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(child, limits, environ, self.workdir, imports, setup),
                                   daemon=True, name="rlgpt-worker")
        self.process.start()
        child.close()
        self.ready = False
        self.deadline = time.monotonic() + START_SECONDS
        self.job: Any = None  # what the running message is for (the pool's index)
        self.progress: Any = None
        self.killed = False
        self.cpu_counted = False
        _running.add(self)

    @property
    def busy(self) -> bool:
        return self.job is not None

    def send(self, message: tuple, job) -> None:
        self.conn.send(message)
        self.job, self.progress = job, None
        self.deadline = time.monotonic() + self.limits.seconds

    def _count_cpu(self) -> None:
        global _stopped_cpu
        if not self.cpu_counted and self.process.is_alive():
            _stopped_cpu += _cpu_seconds(self.process.pid)
        self.cpu_counted = True

    def kill(self) -> None:
        self._count_cpu()
        self.killed = True
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.conn.close()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def stop(self) -> None:
        self._count_cpu()  # idle, so its time is final; then it may exit on its own
        try:
            self.conn.send(("stop",))
            self.process.join(timeout=2)
        except OSError:
            pass
        self.kill()

    def breach(self) -> WorkerBreach:
        """Why the worker ended while it ran a message (it is dead: join it, classify)."""
        self.process.join(timeout=5)
        code = self.process.exitcode
        progress = self.progress
        if code == -signal.SIGXCPU:
            return WorkerBreach(TIME, f"ran past its {self.limits.cpu:g} s CPU-time limit", progress)
        if code == _EXIT_MEMORY or (code == -signal.SIGKILL and not self.killed):
            return WorkerBreach(MEMORY, f"ran out of memory ({self.limits.memory_mb} MB address-space limit)",
                                progress)
        how = f"killed by {_signal_name(-code)}" if code is not None and code < 0 else f"exit status {code}"
        return WorkerBreach(CRASHED, f"the worker process died: {how}", progress)


def _events(workers: list[_Worker]) -> list[tuple[_Worker, tuple]]:
    """Wait for the next answers of ``workers`` (starting or busy), or their deadlines.

    Returns ``(worker, event)`` pairs: ``("ready",)``, ``("progress", x)``, ``("ok", value)``,
    ``("raise", exc)`` or ``("breach", WorkerBreach)``; a worker that breached is killed.
    """
    from multiprocessing.connection import wait

    waiting = [w for w in workers if w.busy or not w.ready]
    if not waiting:
        return []
    timeout = max(0.0, min(w.deadline for w in waiting) - time.monotonic())
    ready = set(wait([w.conn for w in waiting] + [w.process.sentinel for w in waiting], timeout))
    out = []
    for w in waiting:
        if w.conn in ready:
            try:
                message = w.conn.recv()
            except (EOFError, OSError):  # it died without answering
                message = None
            if message is None:
                out.append((w, ("breach", w.breach())))
                w.kill()
            elif message[0] == "breach":
                out.append((w, ("breach", WorkerBreach(message[1], message[2], w.progress))))
                w.kill()
            else:
                out.append((w, message))
        elif w.process.sentinel in ready:
            if not w.conn.poll(0):  # else its last answer is still in the pipe: read it next round
                out.append((w, ("breach", w.breach())))
                w.kill()
        elif time.monotonic() >= w.deadline:
            what = (WorkerBreach(TIME, f"ran past its {w.limits.seconds:g} s deadline and was killed", w.progress)
                    if w.ready else WorkerBreach(CRASHED, f"did not start within {START_SECONDS:g} s"))
            w.kill()
            out.append((w, ("breach", what)))
    return out


class LocalPool:
    """Up to ``workers`` worker processes on this machine (see the module docstring)."""

    def __init__(self, workers: int, limits: WorkerLimits | None = None, *, imports: tuple = (),
                 setup: tuple | None = None, environ: dict | None = None):
        """``imports``: modules each worker loads before its limits apply; ``setup``:
        ``(function, args)`` it calls then (picklable), for what a first job would pay."""
        self.size = max(1, int(workers))
        self.limits = limits or WorkerLimits.from_env()
        self.imports = tuple(imports)
        self.setup = setup
        self.environ = dict(os.environ if environ is None else environ)
        self._workers: list[_Worker] = []
        self._actors: list[Actor] = []

    def __enter__(self) -> "LocalPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _spawn(self) -> _Worker:
        return _Worker(self.limits, self.environ, self.imports, self.setup)

    def map(self, func: Callable, items: list, *, on_result: Callable[[int, Any], None] | None = None,
            stop: Callable[[], bool] | None = None) -> list:
        """``[func(item) for item in items]``, computed on the workers; a job that broke a
        limit gives its :class:`WorkerBreach` as its value (and its worker is replaced); a job
        that raised raises here. ``on_result(i, value)`` as each ends, in any order. Once
        ``stop()`` is true (asked after each result) the jobs still running are killed and
        those not finished give None."""
        results: list = [None] * len(items)
        todo = list(range(len(items)))[::-1]
        left = len(items)
        try:
            while left:
                self._workers = [w for w in self._workers if not w.killed]
                idle = [w for w in self._workers if w.ready and not w.busy]
                while todo and len(self._workers) < min(self.size, left):
                    self._workers.append(self._spawn())
                for w in idle:
                    if todo:
                        i = todo.pop()
                        w.send(("call", func, (items[i],)), i)
                for w, event in _events(self._workers):
                    kind = event[0]
                    if kind == "ready":
                        w.ready = True
                        continue
                    if kind == "progress":  # kept for a breach report
                        w.progress = event[1]
                        continue
                    if not w.busy:  # a worker that broke while starting: nothing of ours ran
                        raise event[1]
                    i, w.job = w.job, None
                    if kind == "raise":
                        raise event[1]
                    results[i] = event[1]
                    left -= 1
                    if on_result:
                        on_result(i, results[i])
                    if stop is not None and stop():
                        self._kill_busy()
                        return results
        except BaseException:
            self._kill_busy()  # never leave a job running for nobody (Ctrl-C, a job's error)
            raise
        return results

    def _kill_busy(self) -> None:
        for w in self._workers:
            if w.busy or not w.ready:
                w.kill()
        self._workers = [w for w in self._workers if not w.killed]

    def actor(self, factory: Callable, *args) -> "Actor":
        """``factory(*args)`` built inside a worker of its own, which keeps it between calls."""
        actor = Actor(self._spawn())
        actor._submit(("actor", factory, args))
        actor.result()
        self._actors.append(actor)
        return actor

    def close(self) -> None:
        for w in self._workers:
            w.stop() if w.ready and not w.busy else w.kill()
        for a in self._actors:
            a.close()
        self._workers, self._actors = [], []


class Actor:
    """An object living in a worker; its methods run there under the worker's limits.

    A call that breaks a limit raises :class:`WorkerBreach`, and the actor is gone (its state
    went with its worker): build a new one to go on.
    """

    def __init__(self, worker: _Worker):
        self._worker = worker
        self._pending: tuple | None = None

    @property
    def alive(self) -> bool:
        return not self._worker.killed

    def _submit(self, message: tuple) -> None:
        if not self.alive:
            raise WorkerBreach(CRASHED, "the actor's worker is gone")
        if self._pending is not None or self._worker.busy:
            raise RuntimeError("an actor runs one call at a time: take the last result first")
        self._pending = message
        self._send_pending()

    def _send_pending(self) -> None:
        # Sent at once when the worker is up, so several actors' calls run at the same time;
        # a worker still starting gets it from result(), once it says it is ready.
        if self._pending is not None and self._worker.ready:
            self._worker.send(self._pending, "actor")
            self._pending = None

    def submit(self, method: str, *args) -> None:
        """Start ``method(*args)``; take its answer with :meth:`result`."""
        self._submit(("method", method, args))

    def result(self):
        w = self._worker
        while True:
            self._send_pending()
            for _, event in _events([w]):
                if event[0] == "ready":
                    w.ready = True
                elif event[0] == "progress":
                    w.progress = event[1]
                else:
                    w.job = None
                    if event[0] in ("raise", "breach"):
                        raise event[1]
                    return event[1]

    def call(self, method: str, *args):
        self.submit(method, *args)
        return self.result()

    def close(self) -> None:
        if self.alive:
            self._worker.stop() if self._worker.ready and not self._worker.busy else self._worker.kill()
