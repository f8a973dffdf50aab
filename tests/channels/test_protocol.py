"""The web chat protocol: every message round-trips; every bad frame has its error code."""

from __future__ import annotations

import json

import pytest

from channels.protocol import (
    ERROR_TEXT,
    MAX_DEPTH,
    MAX_ID_CHARS,
    MAX_INT_DIGITS,
    MAX_LINE_CHARS,
    MAX_PAYLOAD_CHARS,
    MAX_SERVER_FRAME_BYTES,
    Ack,
    AskHuman,
    BotLine,
    Choose,
    CitizenTyping,
    ClientMessage,
    CloseCode,
    Ended,
    EndSession,
    Error,
    ErrorCode,
    HandoffState,
    HandoffStatus,
    Hello,
    KeyPress,
    Ping,
    Pong,
    ProtocolError,
    SendText,
    ServerMessage,
    StaffLine,
    Typing,
    UserLine,
    Welcome,
    adapt,
    downgrade,
    encode_client,
    encode_server,
    parse_client,
    parse_server,
)
from contract.language import Register
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
    Hello(token="abc", version=1),
    CitizenTyping(True),
    CitizenTyping(False),
    KeyPress("1"),
    KeyPress("#"),
    KeyPress("*"),
    Hello(register=Register.EN),
    Hello(token="abc", register=Register.DE),
    Hello(register=Register.EINFACH),
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
    StaffLine("Guten Tag, hier <b>Erika</b>", "Erika Muster"),
    StaffLine("", "E", 1795000002.0),
    HandoffStatus(HandoffState.TAKEN, "C-20261121-K7QX2M", 1.0, "Erika Muster"),
    HandoffStatus(HandoffState.RETURNED),
    Typing(True, "Erika Muster"),
    Welcome(
        token="t" * 32,
        resumed=True,
        history=(StaffLine("Hallo", "Erika", 2.0), HandoffStatus(HandoffState.TAKEN, name="E")),
    ),
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
        "v": 2,
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
        ('{"type": "hello", "v": 3}', ErrorCode.UNSUPPORTED_VERSION),
        ('{"type": "hello", "v": 0}', ErrorCode.UNSUPPORTED_VERSION),
        ('{"type": "typing"}', ErrorCode.BAD_FRAME),
        ('{"type": "typing", "on": 1}', ErrorCode.BAD_FRAME),
        ('{"type": "key"}', ErrorCode.BAD_FRAME),
        ('{"type": "key", "key": ""}', ErrorCode.BAD_FRAME),
        ('{"type": "key", "key": "12"}', ErrorCode.BAD_FRAME),
        ('{"type": "key", "key": "A"}', ErrorCode.BAD_FRAME),
        ('{"type": "key", "key": 1}', ErrorCode.BAD_FRAME),
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
        '{"type": "staff", "text": "a"}',
        '{"type": "staff", "text": "a", "name": ""}',
        '{"type": "staff", "name": "E"}',
        '{"type": "staff", "text": "a", "name": "' + "n" * 81 + '"}',
        '{"type": "handoff", "state": "taken", "name": 7}',
        '{"type": "typing", "on": true, "name": 7}',
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
    assert parse_client(ok) == Hello(version=1)
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


# --- version 2 (live takeover) and version 1 widgets ---


def test_version_2_frames_by_value() -> None:
    assert json.loads(encode_server(StaffLine("Hallo", "Erika", 5.0))) == {
        "type": "staff",
        "text": "Hallo",
        "name": "Erika",
        "at": 5.0,
    }
    assert json.loads(encode_server(HandoffStatus(HandoffState.TAKEN, "C-1", name="E"))) == {
        "type": "handoff",
        "state": "taken",
        "case_id": "C-1",
        "name": "E",
    }
    assert json.loads(encode_server(HandoffStatus(HandoffState.RETURNED))) == {
        "type": "handoff",
        "state": "returned",
        "case_id": None,
    }
    assert json.loads(encode_server(Typing(True, "E"))) == {
        "type": "typing",
        "on": True,
        "name": "E",
    }
    assert json.loads(encode_server(Typing(False))) == {"type": "typing", "on": False}
    assert json.loads(encode_client(CitizenTyping(True))) == {"type": "typing", "on": True}
    assert parse_client('{"type": "hello", "v": 1}') == Hello(None, 1)
    assert parse_client('{"type": "hello", "v": 2}') == Hello(None, 2)


def test_a_display_name_of_80_characters_is_accepted_81_refused() -> None:
    frame = '{"type": "staff", "text": "a", "name": "' + "n" * 80 + '"}'
    assert parse_server(frame) == StaffLine("a", "n" * 80)
    with pytest.raises(ProtocolError) as caught:
        parse_server(frame.replace("n" * 80, "n" * 81))
    assert caught.value.code is ErrorCode.BAD_FRAME


def test_version_1_widgets_get_staff_lines_and_takeovers_as_bot_lines() -> None:
    assert downgrade(StaffLine("Hallo <b>", "Erika", 3.0)) == BotLine(
        "Erika (Stadtverwaltung): Hallo <b>", at=3.0
    )
    assert downgrade(HandoffStatus(HandoffState.TAKEN, "C-1", 4.0, "Erika")) == BotLine(
        "Sie schreiben jetzt mit Erika (Stadtverwaltung).", at=4.0
    )
    assert downgrade(HandoffStatus(HandoffState.TAKEN)) == BotLine(
        "Sie schreiben jetzt mit einer Mitarbeiterin (Stadtverwaltung)."
    )
    assert downgrade(HandoffStatus(HandoffState.RETURNED, None, 5.0)) == BotLine(
        "Sie schreiben wieder mit dem automatischen Assistenten.", at=5.0
    )
    requested = HandoffStatus(HandoffState.REQUESTED, "C-1", 6.0)
    assert downgrade(requested) == requested
    assert downgrade(Typing(True, "Erika")) == Typing(True)
    assert downgrade(Typing(False)) == Typing(False)
    assert downgrade(Pong()) == Pong()
    assert downgrade(UserLine("x")) == UserLine("x")
    welcome = Welcome("t", True, (StaffLine("a", "E"), UserLine("b"), requested))
    assert downgrade(welcome) == Welcome(
        "t", True, (BotLine("E (Stadtverwaltung): a"), UserLine("b"), requested), 1
    )


def test_adapt_passes_version_2_frames_and_rewrites_them_for_version_1() -> None:
    frame = encode_server(StaffLine("Hallo", "Erika"))
    assert adapt(frame, 2) is frame
    assert json.loads(adapt(frame, 1)) == {
        "type": "bot",
        "text": "Erika (Stadtverwaltung): Hallo",
        "buttons": [],
        "links": [],
    }
    welcome = encode_server(Welcome("t", False))
    assert json.loads(adapt(welcome, 1))["v"] == 1
    assert json.loads(adapt(welcome, 2))["v"] == 2
    bot = encode_server(BOT)
    assert adapt(bot, 1) == bot


# --- limits at N and N+1, wire constants by value ---


def refused(parse: object, frame: str, code: ErrorCode = ErrorCode.BAD_FRAME) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse(frame)  # type: ignore[operator]
    assert caught.value.code is code


def test_wire_constants() -> None:
    assert (MAX_ID_CHARS, MAX_PAYLOAD_CHARS) == (64, 200)
    assert (MAX_LINE_CHARS, MAX_SERVER_FRAME_BYTES) == (1 << 20, 1 << 24)
    assert (CloseCode.POLICY, CloseCode.IDLE, CloseCode.ENDED) == (1008, 4000, 4001)


def test_ids_payloads_titles_and_tokens_at_their_limits() -> None:
    ok_id = "i" * 64
    assert parse_client(encode_client(SendText(ok_id, "a"))) == SendText(ok_id, "a")
    refused(parse_client, encode_client(SendText(ok_id + "i", "a")))
    choice = Choose("m", "p" * 200, "t" * 200)
    assert parse_client(encode_client(choice)) == choice
    refused(parse_client, encode_client(Choose("m", "p" * 201, "t")))
    refused(parse_client, encode_client(Choose("m", "p", "t" * 201)))
    assert parse_client(encode_client(Choose("m", "p", ""))) == Choose("m", "p", "")
    assert parse_client(encode_client(SendText("m", ""))) == SendText("m", "")  # the endpoint
    token = "x" * 128  # refuses empty texts itself, with the message id
    assert parse_client(encode_client(Hello(token))) == Hello(token)
    welcome = Welcome(token, True)
    assert parse_server(encode_server(welcome)) == welcome
    refused(parse_server, encode_server(Welcome(token + "x", True)))
    error = Error(ErrorCode.BAD_JSON, "e" * 1000)
    assert parse_server(encode_server(error)) == error
    refused(parse_server, encode_server(Error(ErrorCode.BAD_JSON, "e" * 1001)))


def test_a_frame_of_exactly_the_size_limit_passes() -> None:
    def frame_of(size: int) -> str:
        head = '{"type":"ping","x":"'
        return head + "a" * (size - len(head) - 2) + '"}'

    assert parse_client(frame_of(8192)) == Ping()  # the default limit
    refused(parse_client, frame_of(8193), ErrorCode.FRAME_TOO_LARGE)
    assert parse_client(frame_of(100), max_bytes=100) == Ping()
    refused(lambda f: parse_client(f, max_bytes=100), frame_of(101), ErrorCode.FRAME_TOO_LARGE)


def test_frames_nested_exactly_to_the_limit_pass() -> None:
    nested = "[" * (MAX_DEPTH - 1) + "1" + "]" * (MAX_DEPTH - 1)
    assert parse_client('{"type": "ping", "x": ' + nested + "}") == Ping()
    refused(parse_client, '{"type": "ping", "x": [' + nested + "]}", ErrorCode.FRAME_TOO_COMPLEX)
    assert parse_client('{"type": "ping", "s": "[[[[[[[[[["}') == Ping()  # strings do not nest
    siblings = '{"type": "ping", "a": [1], "x": ' + "[" * 8 + "1" + "]" * 8 + "}"
    refused(parse_client, siblings, ErrorCode.FRAME_TOO_COMPLEX)  # a closed array counts out


def test_server_line_texts_may_be_empty_and_are_bounded() -> None:
    assert parse_server('{"type": "user", "text": ""}') == UserLine("")
    assert parse_server('{"type": "bot", "text": ""}') == BotLine("")
    at_limit = '{"type": "user", "text": "' + "a" * MAX_LINE_CHARS + '"}'
    assert parse_server(at_limit) == UserLine("a" * MAX_LINE_CHARS)
    refused(parse_server, at_limit.replace('"a', '"aa', 1))
    refused(parse_server, '{"type": "teleport"}', ErrorCode.UNKNOWN_TYPE)


def test_errors_carry_code_detail_and_the_citizens_text() -> None:
    plain = ProtocolError(ErrorCode.BAD_FRAME)
    detailed = ProtocolError(ErrorCode.BAD_FRAME, "'id' must be a string")
    assert (str(plain), plain.detail) == ("bad_frame", "")
    assert (str(detailed), detailed.detail) == ("bad_frame: 'id' must be a string", detailed.detail)
    assert detailed.detail == "'id' must be a string"
    assert Error.of(detailed, "m1") == Error(
        ErrorCode.BAD_FRAME, ERROR_TEXT[ErrorCode.BAD_FRAME], "m1"
    )
    assert Error.of(plain) == Error(ErrorCode.BAD_FRAME, ERROR_TEXT[ErrorCode.BAD_FRAME], None)


@pytest.mark.parametrize(
    ("frame", "register"),
    [
        ('{"type": "hello", "v": 2}', None),
        ('{"type": "hello", "v": 2, "language": "en"}', Register.EN),
        ('{"type": "hello", "v": 2, "language": "de"}', Register.DE),
        ('{"type": "hello", "v": 2, "einfach": true}', Register.EINFACH),
        ('{"type": "hello", "v": 2, "language": "de", "einfach": true}', Register.EINFACH),
        ('{"type": "hello", "v": 2, "language": "de", "einfach": false}', Register.DE),
        ('{"type": "hello", "v": 2, "language": null}', None),
    ],
)
def test_hello_carries_the_pages_language_preset(frame: str, register: Register | None) -> None:
    assert parse_client(frame) == Hello(version=2, register=register)


@pytest.mark.parametrize(
    "frame",
    [
        '{"type": "hello", "v": 2, "language": "fr"}',
        '{"type": "hello", "v": 2, "language": "EN"}',
        '{"type": "hello", "v": 2, "language": 1}',
        '{"type": "hello", "v": 2, "einfach": "true"}',
        '{"type": "hello", "v": 2, "language": "en", "einfach": true}',
    ],
)
def test_a_bad_language_preset_is_a_bad_frame(frame: str) -> None:
    with pytest.raises(ProtocolError) as refused:
        parse_client(frame)
    assert refused.value.code is ErrorCode.BAD_FRAME


def test_a_preset_is_written_as_language_and_einfach() -> None:
    assert '"language":"en"' in encode_client(Hello(register=Register.EN))
    assert '"language":"de","einfach":true' in encode_client(Hello(register=Register.EINFACH))
    assert "language" not in encode_client(Hello())
