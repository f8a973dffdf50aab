import asyncio
import json

import httpx
import pytest

from dialogue.messages import BotReply, Button, Channel, Handoff, Link, Understanding
from dialogue.rasa import (
    MAX_IN_FLIGHT,
    EngineBusy,
    EngineUnavailable,
    EngineUnreachable,
    RasaClient,
    parse_messages,
)


def test_custom_payloads_join_the_text_before_them() -> None:
    replies = parse_messages(
        [
            {
                "recipient_id": "s",
                "text": "Ich verbinde Sie.",
                "buttons": [{"title": "Ja", "payload": "/affirm"}],
            },
            {"recipient_id": "s", "custom": {"links": [{"title": "Stadt", "url": "https://x"}]}},
            {
                "recipient_id": "s",
                "custom": {"handoff": {"reason": "user_request", "department": "standesamt"}},
            },
            {"recipient_id": "s", "text": "Auf Wiederhören."},
            {"recipient_id": "s", "custom": {"hangup": True}},
        ]
    )
    assert replies == (
        BotReply(
            text="Ich verbinde Sie.",
            buttons=(Button("Ja", "/affirm"),),
            links=(Link("Stadt", "https://x"),),
            handoff=Handoff("user_request", "standesamt"),
        ),
        BotReply(text="Auf Wiederhören.", hangup=True),
    )


def test_malformed_messages_are_skipped_not_fatal() -> None:
    replies = parse_messages(
        ["junk", {"text": ""}, {"custom": "x"}, {"text": "ok", "buttons": [{"title": "t"}]}]
    )
    assert replies == (BotReply(text="ok"),)


def test_a_custom_payload_without_text_makes_its_own_reply() -> None:
    assert parse_messages([{"custom": {"handoff": {}}}]) == (
        BotReply(handoff=Handoff("unspecified")),
    )


async def test_client_posts_to_the_channel_webhook_and_reads_nlu() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={
                "messages": [{"text": "Hallo"}],
                "nlu": {"intent": "greet", "confidence": 0.98},
            },
        )

    client = RasaClient("http://rasa", token="sh4red-t0ken", transport=httpx.MockTransport(handler))
    answer = await client.send("s1", Channel.VOICE, "hallo")
    await client.aclose()
    assert seen[0].url.path == "/webhooks/voice/webhook"
    assert seen[0].headers["authorization"] == "Bearer sh4red-t0ken"  # the channels need it
    assert json.loads(seen[0].content) == {"sender": "s1", "message": "hallo"}
    assert answer.replies == (BotReply(text="Hallo"),)
    assert answer.understanding == Understanding("greet", 0.98)


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(500, text="boom"),
        httpx.Response(200, text="not json"),
        httpx.Response(200, json=["messages"]),
        httpx.Response(200, json={"nlu": {}}),
    ],
)
async def test_bad_answers_make_the_engine_unavailable(response: httpx.Response) -> None:
    client = RasaClient(
        "http://rasa", token="sh4red-t0ken", transport=httpx.MockTransport(lambda _: response)
    )
    with pytest.raises(EngineUnavailable):
        await client.send("s1", Channel.WEBCHAT, "hallo")
    await client.aclose()


async def test_connection_errors_and_timeouts_make_the_engine_unavailable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    for handler in (refuse, slow):
        client = RasaClient(
            "http://rasa", token="sh4red-t0ken", transport=httpx.MockTransport(handler)
        )
        with pytest.raises(EngineUnavailable):
            await client.send("s1", Channel.WEBCHAT, "hallo")
        await client.aclose()


async def test_only_a_request_that_never_left_is_unreachable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    def connect_slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("no answer to SYN", request=request)

    def read_slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    for handler, unreachable in ((refuse, True), (connect_slow, True), (read_slow, False)):
        client = RasaClient("http://rasa", token="t", transport=httpx.MockTransport(handler))
        with pytest.raises(EngineUnavailable) as failure:
            await client.send("s1", Channel.WEBCHAT, "hallo")
        assert isinstance(failure.value, EngineUnreachable) is unreachable
        with pytest.raises(EngineUnavailable) as failure:
            await client.execute("s1", "utter_greet")
        assert isinstance(failure.value, EngineUnreachable) is unreachable
        await client.aclose()


class HeldRasa:
    """A transport that holds every request until released and counts the open ones."""

    def __init__(self, *, stubborn: bool = False) -> None:
        self.open = 0
        self.most_open = 0
        self.seen = 0
        self.release = asyncio.Event()
        self.stubborn = stubborn  # holds its request past the client's timeout

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen += 1
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        while not self.release.is_set():
            try:
                await self.release.wait()
            except asyncio.CancelledError:
                if not self.stubborn:
                    raise
        self.open -= 1
        return httpx.Response(200, json={"messages": [{"text": "Guten Tag."}]})


def one_slot(rasa: HeldRasa, *, timeout_s: float) -> RasaClient:
    """A client with one request slot on `rasa`."""
    return RasaClient(
        "http://rasa",
        token="t",
        timeout_s=timeout_s,
        max_in_flight=1,
        transport=httpx.MockTransport(rasa),
    )


def test_eight_requests_in_flight_by_default_and_the_bound_is_checked() -> None:
    assert MAX_IN_FLIGHT == 8
    for bad in (0, 65):
        with pytest.raises(ValueError, match="max_in_flight"):
            RasaClient("http://rasa", token="t", max_in_flight=bad)
    for good in (1, 64):
        RasaClient("http://rasa", token="t", max_in_flight=good)


@pytest.mark.parametrize("limit", [1, 3])
async def test_at_most_max_in_flight_requests_are_open_and_the_rest_wait_their_turn(
    limit: int,
) -> None:
    rasa = HeldRasa()
    client = RasaClient(
        "http://rasa", token="t", max_in_flight=limit, transport=httpx.MockTransport(rasa)
    )
    turns = [asyncio.create_task(client.send(f"s{n}", Channel.WEBCHAT, "hallo")) for n in range(10)]
    for _ in range(20):
        await asyncio.sleep(0)
    assert (rasa.seen, rasa.open) == (limit, limit)  # the others never reached Rasa
    rasa.release.set()
    answers = await asyncio.gather(*turns)
    assert [a.replies[0].text for a in answers] == ["Guten Tag."] * 10
    assert (rasa.seen, rasa.most_open) == (10, limit)
    await client.aclose()


async def test_a_request_without_a_free_slot_for_the_whole_timeout_is_busy_not_unreachable() -> (
    None
):
    rasa = HeldRasa(stubborn=True)
    client = one_slot(rasa, timeout_s=0.05)
    first = asyncio.create_task(client.send("s1", Channel.WEBCHAT, "hallo"))
    await asyncio.sleep(0)
    for call in (
        client.send("s2", Channel.WEBCHAT, "hallo"),
        client.execute("s2", "utter_greet"),
    ):
        with pytest.raises(EngineBusy, match=r"Rasa busy: no request slot free in 0\.05 s"):
            await call
    assert rasa.seen == 1  # neither was sent, so neither can have been processed
    assert not issubclass(EngineBusy, EngineUnreachable)  # Rasa is up: no failover
    rasa.release.set()
    assert (await first).replies[0].text == "Guten Tag."
    # the slot is free again
    assert (await client.send("s3", Channel.WEBCHAT, "hallo")).replies[0].text == "Guten Tag."
    await client.aclose()


async def test_a_request_rasa_never_answers_ends_at_the_timeout_and_frees_its_slot() -> None:
    rasa = HeldRasa()
    client = one_slot(rasa, timeout_s=0.05)
    with pytest.raises(EngineUnavailable, match=r"^Rasa did not answer in 0\.05 s$") as failure:
        await client.send("s1", Channel.WEBCHAT, "hallo")
    assert not isinstance(failure.value, EngineBusy | EngineUnreachable)  # it was sent
    rasa.release.set()
    assert (await client.send("s2", Channel.WEBCHAT, "hallo")).replies[0].text == "Guten Tag."
    assert rasa.seen == 2
    await client.aclose()


async def test_an_http_error_status_is_unavailable_even_with_a_valid_body() -> None:
    answer = httpx.Response(503, json={"messages": [{"text": "Guten Tag."}]})
    client = RasaClient("http://rasa", token="t", transport=httpx.MockTransport(lambda _: answer))
    for call in (client.send("s1", Channel.WEBCHAT, "hallo"), client.execute("s1", "utter_x")):
        with pytest.raises(EngineUnavailable, match=r"^Rasa answered HTTP 503$"):
            await call
    await client.aclose()


def test_turn_and_connect_timeouts_default_to_10_and_2_s_and_are_bounded() -> None:
    client = RasaClient("http://rasa", token="t")
    assert client._http.timeout == httpx.Timeout(10.0, connect=2.0)
    short = RasaClient("http://rasa", token="t", timeout_s=1.5)
    assert short._http.timeout == httpx.Timeout(1.5, connect=1.5)  # connect never longer
    for bad in (0, -1, 120.01):
        with pytest.raises(ValueError, match=r"timeout_s must be in \(0, 120\]"):
            RasaClient("http://rasa", token="t", timeout_s=bad)
    assert RasaClient("http://rasa", token="t", timeout_s=120)._timeout_s == 120
    assert RasaClient("http://rasa", token="t", timeout_s=0.001)._timeout_s == 0.001
