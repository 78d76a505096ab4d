"""The run store: one SQLite database (WAL) under RLGPT_HOME.

It records every working command (runs), every model call, training runs, evaluations
and plans. Schema changes are a list of small migration functions; each one applied is
recorded in the ``migrations`` table, so an existing database upgrades in place.
"""

from __future__ import annotations

import contextvars
import json
import os
import sqlite3
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from rlgpt_cli.errors import ExitCode, NotFound, StoreError
from rlgpt_cli.times import iso_utc

# The run that model calls and training records attach to, set by the CLI per command.
current_run: contextvars.ContextVar[int | None] = contextvars.ContextVar("current_run", default=None)

MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = []


def migration(fn: Callable[[sqlite3.Connection], None]):
    MIGRATIONS.append(fn)
    return fn


@migration
def m001_runs(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            command TEXT NOT NULL,
            args TEXT NOT NULL,
            status TEXT NOT NULL,
            started_at REAL NOT NULL,
            ended_at REAL,
            exit_code INTEGER,
            message TEXT
        )"""
    )


@migration
def m002_model_calls(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE model_calls (
            id INTEGER PRIMARY KEY,
            run_id INTEGER REFERENCES runs(id),
            model TEXT NOT NULL,
            prompt TEXT,
            tokens_in INTEGER NOT NULL DEFAULT 0,
            tokens_out INTEGER NOT NULL DEFAULT 0,
            cost_usd REAL NOT NULL DEFAULT 0,
            latency_s REAL NOT NULL DEFAULT 0,
            cache_hit INTEGER NOT NULL DEFAULT 0,
            error TEXT,
            created_at REAL NOT NULL
        )"""
    )
    db.execute("CREATE INDEX model_calls_run ON model_calls(run_id)")


@migration
def m003_training_and_evaluations(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE training_runs (
            id INTEGER PRIMARY KEY,
            run_id INTEGER REFERENCES runs(id),
            subtask TEXT NOT NULL,
            world TEXT NOT NULL,
            status TEXT NOT NULL,
            directory TEXT NOT NULL,
            config TEXT NOT NULL,
            global_step INTEGER NOT NULL DEFAULT 0,
            total_steps INTEGER NOT NULL,
            success_rate REAL,
            started_at REAL NOT NULL,
            ended_at REAL
        )"""
    )
    db.execute(
        """CREATE TABLE evaluations (
            id INTEGER PRIMARY KEY,
            run_id INTEGER REFERENCES runs(id),
            task TEXT NOT NULL,
            world TEXT NOT NULL,
            subject TEXT NOT NULL,
            episodes INTEGER NOT NULL,
            seeds TEXT NOT NULL,
            success_rate REAL NOT NULL,
            details TEXT NOT NULL,
            created_at REAL NOT NULL
        )"""
    )


@migration
def m004_plans(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE plans (
            id INTEGER PRIMARY KEY,
            run_id INTEGER REFERENCES runs(id),
            task TEXT NOT NULL,
            world TEXT NOT NULL,
            model TEXT NOT NULL,
            plan TEXT NOT NULL,
            created_at REAL NOT NULL
        )"""
    )


@migration
def m005_model_call_conversation(db: sqlite3.Connection) -> None:
    # The conversation itself: the messages sent, the answer's text, and the model the
    # provider says answered (which may differ from the one asked for: aliases, versions).
    # Calls recorded before this migration have NULL here.
    for column in ("messages", "response", "served_model"):
        db.execute(f"ALTER TABLE model_calls ADD COLUMN {column} TEXT")


def _row(row: sqlite3.Row | None) -> dict[str, Any] | None:
    """A row as commands print it: JSON columns parsed, times (``*_at``, stored as Unix
    seconds) in ISO 8601 UTC."""
    if row is None:
        return None
    out = dict(row)
    for key in ("args", "config", "seeds", "details", "plan", "messages"):
        if isinstance(out.get(key), str):
            out[key] = json.loads(out[key])
    for key, value in out.items():
        if key.endswith("_at") and isinstance(value, (int, float)):
            out[key] = iso_utc(value)
    return out


class Store:
    """A connection to the run store; cheap to open, safe to use from several processes.

    A store that is damaged (0 bytes, not a database, garbled pages) or cannot be written is
    reported as a ``StoreError`` (exit 7) and left as it is: never re-created, repaired or
    written into. ``writer``: the command will record into it, so its pages are checked first
    (``PRAGMA quick_check``), not only the ones a read happens to touch.
    """

    def __init__(self, path: Path, writer: bool = False):
        self.path = Path(path)
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            size = None
        except OSError as exc:
            raise StoreError(f"run store {self.path} cannot be read: {exc.strerror}") from None
        if size == 0:  # truncated: SQLite would quietly make it a new, empty store
            raise self._damaged("it is empty (0 bytes)")
        if size is None:
            self._create()
        try:
            self.db = self._connect(self.path)
            if writer:
                problems = [r[0] for r in self.db.execute("PRAGMA quick_check(3)")]
                if problems != ["ok"]:
                    raise self._damaged(" ".join(" ".join(problems).split())[:200])  # one line
            self.migrate()
        except sqlite3.DatabaseError as exc:
            raise self._failure(exc) from None

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        db = sqlite3.connect(path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA busy_timeout=30000")
        return db

    def _create(self) -> None:
        """A new store, built beside its place and linked in: no process ever sees a store
        half made (a 0-byte file is damage, never "new"); a store another process linked in
        first wins."""
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.new")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = self._connect(tmp)
            self.migrate()
            self.db.close()
            os.link(tmp, self.path)
        except FileExistsError:
            pass
        except OSError as exc:
            raise StoreError(f"run store {self.path} cannot be created: {exc.strerror}") from None
        except sqlite3.DatabaseError as exc:
            raise self._failure(exc) from None
        finally:
            for leftover in (tmp, tmp.with_name(tmp.name + "-wal"), tmp.with_name(tmp.name + "-shm")):
                leftover.unlink(missing_ok=True)

    def _damaged(self, why: str) -> StoreError:
        return StoreError(f"run store {self.path} is damaged: {why}; rlgpt leaves it as it is: move it aside "
                          f"(mv {self.path} {self.path}.damaged) and rlgpt starts a new, empty one")

    def _failure(self, exc: sqlite3.DatabaseError) -> StoreError:
        """A failed SQLite call as the one line it ends with."""
        text = str(exc)
        if "locked" in text or "busy" in text:
            return StoreError(f"run store {self.path} is locked by another process ({text}); try again")
        if "full" in text:  # SQLITE_FULL: the transaction was rolled back, the store is as it was
            return StoreError(f"run store {self.path} cannot be written: {text}; free some space on its disk "
                              "and run the command again (the store is left as it was)")
        if "disk I/O error" in text:
            return StoreError(f"run store {self.path} cannot be written or read ({text}): is its disk full "
                              "or failing?")
        if "readonly" in text or "unable to open" in text:
            return StoreError(f"run store {self.path} cannot be written ({text}); check the permissions "
                              f"of the file and of its folder {self.path.parent}")
        return self._damaged(text)

    def _execute(self, sql: str, params: tuple = ()) -> sqlite3.Cursor:
        try:
            return self.db.execute(sql, params)
        except sqlite3.DatabaseError as exc:
            raise self._failure(exc) from None

    def _rows(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        """Every row of a query, fetched here: a damaged page is met now, as a StoreError."""
        try:
            return self.db.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:
            raise self._failure(exc) from None

    def migrate(self) -> list[str]:
        """Apply the migrations not yet recorded; return their names."""
        with self.transaction():
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)"
            )
            done = {r[0] for r in self.db.execute("SELECT name FROM migrations")}
            applied = []
            for fn in MIGRATIONS:
                if fn.__name__ not in done:
                    fn(self.db)
                    self.db.execute("INSERT INTO migrations VALUES (?, ?)", (fn.__name__, time.time()))
                    applied.append(fn.__name__)
        return applied

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if self.db.in_transaction:  # a damaged page may have ended it already
                self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()

    def _insert(self, table: str, values: dict[str, Any]) -> int:
        values = {k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in values.items()}
        cols = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        cur = self._execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", tuple(values.values()))
        return int(cur.lastrowid)

    def _update(self, table: str, row_id: int, values: dict[str, Any]) -> None:
        values = {k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in values.items()}
        sets = ", ".join(f"{k} = ?" for k in values)
        self._execute(f"UPDATE {table} SET {sets} WHERE id = ?", (*values.values(), row_id))

    # runs
    def start_run(self, command: str, args: dict[str, Any]) -> int:
        return self._insert(
            "runs", {"command": command, "args": args, "status": "running", "started_at": time.time()}
        )

    def finish_run(self, run_id: int, exit_code: int, message: str | None = None) -> None:
        status = {ExitCode.OK: "ok", ExitCode.INTERRUPTED: "interrupted"}.get(exit_code, "failed")
        self._update(
            "runs",
            run_id,
            {"status": status, "exit_code": int(exit_code), "ended_at": time.time(), "message": message},
        )

    def list_runs(self, limit: int = 20) -> list[dict[str, Any]]:
        rows = self._rows(
            """SELECT runs.*, COUNT(model_calls.id) AS model_calls,
                      COALESCE(SUM(model_calls.cost_usd), 0) AS cost_usd
               FROM runs LEFT JOIN model_calls ON model_calls.run_id = runs.id
               GROUP BY runs.id ORDER BY runs.id DESC LIMIT ?""",
            (limit,),
        )
        return [_row(r) for r in rows]

    def get_run(self, run_id: int) -> dict[str, Any]:
        run = _row(next(iter(self._rows("SELECT * FROM runs WHERE id = ?", (run_id,))), None))
        if run is None:
            raise NotFound(f"no run with id {run_id}")
        # `model_calls` is a count here as in list_runs; the calls themselves are `calls`.
        run["calls"] = self.model_calls(run_id)
        run["model_calls"] = len(run["calls"])
        run["cost_usd"] = sum(c["cost_usd"] for c in run["calls"])
        run["training_runs"] = [
            _row(r) for r in self._rows("SELECT * FROM training_runs WHERE run_id = ?", (run_id,))
        ]
        run["evaluations"] = [
            _row(r) for r in self._rows("SELECT * FROM evaluations WHERE run_id = ?", (run_id,))
        ]
        return run

    # model calls
    def record_model_call(
        self,
        model: str,
        *,
        prompt: str | None = None,
        tokens_in: int = 0,
        tokens_out: int = 0,
        cost_usd: float = 0.0,
        latency_s: float = 0.0,
        cache_hit: bool = False,
        error: str | None = None,
        run_id: int | None = None,
        messages: list[dict[str, Any]] | None = None,
        response: str | None = None,
        served_model: str | None = None,
    ) -> int:
        return self._insert(
            "model_calls",
            {
                "run_id": run_id if run_id is not None else current_run.get(),
                "model": model,
                "prompt": prompt,
                "tokens_in": tokens_in,
                "tokens_out": tokens_out,
                "cost_usd": cost_usd,
                "latency_s": latency_s,
                "cache_hit": int(cache_hit),
                "error": error,
                "created_at": time.time(),
                "messages": messages,
                "response": response,
                "served_model": served_model,
            },
        )

    def model_calls(self, run_id: int | None = None) -> list[dict[str, Any]]:
        if run_id is None:
            rows = self._rows("SELECT * FROM model_calls ORDER BY id")
        else:
            rows = self._rows("SELECT * FROM model_calls WHERE run_id = ? ORDER BY id", (run_id,))
        return [_row(r) for r in rows]

    # training runs
    def start_training(
        self, subtask: str, world: str, directory: str, config: dict, total_steps: int
    ) -> int:
        return self._insert(
            "training_runs",
            {
                "run_id": current_run.get(),
                "subtask": subtask,
                "world": world,
                "status": "running",
                "directory": directory,
                "config": config,
                "total_steps": total_steps,
                "started_at": time.time(),
            },
        )

    def update_training(self, training_id: int, **values: Any) -> None:
        if values.get("status") in ("ok", "failed", "interrupted"):
            values.setdefault("ended_at", time.time())
        self._update("training_runs", training_id, values)

    def get_training(self, training_id: int) -> dict[str, Any]:
        row = _row(next(iter(self._rows("SELECT * FROM training_runs WHERE id = ?", (training_id,))), None))
        if row is None:
            raise NotFound(f"no training run with id {training_id}")
        return row

    # evaluations
    def add_evaluation(
        self, task: str, world: str, subject: str, episodes: int, seeds: list[int],
        success_rate: float, details: dict,
    ) -> int:
        return self._insert(
            "evaluations",
            {
                "run_id": current_run.get(),
                "task": task,
                "world": world,
                "subject": subject,
                "episodes": episodes,
                "seeds": seeds,
                "success_rate": success_rate,
                "details": details,
                "created_at": time.time(),
            },
        )

    # plans
    def add_plan(self, task: str, world: str, model: str, plan: dict) -> int:
        return self._insert(
            "plans",
            {
                "run_id": current_run.get(),
                "task": task,
                "world": world,
                "model": model,
                "plan": plan,
                "created_at": time.time(),
            },
        )

    def get_plan(self, plan_id: int) -> dict[str, Any]:
        row = _row(next(iter(self._rows("SELECT * FROM plans WHERE id = ?", (plan_id,))), None))
        if row is None:
            raise NotFound(f"no plan with id {plan_id}")
        return row

    def validated_plan(self, task: str, world: str) -> int | None:
        """The newest plan ``rlgpt iterate`` validated for the task (reached its target), if any."""
        rows = self._rows(
            "SELECT details FROM evaluations WHERE task = ? AND world = ? AND subject LIKE 'iterate plan %' "
            "ORDER BY id DESC", (task, world))
        for row in rows:
            details = json.loads(row["details"])
            if details.get("validated"):
                return int(details["plan_id"])
        return None
