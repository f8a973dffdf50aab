"""Records the action server writes (intents/actions/records.py, run here with the gateway's
redis client) are read by the gateway's export and webhook code, on a real Redis."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import httpx
import pytest
from redis.asyncio import Redis

from contract.records import (
    Booking,
    BookingStatus,
    Callback,
    CallbackWindow,
    Channel,
    RecordKind,
    RequestStatus,
    SessionState,
    Ticket,
    WebhookEntry,
    WebhookEvent,
    case_key,
    new_reference,
    session_key,
    slot_key,
    tracker_key,
    transcript_key,
)
from intents.actions.records import BookingResult, Records
from rathausbot.export import load_records
from rathausbot.webhooks import QUEUE_KEY, WebhookDispatcher
from tests.redis_server import RedisServer

NOW = 1_795_000_000.25
BERLIN = ZoneInfo("Europe/Berlin")


def booking(
    reference: str = "B-K7QX2M",
    *,
    channel: Channel | None = Channel.VOICE,
    day: date = date(2026, 12, 3),
) -> Booking:
    return Booking.local(
        reference=reference,
        service="personalausweis",
        office="buergerbuero",
        day=day,
        at=time(10, 30),
        minutes=20,
        timezone="Europe/Berlin",
        name="Erika Mustermann",
        phone="+4917612345678",
        channel=channel,
        created_at=NOW,
    )


TICKET = Ticket("S-ABCDEF", "schlagloch", "Bergstraße 5", "tiefes Loch", Channel.WEBCHAT, NOW)
CALLBACK = Callback("R-ABCDEF", "017612345678", CallbackWindow.MORNING, None, NOW)


@pytest.fixture
async def records(redis: Redis, redis_server: RedisServer) -> AsyncIterator[Records]:
    """The action server's writer, connected the way Records.from_environment connects."""
    client = Redis.from_url(redis_server.url, decode_responses=True)
    yield Records(client, retention_s=3600, clock=lambda: NOW)
    await client.aclose()


class Office:
    def __init__(self) -> None:
        self.received: list[dict[str, object]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.received.append(json.loads(request.content))
        return httpx.Response(200)


async def delivered(redis: Redis, kind: RecordKind) -> list[dict[str, object]]:
    """What the gateway's webhook dispatcher POSTs for the queued entries."""
    office = Office()
    async with httpx.AsyncClient(transport=httpx.MockTransport(office)) as http:
        dispatcher = WebhookDispatcher(redis, http, {kind: "https://office.example/hook"})
        for _ in range(10):  # bounded: at most ten entries in these tests
            if not await dispatcher.step():
                break
    return office.received


# --- shapes, by value --------------------------------------------------------------------


def test_keys_by_value() -> None:
    assert session_key("s1") == "rb:session:s1"
    assert transcript_key("s1") == "rb:transcript:s1"
    assert tracker_key("s1") == "rb:tracker:s1"
    assert case_key("C-1") == "rb:case:C-1"
    assert slot_key("buergerbuero", date(2026, 12, 3), time(9, 5)) == (
        "rb:slot:buergerbuero:2026-12-03:09:05"
    )
    assert [(k.key("X"), k.index_key, k.prefix) for k in RecordKind] == [
        ("rb:booking:X", "rb:bookings", "B"),
        ("rb:ticket:X", "rb:tickets", "S"),
        ("rb:callback:X", "rb:callbacks", "R"),
    ]
    assert RecordKind.from_plural("tickets") is RecordKind.TICKET
    with pytest.raises(ValueError, match="unknown record kind"):
        RecordKind.from_plural("ticket")
    assert [s.value for s in SessionState] == ["active", "handoff"]


def test_references_use_the_unambiguous_alphabet() -> None:
    for kind in RecordKind:
        reference = new_reference(kind)
        assert reference[:2] == f"{kind.prefix}-" and len(reference) == 8
        assert not set(reference[2:]) & set("01IO")


def test_booking_fields_by_value_and_back() -> None:
    fields = booking().to_fields()
    assert fields == {
        "reference": "B-K7QX2M",
        "status": "booked",
        "service": "personalausweis",
        "office": "buergerbuero",
        "date": "2026-12-03",
        "time": "10:30",
        "starts_at": "2026-12-03T10:30:00+01:00",
        "ends_at": "2026-12-03T10:50:00+01:00",
        "name": "Erika Mustermann",
        "phone": "+4917612345678",
        "channel": "voice",
        "created_at": "1795000000.25",
    }
    assert Booking.from_fields(fields) == booking()
    other = booking(channel=None)
    assert (
        other.to_fields()["channel"] == "other" and Booking.from_fields(other.to_fields()) == other
    )


def test_a_booking_needs_an_aware_start_before_its_end() -> None:
    start = datetime(2026, 12, 3, 10, 30, tzinfo=BERLIN)
    with pytest.raises(ValueError, match="aware starts_at before ends_at"):
        Booking("B-X", "s", "o", start, start, "n", "p", None, NOW)
    with pytest.raises(ValueError, match="aware"):
        Booking("B-X", "s", "o", start.replace(tzinfo=None), start, "n", "p", None, NOW)


@pytest.mark.parametrize("record", [TICKET, CALLBACK], ids=["ticket", "callback"])
def test_requests_round_trip(record: Ticket | Callback) -> None:
    assert type(record).from_fields(record.to_fields()) == record
    assert record.to_fields()["status"] == "new"


def test_webhook_entries_by_value_and_garbage_is_none() -> None:
    entry = WebhookEntry(RecordKind.BOOKING, WebhookEvent.CANCELLED, "B-K7QX2M")
    assert json.loads(entry.to_json()) == {
        "type": "booking",
        "event": "cancelled",
        "reference": "B-K7QX2M",
    }
    assert WebhookEntry.parse(entry.to_json()) == entry
    garbage = [
        "",
        "[]",
        '{"type": "booking"}',
        '{"type": "x", "event": "created", "reference": "B"}',
        '{"type": "booking", "event": "created", "reference": 1}',
    ]
    assert [WebhookEntry.parse(raw) for raw in garbage] == [None] * len(garbage)


# --- written by the action server, read by the gateway (real Redis) -----------------------


# Redis expires a booking by the real clock, a retention after its slot ends: a slot of the
# real past would be gone at once, so these bookings are for a day far ahead.
AHEAD = date(2099, 12, 3)


async def test_a_booking_is_exported_and_delivered(redis: Redis, records: Records) -> None:
    ahead = booking(day=AHEAD)
    assert await records.book(ahead, capacity=1) is BookingResult.BOOKED
    second = booking("B-SECND2", day=AHEAD)
    assert await records.book(second, capacity=1) is BookingResult.SLOT_TAKEN
    [stored] = await load_records(redis, RecordKind.BOOKING)
    assert Booking.from_fields(stored.fields) == ahead
    assert await records.booking("B-K7QX2M") == ahead
    [posted] = await delivered(redis, RecordKind.BOOKING)
    assert posted == {"type": "booking", "event": "created", "record": ahead.to_fields()}


async def test_a_cancellation_frees_the_slot_and_is_delivered(
    redis: Redis, records: Records
) -> None:
    await records.book(booking(day=AHEAD), capacity=1)
    assert await records.cancel("B-K7QX2M") and not await records.cancel("B-K7QX2M")
    assert await redis.scard(slot_key("buergerbuero", AHEAD, time(10, 30))) == 0
    [stored] = await load_records(redis, RecordKind.BOOKING)
    cancelled = Booking.from_fields(stored.fields)
    assert (cancelled.status, cancelled.cancelled_at) == (BookingStatus.CANCELLED, NOW)
    events = [p["event"] for p in await delivered(redis, RecordKind.BOOKING)]
    assert events == ["created", "cancelled"]


async def test_a_ticket_is_exported_and_delivered(redis: Redis, records: Records) -> None:
    await records.create(TICKET)
    [stored] = await load_records(redis, RecordKind.TICKET)
    assert Ticket.from_fields(stored.fields) == TICKET
    assert 0 < await redis.ttl(RecordKind.TICKET.key(TICKET.reference)) <= 3600
    [posted] = await delivered(redis, RecordKind.TICKET)
    assert posted == {"type": "ticket", "event": "created", "record": TICKET.to_fields()}


async def test_a_callback_is_exported_and_delivered(redis: Redis, records: Records) -> None:
    await records.create(CALLBACK)
    [stored] = await load_records(redis, RecordKind.CALLBACK)
    assert Callback.from_fields(stored.fields) == CALLBACK
    assert Callback.from_fields(stored.fields).status is RequestStatus.NEW
    [posted] = await delivered(redis, RecordKind.CALLBACK)
    assert posted == {"type": "callback", "event": "created", "record": CALLBACK.to_fields()}
    assert await redis.llen(QUEUE_KEY) == 0
