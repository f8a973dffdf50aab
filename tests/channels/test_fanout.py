"""Fan-out of chat frames between tabs through Redis pub/sub, including a Redis restart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from channels.fanout import Fanout
from rathausbot.app import make_redis
from rathausbot.secrets import RedisTarget
from tests.redis_server import RedisServer


class Inbox:
    def __init__(self) -> None:
        self.frames: list[str] = []
        self.arrived = asyncio.Event()

    def deliver(self, frame: str) -> None:
        self.frames.append(frame)
        self.arrived.set()

    async def next(self) -> str:
        async with asyncio.timeout(30):  # a safety net, not a speed requirement
            while not self.frames:
                self.arrived.clear()
                await self.arrived.wait()
        return self.frames.pop(0)


async def test_frames_reach_other_tabs_of_the_session_only(redis: Redis) -> None:
    async with Fanout(redis) as gateway_a, Fanout(redis) as gateway_b:
        await gateway_a.wait_subscribed()
        await gateway_b.wait_subscribed()
        sender, same_gw, other_gw, other_session = Inbox(), Inbox(), Inbox(), Inbox()
        gateway_a.register("s1", "tab1", sender.deliver)
        gateway_a.register("s1", "tab2", same_gw.deliver)
        gateway_b.register("s1", "tab3", other_gw.deliver)
        gateway_b.register("s2", "tab4", other_session.deliver)
        await gateway_a.publish("s1", "tab1", "eins", "zwei")
        assert [await same_gw.next(), await same_gw.next()] == ["eins", "zwei"]
        assert [await other_gw.next(), await other_gw.next()] == ["eins", "zwei"]
        assert sender.frames == []  # dispatched in the same step as tab2's frames
        gateway_b.unregister("s2", "tab4")
        assert gateway_b.local_connections("s2") == 0
        await gateway_b.publish("s1", "tab3", "drei")
        assert await sender.next() == "drei"
        assert await same_gw.next() == "drei"
        assert other_gw.frames == [] and other_session.frames == []


@pytest.fixture
async def own_redis(tmp_path: Path) -> AsyncIterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


async def test_fan_out_resumes_after_redis_restarts(own_redis: RedisServer) -> None:
    redis = make_redis(RedisTarget("127.0.0.1", own_redis.port, 0, own_redis.password))
    async with Fanout(redis, retry_max_s=0.2) as fanout:
        await fanout.wait_subscribed()
        inbox = Inbox()
        fanout.register("s1", "tab2", inbox.deliver)
        own_redis.stop()
        own_redis.start()
        while True:  # published frames are best effort: retry until resubscribed
            await fanout.publish("s1", "tab1", "wieder da")
            try:
                async with asyncio.timeout(0.5):
                    await inbox.arrived.wait()
                break
            except TimeoutError:
                continue
        assert inbox.frames[0] == "wieder da"
    await redis.aclose()
