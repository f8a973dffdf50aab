"""Conversations pinned to one of several Rasa servers: stable rendezvous ranking, failover
only for requests that never reached a server, return once it is back."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import httpx
import pytest

from dialogue.messages import Channel
from dialogue.pinning import MAX_SERVERS, PinnedRasa, rank
from dialogue.rasa import EngineUnavailable, RasaClient
from rathausbot.app import rasa_engine
from rathausbot.settings import Settings

URLS = ("http://rasa-a:5005", "http://rasa-b:5005")
ANSWER = {"messages": [{"recipient_id": "s", "text": "Guten Tag."}], "nlu": None}


class Server:
    """One mock Rasa server: counts requests per conversation; can refuse or hang."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.refuse = False
        self.slow = False

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.refuse:
            raise httpx.ConnectError("refused", request=request)
        if self.slow:
            raise httpx.ReadTimeout("slow", request=request)
        path = request.url.path
        self.seen.append(path)
        if path.startswith("/webhooks/"):
            return httpx.Response(200, json=ANSWER)
        if path.endswith("/tracker/events"):
            return httpx.Response(200, json={"paused": True})
        return httpx.Response(200, json={"messages": [{"text": "Ok."}]})


def pinned(
    servers: list[Server], clock: Callable[[], float] = lambda: 0.0, urls: tuple[str, ...] = URLS
) -> PinnedRasa:
    clients = [
        RasaClient(url, token="t0ken", transport=httpx.MockTransport(server.handle))
        for url, server in zip(urls, servers, strict=True)
    ]
    return PinnedRasa(clients, urls, retry_after_s=5.0, clock=clock)


def test_the_ranking_is_the_highest_sha256_weight_first() -> None:
    weights = [hashlib.sha256(f"{url}\ns-42".encode()).digest() for url in URLS]
    expected = [0, 1] if weights[0] > weights[1] else [1, 0]
    assert rank("s-42", URLS) == expected
    assert rank("s-42", URLS) == rank("s-42", list(URLS))  # the same on every gateway


def test_conversations_spread_and_a_new_server_takes_only_those_it_wins() -> None:
    ids = [f"session-{n}" for n in range(400)]
    firsts = [rank(i, URLS)[0] for i in ids]
    assert 120 < firsts.count(0) < 280  # about half each
    three = (*URLS, "http://rasa-c:5005")
    for session_id, first in zip(ids, firsts, strict=True):
        now = rank(session_id, three)[0]
        assert now in (first, 2), "a conversation moved between the old servers"


def pinned_to(server_index: int) -> str:
    return next(f"s-{n}" for n in range(100) if rank(f"s-{n}", URLS)[0] == server_index)


async def test_a_conversation_stays_on_its_server() -> None:
    servers = [Server(), Server()]
    engine = pinned(servers)
    session = pinned_to(1)
    for _ in range(3):
        answer = await engine.send(session, Channel.WEBCHAT, "hallo")
        assert answer.replies[0].text == "Guten Tag."
    assert await engine.append_events(session, [{"event": "pause"}]) is True
    assert (await engine.execute(session, "utter_greet"))[0].text == "Ok."
    assert len(servers[1].seen) == 5 and servers[0].seen == []
    await engine.aclose()


async def test_an_unreachable_server_fails_over_and_is_skipped_then_retried() -> None:
    now = [0.0]
    servers = [Server(), Server()]
    engine = pinned(servers, clock=lambda: now[0])
    session = pinned_to(0)
    servers[0].refuse = True
    await engine.send(session, Channel.WEBCHAT, "eins")
    assert len(servers[1].seen) == 1
    assert engine.down() == [URLS[0]]
    assert engine.order(session) == [1, 0]
    servers[0].refuse = False  # back, but not tried until retry_after_s passed
    now[0] = 4.9
    await engine.send(session, Channel.WEBCHAT, "zwei")
    assert len(servers[1].seen) == 2 and servers[0].seen == []
    now[0] = 5.0
    await engine.send(session, Channel.WEBCHAT, "drei")
    assert len(servers[0].seen) == 1  # home again
    assert engine.down() == []
    await engine.aclose()


async def test_a_request_that_may_have_reached_rasa_is_never_sent_twice() -> None:
    servers = [Server(), Server()]
    engine = pinned(servers)
    session = pinned_to(0)
    servers[0].slow = True
    with pytest.raises(EngineUnavailable):
        await engine.send(session, Channel.WEBCHAT, "hallo")
    assert servers[1].seen == []
    assert engine.down() == []
    await engine.aclose()


async def test_every_server_down_makes_the_engine_unavailable() -> None:
    servers = [Server(), Server()]
    for server in servers:
        server.refuse = True
    engine = pinned(servers)
    with pytest.raises(EngineUnavailable, match="no Rasa server"):
        await engine.send("s-1", Channel.WEBCHAT, "hallo")
    with pytest.raises(EngineUnavailable, match="no Rasa server"):
        await engine.append_events("s-1", [])
    with pytest.raises(EngineUnavailable, match="no Rasa server"):
        await engine.execute("s-1", "utter_greet")
    assert sorted(engine.down()) == sorted(URLS)
    await engine.aclose()


def client(url: str) -> RasaClient:
    return RasaClient(url, token="t")


@pytest.mark.parametrize("count", [0, MAX_SERVERS + 1])
def test_the_number_of_servers_is_bounded(count: int) -> None:
    urls = [f"http://rasa-{n}:5005" for n in range(count)]
    with pytest.raises(ValueError, match="Rasa servers"):
        PinnedRasa([client(u) for u in urls], urls)


@pytest.mark.parametrize("count", [1, MAX_SERVERS])
def test_one_to_max_servers_are_taken(count: int) -> None:
    urls = [f"http://rasa-{n}:5005" for n in range(count)]
    assert len(PinnedRasa([client(u) for u in urls], urls).order("s")) == count


def test_urls_must_match_the_clients_and_differ() -> None:
    with pytest.raises(ValueError, match="one URL each"):
        PinnedRasa([client(URLS[0])], URLS)
    with pytest.raises(ValueError, match="named twice"):
        PinnedRasa([client(URLS[0]), client(URLS[0])], (URLS[0], URLS[0]))


@pytest.mark.parametrize("retry", [0.0, 300.1])
def test_the_retry_pause_is_bounded(retry: float) -> None:
    with pytest.raises(ValueError, match="retry_after_s"):
        PinnedRasa([client(URLS[0])], URLS[:1], retry_after_s=retry)


async def test_the_composition_root_pins_only_when_several_servers_are_configured() -> None:
    single = rasa_engine(Settings(), "t0ken")
    assert isinstance(single, RasaClient)
    several = rasa_engine(Settings(rasa_urls=URLS), "t0ken")
    assert isinstance(several, PinnedRasa)
    assert several.order("s-1") == rank("s-1", URLS)
    await single.aclose()
    await several.aclose()
