import json

import httpx
import pytest

from dialogue.messages import BotReply, Button, Channel, Handoff, Link, Understanding
from dialogue.rasa import EngineUnavailable, EngineUnreachable, RasaClient, parse_messages


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
