"""Builders for SIP test messages."""

from __future__ import annotations

from telephony.sip.message import Request, Response, parse

SDP = (
    b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 40000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
)


def request(
    method: str = "INVITE",
    *,
    branch: str = "z9hG4bKabc",
    cseq: int = 1,
    cseq_method: str | None = None,
    to_tag: str | None = None,
    from_tag: str = "caller1",
    call_id: str = "call-1@test",
    uri: str = "sip:100@127.0.0.1",
    extra: str = "",
    body: bytes = b"",
) -> Request:
    to = "<sip:100@127.0.0.1>" + (f";tag={to_tag}" if to_tag else "")
    head = (
        f"{method} {uri} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:5999;branch={branch};rport\r\n"
        f"From: <sip:+4930123456@127.0.0.1>;tag={from_tag}\r\n"
        f"To: {to}\r\n"
        f"Call-ID: {call_id}\r\n"
        f"CSeq: {cseq} {cseq_method or method}\r\n"
        f"Contact: <sip:caller@127.0.0.1:5999>\r\n"
        f"Max-Forwards: 70\r\n{extra}"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    message = parse(head.encode() + body)
    assert isinstance(message, Request)
    return message


def response_to(req: Request, status: int, *, to_tag: str | None = "callee1") -> Response:
    from telephony.sip.message import make_response

    return make_response(req, status, to_tag=to_tag if status > 100 else None)
