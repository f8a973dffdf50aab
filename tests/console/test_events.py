"""Live inbox events: one subscription fanned out to bounded queues (real Redis pub/sub)."""

from __future__ import annotations

import asyncio
import json

import pytest
from redis.asyncio import Redis

from console.events import EventHub, EventKind, InboxEvent, parse_event
from console.work import CONSOLE_EVENTS_CHANNEL
from contract.records import CASE_EVENTS_CHANNEL


def test_parse_event() -> None:
    opened = parse_event(CASE_EVENTS_CHANNEL, '{"event": "opened", "case_id": "C-1"}')
    assert opened == InboxEvent(EventKind.OPENED, "C-1")
    changed = parse_event(CONSOLE_EVENTS_CHANNEL, '{"event": "changed", "id": "R-K7QX2M"}')
    assert changed == InboxEvent(EventKind.CHANGED, "R-K7QX2M")
    for bad in ("not json", "[]", '{"id": 5}', "{}"):
        assert parse_event(CASE_EVENTS_CHANNEL, bad) is None


async def test_hub_delivers_to_every_listener(redis: Redis) -> None:
    async with EventHub(redis) as hub:
        await asyncio.wait_for(hub.wait_subscribed(), 10)
        async with hub.listen() as one, hub.listen() as two:
            await redis.publish(CASE_EVENTS_CHANNEL, json.dumps({"case_id": "C-1"}))
            await redis.publish(CONSOLE_EVENTS_CHANNEL, json.dumps({"id": "C-1"}))
            for queue in (one, two):
                first = await asyncio.wait_for(queue.get(), 10)
                second = await asyncio.wait_for(queue.get(), 10)
                assert (first.kind, second.kind) == (EventKind.OPENED, EventKind.CHANGED)


async def test_queues_and_listeners_are_bounded(redis: Redis) -> None:
    hub = EventHub(redis, max_streams=1, queue_size=2)
    async with hub.listen() as queue:
        assert hub.full
        for n in range(3):
            hub.dispatch(InboxEvent(EventKind.CHANGED, f"C-{n}"))
        assert queue.qsize() == 2
        assert (await queue.get()).item_id == "C-1"  # the oldest was dropped
    assert not hub.full
    with pytest.raises(ValueError):
        EventHub(redis, max_streams=0)
    with pytest.raises(ValueError):
        EventHub(redis, queue_size=1001)


def test_the_takeover_announces_on_the_inbox_channel() -> None:
    from channels.takeover import INBOX_EVENTS_CHANNEL
    from console.work import CONSOLE_EVENTS_CHANNEL

    assert INBOX_EVENTS_CHANNEL == CONSOLE_EVENTS_CHANNEL == "rb:events:console"
