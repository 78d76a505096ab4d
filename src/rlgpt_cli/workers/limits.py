"""What a worker process applies to itself before it runs any job, and per job.

A worker runs LLM-written code together with the world it drives. The in-process sandbox
(``rlgpt_cli.sandbox``) meters Python lines, but C code (``sum(map(sum, ranges))``, a huge
``pow``) never hands control back to it; these operating-system limits hold whatever runs:

- **address space** (``RLIMIT_AS``): what the worker has mapped after start-up (interpreter,
  numpy, the world, torch where a policy runs) plus ``memory_mb``; beyond it allocations fail
  (``MemoryError``) and the worker reports ``exceeded memory``;
- **CPU time** (``RLIMIT_CPU``): set before each job to the CPU the worker has used plus the
  job's budget; the kernel's SIGXCPU ends a worker that runs past it (``exceeded time``);
- **wall-clock deadline**: enforced by the parent (``workers.pool``), which kills the worker;
- its own **temporary working directory** (the parent creates it and removes it after the
  worker ends, killed or not), **no inherited descriptors** beyond its pipe (workers start
  from multiprocessing's fork server), SIGINT ignored (the parent handles Ctrl-C), optional
  niceness.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from rlgpt_cli.errors import UsageError

# Defaults: a whole episode of a long task (10 000 steps with path-finding) takes a few
# seconds; two minutes is far beyond any honest one and far below "one episode in 17 minutes".
SECONDS = 120.0
MEMORY_MB = 1024
# Bounds of the environment overrides: anything outside is a typo.
_RANGES = {"seconds": (0.5, 86_400.0), "memory_mb": (64, 1_048_576)}
ENV = {"seconds": "RLGPT_WORKER_SECONDS", "memory_mb": "RLGPT_WORKER_MEMORY_MB"}
# Threads a worker's numerical libraries may start: parallelism comes from worker processes,
# and every thread's stack and malloc arena would count against the address space.
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


@dataclass(frozen=True)
class WorkerLimits:
    """The limits of one worker and of each message (job) it runs."""

    seconds: float = SECONDS  # wall-clock deadline of one message (a whole episode, or a batch)
    memory_mb: int = MEMORY_MB  # address space over what the worker holds after start-up
    cpu_seconds: float | None = None  # CPU time of one message; None: the same as ``seconds``
    nice: int = 0  # added to the worker's niceness (0: as the parent)

    @property
    def cpu(self) -> float:
        return self.cpu_seconds if self.cpu_seconds is not None else self.seconds

    @classmethod
    def from_env(cls) -> "WorkerLimits":
        """The defaults, with ``RLGPT_WORKER_SECONDS`` / ``RLGPT_WORKER_MEMORY_MB`` over them."""
        values = {}
        for name, var in ENV.items():
            text = os.environ.get(var)
            if not text:
                continue
            try:
                value = float(text) if name == "seconds" else int(text)
            except ValueError:
                raise UsageError(f"{var} must be a number, got {text!r}") from None
            low, high = _RANGES[name]
            if not low <= value <= high:
                raise UsageError(f"{var} must be between {low:g} and {high:g}, got {value:g}")
            values[name] = value
        return cls(**values)


def address_space_bytes() -> int:
    """What this process has mapped now (``VmSize``), 0 where the system does not say."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def quiet_threads(environ: dict) -> dict:
    """``environ`` with one thread per numerical library (set before numpy is imported)."""
    return {**environ, **{var: "1" for var in THREAD_VARS}}


def apply_at_start(limits: WorkerLimits) -> None:
    """Called by the worker itself, once its imports are done and before any job runs."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if limits.nice > 0:
        os.nice(limits.nice)
    try:
        import resource
    except ImportError:  # Windows: the parent's deadline is the only limit
        return
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a worker ended by SIGXCPU leaves no core file
    mapped = address_space_bytes()
    if mapped and sys.platform.startswith("linux"):  # macOS does not enforce RLIMIT_AS
        cap = mapped + limits.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def apply_per_job(limits: WorkerLimits) -> None:
    """Before each job: CPU time up to what the worker has used plus the job's budget."""
    try:
        import resource
    except ImportError:
        return
    used = resource.getrusage(resource.RUSAGE_SELF)
    spent = used.ru_utime + used.ru_stime
    # The hard limit stays unlimited so the next job can raise the soft one again; the
    # parent's wall-clock deadline backs it up.
    resource.setrlimit(resource.RLIMIT_CPU, (int(spent + limits.cpu) + 1, resource.RLIM_INFINITY))
