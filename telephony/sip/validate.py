"""UAS checks on a parsed request before dialog handling (RFC 3261 8.2), and the response to a
malformed request (RFC 3261 8.2, RFC 4475 section 3). Sans-I/O: requests in, responses out."""

from __future__ import annotations

import secrets

from telephony.sip.message import (
    Request,
    Response,
    SipParseError,
    SipUri,
    Via,
    make_response,
)

# Methods of RFC 3261 and its common extensions: a request for one of these that we do not
# handle gets 405, any other method 501 (RFC 3261 8.2.1).
KNOWN_METHODS = frozenset(
    {
        "ACK",
        "BYE",
        "CANCEL",
        "INFO",
        "INVITE",
        "MESSAGE",
        "NOTIFY",
        "OPTIONS",
        "PRACK",
        "PUBLISH",
        "REFER",
        "REGISTER",
        "SUBSCRIBE",
        "UPDATE",
    }
)

# Bodies a user agent of ours reads: SDP offers/answers and REFER progress (NOTIFY sipfrag).
DEFAULT_CONTENT_TYPES = frozenset({"application/sdp", "message/sipfrag"})


def screen(
    request: Request,
    *,
    supported: frozenset[str],
    methods: frozenset[str],
    content_types: frozenset[str] = DEFAULT_CONTENT_TYPES,
) -> Response | None:
    """The error response RFC 3261 8.2 asks a UAS for, or None when the request may proceed.

    Order as in 8.2: method (405 with Allow / 501), Request-URI scheme (416), Require (420
    with Unsupported), body (400 without Content-Type, 415 with Accept or Accept-Encoding),
    an INVITE whose Accept excludes SDP (406, RFC 4475 3.3.15). Max-Forwards is a proxy's
    check (RFC 3261 16.3): a UAS answers a request with Max-Forwards 0 (RFC 4475 3.3.11).
    ACK never gets a response; CANCEL ignores Require (8.2.2.3).
    """
    if request.method == "ACK":
        return None
    allow = ("Allow", ", ".join(sorted(methods)))
    if request.method not in methods:
        status = 405 if request.method in KNOWN_METHODS else 501
        return _reply(request, status, [allow])
    if not isinstance(request.uri, SipUri):
        return _reply(request, 416)
    if request.method != "CANCEL":
        lowered = {tag.lower() for tag in supported}
        unknown = [t for t in request.headers.get_all("require") if t.lower() not in lowered]
        if unknown:
            return _reply(request, 420, [("Unsupported", ", ".join(unknown))])
    problem = _body_problem(request, content_types)
    if problem is not None:
        return problem
    if request.method == "INVITE" and not _accepts(request, "application/sdp"):
        return _reply(request, 406, [("Accept", "application/sdp")])
    return None


def error_response(error: SipParseError) -> Response | None:
    """The response for a request that failed to parse, or None when none is possible: a
    response or undecodable input, an ACK, a request without Via. The Via fields are copied
    as they came; when the top one does not parse, send the response to the source address."""
    request = error.partial
    if error.status is None or not isinstance(request, Request) or request.method == "ACK":
        return None
    vias = request.headers.get_all("via")
    if not vias:
        return None
    response = _reply(request, error.status)
    if error.status == 513:
        response.headers.add("Retry-After", "0")
    return response


def top_via_or_none(message: Request | Response) -> Via | None:
    """The parsed top Via, or None when it is missing or malformed (route by source address)."""
    try:
        return message.top_via
    except SipParseError:
        return None


def _body_problem(request: Request, content_types: frozenset[str]) -> Response | None:
    encodings = [e.lower() for e in request.headers.get_all("content-encoding")]
    if any(e != "identity" for e in encodings):
        return _reply(request, 415, [("Accept-Encoding", "identity")])
    if not request.body:
        return None
    content_type = request.headers.get("content-type")
    if content_type is None:
        return _reply(request, 400, reason="Body Without Content-Type")
    media_type = content_type.partition(";")[0].strip().lower()
    if media_type not in content_types:
        return _reply(request, 415, [("Accept", ", ".join(sorted(content_types)))])
    return None


def _accepts(request: Request, media_type: str) -> bool:
    """Whether the request's Accept (default: SDP, RFC 3261 20.1) admits `media_type`."""
    if "accept" not in request.headers:
        return True
    values = request.headers.get_all("accept")
    if not values:  # an empty Accept: no body wanted (RFC 3261 20.1)
        return False
    kind = media_type.split("/")[0]
    for value in values:
        accepted = value.partition(";")[0].strip().lower()
        if accepted in (media_type, "*/*", f"{kind}/*"):
            return True
    return False


def _reply(
    request: Request,
    status: int,
    extra: list[tuple[str, str]] | None = None,
    *,
    reason: str | None = None,
) -> Response:
    """An error response with a To tag of ours (RFC 3261 8.2.6.2)."""
    return make_response(request, status, reason, to_tag=secrets.token_hex(6), extra=extra or ())
