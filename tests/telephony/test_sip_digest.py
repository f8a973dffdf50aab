from __future__ import annotations

import pytest

from telephony.sip.digest import (
    DigestError,
    DigestResult,
    authorization,
    challenge,
    check,
    parse_params,
    verify,
)
from telephony.sip.message import Request, parse
from tests.telephony.sip_samples import wire

SECRET = b"k" * 32
USERS = {"rathaus": "Geheim 123", "pbx": "x"}
REGISTER = wire(
    "REGISTER sip:pbx.example.de SIP/2.0",
    "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKreg1",
    "Max-Forwards: 70",
    "From: <sip:rathaus@pbx.example.de>;tag=r1",
    "To: <sip:rathaus@pbx.example.de>",
    "Call-ID: reg-1@192.0.2.10",
    "CSeq: 2 REGISTER",
    "Contact: <sip:rathaus@192.0.2.10:5060>",
    "Content-Length: 0",
)

# RFC 2617 section 3.5 (MD5) and RFC 7616 section 3.9.1 (MD5 and SHA-256).
RFC2617 = (
    'Digest realm="testrealm@host.com", qop="auth,auth-int", '
    'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"'
)
RFC7616 = (
    'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm={}, '
    'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", '
    'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
)


def request() -> Request:
    message = parse(REGISTER)
    assert isinstance(message, Request)
    return message


def test_client_response_matches_the_rfc2617_example() -> None:
    value = authorization(
        RFC2617, "GET", "/dir/index.html", "Mufasa", "Circle Of Life", 1, cnonce="0a4f113b"
    )
    params = parse_params(value)
    assert params is not None
    assert params["response"] == "6629fae49393a05397450978507c4ef1"
    assert (params["qop"], params["nc"], params["cnonce"]) == ("auth", "00000001", "0a4f113b")
    assert params["opaque"] == "5ccc069c403ebaf9f0171e9517f40e41"
    assert params["username"] == "Mufasa"
    assert params["uri"] == "/dir/index.html"


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
def test_client_response_matches_the_rfc7616_examples(algorithm: str, expected: str) -> None:
    cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
    value = authorization(
        RFC7616.format(algorithm), "GET", "/dir/index.html", "Mufasa", "Circle of Life", 1,
        cnonce=cnonce,
    )  # fmt: skip
    params = parse_params(value)
    assert params is not None
    assert params["response"] == expected
    assert params["algorithm"] == algorithm


def test_client_without_qop_uses_rfc2069_digest() -> None:
    value = authorization('Digest realm="r", nonce="n"', "INVITE", "sip:a@b", "u", "p", 1)
    params = parse_params(value)
    assert params is not None
    assert "qop" not in params and "nc" not in params
    # H(H(u:r:p):n:H(INVITE:sip:a@b)), computed with hashlib by hand
    assert params["response"] == "268f5a320f4c7be8a96bd7b8aa197d6b"


@pytest.mark.parametrize(
    "value",
    [
        'Digest realm="r", nonce="n", qop="auth-int"',
        'Digest realm="r", nonce="n", algorithm=SHA-512-256',
        'Digest nonce="n"',
        'Basic realm="r"',
        'Digest realm="r, nonce="n"',
    ],
)
def test_client_refuses_challenges_it_cannot_answer(value: str) -> None:
    with pytest.raises(DigestError):
        authorization(value, "INVITE", "sip:a@b", "u", "p", 1)


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
def test_server_accepts_a_correct_response(algorithm: str) -> None:
    header, nonce = challenge("rathausbot", algorithm=algorithm, secret=SECRET, now=1000.0)
    assert f'nonce="{nonce}"' in header
    assert 'qop="auth"' in header and "stale" not in header
    value = authorization(header, "REGISTER", "sip:pbx.example.de", "rathaus", "Geheim 123", 1)
    assert verify(request(), value, USERS, "rathausbot", secret=SECRET, now=1010.0)


def test_server_default_secret_and_clock_work_together() -> None:
    header, _ = challenge("rathausbot")
    value = authorization(header, "REGISTER", "sip:pbx.example.de", "pbx", "x", 1)
    assert verify(request(), value, USERS, "rathausbot")


def answer(password: str = "Geheim 123", *, uri: str = "sip:pbx.example.de", **kw: float) -> str:
    header, _ = challenge("rathausbot", secret=SECRET, now=kw.get("issued", 1000.0))
    return authorization(header, "REGISTER", uri, "rathaus", password, 1)


def outcome(value: str, *, now: float = 1010.0, realm: str = "rathausbot") -> DigestResult:
    return check(request(), value, USERS, realm, secret=SECRET, now=now)


def test_server_rejects_wrong_password_user_realm_uri_or_method() -> None:
    assert outcome(answer("falsch")) is DigestResult.INVALID
    assert outcome(answer(), realm="other") is DigestResult.INVALID
    assert outcome(answer(uri="sip:other.example.de")) is DigestResult.INVALID
    assert outcome(answer().replace('username="rathaus"', 'username="nobody"')) is (
        DigestResult.INVALID
    )
    header, _ = challenge("rathausbot", secret=SECRET, now=1000.0)
    invite = authorization(header, "INVITE", "sip:pbx.example.de", "rathaus", "Geheim 123", 1)
    assert outcome(invite) is DigestResult.INVALID


def test_server_rejects_a_nonce_it_did_not_issue() -> None:
    header, _ = challenge("rathausbot", secret=b"another key", now=1000.0)
    value = authorization(header, "REGISTER", "sip:pbx.example.de", "rathaus", "Geheim 123", 1)
    assert outcome(value) is DigestResult.INVALID
    forged = 'Digest realm="rathausbot", nonce="3e8.00.ff", qop="auth"'
    value = authorization(forged, "REGISTER", "sip:pbx.example.de", "rathaus", "Geheim 123", 1)
    assert outcome(value) is DigestResult.INVALID


def test_expired_nonce_is_stale_and_rechallenged() -> None:
    value = answer()
    assert outcome(value, now=1000.0 + 299) is DigestResult.OK
    assert outcome(value, now=1000.0 + 301) is DigestResult.STALE
    assert not verify(request(), value, USERS, "rathausbot", secret=SECRET, now=1301.0)
    assert outcome(value, now=900.0) is DigestResult.INVALID  # issued in the future
    header, _ = challenge("rathausbot", stale=True, secret=SECRET, now=1301.0)
    assert header.endswith(", stale=true")


@pytest.mark.parametrize(
    "value",
    [
        "",
        "Digest",
        "Basic dXNlcjpwYXNz",
        'Digest username="rathaus"',
        'Digest username="rathaus", username="pbx", realm="rathausbot"',
        'Digest username="rathaus, realm="rathausbot"',
        "Digest " + "a=b, " * 2000,
        'Digest username="räthaus", realm="rathausbot", nonce="ä.ö.ü", uri="sip:pbx.example.de",'
        ' response="ß"',
    ],
)
def test_server_never_raises_on_malformed_credentials(value: str) -> None:
    assert outcome(value) is DigestResult.INVALID


def test_server_requires_nc_and_cnonce_with_qop() -> None:
    value = answer()
    stripped = ", ".join(p for p in value.split(", ") if not p.startswith("nc="))
    assert outcome(stripped) is DigestResult.INVALID


def test_quoted_values_round_trip_with_escapes() -> None:
    header, _ = challenge('Amt "Mitte"\\Nord', secret=SECRET, now=1.0)
    params = parse_params(header)
    assert params is not None
    assert params["realm"] == 'Amt "Mitte"\\Nord'
