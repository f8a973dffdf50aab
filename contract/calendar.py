"""Public holidays of a German state (Bundesland), from the `holidays` package, cached."""

from __future__ import annotations

import functools
import warnings
from datetime import date

with warnings.catch_warnings():  # holidays 0.60 warns about its future versioning on import
    warnings.simplefilter("ignore")
    import holidays

STATES = ("BW", "BY", "BE", "BB", "HB", "HH", "HE", "MV", "NI", "NW", "RP", "SL", "SN", "ST",
          "SH", "TH")  # fmt: skip
"""The states' codes (ISO 3166-2:DE without "DE-")."""


def holiday_name(day: date, state: str | None) -> str | None:
    """German name of the public holiday on ``day`` in ``state`` (nationwide ones only when
    ``state`` is None), or None on other days."""
    name = _calendar(state, day.year).get(day)
    return str(name) if name else None


@functools.lru_cache(maxsize=64)
def _calendar(state: str | None, year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("DE", subdiv=state, years=year, language="de")
