"""Atomic file writes: readers, and a kill mid-write, see the old file or the new one, never a mix.

Everything rlgpt persists (skills, the manifest, checkpoints, run state, the model cache) is
written through here.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from pathlib import Path
from typing import Any


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not supported on every platform (Windows)
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (creating its folder) via a synced temp file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)


def atomic_write_json(path: Path, data: Any, **dumps: Any) -> None:
    """``atomic_write`` of ``data`` as indented JSON (``dumps`` go to ``json.dumps``)."""
    atomic_write(path, (json.dumps(data, **{"indent": 2, **dumps}) + "\n").encode("utf-8"))
