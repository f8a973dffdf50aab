"""`rathausbot export bookings|tickets|callbacks`: the records the assistant took, for the office.

CSV for every record type, iCalendar (RFC 5545) for bookings. The records are written by
the action server (intents/actions/records.py); shapes and keys: contract.records.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from redis.asyncio import Redis

from contract.records import BookingStatus, RecordKind
from rathausbot.cells import csv_cell

CANCELLED = BookingStatus.CANCELLED.value


class ExportFormat(StrEnum):
    CSV = "csv"
    ICS = "ics"


COLUMNS: dict[RecordKind, tuple[str, ...]] = {
    RecordKind.BOOKING: (
        "reference",
        "status",
        "service",
        "office",
        "date",
        "time",
        "starts_at",
        "ends_at",
        "name",
        "phone",
        "channel",
        "created_at",
        "cancelled_at",
    ),  # fmt: skip
    RecordKind.TICKET: (
        "reference",
        "status",
        "damage_type",
        "location",
        "description",
        "channel",
        "created_at",
    ),  # fmt: skip
    RecordKind.CALLBACK: ("reference", "status", "phone", "window", "channel", "created_at"),
}


class ExportError(ValueError):
    """The export cannot be produced as asked (e.g. ICS for tickets)."""


@dataclass(frozen=True, slots=True)
class Record:
    fields: dict[str, str]

    def get(self, name: str) -> str:
        return self.fields.get(name, "")


async def load_records(redis: Redis, kind: RecordKind) -> list[Record]:
    """All stored records of ``kind``, oldest first; expired ones leave the index."""
    references = [str(r) for r in await redis.zrange(kind.index_key, 0, -1)]
    if not references:
        return []
    async with redis.pipeline(transaction=False) as pipe:
        for reference in references:
            pipe.hgetall(kind.key(reference))
        hashes = await pipe.execute()
    gone = [ref for ref, fields in zip(references, hashes, strict=True) if not fields]
    if gone:
        await redis.zrem(kind.index_key, *gone)
    return [Record(_decoded(fields)) for fields in hashes if fields]


def _decoded(fields: dict[bytes | str, bytes | str]) -> dict[str, str]:
    def text(value: bytes | str) -> str:
        return value.decode() if isinstance(value, bytes) else value

    return {text(k): text(v) for k, v in fields.items()}


def to_csv(kind: RecordKind, records: Iterable[Record]) -> str:
    """CSV with a header row; `created_at`/`cancelled_at` in Europe/Berlin local time,
    appointments in ISO 8601; no cell starts like a formula (`rathausbot.cells`)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    columns = COLUMNS[kind]
    writer.writerow(columns)
    for record in records:
        writer.writerow([csv_cell(column, record.get(column)) for column in columns])
    return out.getvalue()


def _ics_text(value: str) -> str:
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _fold(line: str) -> list[str]:
    """RFC 5545 line folding: at most 75 octets per line, continuation lines start with a space."""
    lines: list[str] = []
    current = ""
    for char in line:
        limit = 75 if not lines else 74
        if len((current + char).encode()) > limit:
            lines.append(current)
            current = char
        else:
            current += char
    lines.append(current)
    return [lines[0], *(" " + rest for rest in lines[1:])]


def _utc(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def to_ics(records: Iterable[Record], *, domain: str = "rathausbot.invalid") -> str:
    """A VCALENDAR with one VEVENT per booking (cancelled ones with STATUS:CANCELLED)."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//rathausbot//bookings//DE",
             "CALSCALE:GREGORIAN", "METHOD:PUBLISH"]  # fmt: skip
    for record in records:
        if not record.get("starts_at") or not record.get("ends_at"):
            continue
        created = datetime.fromtimestamp(float(record.get("created_at") or 0), UTC)
        description = f"Buchungsnummer {record.get('reference')}\nTelefon {record.get('phone')}"
        event = [
            "BEGIN:VEVENT",
            f"UID:{record.get('reference')}@{domain}",
            f"DTSTAMP:{created:%Y%m%dT%H%M%SZ}",
            f"DTSTART:{_utc(record.get('starts_at'))}",
            f"DTEND:{_utc(record.get('ends_at'))}",
            f"SUMMARY:{_ics_text(record.get('service') + ': ' + record.get('name'))}",
            f"DESCRIPTION:{_ics_text(description)}",
            f"LOCATION:{_ics_text(record.get('office'))}",
            "STATUS:" + ("CANCELLED" if record.get("status") == CANCELLED else "CONFIRMED"),
            "END:VEVENT",
        ]
        lines.extend(event)
    lines.append("END:VCALENDAR")
    return "".join(part + "\r\n" for line in lines for part in _fold(line))


def render(kind: RecordKind, fmt: ExportFormat, records: Sequence[Record]) -> str:
    match fmt:
        case ExportFormat.CSV:
            return to_csv(kind, records)
        case ExportFormat.ICS:
            if kind is not RecordKind.BOOKING:
                raise ExportError("ICS is available for bookings only; use --format csv")
            return to_ics(records)
