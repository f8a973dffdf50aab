"""Exports of bookings, tickets and callbacks, read from a real Redis."""

from __future__ import annotations

import csv
import io

import pytest
from redis.asyncio import Redis

from rathausbot.cells import csv_cell
from rathausbot.export import (
    ExportError,
    ExportFormat,
    RecordKind,
    load_records,
    render,
    to_csv,
    to_ics,
)

BOOKING = {
    "reference": "B-K7QX2M",
    "status": "booked",
    "service": "personalausweis",
    "office": "buergerbuero",
    "date": "2026-11-24",
    "time": "08:30",
    "starts_at": "2026-11-24T08:30:00+01:00",
    "ends_at": "2026-11-24T09:00:00+01:00",
    "name": "Erika Mustermann, geb. Gabler; Berlin",
    "phone": "01712345678",
    "channel": "webchat",
    "created_at": "1795000000.5",
}


async def store(redis: Redis, kind: RecordKind, fields: dict[str, str], score: float) -> None:
    await redis.hset(kind.key(fields["reference"]), mapping=fields)
    await redis.zadd(kind.index_key, {fields["reference"]: score})


async def test_bookings_export_as_csv_and_ics(redis: Redis) -> None:
    await store(redis, RecordKind.BOOKING, BOOKING, 2)
    cancelled = {**BOOKING, "reference": "B-ZZZZZ2", "status": "cancelled"}
    await store(redis, RecordKind.BOOKING, cancelled, 1)
    records = await load_records(redis, RecordKind.BOOKING)
    assert [r.get("reference") for r in records] == ["B-ZZZZZ2", "B-K7QX2M"]

    rows = list(csv.DictReader(io.StringIO(to_csv(RecordKind.BOOKING, records))))
    assert rows[1]["name"] == BOOKING["name"] and rows[1]["time"] == "08:30"
    assert rows[0]["status"] == "cancelled"

    ics = to_ics(records)
    assert ics.startswith("BEGIN:VCALENDAR\r\n") and ics.endswith("END:VCALENDAR\r\n")
    assert all(len(line.encode()) <= 75 for line in ics.split("\r\n"))
    unfolded = ics.replace("\r\n ", "")
    assert "UID:B-K7QX2M@" in unfolded
    assert "DTSTART:20261124T073000Z" in unfolded and "DTEND:20261124T080000Z" in unfolded
    assert "SUMMARY:personalausweis: Erika Mustermann\\, geb. Gabler\\; Berlin" in unfolded
    assert unfolded.count("STATUS:CANCELLED") == 1 and unfolded.count("BEGIN:VEVENT") == 2


async def test_expired_records_leave_the_index(redis: Redis) -> None:
    ticket = {"reference": "S-ABCDEF", "status": "new", "damage_type": "graffiti",
              "location": "Bahnhof", "description": "bunt", "channel": "voice",
              "created_at": "1"}  # fmt: skip
    await store(redis, RecordKind.TICKET, ticket, 1)
    await redis.zadd(RecordKind.TICKET.index_key, {"S-GONE22": 2})  # its hash expired
    records = await load_records(redis, RecordKind.TICKET)
    assert [r.get("reference") for r in records] == ["S-ABCDEF"]
    assert await redis.zrange(RecordKind.TICKET.index_key, 0, -1) == ["S-ABCDEF"]
    text = render(RecordKind.TICKET, ExportFormat.CSV, records)
    assert text.splitlines()[0].startswith("reference,status,damage_type,location")


async def test_ics_is_for_bookings_only(redis: Redis) -> None:
    with pytest.raises(ExportError, match="bookings only"):
        render(RecordKind.CALLBACK, ExportFormat.ICS, [])
    assert await load_records(redis, RecordKind.CALLBACK) == []


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
async def test_citizen_text_never_becomes_a_spreadsheet_formula(redis: Redis, start: str) -> None:
    ticket = {"reference": "S-FORMEL", "status": "new", "damage_type": "sonstiges",
              "location": start + 'HYPERLINK("https://evil.example","Klick")',
              "description": start + "cmd|' /C calc'!A0", "channel": "webchat",
              "created_at": "1795000000"}  # fmt: skip
    await store(redis, RecordKind.TICKET, ticket, 1)
    text = to_csv(RecordKind.TICKET, await load_records(redis, RecordKind.TICKET))
    row = next(csv.DictReader(io.StringIO(text, newline="")))
    assert row["location"] == "'" + ticket["location"]
    assert row["description"] == "'" + ticket["description"]
    assert row["damage_type"] == "sonstiges"  # harmless cells stay as they are


def test_only_formula_starts_are_neutralised() -> None:
    assert csv_cell("name", "Erika = Mustermann") == "Erika = Mustermann"
    assert csv_cell("name", " =1+1") == " =1+1"  # a leading space is not a formula start
    assert csv_cell("phone", "+491712345678") == "'+491712345678"
    assert csv_cell("name", "") == ""


def test_times_are_exported_in_berlin_local_time() -> None:
    assert (
        csv_cell("created_at", "1795000000.5") == "2026-11-18 12:06:40"
    )  # 11:06:40 UTC, CET +01:00
    assert csv_cell("created_at", "1782000000") == "2026-06-21 02:00:00"  # 00:00 UTC, CEST +02:00
    assert csv_cell("cancelled_at", "0") == "1970-01-01 01:00:00"
    assert csv_cell("created_at", "") == ""
    assert csv_cell("created_at", "=1+1") == "'=1+1"  # not a time: kept, made safe
    assert csv_cell("created_at", "nan") == "nan"


async def test_the_booking_csv_has_local_times(redis: Redis) -> None:
    await store(redis, RecordKind.BOOKING, BOOKING, 1)
    text = to_csv(RecordKind.BOOKING, await load_records(redis, RecordKind.BOOKING))
    row = next(csv.DictReader(io.StringIO(text)))
    assert row["created_at"] == "2026-11-18 12:06:40"
    assert row["starts_at"] == BOOKING["starts_at"]
