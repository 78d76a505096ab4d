"""Built-in CLI commands, one module per noun, each exposing ``register(app)``."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import typer

from rlgpt_cli.errors import ExitCode, RlgptError
from rlgpt_cli.output import AppState


def state(ctx: typer.Context) -> AppState:
    """The global options of this invocation (works for nested sub-apps too)."""
    return ctx.find_root().obj


def open_store(st: AppState):
    from rlgpt_cli.store import Store

    return Store(st.settings.db_path)


@contextmanager
def recorded_run(st: AppState, command: str, args: dict[str, Any]) -> Iterator[int]:
    """Record a working command in the run store, with its status and exit code.

    Model calls, training runs and evaluations made inside attach to this run.
    """
    from rlgpt_cli.store import current_run

    store = open_store(st)
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
    except (KeyboardInterrupt, SystemExit) as exc:
        code = ExitCode.INTERRUPTED if isinstance(exc, KeyboardInterrupt) else (exc.code or 0)
        store.finish_run(run_id, int(code), "interrupted" if code == ExitCode.INTERRUPTED else None)
        raise
    except BaseException as exc:
        store.finish_run(run_id, ExitCode.TASK_FAILED, f"{type(exc).__name__}: {exc}")
        raise
    else:
        store.finish_run(run_id, ExitCode.OK)
    finally:
        current_run.reset(token)
        store.close()
