"""The model-answer cache: one JSON file per answer under ``<home>/cache/models/``.

The key is the sha256 of everything that determines an answer (model, messages, schema
name, call parameters), so re-running a command replays earlier answers for free. Only
answers that passed validation are stored; a damaged entry reads as a miss.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from rlgpt_cli.atomic import atomic_write_json


def cache_key(model: str, messages: list[dict[str, Any]], schema: str | None, params: dict[str, Any]) -> str:
    payload = json.dumps(
        {"model": model, "messages": messages, "schema": schema, "params": params},
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class DiskCache:
    def __init__(self, directory: Path):
        self.directory = Path(directory)

    def _path(self, key: str) -> Path:
        # Two-character fan-out keeps directories small after thousands of calls.
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            entry = json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return entry if isinstance(entry, dict) and isinstance(entry.get("text"), str) else None

    def put(self, key: str, entry: dict[str, Any]) -> None:
        """Write atomically, so a concurrent reader or a kill never sees half a file."""
        atomic_write_json(self._path(key), entry, ensure_ascii=False, indent=None)
