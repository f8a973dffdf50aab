"""Bookings, damage tickets and callback requests in Redis (shapes and keys: contract.records).

The action server writes them; `rathausbot export` and the webhook dispatcher read them. A
booking takes a slot atomically (a Lua script checks the slot's capacity), so two citizens
never get the same last place, however their conversations interleave.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import date, datetime
from datetime import time as clock_time
from enum import Enum
from typing import Any, cast
from zoneinfo import ZoneInfo

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from contract import env
from contract.records import (
    KEY_PREFIX,
    WEBHOOK_QUEUE_KEY,
    WEBHOOK_QUEUE_LIMIT,
    Booking,
    BookingStatus,
    Callback,
    Channel,
    RecordKind,
    Ticket,
    WebhookEntry,
    WebhookEvent,
    slot_key,
)
from contract.stats import (
    COUNT_LUA,
    DEFAULT_KEEP_S,
    MARK_ESCALATED_LUA,
    stat_channel,
    stats_day_key,
    stats_session_key,
)
from intents.actions.redis_client import connect

log = logging.getLogger(__name__)
BERLIN = ZoneInfo("Europe/Berlin")

DEFAULT_RETENTION_S = 30 * 86_400

_BOOK = """
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
redis.call('SADD', KEYS[1], ARGV[2])
redis.call('EXPIREAT', KEYS[1], ARGV[3])
redis.call('HSET', KEYS[2], unpack(ARGV, 5))
redis.call('EXPIREAT', KEYS[2], ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[2])
return 1
"""
# The slot key as contract.records.slot_key builds it, from the booking's own fields.
_CANCEL = f"""
if redis.call('HGET', KEYS[1], 'status') ~= '{BookingStatus.BOOKED.value}' then return 0 end
local slot = '{KEY_PREFIX}:slot:' .. redis.call('HGET', KEYS[1], 'office') .. ':' ..
    redis.call('HGET', KEYS[1], 'date') .. ':' .. redis.call('HGET', KEYS[1], 'time')
redis.call('SREM', slot, ARGV[1])
redis.call('HSET', KEYS[1], 'status', '{BookingStatus.CANCELLED.value}', 'cancelled_at', ARGV[2])
return 1
"""

Request = Ticket | Callback


class BookingResult(Enum):
    BOOKED = "booked"
    SLOT_TAKEN = "slot_taken"


class Records:
    """Writes and reads the records; one instance per action server."""

    def __init__(
        self,
        redis: Redis,
        *,
        retention_s: int = DEFAULT_RETENTION_S,
        kind_retention_s: Mapping[RecordKind, int] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        kept = {kind: (kind_retention_s or {}).get(kind, retention_s) for kind in RecordKind}
        if min(kept.values()) < 60:
            raise ValueError("retention_s must be at least 60")
        self._redis = redis
        self._retention_s = kept  # per kind; bookings count from the appointment's end
        self._clock = clock
        self._book = redis.register_script(_BOOK)
        self._cancel = redis.register_script(_CANCEL)
        self._count = redis.register_script(COUNT_LUA)
        self._mark_escalated = redis.register_script(MARK_ESCALATED_LUA)

    @classmethod
    def from_environment(cls) -> Records:
        url = os.environ.get(env.ACTIONS_REDIS_URL)
        if not url:
            raise RuntimeError(f"{env.ACTIONS_REDIS_URL} is not set: the action server needs Redis")
        retention = int(os.environ.get(env.RETENTION_SECONDS, DEFAULT_RETENTION_S))
        per_kind = {
            kind: int(os.environ[env.record_retention_seconds(kind.value)])
            for kind in RecordKind
            if os.environ.get(env.record_retention_seconds(kind.value))
        }
        return cls(connect(url), retention_s=retention, kind_retention_s=per_kind)

    def now(self) -> float:
        """The time records are stamped with (Unix seconds)."""
        return self._clock()

    async def taken(self, office: str, day: date, slots: list[clock_time]) -> list[int]:
        """How many bookings each of ``slots`` holds."""

        def count(pipe: Pipeline) -> None:
            for at in slots:
                pipe.scard(slot_key(office, day, at))

        return [int(n) for n in await self._pipelined(count, transaction=False)]

    async def _pipelined(
        self, commands: Callable[[Pipeline], None], *, transaction: bool
    ) -> list[Any]:
        """Runs a pipeline, once more on a fresh connection when Redis dropped the pooled one
        (a restart): the client retries single commands itself, but not pipelines."""
        for attempt in range(2):
            try:
                async with self._redis.pipeline(transaction=transaction) as pipe:
                    commands(pipe)
                    return cast("list[Any]", await pipe.execute())
            except RedisConnectionError:
                if attempt:
                    raise
        raise AssertionError("not reached")

    async def book(self, booking: Booking, *, capacity: int) -> BookingResult:
        """Stores ``booking`` unless its slot holds ``capacity`` bookings already."""
        keep_s = self._retention_s[RecordKind.BOOKING]
        expire_at = int(max(booking.created_at, booking.ends_at.timestamp()) + keep_s)
        flat = [item for pair in booking.to_fields().items() for item in pair]
        keys = [
            slot_key(booking.office, booking.day, booking.at),
            RecordKind.BOOKING.key(booking.reference),
            RecordKind.BOOKING.index_key,
        ]
        args: list[str | int | float] = [
            capacity,
            booking.reference,
            expire_at,
            booking.created_at,
            *flat,
        ]
        result = await self._book(keys=keys, args=args)
        if int(result) != 1:
            return BookingResult.SLOT_TAKEN
        await self._notify(RecordKind.BOOKING, WebhookEvent.CREATED, booking.reference)
        return BookingResult.BOOKED

    async def booking(self, reference: str) -> Booking | None:
        pending = self._redis.hgetall(RecordKind.BOOKING.key(reference))
        fields = await cast("Awaitable[dict[str, str]]", pending)
        return Booking.from_fields(fields) if fields else None

    async def cancel(self, reference: str) -> bool:
        """Cancels a booked appointment and frees its slot; False if none is booked."""
        key = RecordKind.BOOKING.key(reference)
        if int(await self._cancel(keys=[key], args=[reference, repr(self._clock())])) != 1:
            return False
        await self._notify(RecordKind.BOOKING, WebhookEvent.CANCELLED, reference)
        return True

    async def create(self, record: Request) -> None:
        """Stores a ticket or callback request."""
        kind = RecordKind.TICKET if isinstance(record, Ticket) else RecordKind.CALLBACK
        key = kind.key(record.reference)

        def store(pipe: Pipeline) -> None:
            pipe.hset(key, mapping=record.to_fields())
            pipe.expire(key, self._retention_s[kind])
            pipe.zadd(kind.index_key, {record.reference: record.created_at})

        await self._pipelined(store, transaction=True)
        await self._notify(kind, WebhookEvent.CREATED, record.reference)

    async def count_callback(self, channel: Channel | None, session_id: str) -> None:
        """Counts a callback request in the team statistics and marks its conversation as
        not resolved without staff. Never fails the action."""
        day = datetime.fromtimestamp(self._clock(), BERLIN).date()
        key = stats_day_key(day, stat_channel(channel is Channel.WEBCHAT, session_id))
        try:
            await self._count(keys=[key], args=["callbacks_due", DEFAULT_KEEP_S])
            await self._mark_escalated(keys=[stats_session_key(session_id)], args=[])
        except RedisError as exc:
            log.warning("callback not counted in the statistics: %s", exc)

    async def _notify(self, kind: RecordKind, event: WebhookEvent, reference: str) -> None:
        """Queues the record for the office's webhook (bounded; the oldest go first)."""
        entry = WebhookEntry(kind, event, reference).to_json()

        def queue(pipe: Pipeline) -> None:
            pipe.lpush(WEBHOOK_QUEUE_KEY, entry)
            pipe.ltrim(WEBHOOK_QUEUE_KEY, 0, WEBHOOK_QUEUE_LIMIT - 1)

        await self._pipelined(queue, transaction=True)
