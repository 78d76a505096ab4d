"""Built-in CLI commands, one module per noun, each exposing ``register(app)``."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import typer

from rlgpt_cli.errors import ExitCode, Interrupted, RlgptError
from rlgpt_cli.output import AppState


def state(ctx: typer.Context) -> AppState:
    """The global options of this invocation (works for nested sub-apps too)."""
    return ctx.find_root().obj


def open_store(st: AppState, writer: bool = False):
    """The run store; ``writer``: this command records into it (its home must be writable, and
    a damaged store is refused before anything is written)."""
    from rlgpt_cli.settings import usable_dir
    from rlgpt_cli.store import Store

    if writer:
        usable_dir(st.settings.home, "RLGPT_HOME")
    return Store(st.settings.db_path, writer=writer)


@contextmanager
def recorded_run(st: AppState, command: str, args: dict[str, Any]) -> Iterator[int]:
    """Record a working command in the run store, with its status and exit code.

    Model calls, training runs and evaluations made inside attach to this run.
    """
    from rlgpt_cli.store import current_run

    store = open_store(st, writer=True)
    settings = st.settings
    run_id = store.start_run(
        command,
        {**args, "model": settings.model, "world": settings.world, "seed": settings.seed},
    )
    token = current_run.set(run_id)
    st.run_id = run_id
    try:
        yield run_id
    except RlgptError as exc:
        store.finish_run(run_id, exc.exit_code, exc.message)
        raise
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM in a command with no state of its own to save
        message = (f"interrupted; run {run_id} is recorded as interrupted (rlgpt logs show {run_id}); what was "
                   "saved before stays (every write is atomic): run the same command again to start over")
        store.finish_run(run_id, ExitCode.INTERRUPTED, message)
        raise Interrupted(message) from None
    except SystemExit as exc:
        store.finish_run(run_id, int(exc.code or 0))
        raise
    except BaseException as exc:
        store.finish_run(run_id, ExitCode.TASK_FAILED, f"{type(exc).__name__}: {exc}")
        raise
    else:
        store.finish_run(run_id, ExitCode.OK)
    finally:
        current_run.reset(token)
        store.close()
