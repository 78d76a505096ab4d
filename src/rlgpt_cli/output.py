"""Output rules: with ``--json`` exactly one JSON document goes to stdout; everything
else (progress, diagnostics, human tables) goes to stderr or, for human results, stdout."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

from rlgpt_cli.settings import Settings


@dataclass
class AppState:
    """Global options, shared with every command through ``ctx.obj``."""

    settings: Settings = field(default_factory=Settings.resolve)
    json: bool = False
    verbose: bool = False
    quiet: bool = False
    run_id: int | None = None  # the run store's record of this invocation, once it has one
    emitted: bool = False  # the one --json document has been printed


def _default(value: Any) -> Any:
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return value.tolist()
    if hasattr(value, "__fspath__"):
        return str(value)
    if hasattr(value, "model_dump"):
        return value.model_dump()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, default=_default)


def console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def document(data: Any, exit_code: int = 0, error: str | None = None, run_id: int | None = None) -> Any:
    """The --json document: a dict result gets ``exit_code``, ``error`` (None on success) and
    ``run_id`` (when a run was recorded) so that scripts read every outcome the same way; a
    list result (``tasks list``) is printed as it is."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return data
    envelope = {"exit_code": int(exit_code), "error": error}
    if run_id is not None:
        envelope["run_id"] = run_id
    return {**data, **envelope}


def emit(state: AppState, data: Any, human: Callable[[Any], None] | None = None) -> None:
    """Print a command's result: JSON on stdout with --json, else the human renderer."""
    if state.json:
        sys.stdout.write(dumps(document(data, run_id=state.run_id)) + "\n")
        state.emitted = True
    elif human is not None:
        human(data)
    else:
        console().print(dumps(data))


def info(state: AppState, message: str) -> None:
    """A diagnostic line on stderr, unless --quiet."""
    if not state.quiet:
        console(stderr=True).print(message)


def table(title: str | None, columns: list[str], rows: list[list[Any]]) -> None:
    from rich.table import Table

    t = Table(title=title, show_lines=False)
    for col in columns:
        t.add_column(col)
    for row in rows:
        t.add_row(*["" if v is None else str(v) for v in row])
    console().print(t)
