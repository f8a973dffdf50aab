"""Webhook delivery of records, against a real Redis and an httpx mock transport."""

from __future__ import annotations

import json

import httpx
import pytest
from redis.asyncio import Redis

from contract.records import RecordKind
from rathausbot.webhooks import FAILED_KEY, PROCESSING_KEY, QUEUE_KEY, WebhookDispatcher

URL = "https://office.example/hooks/tickets"


def entry(kind: str, reference: str, event: str = "created") -> str:
    return json.dumps({"type": kind, "event": event, "reference": reference})


class Office:
    """Answers with the given status codes in turn, then 200; records what it received."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.received: list[dict[str, object]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.received.append(json.loads(request.content))
        return httpx.Response(self.statuses.pop(0) if self.statuses else 200)


async def no_wait(_: float) -> None:
    return None


def dispatcher(redis: Redis, office: Office, *, attempts: int = 3) -> WebhookDispatcher:
    http = httpx.AsyncClient(transport=httpx.MockTransport(office))
    return WebhookDispatcher(
        redis, http, {RecordKind.TICKET: URL}, attempts=attempts, sleep=no_wait
    )


async def test_a_record_is_delivered_after_retries(redis: Redis) -> None:
    await redis.hset("rb:ticket:S-ABCDEF", mapping={"reference": "S-ABCDEF", "location": "Markt"})
    await redis.lpush(QUEUE_KEY, entry("ticket", "S-ABCDEF"))
    office = Office(503, 500)
    assert await dispatcher(redis, office).step()
    assert len(office.received) == 3
    assert office.received[-1] == {
        "type": "ticket",
        "event": "created",
        "record": {"reference": "S-ABCDEF", "location": "Markt"},
    }
    assert await redis.llen(QUEUE_KEY) == 0 and await redis.llen(PROCESSING_KEY) == 0
    assert await redis.llen(FAILED_KEY) == 0
    assert not await dispatcher(redis, office).step()  # queue empty


async def test_a_record_the_office_never_takes_is_kept_as_failed(redis: Redis) -> None:
    await redis.hset("rb:ticket:S-ABCDEF", mapping={"reference": "S-ABCDEF"})
    await redis.lpush(QUEUE_KEY, entry("ticket", "S-ABCDEF"))
    office = Office(500, 500, 500, 500)
    assert await dispatcher(redis, office, attempts=3).step()
    assert len(office.received) == 3
    assert await redis.lrange(FAILED_KEY, 0, -1) == [entry("ticket", "S-ABCDEF")]
    assert await redis.llen(PROCESSING_KEY) == 0


async def test_types_without_a_webhook_and_garbage_are_dropped(redis: Redis) -> None:
    await redis.lpush(QUEUE_KEY, entry("booking", "B-ABCDEF"), "not json", entry("x", "y"))
    office = Office()
    hooks = dispatcher(redis, office)
    assert [await hooks.step() for _ in range(4)] == [True, True, True, False]
    assert office.received == [] and await redis.llen(FAILED_KEY) == 0


async def test_entries_in_delivery_at_a_crash_are_delivered_again(redis: Redis) -> None:
    await redis.hset("rb:ticket:S-ABCDEF", mapping={"reference": "S-ABCDEF"})
    await redis.lpush(PROCESSING_KEY, entry("ticket", "S-ABCDEF"))
    office = Office()
    hooks = dispatcher(redis, office)
    await hooks.recover()
    assert await hooks.step()
    assert len(office.received) == 1


def test_options_are_bounded(redis: Redis) -> None:
    with pytest.raises(ValueError, match="attempts"):
        WebhookDispatcher(redis, httpx.AsyncClient(), {}, attempts=0)


async def test_a_delivered_record_is_marked_and_the_mark_is_never_sent(redis: Redis) -> None:
    await redis.hset("rb:ticket:S-ABCDEF", mapping={"reference": "S-ABCDEF"})
    await redis.lpush(QUEUE_KEY, entry("ticket", "S-ABCDEF"), entry("ticket", "S-ABCDEF"))
    office = Office()
    assert await dispatcher(redis, office).step()
    assert await redis.hget("rb:ticket:S-ABCDEF", "webhook_delivered") == "1"
    assert await dispatcher(redis, office).step()
    assert office.received[1]["record"] == {"reference": "S-ABCDEF"}


async def test_a_failed_delivery_leaves_no_mark(redis: Redis) -> None:
    await redis.hset("rb:ticket:S-ABCDEF", mapping={"reference": "S-ABCDEF"})
    await redis.lpush(QUEUE_KEY, entry("ticket", "S-ABCDEF"))
    assert await dispatcher(redis, Office(500, 500, 500), attempts=3).step()
    assert not await redis.hexists("rb:ticket:S-ABCDEF", "webhook_delivered")


async def test_a_deletion_sends_only_the_reference_and_recreates_nothing(redis: Redis) -> None:
    await redis.lpush(QUEUE_KEY, entry("ticket", "S-ABCDEF", "deleted"))
    office = Office()
    assert await dispatcher(redis, office).step()
    assert office.received == [
        {"type": "ticket", "event": "deleted", "record": {"reference": "S-ABCDEF"}}
    ]
    assert not await redis.exists("rb:ticket:S-ABCDEF")
