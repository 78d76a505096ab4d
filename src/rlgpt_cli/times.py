"""How rlgpt writes times: ISO 8601 in UTC, to the second (JSON, listings, skill records)."""

from __future__ import annotations

import datetime


def iso_utc(stamp: float) -> str:
    """A Unix time, e.g. ``2026-01-05T09:30:12+00:00``."""
    return datetime.datetime.fromtimestamp(stamp, datetime.timezone.utc).isoformat(timespec="seconds")
