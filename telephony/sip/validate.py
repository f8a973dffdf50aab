"""STAND-IN until the merge of issue-sip-parse (which provides the real module)."""

from __future__ import annotations

from collections.abc import Collection

from telephony.sip.message import Request, Response, SipParseError, SipUri, make_response


def screen(
    request: Request, *, supported: Collection[str], methods: Collection[str]
) -> Response | None:
    if not isinstance(request.uri, SipUri):
        return make_response(request, 416)
    if request.method not in methods:
        return make_response(request, 405, extra=[("Allow", ", ".join(methods))])
    required = [v.strip() for v in request.headers.get_all("require") if v.strip() not in supported]
    if required and request.method not in ("ACK", "CANCEL"):
        return make_response(request, 420, extra=[("Unsupported", ", ".join(required))])
    return None


def error_response(error: SipParseError) -> Response | None:
    partial = error.partial
    if error.status is None or not isinstance(partial, Request) or partial.method == "ACK":
        return None
    try:
        partial.top_via  # noqa: B018
    except SipParseError:
        return None
    return make_response(partial, error.status)
