"""The chat scale-out benchmark's clients against a real chat endpoint (real Redis, fake
engine): a clean run counts nothing lost or crossed, and idle connections beyond the
per-address limit count as lost (N held, N+1 refused)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import cast

from bench.chat_scaleout import Idle, active_phase, listen, open_idle, still_open
from rathausbot.app import Runtime
from tests.channels.conftest import ServeChat


async def test_active_sessions_through_the_endpoint_lose_and_cross_nothing(
    serve_chat: ServeChat,
) -> None:
    async with serve_chat(max_connections_per_ip=8) as server:
        rt = cast(Runtime, SimpleNamespace(redis=server.redis, store=server.store))
        tally = await active_phase(rt, [server.url], 8, "test")
    assert (tally.lost, tally.crossed, tally.problems) == (0, 0, [])
    assert len(tally.latencies) == 8 * 3  # greeting and two turns each


async def test_a_session_over_the_address_limit_counts_as_lost(serve_chat: ServeChat) -> None:
    async with serve_chat(max_connections_per_ip=3) as server:
        idle = Idle()
        for _ in range(3):
            await open_idle(server.url, idle)
        assert (len(idle.clients), idle.failed) == (3, 0)
        rt = cast(Runtime, SimpleNamespace(redis=server.redis, store=server.store))
        tally = await active_phase(rt, [server.url], 1, "over the limit")
        assert tally.lost == 2  # both turns of the refused session
        await open_idle(server.url, idle)
        assert (len(idle.clients), idle.failed) == (3, 1)
        readers = [asyncio.create_task(listen(c, idle)) for c in idle.clients]
        await asyncio.sleep(0.2)
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        assert idle.stray == 0
        assert [await still_open(c) for c in idle.clients] == [True] * 3
        await idle.clients[0].ws.close()
        assert not await still_open(idle.clients[0])
        for client in idle.clients[1:]:
            await client.ws.close()
