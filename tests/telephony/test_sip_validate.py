from __future__ import annotations

import pytest

from telephony.sip.message import Request, SipParseError, parse
from telephony.sip.validate import error_response, screen, top_via_or_none
from tests.telephony.sip_samples import BYE, INVITE, OK

METHODS = frozenset({"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS"})
SUPPORTED = frozenset({"timer", "replaces"})


def request(data: bytes) -> Request:
    message = parse(data)
    assert isinstance(message, Request)
    return message


def check(data: bytes) -> int | None:
    response = screen(request(data), supported=SUPPORTED, methods=METHODS)
    return None if response is None else response.status


def with_method(method: str) -> bytes:
    return BYE.replace(b"BYE sip:", f"{method} sip:".encode()).replace(
        b"CSeq: 231 BYE", f"CSeq: 231 {method}".encode()
    )


def test_a_plain_invite_passes() -> None:
    assert check(INVITE) is None
    assert check(BYE) is None


def test_known_but_unhandled_method_gets_405_with_allow() -> None:
    response = screen(request(with_method("SUBSCRIBE")), supported=SUPPORTED, methods=METHODS)
    assert response is not None
    assert response.status == 405
    assert response.headers.get_all("allow") == ["ACK", "BYE", "CANCEL", "INVITE", "OPTIONS"]
    assert response.to.tag == "1928301774"  # the request's own To tag is kept


def test_unknown_method_gets_501() -> None:
    assert check(with_method("FROBNICATE")) == 501


def test_ack_never_gets_a_response() -> None:
    data = with_method("ACK").replace(b"Max-Forwards: 70", b"Require: nothing-known")
    assert check(data) is None
    assert screen(request(with_method("ACK")), supported=SUPPORTED, methods=frozenset()) is None


def test_non_sip_request_uri_gets_416() -> None:
    assert check(BYE.replace(b"BYE sip:+4930123456@192.0.2.20:5060", b"BYE tel:+4930123456")) == 416


def test_unknown_required_extension_gets_420_with_unsupported() -> None:
    data = INVITE.replace(b"Max-Forwards: 70", b"Require: timer, 100rel\r\nRequire: precondition")
    response = screen(request(data), supported=SUPPORTED, methods=METHODS)
    assert response is not None
    assert response.status == 420
    assert response.headers.get_all("unsupported") == ["100rel", "precondition"]
    assert response.to.tag  # a tag of ours on a final response (RFC 3261 8.2.6.2)
    assert check(INVITE.replace(b"Max-Forwards: 70", b"Require: TIMER")) is None


def test_cancel_ignores_require() -> None:
    assert check(with_method("CANCEL").replace(b"Max-Forwards: 70", b"Require: foo")) is None


def test_unknown_content_type_gets_415_with_accept() -> None:
    data = INVITE.replace(b"application/sdp", b"application/x-unknown")
    response = screen(request(data), supported=SUPPORTED, methods=METHODS)
    assert response is not None
    assert response.status == 415
    assert response.headers.get_all("accept") == ["application/sdp", "message/sipfrag"]
    types = frozenset({"application/x-unknown"})
    assert screen(request(data), supported=SUPPORTED, methods=METHODS, content_types=types) is None


def test_content_type_parameters_and_case_are_ignored() -> None:
    data = INVITE.replace(b"application/sdp", b"Application/SDP; charset=utf-8")
    assert check(data) is None


def test_unknown_content_encoding_gets_415_with_accept_encoding() -> None:
    response = screen(
        request(INVITE.replace(b"Max-Forwards: 70", b"Content-Encoding: gzip")),
        supported=SUPPORTED,
        methods=METHODS,
    )
    assert response is not None
    assert response.status == 415
    assert response.headers.get("accept-encoding") == "identity"
    assert check(INVITE.replace(b"Max-Forwards: 70", b"e: identity")) is None


def test_body_without_content_type_is_a_bad_request() -> None:
    assert check(INVITE.replace(b"Content-Type: application/sdp\r\n", b"")) == 400


def test_invite_whose_accept_excludes_sdp_gets_406() -> None:
    assert check(INVITE.replace(b"Max-Forwards: 70", b"Accept: text/plain")) == 406
    assert check(INVITE.replace(b"Max-Forwards: 70", b"Accept: text/plain, application/*")) is None
    assert check(INVITE.replace(b"Max-Forwards: 70", b"Accept: */*")) is None


def test_max_forwards_zero_is_answered_by_a_uas() -> None:
    # RFC 4475 3.3.11: an endpoint processes it; 483 is a proxy's answer (RFC 3261 16.3).
    assert check(INVITE.replace(b"Max-Forwards: 70", b"Max-Forwards: 0")) is None


def test_error_response_for_a_malformed_request() -> None:
    with pytest.raises(SipParseError) as caught:
        parse(BYE.replace(b"CSeq: 231 BYE", b"CSeq: 231 INVITE"))
    response = error_response(caught.value)
    assert response is not None
    assert (response.status, response.reason) == (400, "Bad Request")
    assert response.headers.get("via") == "SIP/2.0/TCP 192.0.2.10:5060;branch=z9hG4bKnashds7"
    assert response.cseq == (231, "INVITE")
    assert response.to.tag == "1928301774"


def test_error_response_for_an_oversized_request_is_513() -> None:
    with pytest.raises(SipParseError) as caught:
        parse(INVITE, max_bytes=len(INVITE) - 1)
    response = error_response(caught.value)
    assert response is not None
    assert response.status == 513
    assert response.body == b""


@pytest.mark.parametrize(
    "data",
    [
        OK.replace(b"CSeq: 314159 INVITE\r\n", b""),  # a response: never answered
        with_method("ACK").replace(b"CSeq: 231 ACK", b"CSeq: 1 BYE"),  # an ACK: never answered
        BYE.replace(b"Via: SIP/2.0/TCP 192.0.2.10:5060;branch=z9hG4bKnashds7\r\n", b""),
        b"\x00\x01garbage",
        b"\r\n\r\n",
    ],
)
def test_no_error_response_when_none_is_possible(data: bytes) -> None:
    with pytest.raises(SipParseError) as caught:
        parse(data)
    assert error_response(caught.value) is None


def test_error_response_with_a_malformed_via_still_answers() -> None:
    data = BYE.replace(b"SIP/2.0/TCP 192.0.2.10:5060;", b"SIP/2.0/TCP 192.0.2.10:5060;;")
    with pytest.raises(SipParseError) as caught:
        parse(data)
    response = error_response(caught.value)
    assert response is not None
    assert response.status == 400
    assert top_via_or_none(response) is None
    assert top_via_or_none(request(BYE)) is not None
