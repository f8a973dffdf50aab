"""The console's HTTP side on a real Redis: login, roles, CSRF, Origin, lockout, cookies,
logout, escaping, headers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pyotp
import pytest
from redis.asyncio import Redis

from console.accounts import Accounts
from console.audit import AuditAction, AuditLog
from console.roles import Role
from console.sessions import SessionStore, session_key
from contract.conversation import Case, TranscriptRecord
from contract.conversation import Role as LineRole
from contract.language import Register
from contract.records import OPEN_CASES_KEY, Channel, case_key, transcript_key
from tests.console.conftest import PASSWORD, Login, csrf_of, password_step

CASE = "C-20261201-K7QX2M"
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'
GET_ROUTES = [
    "/console/inbox",
    "/console/inbox/rows",
    "/console/events",
    f"/console/case/{CASE}",
    f"/console/case/{CASE}/print",
    f"/console/case/{CASE}/recording",
    "/console/users",
    "/console/schliessungen",
    "/console/password",
]
POST_ROUTES = [
    "/console/logout",
    "/console/password",
    f"/console/case/{CASE}/claim",
    f"/console/case/{CASE}/status",
    f"/console/case/{CASE}/note",
    f"/console/case/{CASE}/attempt",
    f"/console/case/{CASE}/reassign",
    "/console/schliessungen",
    "/console/schliessungen/0123456789ab/aufheben",
]


async def open_case(redis: Redis, text: str = "Ich brauche einen Ausweis") -> None:
    case = Case(CASE, "s" * 32, Channel.WEBCHAT, "user_request", "buergerbuero", 1_795_000_000.0)
    await redis.hset(case_key(CASE), mapping=case.to_fields())  # type: ignore[arg-type]
    await redis.zadd(OPEN_CASES_KEY, {CASE: case.created_at})
    line = TranscriptRecord(
        "a" * 32, 1_795_000_000.0, Channel.WEBCHAT, LineRole.USER, text, "id_card", 0.9
    )
    await redis.xadd(transcript_key("s" * 32), line.to_fields())  # type: ignore[arg-type]


async def test_unauthenticated_requests_are_refused(
    client_for: Callable[[str], httpx.AsyncClient],
) -> None:
    client = client_for("http://testserver")
    root = await client.get("/console/")
    assert (root.status_code, root.headers["location"]) == (303, "/console/login")
    for path in GET_ROUTES:
        response = await client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"] == "/console/login"
        assert (await client.get(path, headers={"hx-request": "true"})).status_code == 401
    for path in POST_ROUTES:
        assert (await client.post(path, data={})).status_code == 401, path


async def test_wrong_roles_get_403(redis: Redis, login: Login) -> None:
    privacy = await login("dana", Role.PRIVACY)
    for path in GET_ROUTES:
        if path != "/console/password":  # every role changes its own password
            assert (await privacy.get(path)).status_code == 403, path
    clerk = await login("erika", Role.CLERK)
    assert (await clerk.get("/console/users")).status_code == 403
    page = await clerk.get("/console/inbox")
    reassign = await clerk.post(
        f"/console/case/{CASE}/reassign", data={"csrf": csrf_of(page.text), "user": "erika"}
    )
    assert reassign.status_code == 403
    admin = await login("adm", Role.ADMIN)
    users = await admin.get("/console/users")
    assert users.status_code == 200 and "dana" in users.text
    assert (await admin.get("/console/inbox")).status_code == 403


async def test_post_without_csrf_or_from_another_origin_is_403(redis: Redis, login: Login) -> None:
    await open_case(redis)
    clerk = await login("erika")
    csrf = csrf_of((await clerk.get("/console/inbox")).text)
    claim = f"/console/case/{CASE}/claim"
    assert (await clerk.post(claim, data={})).status_code == 403
    assert (await clerk.post(claim, data={"csrf": "forged"})).status_code == 403
    evil = {"origin": "https://evil.example"}
    assert (await clerk.post(claim, data={"csrf": csrf}, headers=evil)).status_code == 403
    assert (await clerk.post(claim, headers={"x-csrf-token": csrf})).status_code == 303
    assert (await clerk.post("/console/logout", data={})).status_code == 403


async def test_login_without_csrf_is_403(client_for: Callable[[str], httpx.AsyncClient]) -> None:
    client = client_for("http://testserver")
    response = await client.post("/console/login", data={"username": "x", "password": "y"})
    assert response.status_code == 403


async def test_login_form_labels(client_for: Callable[[str], httpx.AsyncClient]) -> None:
    page = await client_for("http://testserver").get("/console/login")
    assert 'for="username">Benutzername</label>' in page.text
    assert 'for="password">Passwort</label>' in page.text
    assert "Sicherheitscode" not in page.text


async def test_sixth_wrong_password_is_refused_even_when_right(
    redis: Redis, client_for: Callable[[str], httpx.AsyncClient]
) -> None:
    await Accounts(redis).add("erika", PASSWORD, role=Role.CLERK)
    client = client_for("http://testserver")
    for _ in range(4):
        assert (await password_step(client, "erika", "falsch")).status_code == 401
    # the 5th wrong one locks the pair; before it, the right password still works
    assert (await password_step(client, "erika", PASSWORD)).status_code == 200
    for _ in range(5):
        await password_step(client, "erika", "falsch")
    locked = await password_step(client, "erika", PASSWORD)
    assert locked.status_code == 429 and "Zu viele Fehlversuche" in locked.text
    assert "Sicherheitscode" not in locked.text
    entries = await AuditLog(redis).entries(count=20)
    assert any(e.action is AuditAction.LOGIN_FAILED and e.detail == "locked" for e in entries)
    # another address is not locked out (only slowed down)
    other = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=client._transport.app, client=("10.9.9.9", 1)),  # type: ignore[attr-defined]
        base_url="http://testserver",
        headers={"origin": "http://testserver"},
    )
    assert (await password_step(other, "erika", PASSWORD)).status_code == 200
    # the lockout ends with its key's expiry
    for key in await redis.keys("rb:console:fail:erika:*"):
        await redis.delete(key)
    assert (await password_step(client, "erika", PASSWORD)).status_code == 200


async def test_wrong_code_stays_at_step_two(
    redis: Redis, client_for: Callable[[str], httpx.AsyncClient]
) -> None:
    enrolment = await Accounts(redis).add("erika", PASSWORD, role=Role.CLERK)
    client = client_for("http://testserver")
    step = await password_step(client, "erika")
    code = pyotp.TOTP(enrolment.secret).now()
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    again = await client.post(
        "/console/login/code", data={"csrf": csrf_of(step.text), "code": wrong}
    )
    assert again.status_code == 401 and "Sicherheitscode" in again.text
    assert (await client.get("/console/inbox")).status_code == 303  # not signed in


async def test_enrolment_after_a_reset_shows_a_qr_code(
    redis: Redis, client_for: Callable[[str], httpx.AsyncClient]
) -> None:
    accounts = Accounts(redis)
    await accounts.add("erika", PASSWORD, role=Role.CLERK)
    await accounts.reset_second_factor("erika")
    client = client_for("http://testserver")
    step = await password_step(client, "erika")
    assert 'src="data:image/svg+xml;base64,' in step.text and "Sicherheitscode" in step.text
    secret = step.text.split('class="secret">')[1].split("<")[0]
    done = await client.post(
        "/console/login/code",
        data={"csrf": csrf_of(step.text), "code": pyotp.TOTP(secret).now()},
    )
    assert done.status_code == 303
    account = await accounts.get("erika")
    assert account is not None and account.enrolled


async def test_cookie_flags_plain_and_tls(redis: Redis, login: Login) -> None:
    plain = await login("erika")
    assert "rb_console" in plain.cookies
    tls = await login("max", base="https://console.example")
    assert "__Host-rb_console" in tls.cookies
    # inspect the Set-Cookie header of a TLS login
    enrolment = await Accounts(redis).add("eva", PASSWORD, role=Role.CLERK)
    client = httpx.AsyncClient(
        transport=tls._transport,  # type: ignore[attr-defined]
        base_url="https://console.example",
        headers={"origin": "https://console.example"},
    )
    step = await password_step(client, "eva")
    done = await client.post(
        "/console/login/code",
        data={"csrf": csrf_of(step.text), "code": pyotp.TOTP(enrolment.secret).now()},
    )
    header = next(
        h for h in done.headers.get_list("set-cookie") if h.startswith("__Host-rb_console=")
    )
    flags = {part.strip().lower() for part in header.split(";")[1:]}
    assert {"httponly", "secure", "path=/", "samesite=lax"} <= flags
    assert not any(flag.startswith("domain") for flag in flags)


async def test_logout_revokes_the_session_server_side(redis: Redis, login: Login) -> None:
    client = await login("erika")
    token = client.cookies["rb_console"]
    assert await redis.exists(session_key(token))
    csrf = csrf_of((await client.get("/console/inbox")).text)
    assert (await client.post("/console/logout", data={"csrf": csrf})).status_code == 303
    assert not await redis.exists(session_key(token))
    client.cookies.set("rb_console", token)  # the old cookie, replayed
    assert (await client.get("/console/inbox")).status_code == 303


async def test_disabling_ends_sessions(redis: Redis, login: Login) -> None:
    client = await login("erika")
    await Accounts(redis).set_disabled("erika", True)
    assert (await client.get("/console/inbox")).status_code == 303


async def test_citizen_text_is_escaped_and_views_are_audited(redis: Redis, login: Login) -> None:
    await open_case(redis, XSS)
    clerk = await login("erika")
    page = await clerk.get(f"/console/case/{CASE}")
    assert page.status_code == 200
    assert XSS not in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text
    assert "Personalausweis" in page.text  # topic from the intent
    printed = await clerk.get(f"/console/case/{CASE}/print")
    assert printed.status_code == 200 and "Erkannt: Personalausweis" in printed.text
    assert XSS not in printed.text and "&lt;script&gt;" in printed.text
    entries = await AuditLog(redis).entries(count=5)
    assert [(e.action, e.target) for e in entries[:2]] == [(AuditAction.VIEW_TRANSCRIPT, CASE)] * 2
    assert XSS not in str(entries)


async def test_claim_by_two_clerks_and_only_the_owner_changes(redis: Redis, login: Login) -> None:
    await open_case(redis)
    erika, max_ = await login("erika"), await login("max")
    assert (await erika.get(f"/console/case/{CASE}")).status_code == 200
    first = await erika.post(
        f"/console/case/{CASE}/claim",
        data={"csrf": csrf_of((await erika.get("/console/inbox")).text)},
    )
    assert first.status_code == 303
    max_csrf = csrf_of((await max_.get("/console/inbox")).text)
    second = await max_.post(f"/console/case/{CASE}/claim", data={"csrf": max_csrf})
    page = await max_.get(second.headers["location"])
    assert "Bereits übernommen von erika" in page.text
    assert "Ebenfalls geöffnet von: erika" in page.text
    refused = await max_.post(
        f"/console/case/{CASE}/status", data={"csrf": max_csrf, "status": "erledigt"}
    )
    assert "Nur die Person" in (await max_.get(refused.headers["location"])).text
    erika_csrf = csrf_of((await erika.get("/console/inbox")).text)
    done = await erika.post(
        f"/console/case/{CASE}/status", data={"csrf": erika_csrf, "status": "erledigt"}
    )
    assert done.status_code == 303
    assert await redis.hget(case_key(CASE), "status") == "closed"


async def test_security_headers_on_console_pages(
    client_for: Callable[[str], httpx.AsyncClient],
) -> None:
    page = await client_for("http://testserver").get("/console/login")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    assert "<script>" not in page.text.replace('<script src="', "")


def test_console_pages_send_their_origin_but_no_referrer_elsewhere() -> None:
    from rathausbot.headers import security_headers

    assert security_headers("/console/login")["referrer-policy"] == "same-origin"
    assert security_headers("/console")["referrer-policy"] == "same-origin"
    assert security_headers("/consoles")["referrer-policy"] == "no-referrer"
    assert security_headers("/index.html")["referrer-policy"] == "no-referrer"


async def test_team_lead_sees_totals_and_reassigns(redis: Redis, login: Login) -> None:
    await open_case(redis)
    clerk = await login("erika")
    lead = await login("chef", Role.TEAM_LEAD)
    page = await lead.get("/console/inbox")
    assert "Team: offene Vorgänge" in page.text
    assert "Team: offene Vorgänge" not in (await clerk.get("/console/inbox")).text
    moved = await lead.post(
        f"/console/case/{CASE}/reassign", data={"csrf": csrf_of(page.text), "user": "erika"}
    )
    assert "Zugewiesen an erika" in (await lead.get(moved.headers["location"])).text
    mine = await clerk.get("/console/inbox?meine=1")
    assert CASE in mine.text
    entries = await AuditLog(redis).entries(count=3)
    assert any(e.action is AuditAction.REASSIGN and e.detail == "erika" for e in entries)


async def test_recording_plays_through_a_signed_link_only(
    redis: Redis, login: Login, tmp_path: Path
) -> None:
    await open_case(redis)
    clerk = await login("erika")
    page = await clerk.get(f"/console/case/{CASE}")
    assert "Aufzeichnung" not in page.text  # no consent, no recording, no link
    (tmp_path / "20261201T100000Z-abc.wav").write_bytes(b"RIFF-test")
    await redis.hset(case_key(CASE), "recording", "20261201T100000Z-abc.wav")
    page = await clerk.get(f"/console/case/{CASE}")
    link = page.text.split('<a href="/console/case/' + CASE + "/recording?")[1].split('"')[0]
    played = await clerk.get(f"/console/case/{CASE}/recording?" + link.replace("&amp;", "&"))
    assert (played.status_code, played.content) == (200, b"RIFF-test")
    forged = await clerk.get(f"/console/case/{CASE}/recording?exp=9999999999&sig=00")
    assert forged.status_code == 403
    entries = await AuditLog(redis).entries(count=1)
    assert (entries[0].action, entries[0].target) == (AuditAction.VIEW_RECORDING, CASE)


def test_recording_link_check(tmp_path: Path) -> None:
    from console.pages import RecordingLinks

    (tmp_path / "call.wav").write_bytes(b"RIFF")
    now = [1_795_000_000.0]
    links = RecordingLinks(b"k" * 32, tmp_path, ttl_s=300, clock=lambda: now[0])
    url = links.link(CASE, "call.wav")
    query = dict(part.split("=") for part in url.split("?")[1].split("&"))
    assert links.check(CASE, "call.wav", query["exp"], query["sig"]) == tmp_path / "call.wav"
    assert links.check("C-20261201-OTHER2", "call.wav", query["exp"], query["sig"]) is None
    assert links.check(CASE, "call.wav", str(int(query["exp"]) + 1), query["sig"]) is None
    now[0] += 300
    assert links.check(CASE, "call.wav", query["exp"], query["sig"]) is not None
    now[0] += 1
    assert links.check(CASE, "call.wav", query["exp"], query["sig"]) is None


async def test_callback_view_print_and_attempts(redis: Redis, login: Login) -> None:
    from contract.records import Callback, CallbackWindow, RecordKind

    callback = Callback("R-K7QX2M", "+4930123456", CallbackWindow.MORNING, Channel.VOICE, 1.0e9)
    await redis.hset(RecordKind.CALLBACK.key("R-K7QX2M"), mapping=callback.to_fields())  # type: ignore[arg-type]
    await redis.zadd(RecordKind.CALLBACK.index_key, {"R-K7QX2M": callback.created_at})
    clerk = await login("erika")
    inbox = await clerk.get("/console/inbox")
    assert "R-K7QX2M" in inbox.text and "überfällig" in inbox.text  # due long ago
    assert "+4930123456" not in inbox.text and "+493•••••56" in inbox.text  # masked in lists
    rows = await clerk.get("/console/inbox/rows")
    assert "+4930123456" not in rows.text and "+493•••••56" in rows.text
    page = await clerk.get("/console/case/R-K7QX2M")
    assert 'href="tel:+4930123456"' in page.text  # visible in the case
    csrf = csrf_of(page.text)
    await clerk.post("/console/case/R-K7QX2M/claim", data={"csrf": csrf})
    for _ in range(3):
        attempt = await clerk.post(
            "/console/case/R-K7QX2M/attempt", data={"csrf": csrf, "outcome": "nicht erreicht"}
        )
        assert attempt.status_code == 303
    page = await clerk.get("/console/case/R-K7QX2M")
    assert "Drei Rückrufversuche ohne Erfolg" in page.text
    bad = await clerk.post(
        "/console/case/R-K7QX2M/attempt", data={"csrf": csrf, "outcome": "vielleicht"}
    )
    assert bad.status_code == 400
    printed = await clerk.get("/console/case/R-K7QX2M/print")
    assert printed.status_code == 200 and "print.css" in printed.text
    assert "<script" not in printed.text and "+4930123456" in printed.text
    unknown = await clerk.get("/console/case/R-NONE22")
    assert unknown.status_code == 404
    assert (await clerk.get("/console/case/..%2Fetc")).status_code == 404


async def test_own_password_change_ends_every_session(redis: Redis, login: Login) -> None:
    client = await login("erika")
    elsewhere = await SessionStore(redis).create("erika")  # another device
    page = await client.get("/console/password")
    csrf = csrf_of(page.text)
    wrong = await client.post(
        "/console/password",
        data={"csrf": csrf, "current": "falsch", "new": "x" * 12, "repeat": "x" * 12},
    )
    assert wrong.status_code == 400 and "bisherige Passwort ist falsch" in wrong.text
    short = await client.post(
        "/console/password",
        data={"csrf": csrf, "current": PASSWORD, "new": "x" * 11, "repeat": "x" * 11},
    )
    assert short.status_code == 400 and "mindestens 12 Zeichen" in short.text
    done = await client.post(
        "/console/password",
        data={"csrf": csrf, "current": PASSWORD, "new": "y" * 12, "repeat": "y" * 12},
    )
    assert (done.status_code, done.headers["location"]) == (303, "/console/login")
    assert (await client.get("/console/inbox")).status_code == 303  # signed out
    assert not await redis.exists(session_key(elsewhere.token))
    assert await Accounts(redis).check_password("erika", "y" * 12)
    entry = (await AuditLog(redis).entries(count=1))[0]
    assert entry.action is AuditAction.PASSWORD_CHANGED


def test_a_phone_number_is_masked_for_lists() -> None:
    from console.inbox import mask_phone

    assert mask_phone("+4930123456") == "+493•••••56"
    assert mask_phone("1234567") == "1234•67"  # seven characters: one hidden
    assert mask_phone("123456") == "••••••"  # six or fewer: all hidden
    assert mask_phone(" ") == ""


async def test_a_transferred_call_shows_where_it_went(redis: Redis, login: Login) -> None:
    case = Case(CASE, "v" * 32, Channel.VOICE, "user_request", "buergerbuero", 1_795_000_000.0)
    fields = {**case.to_fields(), "transferred_to": "sip:buergerbuero@pbx.example"}
    await redis.hset(case_key(CASE), mapping=fields)  # type: ignore[arg-type]
    await redis.zadd(OPEN_CASES_KEY, {CASE: case.created_at})
    clerk = await login("erika")
    page = await clerk.get(f"/console/case/{CASE}")
    assert "<dt>Weitergeleitet an</dt><dd>sip:buergerbuero@pbx.example (Anruf übergeben)</dd>" in (
        page.text
    )
    assert "Gespräch übernehmen" not in page.text  # phone cases have no live chat


@pytest.mark.parametrize(
    ("register", "label"),
    [(Register.EN, "Englisch"), (Register.EINFACH, "Leichte Sprache"), (Register.DE, None)],
)
async def test_cases_in_english_or_leichte_sprache_are_labelled(
    redis: Redis, login: Login, register: Register, label: str | None
) -> None:
    case = Case(
        CASE, "s" * 32, Channel.WEBCHAT, "user_request", "buergerbuero", 1_795_000_000.0,
        register=register,
    )  # fmt: skip
    await redis.hset(case_key(CASE), mapping=case.to_fields())  # type: ignore[arg-type]
    await redis.zadd(OPEN_CASES_KEY, {CASE: case.created_at})
    clerk = await login("erika")
    inbox = (await clerk.get("/console/inbox")).text
    detail = (await clerk.get(f"/console/case/{CASE}")).text
    if label is None:
        assert 'class="badge lang"' not in inbox + detail
    else:
        assert f'<span class="badge lang">{label}</span>' in inbox
        assert f'<dt>Sprache</dt><dd><span class="badge lang">{label}</span></dd>' in detail
