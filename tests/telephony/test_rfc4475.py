"""The RFC 4475 torture messages, each handled as RFC 4475 section 3 says.

The messages are read from ../shared/sip/rfc4475/ (relative to the repository root) and never
copied into the repository. Each expectation below quotes the RFC section it comes from.
Outcomes: "parse" (a valid request that passes the UAS checks and goes on to the dialog
layer), "response" (a valid response handed to the transaction layer), "drop" (no response
possible), or the status code we answer with. Where the RFC allows either rejecting or being
liberal, the table lists both and the test accepts either.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from telephony.sip.message import (
    Message,
    Request,
    Response,
    SipParseError,
    canonical_name,
    parse,
    serialize,
)
from telephony.sip.validate import error_response, screen

TORTURE_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "sip" / "rfc4475"

# What our user agent implements as a UAS (the UA may use other sets; the RFC's expectations
# below hold for any UA that, like ours, does not act as a registrar or a MESSAGE recipient).
METHODS = frozenset({"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "UPDATE", "NOTIFY", "INFO"})
SUPPORTED = frozenset({"timer", "replaces"})

Outcome = int | str

# name: (RFC 4475 section, allowed outcomes, why)
EXPECTED: dict[str, tuple[str, frozenset[Outcome], str]] = {
    # 3.1.1 Valid messages: parsers must accept them.
    "wsinv": ("3.1.1.1", frozenset({"parse"}), "short tortuous INVITE"),
    "intmeth": ("3.1.1.2", frozenset({501}), "valid; the method is unknown to us -> 501"),
    "esc01": ("3.1.1.3", frozenset({"parse"}), "valid use of the % escaping mechanism"),
    "escnull": ("3.1.1.4", frozenset({405}), "valid %00 in URIs; REGISTER is not ours -> 405"),
    "esc02": ("3.1.1.5", frozenset({501}), "RE%47IST%45R is an unknown method, not REGISTER"),
    "lwsdisp": ("3.1.1.6", frozenset({"parse"}), "no LWS between display name and <"),
    "longreq": ("3.1.1.7", frozenset({"parse"}), "long values in header fields"),
    "dblreq": ("3.1.1.8", frozenset({405}), "extra octets after the body ignored; REGISTER"),
    "semiuri": ("3.1.1.9", frozenset({"parse"}), "semicolon-separated parameters in URI user"),
    "transports": ("3.1.1.10", frozenset({"parse"}), "varied and unknown transport types"),
    "mpart01": ("3.1.1.11", frozenset({405}), "multipart MIME body; MESSAGE is not ours"),
    "unreason": ("3.1.1.12", frozenset({"response"}), "unusual reason phrase"),
    "noreason": ("3.1.1.13", frozenset({"response"}), "empty reason phrase"),
    # 3.1.2 Invalid messages.
    "badinv01": ("3.1.2.1", frozenset({400}), "extraneous header field separators"),
    "clerr": ("3.1.2.2", frozenset({400}), "Content-Length larger than the message (UDP)"),
    "ncl": ("3.1.2.3", frozenset({400}), "negative Content-Length"),
    "scalar02": ("3.1.2.4", frozenset({400}), "overlarge CSeq in a request"),
    "scalarlg": ("3.1.2.5", frozenset({"drop"}), "overlarge scalars in a response"),
    "quotbal": ("3.1.2.6", frozenset({400}), "unterminated quoted display name"),
    "ltgtruri": ("3.1.2.7", frozenset({400}), "<> around the Request-URI"),
    "lwsruri": ("3.1.2.8", frozenset({400}), "embedded LWS in the Request-URI"),
    "lwsstart": ("3.1.2.9", frozenset({400, "parse"}), "multiple SP in the Request-Line"),
    "trws": ("3.1.2.10", frozenset({400, "parse"}), "SP at the end of the Request-Line"),
    "escruri": ("3.1.2.11", frozenset({400, "parse"}), "escaped headers in the Request-URI"),
    "baddate": ("3.1.2.12", frozenset({400, "parse"}), "non-GMT Date: may be ignored"),
    "regbadct": ("3.1.2.13", frozenset({400, 405}), "name-addr URI with ? not in <>"),
    "badaspec": ("3.1.2.14", frozenset({400, "parse"}), "spaces within the addr-spec"),
    "baddn": ("3.1.2.15", frozenset({400}), "non-token characters in unquoted display name"),
    "badvers": ("3.1.2.16", frozenset({505}), "unknown protocol version"),
    "mismatch01": ("3.1.2.17", frozenset({400}), "start line and CSeq method differ"),
    "mismatch02": ("3.1.2.18", frozenset({400}), "unknown method and CSeq mismatch -> 400"),
    "bigcode": ("3.1.2.19", frozenset({"drop"}), "overlarge response code"),
    # 3.2 Transaction layer semantics.
    "badbranch": ("3.2.1", frozenset({"parse"}), "branch without magic cookie: RFC 2543 style"),
    # 3.3 Application layer semantics.
    "insuf": ("3.3.1", frozenset({400}), "missing Call-ID, From, To"),
    "unkscm": ("3.3.2", frozenset({416}), "Request-URI with an unknown scheme"),
    "novelsc": ("3.3.3", frozenset({416}), "known but atypical scheme we never accept"),
    "unksm2": ("3.3.4", frozenset({405, 400}), "non-SIP URIs in To/From/Contact; REGISTER"),
    "bext01": ("3.3.5", frozenset({420}), "Require of unknown extensions -> 420 Unsupported"),
    "invut": ("3.3.6", frozenset({415}), "unknown Content-Type -> 415 with Accept"),
    "regaut01": ("3.3.7", frozenset({405}), "unknown Authorization scheme; REGISTER"),
    "multi01": ("3.3.8", frozenset({400}), "multiple values in single-value fields"),
    "mcl01": ("3.3.9", frozenset({400}), "multiple Content-Length values"),
    "bcast": ("3.3.10", frozenset({"response"}), "200 OK with a broadcast Via: well-formed"),
    "zeromf": ("3.3.11", frozenset({"parse"}), "Max-Forwards 0: an endpoint processes it"),
    "cparam01": ("3.3.12", frozenset({405}), "REGISTER with a Contact parameter"),
    "cparam02": ("3.3.13", frozenset({405}), "REGISTER with a url-parameter"),
    "regescrt": ("3.3.14", frozenset({405}), "REGISTER with a URL escaped header"),
    "sdp01": ("3.3.15", frozenset({406, 400}), "Accept without application/sdp"),
    # 3.4 Backward compatibility.
    "inv2543": ("3.4.1", frozenset({"parse"}), "RFC 2543 INVITE: no branch, tag, length"),
    # Not an RFC message: a request line without version, a header line without colon and
    # no Via: it cannot be answered, so it is dropped.
    "test": ("-", frozenset({"drop"}), "php-sip sample: malformed and unanswerable"),
}


def torture_dir() -> Path:
    if not TORTURE_DIR.is_dir():
        pytest.skip(f"RFC 4475 torture messages not found at {TORTURE_DIR.resolve()}")
    return TORTURE_DIR


def load(name: str) -> bytes:
    return (torture_dir() / f"{name}.dat").read_bytes()


def outcome(data: bytes) -> Outcome:
    """What a UAS of ours does with one UDP datagram."""
    try:
        message = parse(data)
    except SipParseError as error:
        response = error_response(error)
        return "drop" if response is None else response.status
    if isinstance(message, Response):
        return "response"
    refusal = screen(message, supported=SUPPORTED, methods=METHODS)
    return "parse" if refusal is None else refusal.status


def without_length(message: Message) -> list[tuple[str, str]]:
    return [(n, v) for n, v in message.headers if canonical_name(n) != "content-length"]


def test_every_message_in_the_folder_has_an_expectation() -> None:
    names = {path.stem for path in torture_dir().glob("*.dat")}
    assert names == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_torture_message_is_handled_as_rfc4475_says(name: str) -> None:
    section, allowed, why = EXPECTED[name]
    result = outcome(load(name))
    assert result in allowed, f"{name} (RFC 4475 {section}, {why}): got {result}"


@pytest.mark.parametrize("name", sorted(n for n, (_, ok, _) in EXPECTED.items() if 400 in ok))
def test_bad_requests_are_answered_at_the_sender(name: str) -> None:
    try:
        message = parse(load(name))
    except SipParseError as error:
        response = error_response(error)
        assert response is not None
        assert response.headers.get_all("via") == error.partial.headers.get_all("via")
        assert response.call_id == error.partial.call_id
        assert serialize(response).startswith(b"SIP/2.0 %d " % response.status)
        return
    assert isinstance(message, Request)


@pytest.mark.parametrize(
    "name", sorted(n for n, (_, ok, _) in EXPECTED.items() if ok & {"parse", "response"})
)
def test_accepted_torture_messages_round_trip_structurally(name: str) -> None:
    try:
        message = parse(load(name))
    except SipParseError:
        pytest.skip("rejected, as the RFC allows")
    again = parse(serialize(message))
    assert type(again) is type(message)
    assert again.body == message.body
    assert without_length(again) == without_length(message)


def test_valid_messages_expose_their_fields() -> None:
    # 3.1.1.1: Via with folding and odd spacing, To with a quoted display name, unknown headers.
    wsinv = parse(load("wsinv"))
    assert isinstance(wsinv, Request)
    assert wsinv.method == "INVITE"
    assert wsinv.cseq == (9, "INVITE")
    assert [via.transport for via in wsinv.vias] == ["UDP", "TCP", "UDP"]
    assert wsinv.body.startswith(b"v=0")
    # 3.1.1.8: the second request in the datagram is noise.
    dblreq = parse(load("dblreq"))
    assert dblreq.method == "REGISTER"  # type: ignore[union-attr]
    assert dblreq.body == b""
    # 3.4.1: no Content-Length over UDP: the body is the rest of the datagram.
    inv2543 = parse(load("inv2543"))
    assert "content-length" not in inv2543.headers
    assert inv2543.body.startswith(b"v=0")
    assert inv2543.from_.tag is None
    # 3.1.1.13: an empty reason phrase.
    noreason = parse(load("noreason"))
    assert isinstance(noreason, Response)
    assert (noreason.status, noreason.reason) == (100, "")


def test_bad_extension_lists_the_unsupported_option_tags() -> None:
    # 3.3.5: "Unsupported" lists the Require tags; Proxy-Require is no business of a UAS.
    message = parse(load("bext01"))
    assert isinstance(message, Request)
    response = screen(message, supported=SUPPORTED, methods=METHODS)
    assert response is not None
    assert response.headers.get_all("unsupported") == [
        "nothingSupportsThis",
        "nothingSupportsThisEither",
    ]


def test_unsupported_media_type_lists_what_we_accept() -> None:
    # 3.3.6: 415 with an Accept header field.
    message = parse(load("invut"))
    assert isinstance(message, Request)
    response = screen(message, supported=SUPPORTED, methods=METHODS)
    assert response is not None
    assert "application/sdp" in response.headers.get_all("accept")


def test_bad_version_gets_505() -> None:
    # 3.1.2.16
    with pytest.raises(SipParseError) as caught:
        parse(load("badvers"))
    response = error_response(caught.value)
    assert response is not None
    assert (response.status, response.reason) == (505, "Version Not Supported")
