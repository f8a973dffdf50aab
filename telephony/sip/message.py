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
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace

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

_TOKEN = r"[A-Za-z0-9\-.!%*_+`'~]+"
_TOKEN_RE = re.compile(rf"^{_TOKEN}$")
_STATUS_LINE = re.compile(r"^SIP/(\d+)\.(\d+) (\d{3}) (.*)$", re.DOTALL)
_HOST_RE = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-.]+)$")
_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+\-.]*$")
_DIGITS_RE = re.compile(r"[0-9]+")
_VERSION_RE = re.compile(r"SIP/[0-9]{1,3}\.[0-9]{1,3}", re.IGNORECASE)
_CONTROL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_URI_BAD_RE = re.compile(r'[ \t\r\n<>"]|%(?![0-9A-Fa-f]{2})')


class SipParseError(ValueError):
    """Malformed SIP. `status` is the response to send (None: drop the message silently);
    `partial` the request read so far, to address it. The reason names what is wrong but
    quotes no content of the message (no numbers or names in logs)."""

    def __init__(self, reason: str, status: int | None = 400, partial: Message | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.partial = partial


def canonical_name(name: str) -> str:
    """Lower-case long form of a header name (compact forms expanded)."""
    return _canonical_cached(name) if len(name) <= 40 else _canonical(name)


def _canonical(name: str) -> str:
    lower = name.strip().lower()
    return COMPACT_FORMS.get(lower, lower)


# Names come from the network: the cache is bounded in entries and in their length.
_canonical_cached = functools.lru_cache(maxsize=1024)(_canonical)


# --- URIs ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SipUri:
    """A sip: or sips: URI (RFC 3261 19.1). `params` keep order; a flag parameter has value None."""

    host: str
    user: str | None = None
    password: str | None = None
    port: int | None = None
    params: tuple[tuple[str, str | None], ...] = ()
    headers: str | None = None
    scheme: str = "sip"

    @classmethod
    def parse(cls, text: str) -> SipUri:
        scheme, sep, rest = text.partition(":")
        if not sep or scheme.lower() not in ("sip", "sips"):
            raise SipParseError("not a SIP URI", 416)
        if not rest or _URI_BAD_RE.search(rest):
            raise SipParseError("malformed SIP URI")
        # The user part may hold "?" (RFC 3261 25.1 user-unreserved): headers start at the
        # first "?" after the last "@".
        last_at = rest.rfind("@")
        rest, qmark, headers = _partition_from(rest, "?", last_at + 1)
        userinfo, at, hostpart = rest.rpartition("@")
        if not at:
            userinfo, hostpart = "", rest
        user: str | None = None
        password: str | None = None
        if at:
            user, colon, pw = userinfo.partition(":")
            password = pw if colon else None
            if not user:
                raise SipParseError("empty user in URI")
        hostport, *raw_params = hostpart.split(";")
        host, port = _split_hostport(hostport)
        params: list[tuple[str, str | None]] = []
        for raw in raw_params:
            name, eq, value = raw.partition("=")
            if not name:
                raise SipParseError("empty URI parameter")
            params.append((name, value if eq else None))
        return cls(
            host=host,
            user=user,
            password=password,
            port=port,
            params=tuple(params),
            headers=headers if qmark else None,
            scheme=scheme.lower(),
        )

    def param(self, name: str) -> str | None:
        """Value of parameter `name` (case-insensitive); "" for a flag; None when absent."""
        for key, value in self.params:
            if key.lower() == name.lower():
                return "" if value is None else value
        return None

    def with_params(self, **params: str | None) -> SipUri:
        kept = tuple((k, v) for k, v in self.params if k.lower() not in params)
        return replace(self, params=kept + tuple(params.items()))

    def __str__(self) -> str:
        out = [self.scheme, ":"]
        if self.user is not None:
            out.append(self.user)
            if self.password is not None:
                out += [":", self.password]
            out.append("@")
        out.append(self.host)
        if self.port is not None:
            out += [":", str(self.port)]
        for name, value in self.params:
            out += [";", name] if value is None else [";", name, "=", value]
        if self.headers is not None:
            out += ["?", self.headers]
        return "".join(out)


@dataclass(frozen=True, slots=True)
class AbsoluteUri:
    """Any other URI scheme (tel:, urn:, ...): kept verbatim; we answer such requests with 416."""

    scheme: str
    rest: str

    def __str__(self) -> str:
        return f"{self.scheme}:{self.rest}"


Uri = SipUri | AbsoluteUri


def parse_uri(text: str) -> Uri:
    """A SIP URI, or any absolute URI kept verbatim; SipParseError for garbage."""
    scheme, sep, rest = text.partition(":")
    if not sep or not _SCHEME_RE.fullmatch(scheme) or not rest:
        raise SipParseError("malformed URI")
    if scheme.lower() in ("sip", "sips"):
        return SipUri.parse(text)
    if _URI_BAD_RE.search(rest):
        raise SipParseError("malformed URI")
    return AbsoluteUri(scheme.lower(), rest)


def unescape(text: str) -> str:
    """%-escapes decoded (RFC 3261 19.1.2), e.g. a URI user "%2B4930" -> "+4930"."""
    return urllib.parse.unquote(text, errors="replace") if "%" in text else text


def _partition_from(text: str, sep: str, start: int) -> tuple[str, str, str]:
    at = text.find(sep, start)
    return (text, "", "") if at < 0 else (text[:at], sep, text[at + 1 :])


def _split_hostport(text: str) -> tuple[str, int | None]:
    if text.startswith("["):
        end = text.find("]")
        host, rest = text[: end + 1], text[end + 1 :]
        if end < 0 or (rest and not rest.startswith(":")):
            raise SipParseError("malformed host")
        port_text = rest[1:] if rest else None
    else:
        host, colon, port_text_raw = text.partition(":")
        port_text = port_text_raw if colon else None
    if not _HOST_RE.fullmatch(host):
        raise SipParseError("malformed host")
    if port_text is None:
        return host, None
    if not _DIGITS_RE.fullmatch(port_text) or len(port_text) > 5:
        raise SipParseError("malformed port")
    if not 0 < int(port_text) < 65536:
        raise SipParseError("malformed port")
    return host, int(port_text)


# --- header values ------------------------------------------------------------------


def split_list(value: str) -> list[str]:
    """Splits a comma-separated header value, respecting quotes and <...>."""
    if '"' not in value and "<" not in value:
        return [part for part in (p.strip() for p in value.split(",")) if part]
    parts: list[str] = []
    start = 0
    quoted = angle = False
    escaped = False
    for i, char in enumerate(value):
        if escaped:
            escaped = False
        elif quoted:
            if char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char == "<":
            angle = True
        elif char == ">":
            angle = False
        elif char == "," and not angle:
            parts.append(value[start:i].strip())
            start = i + 1
    parts.append(value[start:].strip())
    return [p for p in parts if p]


def _parse_params(text: str) -> tuple[tuple[str, str | None], ...]:
    """`;name=value;flag` after an address or Via (quoted values may hold ';')."""
    params: list[tuple[str, str | None]] = []
    first, *raws = _split_unquoted(text, ";")
    if first.strip():
        raise SipParseError("unexpected text before parameters")
    for raw in raws:
        raw = raw.strip()
        name, eq, value = raw.partition("=")
        name = name.strip()
        if not _TOKEN_RE.fullmatch(name):
            raise SipParseError("malformed parameter")
        params.append((name, value.strip() if eq else None))
    return tuple(params)


def _split_unquoted(text: str, sep: str) -> list[str]:
    if '"' not in text:
        return text.split(sep)
    parts: list[str] = []
    start = 0
    quoted = escaped = False
    for i, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == sep and not quoted:
            parts.append(text[start:i])
            start = i + 1
    if quoted:
        raise SipParseError("unbalanced quotes")
    parts.append(text[start:])
    return parts


def _format_params(params: Iterable[tuple[str, str | None]]) -> str:
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params)


def _param(params: tuple[tuple[str, str | None], ...], name: str) -> str | None:
    for key, value in params:
        if key.lower() == name:
            return "" if value is None else value
    return None


@dataclass(frozen=True, slots=True)
class NameAddr:
    """From, To, Contact, Refer-To, Route: `"Display" <uri>;params` or a bare URI."""

    uri: Uri
    display: str | None = None
    params: tuple[tuple[str, str | None], ...] = ()

    @classmethod
    def parse(cls, text: str) -> NameAddr:
        text = text.strip()
        display: str | None = None
        if text.startswith('"'):
            end = _closing_quote(text)
            display = text[: end + 1]
            text = text[end + 1 :].lstrip()
            if not text.startswith("<"):
                raise SipParseError("display name without <uri>")
        elif "<" in text:
            before, _, _ = text.partition("<")
            display = before.strip() or None
            if display is not None and not all(_TOKEN_RE.fullmatch(w) for w in display.split()):
                raise SipParseError("malformed display name")
            text = text[len(before) :]
        if text.startswith("<"):
            end = text.find(">")
            if end < 0:
                raise SipParseError("unterminated <uri>")
            uri = parse_uri(text[1:end].strip())
            params = _parse_params(text[end + 1 :])
        else:
            # addr-spec form: a URI holding "," "?" or ";" must be in <> (RFC 3261 20.10).
            uri_text, semi, rest = text.partition(";")
            if "?" in uri_text or "," in uri_text:
                raise SipParseError("URI with ? or , outside <>")
            uri = parse_uri(uri_text.strip())
            params = _parse_params(";" + rest) if semi else ()
        return cls(uri, display, params)

    @property
    def tag(self) -> str | None:
        return _param(self.params, "tag")

    def with_tag(self, tag: str) -> NameAddr:
        kept = tuple((k, v) for k, v in self.params if k.lower() != "tag")
        return replace(self, params=(*kept, ("tag", tag)))

    def param(self, name: str) -> str | None:
        return _param(self.params, name.lower())

    def __str__(self) -> str:
        head = f"{self.display} " if self.display else ""
        return f"{head}<{self.uri}>{_format_params(self.params)}"


def _closing_quote(text: str) -> int:
    escaped = False
    for i in range(1, len(text)):
        if escaped:
            escaped = False
        elif text[i] == "\\":
            escaped = True
        elif text[i] == '"':
            return i
    raise SipParseError("unbalanced quotes in display name")


_VIA_RE = re.compile(
    r"^SIP\s*/\s*2\.0\s*/\s*(" + _TOKEN + r")\s+([^;\s]+)\s*(;.*)?$", re.IGNORECASE | re.DOTALL
)


@dataclass(frozen=True, slots=True)
class Via:
    """One Via entry (RFC 3261 20.42)."""

    transport: str
    host: str
    port: int | None = None
    params: tuple[tuple[str, str | None], ...] = ()

    @classmethod
    def parse(cls, text: str) -> Via:
        match = _VIA_RE.fullmatch(text.strip())
        if match is None:
            raise SipParseError("malformed Via")
        transport, hostport, params = match.groups()
        host, port = _split_hostport(hostport)
        return cls(transport.upper(), host, port, _parse_params(params or ""))

    @property
    def branch(self) -> str | None:
        return _param(self.params, "branch")

    @property
    def received(self) -> str | None:
        return _param(self.params, "received")

    @property
    def rport(self) -> str | None:
        return _param(self.params, "rport")

    def with_params(self, **params: str | None) -> Via:
        kept = tuple((k, v) for k, v in self.params if k.lower() not in params)
        return replace(self, params=kept + tuple(params.items()))

    def __str__(self) -> str:
        port = f":{self.port}" if self.port is not None else ""
        return f"SIP/2.0/{self.transport} {self.host}{port}{_format_params(self.params)}"


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
    if len(parts) != 2 or not _DIGITS_RE.fullmatch(parts[0]) or not _TOKEN_RE.fullmatch(parts[1]):
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
        if not colon or not _TOKEN_RE.fullmatch(name) or "\r" in value:
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
    if not _TOKEN_RE.fullmatch(method):
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
    if len(values) > 1 or not _DIGITS_RE.fullmatch(values[0]) or len(values[0]) > 10:
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
