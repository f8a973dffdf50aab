"""The printable German Art. 15 report of a citizen's export (HTML, autoescaped)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape

from rathausbot.citizen import KeyKind

TEMPLATES = Path(__file__).resolve().parent.parent / "console" / "templates"
BERLIN = ZoneInfo("Europe/Berlin")
COUNT_LABELS = {
    "sessions": "Gesprächsverläufe",
    "transcript_lines": "Gesprächsbeiträge",
    "cases": "Vorgänge",
    "recordings": "Gesprächsaufzeichnungen",
    "consent_entries": "Einträge im Einwilligungsprotokoll",
    "bookings": "Terminbuchungen",
    "tickets": "Schadensmeldungen",
    "callbacks": "Rückrufwünsche",
}
SPEAKER = {"user": "Bürgerin/Bürger", "bot": "Assistent", "system": "System"}


def moment(value: object) -> str:
    """A Unix time or ISO 8601 text as Berlin wall time ("01.12.2026 14:05"); else as is."""
    try:
        if isinstance(value, str) and "T" in value:
            when = datetime.fromisoformat(value)
        else:
            when = datetime.fromtimestamp(float(str(value)), BERLIN)
    except (TypeError, ValueError, OverflowError, OSError):
        return str(value)
    return when.astimezone(BERLIN).strftime("%d.%m.%Y %H:%M")


def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    env.filters["moment"] = moment
    return env


def report_context(document: Mapping[str, object]) -> dict[str, object]:
    try:
        key_label = KeyKind(str(document.get("key"))).label
    except ValueError:
        key_label = "-"
    return {
        "doc": document,
        "key_label": key_label,
        "count_labels": COUNT_LABELS,
        "speaker": SPEAKER,
    }


def render_report(document: Mapping[str, object]) -> str:
    """The report as a whole HTML page."""
    template = environment().get_template("privacy_report.html")
    return template.render(report_context(document))
