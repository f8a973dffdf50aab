"""How long each type of personal data is kept (Art. 5(1)(e) GDPR), in days.

Sans-I/O: `Retention.parse` turns the operator's table (`retention` in rathausbot.toml, JSON
in the environment) into a frozen policy, refusing unknown types and days outside 1..3650.
Types the table leaves out keep their documented default (docs/configuration.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

MIN_DAYS = 1
MAX_DAYS = 3650
DAY_S = 86_400
FLAG_GRACE_DAYS = 14
"""Days an open case stays flagged to the team lead before it is closed and purged."""


class DataType(StrEnum):
    """A type of personal data with its own retention."""

    CONVERSATIONS = "conversations"  # sessions, transcripts, Rasa trackers without a case
    CLOSED_CASES = "closed_cases"  # a case and its conversation, after closing
    INACTIVE_CASES = "inactive_cases"  # open cases with no activity: flagged, then purged
    RECORDINGS = "recordings"  # call recordings on disk
    CONSENT = "consent"  # the consent log, counted after the recording is gone
    BOOKINGS = "bookings"  # after the appointment
    TICKETS = "tickets"  # damage reports, after they were taken
    CALLBACKS = "callbacks"  # callback requests, after they were taken
    AUDIT = "audit"  # the console's audit log
    LOGS = "logs"  # log files under var/logs/
    STATISTICS = "statistics"  # team counters per day and channel (no personal data)
    MISSES = "misses"  # redacted messages the assistant did not understand

    @property
    def label(self) -> str:
        """The German name shown to citizens and the privacy officer."""
        return LABELS[self]


LABELS: Mapping[DataType, str] = MappingProxyType(
    {
        DataType.CONVERSATIONS: "Gesprächsverläufe ohne Vorgang (Chat und Telefon)",
        DataType.CLOSED_CASES: "Vorgänge mit ihrem Gesprächsverlauf, nach dem Abschluss",
        DataType.INACTIVE_CASES: "Offene Vorgänge ohne Bearbeitung, bis zur Vorlage an die "
        "Teamleitung",
        DataType.RECORDINGS: "Gesprächsaufzeichnungen",
        DataType.CONSENT: "Einwilligungsprotokoll, nach dem Löschen der Aufzeichnung",
        DataType.BOOKINGS: "Terminbuchungen, nach dem Termin",
        DataType.TICKETS: "Schadensmeldungen",
        DataType.CALLBACKS: "Rückrufwünsche",
        DataType.AUDIT: "Protokoll der Mitarbeiterkonsole",
        DataType.LOGS: "Protokolldateien des Servers",
        DataType.STATISTICS: "Statistik (nur Zählerstände pro Tag und Kanal, keine "
        "personenbezogenen Daten)",
        DataType.MISSES: "Nicht verstandene Nachrichten (geschwärzt), zur Verbesserung des "
        "Assistenten",
    }
)

DEFAULT_DAYS: Mapping[DataType, int] = MappingProxyType(
    {
        DataType.CONVERSATIONS: 30,
        DataType.CLOSED_CASES: 90,
        DataType.INACTIVE_CASES: 60,
        DataType.RECORDINGS: 30,
        DataType.CONSENT: 365,
        DataType.BOOKINGS: 30,
        DataType.TICKETS: 180,
        DataType.CALLBACKS: 30,
        DataType.AUDIT: 365,
        DataType.LOGS: 14,
        DataType.STATISTICS: 730,
        DataType.MISSES: 90,
    }
)


class RetentionError(ValueError):
    """The retention table is not valid; the message names the entry."""


@dataclass(frozen=True, slots=True)
class Retention:
    """Days per data type; every type has a value."""

    days: Mapping[DataType, int]

    def __post_init__(self) -> None:
        missing = [t.value for t in DataType if t not in self.days]
        if missing:
            raise RetentionError(f"retention lacks {', '.join(missing)}")
        for data_type, days in self.days.items():
            _check_days(data_type.value, days)

    @classmethod
    def default(cls) -> Retention:
        return cls(MappingProxyType(dict(DEFAULT_DAYS)))

    @classmethod
    def parse(
        cls, table: Mapping[str, object], *, defaults: Mapping[DataType, int] = DEFAULT_DAYS
    ) -> Retention:
        """The policy of an operator's table {type name: days}; RetentionError for an
        unknown type or days that are not a whole number in MIN_DAYS..MAX_DAYS."""
        days = dict(defaults)
        for name, value in table.items():
            try:
                data_type = DataType(name)
            except ValueError:
                known = ", ".join(t.value for t in DataType)
                raise RetentionError(f"unknown data type {name!r} (known: {known})") from None
            days[data_type] = _check_days(name, value)
        return cls(MappingProxyType(days))

    def seconds(self, data_type: DataType) -> int:
        return self.days[data_type] * DAY_S


def _check_days(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RetentionError(f"retention of {name} must be a whole number of days")
    if not MIN_DAYS <= value <= MAX_DAYS:
        raise RetentionError(f"retention of {name} must be {MIN_DAYS} to {MAX_DAYS} days")
    return value
