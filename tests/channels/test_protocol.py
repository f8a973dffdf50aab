"""The web chat protocol: every message round-trips; every bad frame has its error code."""

from __future__ import annotations

import json

import pytest

from channels.protocol import (
    ERROR_TEXT,
    MAX_DEPTH,
    MAX_INT_DIGITS,
    Ack,
    AskHuman,
    BotLine,
    Choose,
    ClientMessage,
    Ended,
    EndSession,
    Error,
    ErrorCode,
    HandoffState,
    HandoffStatus,
    Hello,
    Ping,
    Pong,
    ProtocolError,
    SendText,
    ServerMessage,
    Typing,
    UserLine,
    Welcome,
    encode_client,
    encode_server,
    parse_client,
    parse_server,
)
from dialogue.messages import Button, Link

CLIENT_MESSAGES: list[ClientMessage] = [
    Hello(),
    Hello(token="abc-DEF_123"),
    SendText("m1", "Wann hat das Bürgerbüro geöffnet?"),
    SendText("m2", '<img src=x onerror=alert(1)> "quotes" \\ ü € 😀'),
    Choose("m3", "/human_handoff", "Mit einem Menschen sprechen"),
    AskHuman("m4"),
    EndSession(),
    Ping(),
]

BOT = BotLine(
    "Hier entlang:",
    (Button("Ja", "/affirm"), Button("Nein", "/deny")),
    (Link("Formular", "https://musterstadt.de/formular"),),
)
SERVER_MESSAGES: list[ServerMessage] = [
    Welcome(token="t" * 32, resumed=False),
    Welcome(
        token="t" * 32,
        resumed=True,
        history=(
            UserLine("Hallo"),
            BOT,
            HandoffStatus(HandoffState.REQUESTED, "C-20261121-K7QX2M"),
        ),
    ),
    Welcome(  # history lines with their times
        token="t" * 32,
        resumed=True,
        history=(
            UserLine("Hallo", 1795000000.25),
            BotLine("Guten Tag", at=1795000001.0),
            HandoffStatus(HandoffState.REQUESTED, None, 0.0),
        ),
    ),
    Ack("m1"),
    UserLine("Hallo <b>"),
    BOT,
    BotLine("nur Text"),
    HandoffStatus(HandoffState.REQUESTED),
    Typing(True),
    Typing(False),
    Error(ErrorCode.RATE_LIMITED, ERROR_TEXT[ErrorCode.RATE_LIMITED], "m9"),
    Error(ErrorCode.BAD_JSON, ERROR_TEXT[ErrorCode.BAD_JSON]),
    Ended(),
    Ended("Das Gespräch wurde beendet."),
    Pong(),
]


@pytest.mark.parametrize("message", CLIENT_MESSAGES)
def test_client_messages_round_trip(message: ClientMessage) -> None:
    frame = encode_client(message)
    assert parse_client(frame) == message
    assert encode_client(parse_client(frame)) == frame
    assert parse_client(frame.encode("utf-8")) == message  # binary frames carry the same JSON


@pytest.mark.parametrize("message", SERVER_MESSAGES)
def test_server_messages_round_trip(message: ServerMessage) -> None:
    frame = encode_server(message)
    assert parse_server(frame) == message
    assert encode_server(parse_server(frame)) == frame


def test_a_line_time_is_a_number_of_seconds_and_absent_when_unknown() -> None:
    assert json.loads(encode_server(UserLine("a", 1795000000.5)))["at"] == 1795000000.5
    assert "at" not in json.loads(encode_server(UserLine("a")))
    assert parse_server('{"type": "user", "text": "a", "at": 99999999999}') == UserLine(
        "a", 99999999999.0
    )  # the largest accepted; one more is refused (test_bad_server_frames_are_refused)


def test_frames_are_compact_json_with_a_type() -> None:
    assert json.loads(encode_client(SendText("a", "b"))) == {"type": "text", "id": "a", "text": "b"}
    assert json.loads(encode_server(Welcome("tok", False))) == {
        "type": "welcome",
        "v": 1,
        "token": "tok",
        "resumed": False,
        "history": [],
    }
    assert "ü" in encode_server(UserLine("ü"))  # UTF-8, not \\u escapes


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", ErrorCode.BAD_JSON),
        ("", ErrorCode.BAD_JSON),
        (b"\xff\xfe", ErrorCode.BAD_JSON),
        ("[1, 2]", ErrorCode.BAD_FRAME),
        ('"text"', ErrorCode.BAD_FRAME),
        ("{}", ErrorCode.BAD_FRAME),
        ('{"type": 5}', ErrorCode.BAD_FRAME),
        ('{"type": "launch_rockets"}', ErrorCode.UNKNOWN_TYPE),
        ('{"type": "hello"}', ErrorCode.BAD_FRAME),
        ('{"type": "hello", "v": true}', ErrorCode.BAD_FRAME),
        ('{"type": "hello", "v": 2}', ErrorCode.UNSUPPORTED_VERSION),
        ('{"type": "hello", "v": 1, "token": 7}', ErrorCode.BAD_FRAME),
        ('{"type": "hello", "v": 1, "token": "' + "x" * 129 + '"}', ErrorCode.BAD_FRAME),
        ('{"type": "text", "text": "hi"}', ErrorCode.BAD_FRAME),
        ('{"type": "text", "id": "", "text": "hi"}', ErrorCode.BAD_FRAME),
        ('{"type": "text", "id": "' + "i" * 65 + '", "text": "hi"}', ErrorCode.BAD_FRAME),
        ('{"type": "text", "id": "m1", "text": null}', ErrorCode.BAD_FRAME),
        ('{"type": "text", "id": "m1", "text": ["a"]}', ErrorCode.BAD_FRAME),
        ('{"type": "choice", "id": "m1", "title": "Ja"}', ErrorCode.BAD_FRAME),
        (
            '{"type": "choice", "id": "m1", "payload": "' + "p" * 201 + '", "title": ""}',
            ErrorCode.BAD_FRAME,
        ),
        ('{"type": "human"}', ErrorCode.BAD_FRAME),
    ],
)
def test_bad_frames_have_their_error_code(frame: str | bytes, code: ErrorCode) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_client(frame)
    assert caught.value.code is code
    assert caught.value.text == ERROR_TEXT[code]


def test_oversize_frames_are_refused_before_parsing() -> None:
    text = "ä" * 5000  # 10,000 bytes in UTF-8, 5,000 characters
    frame = encode_client(SendText("m1", text))
    with pytest.raises(ProtocolError) as caught:
        parse_client(frame, max_bytes=8192)
    assert caught.value.code is ErrorCode.FRAME_TOO_LARGE
    assert parse_client(frame, max_bytes=16384) == SendText("m1", text)
    with pytest.raises(ProtocolError) as caught:
        parse_client(b"x" * 8193, max_bytes=8192)
    assert caught.value.code is ErrorCode.FRAME_TOO_LARGE


def test_every_error_code_has_german_text_for_the_widget() -> None:
    assert set(ERROR_TEXT) == set(ErrorCode)
    for code, text in ERROR_TEXT.items():
        assert text.endswith("."), code
        assert "Sie" in text or "Nachricht" in text or "Chat" in text, code


@pytest.mark.parametrize(
    "frame",
    [
        '{"type": "welcome", "v": 1, "token": "t", "resumed": "yes", "history": []}',
        '{"type": "welcome", "v": 1, "token": "t", "resumed": true, "history": [1]}',
        '{"type": "welcome", "v": 1, "token": "t", "resumed": true, "history": [{"type": "x"}]}',
        '{"type": "bot", "text": "a", "buttons": [{"title": "t"}]}',
        '{"type": "handoff", "state": "teleported"}',
        '{"type": "error", "code": "nope", "text": "x"}',
        '{"type": "typing", "on": 1}',
        '{"type": "user", "text": "a", "at": "12:00"}',
        '{"type": "user", "text": "a", "at": true}',
        '{"type": "bot", "text": "a", "buttons": [], "links": [], "at": -1}',
        '{"type": "handoff", "state": "requested", "case_id": null, "at": 100000000000}',
    ],
)
def test_bad_server_frames_are_refused(frame: str) -> None:
    with pytest.raises(ProtocolError):
        parse_server(frame)


def _nested(depth: int) -> str:
    return '{"type": "ping", "x": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"


def test_nesting_is_accepted_up_to_its_limit_and_refused_beyond() -> None:
    assert MAX_DEPTH == 8
    assert parse_client(_nested(MAX_DEPTH)) == Ping()
    with pytest.raises(ProtocolError) as refused:
        parse_client(_nested(MAX_DEPTH + 1))
    assert refused.value.code is ErrorCode.FRAME_TOO_COMPLEX
    assert refused.value.code.closes


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    text = "[" * 100 + '"{'
    assert parse_client(json.dumps({"type": "text", "id": "a", "text": text})) == SendText(
        "a", text
    )


@pytest.mark.parametrize("frame", ["[" * 5000, "[" * 5000 + "]" * 5000])
def test_a_deeply_nested_frame_is_refused_without_recursion(frame: str) -> None:
    with pytest.raises(ProtocolError) as refused:
        parse_client(frame, max_bytes=1 << 20)
    assert refused.value.code is ErrorCode.FRAME_TOO_COMPLEX


def test_integers_are_accepted_up_to_their_digit_limit_and_refused_beyond() -> None:
    assert MAX_INT_DIGITS == 20
    ok = '{"type": "hello", "v": 1, "n": ' + "9" * MAX_INT_DIGITS + "}"
    assert parse_client(ok) == Hello()
    for digits in ("9" * (MAX_INT_DIGITS + 1), "-" + "9" * (MAX_INT_DIGITS + 1), "7" * 5000):
        with pytest.raises(ProtocolError) as refused:
            parse_client('{"type": "hello", "v": 1, "n": ' + digits + "}")
        assert refused.value.code is ErrorCode.FRAME_TOO_COMPLEX


def test_only_hostile_or_refused_connections_close() -> None:
    closing = {code for code in ErrorCode if code.closes}
    assert closing == {
        ErrorCode.ORIGIN_FORBIDDEN,
        ErrorCode.TOO_MANY_CONNECTIONS,
        ErrorCode.FRAME_TOO_COMPLEX,
        ErrorCode.TOO_MANY_SESSIONS,
        ErrorCode.BUSY,
    }
    assert {code.value for code in closing} == {
        "origin_forbidden",
        "too_many_connections",
        "frame_too_complex",
        "too_many_sessions",
        "busy",
    }
