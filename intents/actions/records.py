"""Bookings, damage tickets and callback requests in Redis (keys: docs/data-model.md).

The action server writes them; `rathausbot export` reads them. A booking takes a slot
atomically (a Lua script checks the slot's capacity), so two citizens never get the same
last place, however their conversations interleave.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from enum import Enum
from zoneinfo import ZoneInfo

from redis.asyncio import Redis

from intents.actions.speech import REFERENCE_ALPHABET

REDIS_URL_ENV = "RATHAUSBOT_ACTIONS_REDIS_URL"
WEBHOOK_QUEUE = "rb:webhook:queue"  # delivered by the gateway (rathausbot/webhooks.py)
WEBHOOK_QUEUE_LIMIT = 10_000
RETENTION_ENV = "RATHAUSBOT_RETENTION_SECONDS"
DEFAULT_RETENTION_S = 30 * 86_400

_BOOK = """
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
redis.call('SADD', KEYS[1], ARGV[2])
redis.call('EXPIREAT', KEYS[1], ARGV[4])
redis.call('HSET', KEYS[2], unpack(ARGV, 5))
redis.call('EXPIREAT', KEYS[2], ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])
return 1
"""
_CANCEL = """
if redis.call('HGET', KEYS[1], 'status') ~= 'booked' then return 0 end
local slot = 'rb:slot:' .. redis.call('HGET', KEYS[1], 'office') .. ':' ..
    redis.call('HGET', KEYS[1], 'date') .. ':' .. redis.call('HGET', KEYS[1], 'time')
redis.call('SREM', slot, ARGV[1])
redis.call('HSET', KEYS[1], 'status', 'cancelled', 'cancelled_at', ARGV[2])
return 1
"""


class RecordType(Enum):
    BOOKING = "booking"
    TICKET = "ticket"
    CALLBACK = "callback"

    @property
    def prefix(self) -> str:
        return {"booking": "B", "ticket": "S", "callback": "R"}[self.value]

    @property
    def index_key(self) -> str:
        return f"rb:{self.value}s"

    def key(self, reference: str) -> str:
        return f"rb:{self.value}:{reference}"


class BookingResult(Enum):
    BOOKED = "booked"
    SLOT_TAKEN = "slot_taken"


@dataclass(frozen=True, slots=True)
class Booking:
    reference: str
    service: str
    office: str
    day: date
    at: clock_time
    name: str
    phone: str
    channel: str
    minutes: int
    timezone: str  # IANA name of the town's time zone; day and at are local times there


def new_reference(kind: RecordType) -> str:
    return f"{kind.prefix}-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(6))


def slot_key(office: str, day: date, at: clock_time) -> str:
    return f"rb:slot:{office}:{day.isoformat()}:{at:%H:%M}"


class Records:
    """Writes and reads the records; one instance per action server."""

    def __init__(self, redis: Redis, *, retention_s: int = DEFAULT_RETENTION_S) -> None:
        if retention_s < 60:
            raise ValueError("retention_s must be at least 60")
        self._redis = redis
        self._retention_s = retention_s
        self._book = redis.register_script(_BOOK)
        self._cancel = redis.register_script(_CANCEL)

    @classmethod
    def from_environment(cls) -> Records:
        url = os.environ.get(REDIS_URL_ENV)
        if not url:
            raise RuntimeError(f"{REDIS_URL_ENV} is not set: the action server needs Redis")
        retention = int(os.environ.get(RETENTION_ENV, DEFAULT_RETENTION_S))
        return cls(Redis.from_url(url, decode_responses=True), retention_s=retention)

    async def taken(self, office: str, day: date, slots: list[clock_time]) -> list[int]:
        """How many bookings each of ``slots`` holds."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for at in slots:
                pipe.scard(slot_key(office, day, at))
            return [int(n) for n in await pipe.execute()]

    async def book(self, booking: Booking, *, capacity: int) -> BookingResult:
        now = time.time()
        starts = datetime.combine(booking.day, booking.at, tzinfo=ZoneInfo(booking.timezone))
        ends = starts + timedelta(minutes=booking.minutes)
        expire_at = int(max(now, ends.timestamp()) + self._retention_s)
        fields = {
            "reference": booking.reference,
            "status": "booked",
            "service": booking.service,
            "office": booking.office,
            "date": booking.day.isoformat(),
            "time": f"{booking.at:%H:%M}",
            "starts_at": starts.isoformat(),
            "ends_at": ends.isoformat(),
            "name": booking.name,
            "phone": booking.phone,
            "channel": booking.channel,
            "created_at": repr(now),
        }
        flat = [item for pair in fields.items() for item in pair]
        keys = [
            slot_key(booking.office, booking.day, booking.at),
            RecordType.BOOKING.key(booking.reference),
            RecordType.BOOKING.index_key,
        ]
        result = await self._book(
            keys=keys, args=[capacity, booking.reference, now, expire_at, *flat]
        )
        return BookingResult.BOOKED if int(result) == 1 else BookingResult.SLOT_TAKEN

    async def booking(self, reference: str) -> dict[str, str] | None:
        record: dict[str, str] = await self._redis.hgetall(RecordType.BOOKING.key(reference))
        return record or None

    async def cancel(self, reference: str) -> bool:
        """Cancels a booked appointment and frees its slot; False if none is booked."""
        key = RecordType.BOOKING.key(reference)
        if int(await self._cancel(keys=[key], args=[reference, repr(time.time())])) != 1:
            return False
        await self._notify(RecordType.BOOKING, "cancelled", reference)
        return True

    async def create(self, kind: RecordType, fields: dict[str, str]) -> str:
        """Stores a ticket or callback request; returns its reference."""
        now = time.time()
        reference = new_reference(kind)
        key = kind.key(reference)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                key,
                mapping={
                    **fields,
                    "reference": reference,
                    "status": "new",
                    "created_at": repr(now),
                },
            )
            pipe.expire(key, self._retention_s)
            pipe.zadd(kind.index_key, {reference: now})
            await pipe.execute()
        await self._notify(kind, "created", reference)
        return reference

    async def _notify(self, kind: RecordType, event: str, reference: str) -> None:
        """Queues the record for the office's webhook (bounded; the oldest go first)."""
        entry = json.dumps({"type": kind.value, "event": event, "reference": reference})
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.lpush(WEBHOOK_QUEUE, entry)
            pipe.ltrim(WEBHOOK_QUEUE, 0, WEBHOOK_QUEUE_LIMIT - 1)
            await pipe.execute()
