"""Exit codes and the exceptions that map to them.

Every failure a user can cause or meet ends as one of these: the CLI prints the
message on one line (a traceback only with ``-v``) and exits with ``exit_code``.
"""

from __future__ import annotations

import errno
from enum import IntEnum

# The OS errors of a disk that cannot take a write: full, over its quota, or read-only.
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})


class ExitCode(IntEnum):
    """Documented process exit codes (the README lists them)."""

    OK = 0
    TASK_FAILED = 1  # the command ran, but the task itself did not succeed
    USAGE = 2  # bad arguments, unknown names, invalid input files
    MODEL = 3  # model or provider error (network, HTTP 4xx/5xx, unparseable answers)
    SANDBOX = 4  # LLM-written code refused or stopped by the sandbox
    WORLD = 5  # the world could not start or misbehaved
    BUDGET = 6  # a cost, call or step budget ran out
    LIBRARY = 7  # skill library or run store problem: broken, tampered, locked, damaged or unwritable; a full disk
    INTERRUPTED = 130  # Ctrl-C / SIGTERM; state was saved


class RlgptError(Exception):
    """Base class: a one-line message and the exit code it ends with.

    ``details``: what the command had got when it failed (a report, a summary); under
    ``--json`` it is the body of the one document printed, next to ``exit_code`` and ``error``.
    """

    exit_code: ExitCode = ExitCode.TASK_FAILED

    def __init__(self, message: str, details: dict | None = None):
        super().__init__(message)
        self.message = message
        self.details = details


class TaskFailed(RlgptError):
    exit_code = ExitCode.TASK_FAILED


class UsageError(RlgptError):
    exit_code = ExitCode.USAGE


class NotFound(UsageError):
    """An unknown name (task, skill, world, run id); the message lists the nearest."""


class ModelError(RlgptError):
    exit_code = ExitCode.MODEL


class SandboxError(RlgptError):
    exit_code = ExitCode.SANDBOX


class WorldError(RlgptError):
    exit_code = ExitCode.WORLD


class BudgetExceeded(RlgptError):
    exit_code = ExitCode.BUDGET


class LibraryError(RlgptError):
    exit_code = ExitCode.LIBRARY


class StoreError(RlgptError):
    """The run store (``RLGPT_HOME/rlgpt.db``) is damaged or unusable; it is never written into
    or replaced then: the message says how to move it aside."""

    exit_code = ExitCode.LIBRARY


class WriteFailed(RlgptError):
    """A file rlgpt writes beside the library and the store (a run folder, a recording, the
    model cache, an export) could not be written: its disk is full, over quota or read-only."""

    exit_code = ExitCode.LIBRARY


def write_failure(exc: BaseException) -> WriteFailed | None:
    """``exc`` as the one line it ends with when it is a full, over-quota or read-only disk
    (None for any other error)."""
    if not isinstance(exc, OSError) or exc.errno not in WRITE_ERRNOS:
        return None
    where = f" {exc.filename}" if exc.filename else ""
    return WriteFailed(f"cannot write{where}: {exc.strerror or exc}; free some space (or make it writable) "
                       "and run the command again")


class Interrupted(RlgptError):
    exit_code = ExitCode.INTERRUPTED


def nearest(name: str, choices, n: int = 3) -> str:
    """'; did you mean a, b?' for an unknown name, or '' when nothing is close."""
    import difflib

    close = difflib.get_close_matches(name, list(choices), n=n, cutoff=0.5)
    return f"; did you mean {', '.join(close)}?" if close else ""
