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
    run_id: int | None = None  # the run this command records in the run store, if it records one
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
    """Print a command's result: JSON on stdout with --json, else the human renderer.

    A command that records a run puts its ``run_id`` in its JSON (for ``rlgpt logs show``).
    """
    if state.run_id is not None and isinstance(data, dict) and "run_id" not in data:
        data = {"run_id": state.run_id, **data}
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


def cut(text: str, width: int) -> str:
    """``text`` in at most ``width`` characters, shortened with "…"."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def columns(header: list[str], rows: list[list[Any]], indent: int = 0) -> None:
    """Rows as aligned plain-text columns on stdout, one line each, within the terminal's width
    (80 columns when piped): every column whole but the last, which is shortened with "…".

    Plain text, not a rich table: listings that must start fast (``skills list``) skip
    importing and running rich's layout."""
    import shutil

    width = shutil.get_terminal_size((80, 24)).columns
    cells = [header, *[["" if v is None else str(v) for v in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header) - 1)]
    out = []
    for row in cells:
        line = " " * indent + "  ".join(v.ljust(w) for v, w in zip(row, widths))
        out.append(cut(f"{line}  {row[-1]}" if widths else row[-1], width).rstrip())
    sys.stdout.write("\n".join(out) + "\n")


def table(title: str | None, columns: list[str], rows: list[list[Any]], compact: bool = False) -> None:
    """A rich table on stdout; ``compact``: rules instead of boxes, for listings that must fit
    80 columns (the first column is never wrapped)."""
    from rich import box
    from rich.table import Table

    if compact:
        t = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    else:
        t = Table(title=title, show_lines=False)
    for i, col in enumerate(columns):
        t.add_column(col, no_wrap=compact and i == 0)
    for row in rows:
        t.add_row(*["" if v is None else str(v) for v in row])
    console().print(t)
