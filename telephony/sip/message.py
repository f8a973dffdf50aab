"""SIP messages (RFC 3261 section 7), sans-I/O: bytes in, `Request`/`Response` out, and back.

Header names keep the spelling they arrived with, so a well-formed message serialises to the
same bytes; lookups are case-insensitive and know the compact forms. Folded header lines are
unfolded. Malformed input raises `SipParseError`, which carries the status code to answer with
(None: drop, no response possible) and, where the head could be read, the partial message so a
response can still be addressed.
"""

from __future__ import annotations

import collections
import functools
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from telephony.sip.address import (
    DIGITS_RE,
    TOKEN_RE,
)
from telephony.sip.address import (
    AbsoluteUri as AbsoluteUri,
)
from telephony.sip.address import (
    NameAddr as NameAddr,
)
from telephony.sip.address import (
    SipUri as SipUri,
)
from telephony.sip.address import (
    Uri as Uri,
)
from telephony.sip.address import (
    Via as Via,
)
from telephony.sip.address import (
    parse_uri as parse_uri,
)
from telephony.sip.address import (
    split_list as split_list,
)
from telephony.sip.address import (
    unescape as unescape,
)
from telephony.sip.errors import SipParseError as SipParseError

SIP_VERSION = "SIP/2.0"
MAX_MESSAGE_BYTES = 65535
MAX_HEADERS = 200

COMPACT_FORMS = {
    "a": "accept-contact",
    "b": "referred-by",
    "c": "content-type",
    "d": "request-disposition",
    "e": "content-encoding",
    "f": "from",
    "i": "call-id",
    "j": "reject-contact",
    "k": "supported",
    "l": "content-length",
    "m": "contact",
    "o": "event",
    "r": "refer-to",
    "s": "subject",
    "t": "to",
    "u": "allow-events",
    "v": "via",
    "x": "session-expires",
    "y": "identity",
}

# Headers whose value is a comma-separated list (RFC 3261 7.3.1): one entry per element.
LIST_HEADERS = frozenset(
    {
        "via",
        "contact",
        "route",
        "record-route",
        "allow",
        "supported",
        "require",
        "proxy-require",
        "unsupported",
        "accept",
        "accept-encoding",
        "accept-language",
        "allow-events",
        "content-encoding",
        "in-reply-to",
    }
)

REASONS = {
    100: "Trying",
    180: "Ringing",
    183: "Session Progress",
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    413: "Request Entity Too Large",
    414: "Request-URI Too Long",
    415: "Unsupported Media Type",
    416: "Unsupported URI Scheme",
    420: "Bad Extension",
    422: "Session Interval Too Small",
    481: "Call/Transaction Does Not Exist",
    482: "Loop Detected",
    483: "Too Many Hops",
    484: "Address Incomplete",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    491: "Request Pending",
    500: "Server Internal Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    505: "Version Not Supported",
    513: "Message Too Large",
    603: "Decline",
}

_STATUS_LINE = re.compile(r"^SIP/(\d+)\.(\d+) (\d{3}) (.*)$", re.DOTALL)
_VERSION_RE = re.compile(r"SIP/[0-9]{1,3}\.[0-9]{1,3}", re.IGNORECASE)
_CONTROL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def canonical_name(name: str) -> str:
    """Lower-case long form of a header name (compact forms expanded)."""
    return _canonical_cached(name) if len(name) <= 40 else _canonical(name)


def _canonical(name: str) -> str:
    lower = name.strip().lower()
    return COMPACT_FORMS.get(lower, lower)


# Names come from the network: the cache is bounded in entries and in their length.
_canonical_cached = functools.lru_cache(maxsize=1024)(_canonical)


# --- headers ------------------------------------------------------------------------


@dataclass(slots=True)
class Headers:
    """Ordered header fields; names keep their spelling, lookups ignore case and compact forms."""

    fields: list[tuple[str, str]] = field(default_factory=list)

    def get(self, name: str) -> str | None:
        """The first value of `name` (list headers: the first field, not split)."""
        key = canonical_name(name)
        return next((v for n, v in self.fields if canonical_name(n) == key), None)

    def get_all(self, name: str) -> list[str]:
        """All values of `name`, list headers split into their elements."""
        key = canonical_name(name)
        values = [v for n, v in self.fields if canonical_name(n) == key]
        if key in LIST_HEADERS:
            return [part for v in values for part in split_list(v)]
        return values

    def count(self, name: str) -> int:
        key = canonical_name(name)
        return sum(1 for n, _ in self.fields if canonical_name(n) == key)

    def add(self, name: str, value: str) -> None:
        self.fields.append((name, value))

    def set(self, name: str, value: str) -> None:
        """Replaces every field of `name` by one, at the first one's place."""
        key = canonical_name(name)
        at = next((i for i, (n, _) in enumerate(self.fields) if canonical_name(n) == key), None)
        self.remove(name)
        self.fields.insert(len(self.fields) if at is None else at, (name, value))

    def remove(self, name: str) -> None:
        key = canonical_name(name)
        self.fields = [(n, v) for n, v in self.fields if canonical_name(n) != key]

    def copy(self) -> Headers:
        return Headers(list(self.fields))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.fields)


# --- messages -----------------------------------------------------------------------


@dataclass(slots=True)
class _Common:
    headers: Headers
    body: bytes

    @property
    def call_id(self) -> str:
        return self.headers.get("call-id") or ""

    @property
    def cseq(self) -> tuple[int, str]:
        """(number, method); raises SipParseError when missing or malformed."""
        return parse_cseq(self.headers.get("cseq"))

    @property
    def from_(self) -> NameAddr:
        return NameAddr.parse(self.headers.get("from") or "")

    @property
    def to(self) -> NameAddr:
        return NameAddr.parse(self.headers.get("to") or "")

    @property
    def vias(self) -> list[Via]:
        return [Via.parse(v) for v in self.headers.get_all("via")]

    @property
    def top_via(self) -> Via:
        first = self.headers.get_all("via")
        if not first:
            raise SipParseError("no Via")
        return Via.parse(first[0])


@dataclass(slots=True)
class Request(_Common):
    method: str
    uri: Uri
    version: str = SIP_VERSION

    def __init__(
        self, method: str, uri: Uri, headers: Headers, body: bytes = b"", version: str = SIP_VERSION
    ) -> None:
        self.method, self.uri, self.headers, self.body, self.version = (
            method,
            uri,
            headers,
            body,
            version,
        )

    def __bytes__(self) -> bytes:
        return serialize(self)


@dataclass(slots=True)
class Response(_Common):
    status: int
    reason: str
    version: str = SIP_VERSION

    def __init__(
        self,
        status: int,
        reason: str,
        headers: Headers,
        body: bytes = b"",
        version: str = SIP_VERSION,
    ) -> None:
        self.status, self.reason, self.headers, self.body, self.version = (
            status,
            reason,
            headers,
            body,
            version,
        )

    def __bytes__(self) -> bytes:
        return serialize(self)


Message = Request | Response


def parse_cseq(value: str | None) -> tuple[int, str]:
    parts = (value or "").split()
    if len(parts) != 2 or not DIGITS_RE.fullmatch(parts[0]) or not TOKEN_RE.fullmatch(parts[1]):
        raise SipParseError("malformed CSeq")
    if len(parts[0]) > 10 or int(parts[0]) >= 2**31:
        raise SipParseError("CSeq number out of range")
    return int(parts[0]), parts[1]


def parse(data: bytes, *, max_bytes: int = MAX_MESSAGE_BYTES, stream: bool = False) -> Message:
    """One message from a UDP datagram (or a TCP frame with `stream=True`, where Content-Length
    is mandatory and exact). Raises SipParseError, and nothing else, for any input."""
    if len(data) > max_bytes:
        raise SipParseError("message too large", 513, _partial_request(data[:max_bytes]))
    if data[:1] in (b"\r", b"\n"):
        data = data.lstrip(b"\r\n")  # keep-alive CRLFs before a message (RFC 3261 7.5)
    head, rest = _split_head(data)
    message, error = _parse_head(head)
    if error is not None:
        raise error
    message.body = _body(message, rest, stream)
    _check_mandatory(message)
    return message


def _split_head(data: bytes) -> tuple[bytes, bytes | None]:
    """(head, body); body None when there is no empty line ending the head."""
    crlf = data.find(b"\r\n\r\n")
    lf = data.find(b"\n\n")
    if lf >= 0 and (crlf < 0 or lf < crlf):
        return data[:lf], data[lf + 2 :]
    if crlf >= 0:
        return data[:crlf], data[crlf + 4 :]
    return data, None


def _parse_head(head: bytes) -> tuple[Message, SipParseError | None]:
    """The start line and header fields; the first error found, with the message read so far."""
    try:
        text = head.decode("utf-8")
        undecodable = False
    except UnicodeDecodeError:
        text = head.decode("latin-1")
        undecodable = True
    lines = _unfold(text)
    if not lines[0]:
        raise SipParseError("empty start line", None)
    message, error = _start_line(lines[0])
    status = 400 if isinstance(message, Request) else None
    if len(lines) - 1 > MAX_HEADERS:
        error = error or SipParseError("too many header fields", status, message)
        lines = lines[: MAX_HEADERS + 1]
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        name = name.rstrip(" \t")
        if not colon or not TOKEN_RE.fullmatch(name) or "\r" in value:
            error = error or SipParseError("malformed header line", status, message)
            continue
        message.headers.add(name, value.strip(" \t"))
    if undecodable:
        error = error or SipParseError("header is not UTF-8", status, message)
    if error is not None and error.partial is None and isinstance(message, Request):
        error.partial = message
    return message, error


def _partial_request(data: bytes) -> Request | None:
    """The head of an oversized message, when it is a request (to address a 513)."""
    try:
        message, _ = _parse_head(_split_head(data)[0])
    except SipParseError:
        return None
    return message if isinstance(message, Request) else None


def _unfold(head: str) -> list[str]:
    lines: list[str] = []
    for line in head.replace("\r\n", "\n").split("\n"):
        if line[:1] in (" ", "\t") and len(lines) > 1:
            lines[-1] = lines[-1].rstrip(" \t") + " " + line.strip(" \t")
        else:
            lines.append(line)
    return lines


def _start_line(line: str) -> tuple[Message, SipParseError | None]:
    """The message the start line begins; raises when not even that is possible (drop)."""
    if line.startswith("SIP/"):
        match = _STATUS_LINE.fullmatch(line)
        if match is None:
            raise SipParseError("malformed status line", None)
        major, minor, status, reason = match.groups()
        if (major, minor) != ("2", "0"):
            raise SipParseError("unsupported version", None)
        if not 100 <= int(status) <= 699 or _CONTROL_RE.search(reason):
            raise SipParseError("malformed status line", None)
        return Response(int(status), reason, Headers()), None
    parts = line.split(" ")
    method = parts[0]
    if not TOKEN_RE.fullmatch(method):
        raise SipParseError("malformed start line", None)
    placeholder = Request(method, AbsoluteUri("invalid", line[len(method) + 1 :]), Headers())
    if len(parts) != 3 or _CONTROL_RE.search(line):
        return placeholder, SipParseError("malformed request line", 400)
    _, uri_text, version = parts
    if version.upper() != SIP_VERSION:
        if not _VERSION_RE.fullmatch(version):
            return placeholder, SipParseError("malformed request line", 400)
        placeholder.version = version
        return placeholder, SipParseError(f"unsupported version {version[:20]}", 505)
    try:
        uri = parse_uri(uri_text)
    except SipParseError as error:
        return placeholder, SipParseError(f"Request-URI: {error.reason}", 400)
    if isinstance(uri, SipUri) and uri.headers is not None:
        # RFC 3261 19.1.1: headers are not allowed in a Request-URI (RFC 4475 3.1.2.11).
        return placeholder, SipParseError("headers in the Request-URI", 400)
    return Request(method, uri, Headers(), version=version), None


def _body(message: Message, rest: bytes | None, stream: bool) -> bytes:
    status = 400 if isinstance(message, Request) else None
    values = message.headers.get_all("content-length")
    if not values:
        if stream:
            raise SipParseError("Content-Length missing on a stream", status, message)
        return rest or b""  # UDP: the rest of the datagram (RFC 3261 18.3)
    if len(values) > 1 or not DIGITS_RE.fullmatch(values[0]) or len(values[0]) > 10:
        raise SipParseError("bad Content-Length", status, message)
    length = int(values[0])
    available = len(rest or b"")
    if rest is None and length == 0 and not stream:
        return b""  # a head without the final empty line: lenient on UDP
    if length > available or rest is None:
        raise SipParseError("Content-Length larger than the message", status, message)
    if stream and length != available:
        raise SipParseError("Content-Length does not match the frame", status, message)
    return rest[:length]  # UDP: octets beyond Content-Length are discarded (RFC 3261 18.3)


_ADDRESS_LISTS = ("contact", "route", "record-route")


def _check_mandatory(message: Message) -> None:
    """RFC 3261 8.1.1 fields present once (Via at least once) and well-formed. Error reasons
    name the header, never its content (they end up in logs)."""
    status = 400 if isinstance(message, Request) else None
    counts = collections.Counter(canonical_name(n) for n, _ in message.headers)
    for name in ("via", "from", "to", "call-id", "cseq"):
        count = counts[name]
        if count == 0 or (name != "via" and count > 1):
            problem = "missing" if count == 0 else "repeated"
            raise SipParseError(f"{problem} {name}", status, message)
    checks: list[tuple[str, Callable[[], object]]] = [
        ("CSeq", lambda: message.cseq),
        ("Call-ID", lambda: _check_call_id(message.call_id)),
        ("Via", lambda: message.vias),
        ("From", lambda: message.from_),
        ("To", lambda: message.to),
        *((name, lambda name=name: _check_addresses(message, name)) for name in _ADDRESS_LISTS),
    ]
    for name, check in checks:
        try:
            check()
        except SipParseError as error:
            raise SipParseError(f"{name}: {error.reason}", status, message) from None
    if isinstance(message, Request) and message.cseq[1] != message.method:
        raise SipParseError("CSeq method does not match the request method", 400, message)


def _check_call_id(call_id: str) -> None:
    if not call_id or _CONTROL_RE.search(call_id) or " " in call_id:
        raise SipParseError("malformed Call-ID")


def _check_addresses(message: Message, name: str) -> None:
    for value in message.headers.get_all(name):
        if not (name == "contact" and value == "*"):
            NameAddr.parse(value)


def serialize(message: Message) -> bytes:
    """Wire bytes; Content-Length is set from the body (replacing any given)."""
    if isinstance(message, Request):
        start = f"{message.method} {message.uri} {message.version}"
    else:
        start = f"{message.version} {message.status} {message.reason}"
    lines = [start]
    has_length = False
    for name, value in message.headers:
        if canonical_name(name) == "content-length":
            if has_length:
                continue
            has_length = True
            value = str(len(message.body))
        lines.append(f"{name}: {value}")
    if not has_length:
        lines.append(f"Content-Length: {len(message.body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + message.body


def make_response(
    request: Request,
    status: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    extra: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
) -> Response:
    """A response to `request` (RFC 3261 8.2.6): Via, From, To (+tag), Call-ID, CSeq copied."""
    headers = Headers()
    for name, value in request.headers:
        key = canonical_name(name)
        if key in ("via", "from", "call-id", "cseq", "record-route") or (
            key == "to" and to_tag is None
        ):
            headers.add(name, value)
        elif key == "to":
            to_value = value
            if to_tag is not None and "tag" not in _param_names(value):
                to_value = f"{value};tag={to_tag}"
            headers.add(name, to_value)
    if status == 100:
        headers.remove("record-route")
        timestamp = request.headers.get("timestamp")
        if timestamp is not None:  # RFC 3261 8.2.6.1
            headers.add("Timestamp", timestamp)
    for name, value in extra:
        headers.add(name, value)
    return Response(status, reason or REASONS.get(status, "Unknown"), headers, body)


def _param_names(value: str) -> set[str]:
    try:
        return {k.lower() for k, _ in NameAddr.parse(value).params}
    except SipParseError:
        return set()
