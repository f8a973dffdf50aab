"""SIP addresses and header values (RFC 3261 sections 19.1, 20, 25): URIs, name-addr,
Via, parameters and comma-separated lists, sans-I/O. Each parse has a `str()`."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, replace

from telephony.sip.errors import SipParseError

_TOKEN = r"[A-Za-z0-9\-.!%*_+`'~]+"
TOKEN_RE = re.compile(rf"^{_TOKEN}$")
_HOST_RE = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-.]+)$")
_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+\-.]*$")
DIGITS_RE = re.compile(r"[0-9]+")
_URI_BAD_RE = re.compile(r'[ \t\r\n<>"]|%(?![0-9A-Fa-f]{2})')


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
    if not DIGITS_RE.fullmatch(port_text) or len(port_text) > 5:
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
        if not TOKEN_RE.fullmatch(name):
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
            if display is not None and not all(TOKEN_RE.fullmatch(w) for w in display.split()):
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
