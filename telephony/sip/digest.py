"""SIP digest authentication (RFC 2617, RFC 7616 algorithms; RFC 3261 22), sans-I/O.

Server side: `challenge` makes a WWW-Authenticate value whose nonce carries its issue time and
an HMAC, so `verify` needs no per-nonce state (memory stays bounded whatever the network
sends); a nonce older than `nonce_ttl_s` is answered with a fresh challenge marked
`stale=true` (`check` tells which). Within its lifetime a nonce can be replayed, as with any
stateless nonce. Client side: `authorization` answers a challenge (qop=auth, or none).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from enum import Enum

from telephony.sip.message import Request, split_list

NONCE_TTL_S = 300.0
ALGORITHMS = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}
# One random key per process: nonces from a previous run are simply stale.
_PROCESS_SECRET = secrets.token_bytes(32)
_MAX_HEADER = 4096


class DigestError(ValueError):
    """A challenge we cannot answer (unknown algorithm, only qop=auth-int, malformed)."""


class DigestResult(Enum):
    OK = "ok"
    STALE = "stale"  # a valid response to an expired nonce: challenge again with stale=true
    INVALID = "invalid"


def challenge(
    realm: str,
    *,
    stale: bool = False,
    algorithm: str = "MD5",
    secret: bytes = _PROCESS_SECRET,
    now: float | None = None,
) -> tuple[str, str]:
    """(WWW-Authenticate / Proxy-Authenticate value, nonce) for a 401 / 407."""
    if algorithm not in ALGORITHMS:
        raise DigestError(f"unknown algorithm {algorithm!r}")
    issued = int(time.time() if now is None else now)
    salt = secrets.token_hex(8)
    nonce = f"{issued:x}.{salt}.{_mac(secret, realm, issued, salt)}"
    value = f"Digest realm={_quote(realm)}, nonce={_quote(nonce)}, algorithm={algorithm}"
    value += ', qop="auth"' + (", stale=true" if stale else "")
    return value, nonce


def verify(
    request: Request,
    header_value: str,
    users: Mapping[str, str],
    realm: str,
    *,
    secret: bytes = _PROCESS_SECRET,
    now: float | None = None,
    nonce_ttl_s: float = NONCE_TTL_S,
) -> bool:
    """Whether an Authorization / Proxy-Authorization value proves a known user's password
    for this request, with a fresh nonce of ours. Never raises."""
    result = check(
        request, header_value, users, realm, secret=secret, now=now, nonce_ttl_s=nonce_ttl_s
    )
    return result is DigestResult.OK


def check(
    request: Request,
    header_value: str,
    users: Mapping[str, str],
    realm: str,
    *,
    secret: bytes = _PROCESS_SECRET,
    now: float | None = None,
    nonce_ttl_s: float = NONCE_TTL_S,
) -> DigestResult:
    """Like `verify`, telling an expired nonce (re-challenge with stale=true) from a failure."""
    params = parse_params(header_value)
    if params is None:
        return DigestResult.INVALID
    username, nonce = params.get("username"), params.get("nonce")
    uri, response = params.get("uri"), params.get("response")
    algorithm = params.get("algorithm", "MD5").upper()
    if (
        username is None
        or nonce is None
        or uri is None
        or response is None
        or params.get("realm") != realm
        or algorithm not in ALGORITHMS
        or username not in users
        or uri != str(request.uri)
    ):
        return DigestResult.INVALID
    age = _nonce_age(nonce, realm, secret, time.time() if now is None else now)
    if age is None:
        return DigestResult.INVALID
    qop = params.get("qop")
    if qop is not None and (qop != "auth" or "nc" not in params or "cnonce" not in params):
        return DigestResult.INVALID
    expected = _response(
        algorithm,
        username,
        realm,
        users[username],
        request.method,
        uri,
        nonce,
        qop,
        params.get("nc", ""),
        params.get("cnonce", ""),
    )
    if not hmac.compare_digest(expected.encode(), response.lower().encode()):
        return DigestResult.INVALID
    return DigestResult.STALE if age > nonce_ttl_s else DigestResult.OK


def authorization(
    challenge_header: str,
    method: str,
    uri: str,
    user: str,
    password: str,
    cseq_count: int,
    *,
    cnonce: str | None = None,
) -> str:
    """The Authorization value answering a WWW-Authenticate (or Proxy-Authenticate) value;
    `cseq_count` is the nonce count (nc), 1 for the first request with this nonce."""
    params = parse_params(challenge_header)
    if params is None or "realm" not in params or "nonce" not in params:
        raise DigestError("malformed digest challenge")
    algorithm = params.get("algorithm", "MD5").upper()
    if algorithm not in ALGORITHMS:
        raise DigestError(f"unsupported digest algorithm {algorithm!r}")
    realm, nonce = params["realm"], params["nonce"]
    offered = {q.strip().lower() for q in params.get("qop", "").split(",") if q.strip()}
    if offered and "auth" not in offered:
        raise DigestError(f"unsupported qop {params['qop']!r}")
    qop = "auth" if offered else None
    nc = f"{cseq_count:08x}"
    cnonce = cnonce or secrets.token_hex(8)
    digest = _response(algorithm, user, realm, password, method, uri, nonce, qop, nc, cnonce)
    parts = [
        f"Digest username={_quote(user)}",
        f"realm={_quote(realm)}",
        f"nonce={_quote(nonce)}",
        f"uri={_quote(uri)}",
        f"response={_quote(digest)}",
        f"algorithm={params.get('algorithm', 'MD5')}",
    ]
    if qop is not None:
        parts += [f"cnonce={_quote(cnonce)}", f"qop={qop}", f"nc={nc}"]
    if "opaque" in params:
        parts.append(f"opaque={_quote(params['opaque'])}")
    return ", ".join(parts)


def parse_params(header_value: str) -> dict[str, str] | None:
    """The auth-params of a `Digest ...` credentials or challenge value (names lower-cased,
    quotes removed); None when it is not a well-formed Digest value."""
    if len(header_value) > _MAX_HEADER:
        return None
    scheme, _, rest = header_value.strip().partition(" ")
    if scheme.lower() != "digest":
        return None
    params: dict[str, str] = {}
    for item in split_list(rest):
        name, eq, value = item.partition("=")
        name, value = name.strip().lower(), value.strip()
        if not eq or not name or name in params:
            return None
        if value.startswith('"'):
            if len(value) < 2 or not value.endswith('"'):
                return None
            value = _unquote(value[1:-1])
        params[name] = value
    return params


def _response(
    algorithm: str,
    user: str,
    realm: str,
    password: str,
    method: str,
    uri: str,
    nonce: str,
    qop: str | None,
    nc: str,
    cnonce: str,
) -> str:
    def h(text: str) -> str:
        return ALGORITHMS[algorithm](text.encode()).hexdigest()

    ha1 = h(f"{user}:{realm}:{password}")
    ha2 = h(f"{method}:{uri}")
    if qop is None:
        return h(f"{ha1}:{nonce}:{ha2}")  # RFC 2069 compatibility
    return h(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")


def _mac(secret: bytes, realm: str, issued: int, salt: str) -> str:
    message = f"{issued:x}.{salt}.{realm}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:32]


def _nonce_age(nonce: str, realm: str, secret: bytes, now: float) -> float | None:
    """Seconds since our nonce was issued; None when it is not ours (or from the future)."""
    issued_hex, _, rest = nonce.partition(".")
    salt, _, mac = rest.partition(".")
    if not (0 < len(issued_hex) <= 12) or not all(c in "0123456789abcdef" for c in issued_hex):
        return None
    issued = int(issued_hex, 16)
    if not hmac.compare_digest(mac.encode(), _mac(secret, realm, issued, salt).encode()):
        return None
    age = now - issued
    return None if age < -5 else age


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _unquote(text: str) -> str:
    out: list[str] = []
    escaped = False
    for char in text:
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            out.append(char)
    return "".join(out)
