"""Well-formed SIP messages in canonical form (serialising them gives the same bytes)."""

from __future__ import annotations

SDP = (
    b"v=0\r\no=rathaus 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
    b"m=audio 20000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\n"
)


def wire(*lines: str, body: bytes = b"") -> bytes:
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


INVITE = wire(
    "INVITE sip:hotline@rathaus.example.de SIP/2.0",
    "Via: SIP/2.0/UDP pbx.example.de:5060;branch=z9hG4bK776asdhds;rport",
    "Max-Forwards: 70",
    'From: "Anna Müller" <sip:+4930123456@pbx.example.de>;tag=1928301774',
    "To: <sip:hotline@rathaus.example.de>",
    "Call-ID: a84b4c76e66710@pbx.example.de",
    "CSeq: 314159 INVITE",
    "Contact: <sip:+4930123456@192.0.2.20:5060>",
    "Content-Type: application/sdp",
    f"Content-Length: {len(SDP)}",
    body=SDP,
)
BYE = wire(
    "BYE sip:+4930123456@192.0.2.20:5060 SIP/2.0",
    "Via: SIP/2.0/TCP 192.0.2.10:5060;branch=z9hG4bKnashds7",
    "Max-Forwards: 70",
    "From: <sip:hotline@rathaus.example.de>;tag=a6c85cf",
    'To: "Anna Müller" <sip:+4930123456@pbx.example.de>;tag=1928301774',
    "Call-ID: a84b4c76e66710@pbx.example.de",
    "CSeq: 231 BYE",
    "Content-Length: 0",
)
OK = wire(
    "SIP/2.0 200 OK",
    "Via: SIP/2.0/UDP pbx.example.de:5060;branch=z9hG4bK776asdhds;rport=5060;received=192.0.2.20",
    'From: "Anna Müller" <sip:+4930123456@pbx.example.de>;tag=1928301774',
    "To: <sip:hotline@rathaus.example.de>;tag=a6c85cf",
    "Call-ID: a84b4c76e66710@pbx.example.de",
    "CSeq: 314159 INVITE",
    "Contact: <sip:hotline@192.0.2.10:5060;transport=udp>",
    "Record-Route: <sip:proxy.example.de;lr>",
    "Content-Type: application/sdp",
    f"Content-Length: {len(SDP)}",
    body=SDP,
)
COMPACT = wire(
    "OPTIONS sip:hotline@[2001:db8::10]:5070;transport=tcp SIP/2.0",
    "v: SIP/2.0/TCP [2001:db8::20]:5061;branch=z9hG4bKcompact",
    "f: <sip:monitor@[2001:db8::20]>;tag=77",
    "t: sip:hotline@[2001:db8::10]",
    "i: compact-1@2001:db8::20",
    "CSeq: 1 OPTIONS",
    "k: timer, replaces",
    "m: <sip:monitor@[2001:db8::20]:5061;transport=tcp>",
    "l: 0",
)
NOTIFY = wire(
    "NOTIFY sip:hotline@192.0.2.10:5060 SIP/2.0",
    "Via: SIP/2.0/UDP pbx.example.de;branch=z9hG4bKnotify1",
    "Via: SIP/2.0/UDP edge.example.de:5062;branch=z9hG4bKedge, SIP/2.0/UDP 192.0.2.99",
    "From: <sip:+4930123456@pbx.example.de>;tag=1928301774",
    "To: <sip:hotline@rathaus.example.de>;tag=a6c85cf",
    "Call-ID: a84b4c76e66710@pbx.example.de",
    "CSeq: 2 NOTIFY",
    "Event: refer",
    "Subscription-State: terminated;reason=noresource",
    "Content-Type: message/sipfrag;version=2.0",
    "Content-Length: 16",
    body=b"SIP/2.0 200 OK\r\n",
)
RINGING = wire(
    "SIP/2.0 180 Ringing",
    "Via: SIP/2.0/UDP pbx.example.de:5060;branch=z9hG4bK776asdhds;rport",
    'From: "Anna Müller" <sip:+4930123456@pbx.example.de>;tag=1928301774',
    "To: <sip:hotline@rathaus.example.de>;tag=a6c85cf",
    "Call-ID: a84b4c76e66710@pbx.example.de",
    "CSeq: 314159 INVITE",
    "Content-Length: 0",
)
CANONICAL = {
    "invite": INVITE,
    "bye": BYE,
    "ok": OK,
    "compact": COMPACT,
    "notify": NOTIFY,
    "ringing": RINGING,
}
