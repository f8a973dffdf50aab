from __future__ import annotations

import pytest

from telephony.sip.message import (
    AbsoluteUri,
    Headers,
    Message,
    NameAddr,
    Request,
    Response,
    SipParseError,
    SipUri,
    Via,
    canonical_name,
    make_response,
    parse,
    parse_uri,
    serialize,
    split_list,
    unescape,
)
from tests.telephony.sip_samples import (
    BYE,
    CANONICAL,
    COMPACT,
    INVITE,
    NOTIFY,
    OK,
    RINGING,
    SDP,
    wire,
)


def without_length(message: Message) -> tuple[object, ...]:
    """The message's content with Content-Length left out (serialize sets it from the body)."""
    fields = [(n, v) for n, v in message.headers if canonical_name(n) != "content-length"]
    if isinstance(message, Request):
        start: tuple[object, ...] = (message.method, message.uri, message.version)
    else:
        start = (message.status, message.reason, message.version)
    return (*start, fields, message.body)


def assert_structural_round_trip(message: Message) -> None:
    again = parse(serialize(message))
    assert type(again) is type(message)
    assert without_length(again) == without_length(message)


# --- round trips ----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CANONICAL))
def test_canonical_messages_serialise_to_the_same_bytes(name: str) -> None:
    data = CANONICAL[name]
    message = parse(data)
    assert serialize(message) == data
    assert bytes(message) == data
    assert parse(serialize(message)) == message


def test_invite_fields() -> None:
    message = parse(INVITE)
    assert isinstance(message, Request)
    assert message.method == "INVITE"
    assert message.uri == SipUri("rathaus.example.de", user="hotline")
    assert message.cseq == (314159, "INVITE")
    assert message.call_id == "a84b4c76e66710@pbx.example.de"
    assert message.from_.display == '"Anna Müller"'
    assert message.from_.tag == "1928301774"
    assert message.to.tag is None
    assert message.top_via == Via(
        "UDP", "pbx.example.de", 5060, (("branch", "z9hG4bK776asdhds"), ("rport", None))
    )
    assert message.top_via.branch == "z9hG4bK776asdhds"
    assert message.top_via.rport == ""
    assert message.body == SDP


def test_response_fields() -> None:
    message = parse(OK)
    assert isinstance(message, Response)
    assert (message.status, message.reason) == (200, "OK")
    assert message.top_via.received == "192.0.2.20"
    assert message.to.tag == "a6c85cf"
    contact = NameAddr.parse(message.headers.get_all("contact")[0])
    assert isinstance(contact.uri, SipUri)
    assert contact.uri.param("transport") == "udp"


def test_built_message_round_trips_structurally() -> None:
    headers = Headers()
    headers.add("Via", "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKbuilt;rport")
    headers.add("From", "<sip:hotline@rathaus.example.de>;tag=abc")
    headers.add("To", '"Bürgerbüro" <sip:buero@pbx.example.de>')
    headers.add("Call-ID", "built-1@192.0.2.10")
    headers.add("CSeq", "1 INVITE")
    headers.add("Content-Type", "application/sdp")
    request = Request("INVITE", SipUri("pbx.example.de", user="buero", port=5062), headers, SDP)
    data = serialize(request)
    assert data.endswith(b"Content-Length: %d\r\n\r\n" % len(SDP) + SDP)
    assert_structural_round_trip(request)


def test_serialize_sets_content_length_from_the_body() -> None:
    message = parse(BYE)
    message.body = b"hello"
    assert b"Content-Length: 5\r\n" in serialize(message)
    assert parse(serialize(message)).body == b"hello"


# --- header names and values -----------------------------------------------------------


def test_compact_forms_are_found_under_their_long_names() -> None:
    message = parse(COMPACT)
    assert message.headers.get("Via") == "SIP/2.0/TCP [2001:db8::20]:5061;branch=z9hG4bKcompact"
    assert message.headers.get("from") == "<sip:monitor@[2001:db8::20]>;tag=77"
    assert message.call_id == "compact-1@2001:db8::20"
    assert message.headers.get_all("Supported") == ["timer", "replaces"]
    assert message.headers.get("content-length") == "0"
    assert canonical_name("L") == "content-length"
    assert canonical_name("Content-Length") == "content-length"


def test_header_names_are_case_insensitive_and_keep_their_spelling() -> None:
    data = BYE.replace(b"Call-ID:", b"cAlL-iD:").replace(b"CSeq:", b"cseq:")
    message = parse(data)
    assert message.call_id == "a84b4c76e66710@pbx.example.de"
    assert message.cseq == (231, "BYE")
    assert "CALL-ID" in message.headers
    assert serialize(message) == data


def test_folded_header_lines_are_unfolded() -> None:
    data = BYE.replace(b"Max-Forwards: 70", b"Subject: Termin\r\n  im\r\n\tRathaus")
    message = parse(data)
    assert message.headers.get("subject") == "Termin im Rathaus"
    assert_structural_round_trip(message)


def test_repeated_and_comma_separated_headers_keep_their_order() -> None:
    message = parse(NOTIFY)
    assert [via.host for via in message.vias] == [
        "pbx.example.de",
        "edge.example.de",
        "192.0.2.99",
    ]
    assert message.headers.count("via") == 2
    assert message.headers.get("via") == "SIP/2.0/UDP pbx.example.de;branch=z9hG4bKnotify1"


def test_many_header_fields() -> None:
    extra = [f"X-Test-{i}: value {i}" for i in range(150)]
    lines = BYE.decode().split("\r\n")[:-2]
    data = wire(*lines[:-1], *extra, lines[-1])
    message = parse(data)
    assert message.headers.get("x-test-149") == "value 149"
    assert serialize(message) == data
    too_many = wire(*lines[:-1], *[f"X-{i}: v" for i in range(250)], lines[-1])
    with pytest.raises(SipParseError) as caught:
        parse(too_many)
    assert caught.value.status == 400
    assert isinstance(caught.value.partial, Request)


def test_split_list_respects_quotes_and_angle_brackets() -> None:
    value = '"Amt, Bürger" <sip:a@b;x=1,2>;q=0.5, <sip:c@d>, sip:e@f'
    assert split_list(value) == ['"Amt, Bürger" <sip:a@b;x=1,2>;q=0.5', "<sip:c@d>", "sip:e@f"]


def test_headers_editing() -> None:
    headers = parse(NOTIFY).headers.copy()
    headers.set("v", "SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKone")
    assert headers.count("via") == 1
    assert headers.fields[0] == ("v", "SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKone")
    headers.remove("EVENT")
    assert "event" not in headers
    headers.add("Event", "refer")
    assert headers.get_all("event") == ["refer"]


# --- URIs, addresses, Via ------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "sip:hotline@rathaus.example.de",
        "sips:alice:secret@example.com:5061;transport=tls;lr",
        "sip:+4930123456;phone-context=example.de@pbx.example.de;user=phone",
        "sip:[2001:db8::1]",
        "sip:user@[2001:db8::1]:5070;maddr=[2001:db8::2]",
        "sip:%61lice@example.com;%6C%72",
        "sip:user@example.com?Subject=hello&Priority=urgent",
        "sip:user;par=u%40example.net@example.com",
        "sip:192.0.2.1:5060",
    ],
)
def test_sip_uris_round_trip(text: str) -> None:
    uri = SipUri.parse(text)
    assert str(uri) == text
    assert SipUri.parse(str(uri)) == uri


def test_uri_parts() -> None:
    uri = SipUri.parse("sips:alice:secret@[2001:db8::1]:5061;transport=tls;lr?Subject=x")
    assert uri.scheme == "sips"
    assert (uri.user, uri.password, uri.host, uri.port) == (
        "alice",
        "secret",
        "[2001:db8::1]",
        5061,
    )
    assert uri.param("TRANSPORT") == "tls"
    assert uri.param("lr") == ""
    assert uri.param("maddr") is None
    assert uri.headers == "Subject=x"
    assert str(uri.with_params(transport="udp")).endswith(";lr;transport=udp?Subject=x")


def test_escaped_user_is_kept_and_can_be_unescaped() -> None:
    uri = SipUri.parse("sip:%2B4930%20123@example.com")
    assert uri.user == "%2B4930%20123"
    assert unescape(uri.user) == "+4930 123"
    assert unescape("plain") == "plain"


def test_other_schemes_are_kept_verbatim() -> None:
    assert parse_uri("tel:+49-30-123456") == AbsoluteUri("tel", "+49-30-123456")
    assert str(parse_uri("urn:service:sos")) == "urn:service:sos"
    with pytest.raises(SipParseError) as caught:
        SipUri.parse("tel:+4930")
    assert caught.value.status == 416


@pytest.mark.parametrize(
    "text",
    [
        "sip:",
        "sip:user@",
        "sip:user@host:",
        "sip:user@host:0",
        "sip:user@host:65536",
        "sip:user@host:5²",
        "sip:user@[2001:db8::1",
        "sip:user@[2001:db8::1]x",
        "sip:@host",
        "sip:user@ho st",
        "sip:us%G1er@host",
        "sip:user@host;;lr",
        "sip:user@host;=x",
        "nocolon",
        "1abc:rest",
    ],
)
def test_malformed_uris_raise(text: str) -> None:
    with pytest.raises(SipParseError):
        parse_uri(text)


@pytest.mark.parametrize(
    "text",
    [
        '"Anna Müller" <sip:+4930123456@pbx.example.de>;tag=1928301774',
        '"Amt \\"Bürgerbüro\\", Zimmer 3" <sip:buero@example.de>',
        "<sip:hotline@rathaus.example.de>",
        "Rathaus <sip:hotline@[2001:db8::1]:5070;transport=tcp>;expires=60;q=0.5",
        "<tel:+4930123456>;tag=x",
    ],
)
def test_name_addrs_round_trip(text: str) -> None:
    address = NameAddr.parse(text)
    assert str(address) == text
    assert NameAddr.parse(str(address)) == address


def test_quoted_display_name_with_escapes_and_comma() -> None:
    address = NameAddr.parse('"Amt \\"Bürgerbüro\\", Zimmer 3" <sip:buero@example.de>;tag=9')
    assert address.display == '"Amt \\"Bürgerbüro\\", Zimmer 3"'
    assert address.tag == "9"
    assert address.with_tag("10").tag == "10"


def test_addr_spec_parameters_belong_to_the_header() -> None:
    address = NameAddr.parse("sip:caller@example.net;tag=242etr")
    assert address.uri == SipUri("example.net", user="caller")
    assert address.tag == "242etr"
    assert str(address) == "<sip:caller@example.net>;tag=242etr"


@pytest.mark.parametrize(
    "text",
    [
        '"unterminated <sip:a@b>',
        "Bell, Alexander <sip:a@b>",
        "<sip:a@b",
        "<sip:a@b>;;tag=1",
        "<sip:a@b> junk;tag=1",
        "sip:a@b?Route=x",
        '"Display" sip:a@b',
        "",
    ],
)
def test_malformed_name_addrs_raise(text: str) -> None:
    with pytest.raises(SipParseError):
        NameAddr.parse(text)


@pytest.mark.parametrize(
    "text",
    [
        "SIP/2.0/UDP pbx.example.de:5060;branch=z9hG4bK776asdhds;rport",
        "SIP/2.0/TCP [2001:db8::20]:5061;branch=z9hG4bKx;received=2001:db8::99",
        "SIP/2.0/TLS host.example.com;branch=z9hG4bKx;ttl=1;maddr=239.255.255.1",
        "SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKx",
    ],
)
def test_vias_round_trip(text: str) -> None:
    via = Via.parse(text)
    assert str(via) == text
    assert Via.parse(str(via)) == via


def test_via_tolerates_spaces_and_lower_case_transport() -> None:
    via = Via.parse("SIP / 2.0 / udp host.example.com:5060 ;branch=z9hG4bKx")
    assert (via.transport, via.host, via.port, via.branch) == (
        "UDP",
        "host.example.com",
        5060,
        "z9hG4bKx",
    )
    assert str(via.with_params(received="192.0.2.1")) == (
        "SIP/2.0/UDP host.example.com:5060;branch=z9hG4bKx;received=192.0.2.1"
    )


@pytest.mark.parametrize(
    "text", ["SIP/2.0/UDP", "SIP/3.0/UDP host", "SIP/2.0/UDP host;;", "HTTP/1.1 host"]
)
def test_malformed_vias_raise(text: str) -> None:
    with pytest.raises(SipParseError):
        Via.parse(text)


# --- Content-Length and framing --------------------------------------------------------


def test_udp_without_content_length_takes_the_rest_as_body() -> None:
    data = INVITE.replace(f"Content-Length: {len(SDP)}\r\n".encode(), b"")
    message = parse(data)
    assert message.body == SDP
    assert_structural_round_trip(message)


def test_udp_with_a_smaller_content_length_truncates_the_body() -> None:
    message = parse(INVITE + b"trailing garbage")
    assert message.body == SDP
    short = parse(INVITE.replace(f"Content-Length: {len(SDP)}".encode(), b"Content-Length: 3"))
    assert short.body == b"v=0"


def test_udp_with_a_larger_content_length_is_a_bad_request() -> None:
    data = INVITE.replace(f"Content-Length: {len(SDP)}".encode(), b"Content-Length: 9999")
    with pytest.raises(SipParseError) as caught:
        parse(data)
    assert caught.value.status == 400
    assert isinstance(caught.value.partial, Request)


@pytest.mark.parametrize("value", ["-1", "abc", "1 2", "²", "1" * 5000, "0x10"])
def test_malformed_content_length_is_a_bad_request(value: str) -> None:
    data = BYE.replace(b"Content-Length: 0", f"Content-Length: {value}".encode())
    with pytest.raises(SipParseError) as caught:
        parse(data)
    assert caught.value.status == 400


def test_repeated_content_length_is_a_bad_request() -> None:
    data = BYE.replace(b"Content-Length: 0", b"Content-Length: 0\r\nl: 0")
    with pytest.raises(SipParseError) as caught:
        parse(data)
    assert caught.value.status == 400


def test_stream_mode_needs_an_exact_content_length() -> None:
    assert parse(INVITE, stream=True).body == SDP
    missing = INVITE.replace(f"Content-Length: {len(SDP)}\r\n".encode(), b"")
    for data in (missing, INVITE + b"x", INVITE[:-1]):
        with pytest.raises(SipParseError) as caught:
            parse(data, stream=True)
        assert caught.value.status == 400


def test_lf_only_line_ends_are_accepted() -> None:
    message = parse(BYE.replace(b"\r\n", b"\n"))
    assert message.cseq == (231, "BYE")
    assert serialize(message) == BYE


def test_leading_crlf_keepalives_are_skipped() -> None:
    assert parse(b"\r\n\r\n" + BYE).cseq == (231, "BYE")
    with pytest.raises(SipParseError) as caught:
        parse(b"\r\n\r\n")
    assert caught.value.status is None


# --- size limits and malformed input ---------------------------------------------------


def test_oversized_request_gets_513_with_its_head() -> None:
    data = INVITE + b"a" * 70000
    with pytest.raises(SipParseError) as caught:
        parse(data)
    assert caught.value.status == 513
    assert isinstance(caught.value.partial, Request)
    assert caught.value.partial.call_id == "a84b4c76e66710@pbx.example.de"
    with pytest.raises(SipParseError) as caught:
        parse(BYE, max_bytes=100)
    assert caught.value.status == 513


def test_oversized_response_is_dropped() -> None:
    with pytest.raises(SipParseError) as caught:
        parse(OK, max_bytes=100)
    assert caught.value.partial is None


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (BYE.replace(b"SIP/2.0\r\n", b"SIP/3.0\r\n", 1), 505),
        (BYE.replace(b"SIP/2.0\r\n", b"SIP/2.0 \r\n", 1), 400),
        (BYE.replace(b"BYE sip:", b"BYE  sip:", 1), 400),
        (BYE.replace(b"Max-Forwards: 70", b"Max-Forwards 70"), 400),
        (BYE.replace(b"Max-Forwards: 70", b"Bad Name: 70"), 400),
        (BYE.replace(b"CSeq: 231 BYE", b"CSeq: 231 INVITE"), 400),
        (BYE.replace(b"CSeq: 231 BYE", b"CSeq: 2147483648 BYE"), 400),
        (BYE.replace(b"CSeq: 231 BYE", b"CSeq: BYE"), 400),
        (BYE.replace(b"Call-ID: a84b4c76e66710@pbx.example.de\r\n", b""), 400),
        (BYE.replace(b"Call-ID: a84b4c76e66710@pbx.example.de", b"Call-ID: "), 400),
        (BYE.replace(b"Max-Forwards: 70", b"To: <sip:x@y>"), 400),
        (BYE.replace(b"Max-Forwards: 70", b"Subject: bad\rvalue"), 400),
        (BYE.replace(b"Max-Forwards: 70", b"Contact: <sip:a@b>;;"), 400),
        (BYE.replace(b"Max-Forwards: 70", "Subject: caf\u00e9".encode("latin-1")), 400),
        (BYE.replace(b"sip:+4930123456@192.0.2.20:5060 SIP", b"<sip:x@y> SIP", 1), 400),
        (BYE.replace(b"SIP/2.0/TCP 192.0.2.10:5060", b"SIP/2.0/TCP"), 400),
        (OK.replace(b"SIP/2.0 200 OK", b"SIP/2.0 2000 OK"), None),
        (OK.replace(b"SIP/2.0 200 OK", b"SIP/2.0 099 Low"), None),
        (OK.replace(b"SIP/2.0 200 OK", b"SIP/3.0 200 OK"), None),
        (OK.replace(b"CSeq: 314159 INVITE\r\n", b""), None),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", None),
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"", None),
    ],
)
def test_malformed_messages_raise_with_the_status_to_answer(
    data: bytes, status: int | None
) -> None:
    with pytest.raises(SipParseError) as caught:
        parse(data)
    assert caught.value.status == status
    if status is not None:
        assert isinstance(caught.value.partial, Request)


def test_request_line_error_keeps_the_headers_to_answer_with() -> None:
    with pytest.raises(SipParseError) as caught:
        parse(BYE.replace(b"BYE sip:", b"BYE  sip:", 1))
    partial = caught.value.partial
    assert isinstance(partial, Request)
    assert partial.method == "BYE"
    assert partial.call_id == "a84b4c76e66710@pbx.example.de"
    assert partial.top_via.branch == "z9hG4bKnashds7"


@pytest.mark.parametrize(
    "data",
    [
        INVITE.replace(b'"Anna M\xc3\xbcller" <sip:', b"Anna, M <sip:"),
        INVITE.replace(b"<sip:+4930123456@192.0.2.20:5060>", b"sip:+4930123456@192.0.2.20?x"),
        INVITE.replace(b"INVITE sip:hotline", b"INVITE  sip:+4930123456-hotline"),
        INVITE.replace(b"@pbx.example.de>;tag", b"@pbx.example.de>;;tag"),
        INVITE.replace(b"Max-Forwards: 70", b"+4930123456 Anna M"),
    ],
)
def test_error_reasons_quote_no_message_content(data: bytes) -> None:
    with pytest.raises(SipParseError) as caught:
        parse(data)
    assert "4930123456" not in str(caught.value)
    assert "Anna" not in str(caught.value)


def test_version_is_case_insensitive_and_kept() -> None:
    data = BYE.replace(b"SIP/2.0\r\n", b"sip/2.0\r\n", 1)
    assert serialize(parse(data)) == data


# --- responses -------------------------------------------------------------------------


def test_make_response_copies_the_transaction_headers() -> None:
    request = parse(INVITE)
    assert isinstance(request, Request)
    response = make_response(request, 180, to_tag="a6c85cf")
    assert serialize(response) == RINGING
    assert make_response(request, 486).reason == "Busy Here"
    assert make_response(request, 299).reason == "Unknown"


def test_make_response_keeps_an_existing_to_tag_and_adds_extras() -> None:
    request = parse(BYE)
    assert isinstance(request, Request)
    response = make_response(request, 200, to_tag="other", extra=[("Allow", "INVITE, BYE")])
    assert response.to.tag == "1928301774"
    assert response.headers.get("allow") == "INVITE, BYE"
    assert_structural_round_trip(response)


def test_trying_drops_record_route_and_echoes_timestamp() -> None:
    data = INVITE.replace(b"Max-Forwards: 70", b"Record-Route: <sip:p;lr>\r\nTimestamp: 54")
    request = parse(data)
    assert isinstance(request, Request)
    trying = make_response(request, 100)
    assert "record-route" not in trying.headers
    assert trying.headers.get("timestamp") == "54"
    assert make_response(request, 180).headers.get("record-route") == "<sip:p;lr>"
