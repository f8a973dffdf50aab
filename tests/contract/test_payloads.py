"""Custom payloads: what the action server encodes, the gateway decodes, and back."""

from __future__ import annotations

import json

import pytest

from contract.language import Register
from contract.payloads import (
    HandoffReason,
    HandoffRequest,
    Hangup,
    Link,
    Links,
    Payload,
    PayloadError,
    decode,
    encode,
    without_handoff,
)
from dialogue.messages import BotReply, Handoff
from dialogue.rasa import parse_messages

EVERY_PAYLOAD: list[Payload] = [
    Links((Link("Standesamt: Kontakt", "https://example.org/standesamt?a=1&b=2"),)),
    Links(()),
    HandoffRequest(HandoffReason.USER_REQUEST, "standesamt"),
    HandoffRequest(HandoffReason.USER_REQUEST),
    HandoffRequest(HandoffReason.UNSPECIFIED, "bauamt"),
    HandoffRequest(HandoffReason.USER_REQUEST, "bauamt", Register.EN),
    HandoffRequest(HandoffReason.USER_REQUEST, None, Register.EINFACH),
    Hangup(),
]


@pytest.mark.parametrize("payload", EVERY_PAYLOAD, ids=repr)
def test_every_payload_survives_json_both_ways(payload: Payload) -> None:
    custom = json.loads(json.dumps(encode(payload)))  # as Rasa carries it
    assert decode(custom) == (payload,)
    assert encode(*decode(custom)) == custom


def test_wire_format_by_value() -> None:
    assert encode(
        Links((Link("Stadt", "https://x"),)),
        HandoffRequest(HandoffReason.USER_REQUEST, "standesamt"),
        Hangup(),
    ) == {
        "links": [{"title": "Stadt", "url": "https://x"}],
        "handoff": {"reason": "user_request", "department": "standesamt"},
        "hangup": True,
    }
    assert encode(HandoffRequest()) == {"handoff": {"reason": "unspecified"}}


def test_one_payload_type_per_message() -> None:
    with pytest.raises(ValueError, match="two hangup payloads"):
        encode(Hangup(), Hangup())


def test_what_the_action_side_sends_becomes_the_gateways_reply() -> None:
    """The messages ActionHumanHandoff emits on the web chat, as Rasa's collector returns them."""
    link = Link("Standesamt: Kontakt und Öffnungszeiten", "https://example.org/standesamt")
    handoff = HandoffRequest(HandoffReason.USER_REQUEST, "standesamt")
    messages: list[object] = [
        {"recipient_id": "s", "text": "Ich übergebe ...", "custom": encode(Links((link,)))},
        {"recipient_id": "s", "custom": encode(handoff)},
        {"recipient_id": "s", "text": "Auf Wiederhören."},
        {"recipient_id": "s", "custom": encode(Hangup())},
    ]
    assert parse_messages(messages) == (
        BotReply(
            text="Ich übergebe ...",
            links=(link,),
            handoff=Handoff("user_request", "standesamt"),
        ),
        BotReply(text="Auf Wiederhören.", hangup=True),
    )


def test_a_handoff_is_never_lost_to_a_bad_reason_or_department() -> None:
    assert decode({"handoff": {}}) == (HandoffRequest(HandoffReason.UNSPECIFIED, None),)
    assert decode({"handoff": {"reason": "whatever", "department": 7}}) == (
        HandoffRequest(HandoffReason.UNSPECIFIED, None),
    )
    assert decode({"handoff": {"reason": "user_request", "department": ""}}) == (
        HandoffRequest(HandoffReason.USER_REQUEST, None),
    )


def test_malformed_parts_are_skipped_and_unknown_keys_ignored() -> None:
    custom = {
        "links": [{"title": "ok", "url": "https://ok"}, {"title": "no url"}, "junk"],
        "hangup": "yes",  # only true hangs up
        "future": {"x": 1},
        "handoff": "not an object",
    }
    assert decode(custom) == (Links((Link("ok", "https://ok"),)),)
    assert decode({}) == ()


@pytest.mark.parametrize("custom", ["text", ["links"], None, 3])
def test_a_custom_payload_must_be_an_object(custom: object) -> None:
    with pytest.raises(PayloadError):
        decode(custom)
    assert parse_messages([{"text": "Hallo", "custom": custom}]) == (BotReply(text="Hallo"),)


def test_a_repeated_message_keeps_everything_but_its_handoff() -> None:
    custom = encode(Links((Link("a", "https://a"),)), HandoffRequest(), Hangup())
    assert without_handoff(custom) == encode(Links((Link("a", "https://a"),)), Hangup())
    assert without_handoff(encode(HandoffRequest())) is None


def test_the_handoff_reason_follows_the_bots_last_action() -> None:
    assert HandoffReason.after("utter_offer_handoff") is HandoffReason.FALLBACK
    assert HandoffReason.after("utter_complaint") is HandoffReason.COMPLAINT
    assert HandoffReason.after("utter_greet") is HandoffReason.USER_REQUEST
    assert HandoffReason.after(None) is HandoffReason.USER_REQUEST
    assert [r.value for r in HandoffReason] == [
        "user_request",
        "fallback",
        "complaint",
        "outside_hours",
        "unspecified",
    ]
    assert HandoffReason.of("fallback") is HandoffReason.FALLBACK


def test_a_handoff_carries_its_register_and_german_is_not_written() -> None:
    assert encode(HandoffRequest(HandoffReason.USER_REQUEST, "bauamt")) == {
        "handoff": {"reason": "user_request", "department": "bauamt"}
    }
    assert encode(HandoffRequest(HandoffReason.USER_REQUEST, None, Register.EN)) == {
        "handoff": {"reason": "user_request", "register": "en"}
    }
    (odd,) = decode({"handoff": {"reason": "user_request", "register": "klingonisch"}})
    assert odd == HandoffRequest(HandoffReason.USER_REQUEST, None, Register.DE)
    (reply,) = parse_messages(
        [{"text": "x", "custom": {"handoff": {"reason": "user_request", "register": "einfach"}}}]
    )
    assert reply.handoff == Handoff("user_request", None, register=Register.EINFACH)
