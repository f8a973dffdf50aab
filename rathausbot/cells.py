"""CSV cells that are safe to open in a spreadsheet: citizen text never becomes a formula
(OWASP "CSV Injection"), and Unix times become the town's local date and time."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

TOWN_TIME_ZONE = ZoneInfo("Europe/Berlin")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what spreadsheets read as a formula
TIME_COLUMNS = frozenset({"created_at", "cancelled_at"})  # stored as Unix seconds


def neutralise(value: str) -> str:
    """A cell a spreadsheet shows as text: a leading formula character gets a `'` before it."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def local_time(unix: str) -> str:
    """Unix seconds as `YYYY-MM-DD HH:MM:SS` in Europe/Berlin; other text stays (made safe)."""
    try:
        seconds = float(unix)
        if not math.isfinite(seconds):
            raise ValueError(unix)
        moment = datetime.fromtimestamp(seconds, UTC)
    except (ValueError, OverflowError, OSError):
        return neutralise(unix)
    return moment.astimezone(TOWN_TIME_ZONE).strftime("%Y-%m-%d %H:%M:%S")


def csv_cell(column: str, value: str) -> str:
    """The exported form of one stored field."""
    if column in TIME_COLUMNS and value:
        return local_time(value)
    return neutralise(value)
