"""A browser call's live transcript reaches the chat session's tabs."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from channels.callfeed import CallTranscriptFeed
from channels.fanout import Fanout
from channels.protocol import BotLine, UserLine, encode_server
from rathausbot.browser_calls import transcript_observer
from tests.channels.test_fanout import Inbox
from voice.signals import Say, SpeechStart, Transcript


async def test_heard_and_said_lines_reach_every_tab_of_the_session(redis: Redis) -> None:
    async with Fanout(redis) as fanout:
        await fanout.wait_subscribed()
        tab, other = Inbox(), Inbox()
        fanout.register("chat-1", "tab1", tab.deliver)
        fanout.register("chat-2", "tab2", other.deliver)
        feed = CallTranscriptFeed(fanout)
        observe = transcript_observer(feed)("chat-1")
        observe(Say(1, ("Guten Tag.", "Wie kann ich helfen?")))
        observe(SpeechStart())  # not a line
        observe(Transcript("Wann hat das Bürgerbüro offen?", 0.9))
        observe(Transcript("  ", 0.1))  # nothing recognised: no line
        runner = asyncio.create_task(feed.run())
        try:
            assert [await tab.next() for _ in range(3)] == [
                encode_server(BotLine("Guten Tag.")),
                encode_server(BotLine("Wie kann ich helfen?")),
                encode_server(UserLine("Wann hat das Bürgerbüro offen?")),
            ]
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
        assert tab.frames == [] and other.frames == []


def test_a_full_queue_drops_the_oldest_line(redis: Redis) -> None:
    feed = CallTranscriptFeed(Fanout(redis), queue=8)
    for n in range(10):
        feed.said("s", f"Satz {n}")
    assert feed.dropped == 2
    with pytest.raises(ValueError, match="queue"):
        CallTranscriptFeed(Fanout(redis), queue=7)
