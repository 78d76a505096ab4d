"""Progress of the long phases (planning, inner attempts, PPO, evaluations) on stderr.

On a terminal it is a live rich view: one line per running phase, nested phases indented, with
a bar, the rate and the ETA where the phase has a total. Otherwise (stderr to a file, a pipe,
CI) it is plain lines, each starting with the elapsed time: the innermost running phase
whenever nothing was printed for ``RLGPT_PROGRESS_SECONDS`` (default 5) seconds, so a log
shows a long run is alive, and an end line for each phase that took a second or more. Nothing goes to stdout, so ``--json`` stays one
document. Phases count in one unit each; training counts **env steps** (world steps, a
macro-action counted by the steps it consumed), never PPO decisions.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

INTERVAL_ENV = "RLGPT_PROGRESS_SECONDS"
DEFAULT_INTERVAL = 5.0


def clock(seconds: float) -> str:
    """``83`` -> ``1:23``; ``3723`` -> ``1:02:03``."""
    s = max(0, int(seconds))
    h, m, s = s // 3600, s // 60 % 60, s % 60
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _interval() -> float:
    raw = os.environ.get(INTERVAL_ENV)
    try:
        return max(0.05, float(raw)) if raw else DEFAULT_INTERVAL
    except ValueError:
        return DEFAULT_INTERVAL


@dataclass
class Phase:
    """One running phase: what it counts (``poll`` reads the count live, e.g. env steps summed
    over the training envs), its total if known, and extra fields (``success 40%``)."""

    label: str
    total: float | None = None
    unit: str = "env steps"
    poll: Callable[[], float] | None = None
    completed: float = 0
    fields: dict[str, str] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    _first: float | None = None

    def __post_init__(self) -> None:
        self._first = self.count()

    def update(self, completed: float | None = None, **fields: Any) -> None:
        if completed is not None:
            self.completed = completed
        self.fields.update({k: str(v) for k, v in fields.items() if v is not None})

    def count(self) -> float:
        return self.poll() if self.poll is not None else self.completed

    def rate(self, now: float | None = None) -> float | None:
        """Units per second since the phase started (not since the run started: a resumed
        run's earlier steps do not inflate it)."""
        elapsed = (now or time.monotonic()) - self.started
        done = self.count() - (self._first or 0)
        return done / elapsed if elapsed > 0.5 and done > 0 else None

    def stats(self, now: float | None = None) -> str:
        """``12,345/50,000 env steps (25%), 160 env steps/s, ETA 3:55, success 40%, 0:45``."""
        now = now or time.monotonic()
        count, rate, parts = self.count(), self.rate(now), []
        if self.total:
            parts.append(f"{count:,.0f}/{self.total:,.0f} {self.unit} ({count / self.total:.0%})")
        elif count:
            parts.append(f"{count:,.0f} {self.unit}")
        if rate is not None and self.unit == "env steps":
            parts.append(f"{rate:,.0f} env steps/s")
        if rate is not None and self.total and count < self.total:
            parts.append(f"ETA {clock((self.total - count) / rate)}")
        parts += [f"{k.rstrip('_').replace('_', ' ')} {v}" for k, v in self.fields.items()]
        parts.append(f"{clock(now - self.started)} elapsed")
        return ", ".join(parts)


class Progress:
    """Where long work reports itself; ``enabled=False`` (``--quiet``) reports nothing.

    ``live``: the rich view (default: stderr is a terminal that can redraw itself).
    ``log(message)`` prints a diagnostic line above the live view or as a plain line.
    """

    def __init__(self, enabled: bool = True, *, live: bool | None = None, interval: float | None = None,
                 stream=None):
        self.enabled = enabled
        self.stream = stream or sys.stderr
        if live is None:
            live = bool(getattr(self.stream, "isatty", lambda: False)()) and os.environ.get("TERM") != "dumb"
        self.live = enabled and live
        self.interval = interval if interval is not None else _interval()
        self.phases: list[Phase] = []
        self.header: Any = None  # a rich renderable drawn above the phases (iterate's plan table)
        self.started = time.monotonic()
        self._lock = threading.RLock()
        self._last_line = self.started
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._view = None

    @classmethod
    def off(cls) -> "Progress":
        return cls(enabled=False)

    # -- lifetime ---------------------------------------------------------------------------
    def __enter__(self) -> "Progress":
        if not self.enabled:
            return self
        if self.live:
            from rich.live import Live

            from rlgpt_cli.output import console

            self._view = Live(console=console(stderr=True), get_renderable=self._render,
                              refresh_per_second=4, transient=True, redirect_stdout=False)
            self._view.__enter__()
        else:
            self._thread = threading.Thread(target=self._beat, name="rlgpt-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._view is not None:
            self._view.__exit__(*exc)
            self._view = None

    # -- reporting --------------------------------------------------------------------------
    @contextmanager
    def phase(self, label: str, total: float | None = None, unit: str = "env steps",
              poll: Callable[[], float] | None = None) -> Iterator[Phase]:
        """A phase of work while the ``with`` block runs; yields it for ``update``.

        Plain mode says nothing when it starts (the heartbeat does, if it lasts) and gives a
        phase that lasted a second or more an end line with its final count; one that fails
        leaves the error line alone.
        """
        ph = Phase(label, total, unit, poll)
        with self._lock:
            self.phases.append(ph)
        try:
            yield ph
            if time.monotonic() - ph.started >= 1.0:
                self._plain(f"{self._path()}: done, {ph.stats()}")
        finally:
            with self._lock:
                self.phases.remove(ph)

    def log(self, message: str) -> None:
        if not self.enabled:
            return
        if self._view is not None:
            self._view.console.print(message, markup=False, highlight=False)
        else:
            self._write(message)

    # -- plain lines ------------------------------------------------------------------------
    def _path(self) -> str:
        return " > ".join(p.label for p in self.phases)

    def _write(self, text: str) -> None:
        with self._lock:
            now = time.monotonic()
            self.stream.write(f"[{clock(now - self.started)}] {text}\n")
            self.stream.flush()
            self._last_line = now

    def _plain(self, text: str) -> None:
        if self.enabled and not self.live:
            self._write(text)

    def _beat(self) -> None:
        """Plain mode: the innermost phase's line whenever nothing was printed for a while."""
        while not self._stop.wait(min(1.0, self.interval / 4)):
            with self._lock:
                if self.phases and time.monotonic() - self._last_line >= self.interval * 0.95:
                    self._write(f"{self._path()}: {self.phases[-1].stats()}")

    # -- the live view ----------------------------------------------------------------------
    def _render(self):
        """The running phases as a path (``iterate t > outer 1/3 > PPO x``) over the innermost
        phase's bar and numbers: two or three lines, so it fits 80 columns beside a table."""
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        with self._lock:
            phases = list(self.phases)
        parts = [*([self.header] if self.header is not None else [])]
        if phases:
            path = Text(overflow="ellipsis", no_wrap=True)
            for i, ph in enumerate(phases):
                path.append(" > " if i else "")
                path.append(ph.label, style="bold" if i == len(phases) - 1 else "dim")
            inner = phases[-1]
            numbers = Table.grid(padding=(0, 1))
            if inner.total:
                numbers.add_column(width=20, no_wrap=True)
            numbers.add_column(overflow="fold")
            stats = Text(inner.stats())
            numbers.add_row(*([ProgressBar(total=inner.total, completed=min(inner.count(), inner.total), width=20)]
                              if inner.total else []), stats)
            parts += [path, numbers]
        return Group(*parts)


def for_command(state) -> Progress:
    """The progress reporter of a working command: off with --quiet."""
    return Progress(enabled=not state.quiet)
