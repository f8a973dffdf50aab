"""STAND-IN until the merge of issue-sip-parse (which provides the real module)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping

from telephony.sip.message import Request


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - RFC 2617 digest


def _params(value: str) -> dict[str, str]:
    _, _, rest = value.partition(" ")
    out: dict[str, str] = {}
    for part in rest.split(","):
        key, _, val = part.strip().partition("=")
        out[key.strip().lower()] = val.strip().strip('"')
    return out


def challenge(realm: str) -> tuple[str, str]:
    nonce = secrets.token_hex(16)
    return f'Digest realm="{realm}", nonce="{nonce}", algorithm=MD5', nonce


def verify(request: Request, header_value: str, users: Mapping[str, str], realm: str) -> bool:
    p = _params(header_value)
    password = users.get(p.get("username", ""))
    if password is None or p.get("realm") != realm:
        return False
    ha1 = _md5(f"{p['username']}:{realm}:{password}")
    ha2 = _md5(f"{request.method}:{p.get('uri', '')}")
    if "qop" in p:
        expected = _md5(f"{ha1}:{p.get('nonce')}:{p.get('nc')}:{p.get('cnonce')}:{p['qop']}:{ha2}")
    else:
        expected = _md5(f"{ha1}:{p.get('nonce')}:{ha2}")
    return secrets.compare_digest(expected, p.get("response", ""))


def authorization(
    challenge_header: str, method: str, uri: str, user: str, password: str, cseq_count: int
) -> str:
    p = _params(challenge_header)
    realm, nonce = p.get("realm", ""), p.get("nonce", "")
    ha1 = _md5(f"{user}:{realm}:{password}")
    ha2 = _md5(f"{method}:{uri}")
    if "auth" in p.get("qop", "").split(","):
        cnonce, nc = secrets.token_hex(8), f"{cseq_count:08x}"
        response = _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
        return (
            f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
            f'response="{response}", algorithm=MD5, qop=auth, nc={nc}, cnonce="{cnonce}"'
        )
    response = _md5(f"{ha1}:{nonce}:{ha2}")
    return (
        f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
        f'response="{response}", algorithm=MD5'
    )
