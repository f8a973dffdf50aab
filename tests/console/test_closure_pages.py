"""The closures page on a real Redis: roles, CSRF, setting, listing, rejecting, lifting,
and the audit trail."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
from redis.asyncio import Redis

from console.audit import AuditAction, AuditLog
from console.closures import BERLIN
from console.roles import Role
from contract.closures import CLOSURES_KEY, MAX_NOTE_CHARS, parse_all
from tests.console.conftest import Login, csrf_of

PAGE = "/console/schliessungen"
LIFT = "/console/schliessungen/0123456789ab/aufheben"
NOTE = "Wegen einer Betriebsversammlung ab 12 Uhr geschlossen"


def local(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


def tomorrow(hour: int) -> datetime:
    day = datetime.now(BERLIN).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, 0)


def closure_form(csrf: str, **changes: str) -> dict[str, str]:
    form = {
        "csrf": csrf,
        "office": "buergerbuero",
        "starts": local(tomorrow(12)),
        "ends": local(tomorrow(18)),
        "note": NOTE,
    }
    return form | changes


async def stored(redis: Redis) -> int:
    return int(await redis.hlen(CLOSURES_KEY))


async def test_unauthenticated_requests_are_refused(
    client_for: Callable[[str], httpx.AsyncClient],
) -> None:
    client = client_for("http://testserver")
    page = await client.get(PAGE)
    assert (page.status_code, page.headers["location"]) == (303, "/console/login")
    assert (await client.get(PAGE, headers={"hx-request": "true"})).status_code == 401
    assert (await client.post(PAGE, data={})).status_code == 401
    assert (await client.post(LIFT, data={})).status_code == 401


async def test_clerks_and_privacy_get_403_and_no_menu_entry(redis: Redis, login: Login) -> None:
    for name, role in (("erika", Role.CLERK), ("dana", Role.PRIVACY)):
        client = await login(name, role)
        csrf = csrf_of((await client.get("/console/password")).text)
        assert (await client.get(PAGE)).status_code == 403, role
        assert (await client.post(PAGE, data=closure_form(csrf))).status_code == 403, role
        assert (await client.post(LIFT, data={"csrf": csrf})).status_code == 403, role
        assert "/console/schliessungen" not in (await client.get("/console/password")).text
    assert await stored(redis) == 0


async def test_team_lead_and_admin_see_the_page_in_the_menu(login: Login) -> None:
    for name, role in (("lea", Role.TEAM_LEAD), ("adm", Role.ADMIN)):
        client = await login(name, role)
        menu = await client.get("/console/password")
        assert 'href="/console/schliessungen">Schließungen</a>' in menu.text, role
        page = await client.get(PAGE)
        assert page.status_code == 200
        assert "Zurzeit ist keine Schließung eingetragen." in page.text
        assert '<label for="office">Dienststelle</label>' in page.text
        assert '<option value="buergerbuero">Bürgerbüro</option>' in page.text
        assert f'maxlength="{MAX_NOTE_CHARS}"' in page.text


async def test_team_lead_sets_lists_and_lifts_a_closure(redis: Redis, login: Login) -> None:
    lead = await login("lea", Role.TEAM_LEAD)
    csrf = csrf_of((await lead.get(PAGE)).text)
    added = await lead.post(PAGE, data=closure_form(csrf))
    assert (added.status_code, added.headers["location"]) == (303, f"{PAGE}?ok=gesetzt")
    [closure] = parse_all(await redis.hgetall(CLOSURES_KEY))
    assert (closure.office, closure.note, closure.created_by) == ("buergerbuero", NOTE, "lea")
    assert closure.starts == tomorrow(12).replace(tzinfo=BERLIN)
    assert closure.ends == tomorrow(18).replace(tzinfo=BERLIN)
    page = await lead.get(f"{PAGE}?ok=gesetzt")
    assert "Die Schließung ist eingetragen." in page.text
    day = tomorrow(12).strftime("%d.%m.%Y")
    for cell in ("Bürgerbüro", f"{day} 12:00", f"{day} 18:00", NOTE, "lea", "geplant"):
        assert f">{cell}</td>" in page.text, cell
    lift = f"{PAGE}/{closure.id}/aufheben"
    assert f'action="{lift}"' in page.text
    assert (await lead.post(lift, data={})).status_code == 403  # no CSRF token
    assert await stored(redis) == 1
    lifted = await lead.post(lift, data={"csrf": csrf})
    assert (lifted.status_code, lifted.headers["location"]) == (303, f"{PAGE}?ok=aufgehoben")
    assert await stored(redis) == 0
    assert (await lead.post(lift, data={"csrf": csrf})).status_code == 404
    assert (await lead.post(f"{PAGE}/x'1/aufheben", data={"csrf": csrf})).status_code == 404
    entries = await AuditLog(redis).entries()
    closures = [e for e in entries if e.action is AuditAction.CLOSURE]
    assert [(e.actor, e.target) for e in closures] == [("lea", "buergerbuero")] * 2
    assert closures[0].detail == f"removed {closure.id}"
    assert closures[1].detail.startswith(f"set {closure.id} ")
    after = await lead.get(f"{PAGE}?ok=aufgehoben")
    assert "Die Schließung ist aufgehoben." in after.text and NOTE not in after.text


async def test_a_closure_in_force_is_marked_as_such(redis: Redis, login: Login) -> None:
    lead = await login("lea", Role.TEAM_LEAD)
    csrf = csrf_of((await lead.get(PAGE)).text)
    now = datetime.now(BERLIN).replace(tzinfo=None)
    form = closure_form(csrf, starts=local(now - timedelta(hours=1)), ends=local(tomorrow(9)))
    assert (await lead.post(PAGE, data=form)).status_code == 303
    assert ">gilt jetzt</td>" in (await lead.get(PAGE)).text


async def test_post_without_csrf_or_from_another_origin_is_403(redis: Redis, login: Login) -> None:
    lead = await login("lea", Role.TEAM_LEAD)
    csrf = csrf_of((await lead.get(PAGE)).text)
    assert (await lead.post(PAGE, data=closure_form(""))).status_code == 403
    assert (await lead.post(PAGE, data=closure_form("forged"))).status_code == 403
    evil = {"origin": "https://evil.example"}
    assert (await lead.post(PAGE, data=closure_form(csrf), headers=evil)).status_code == 403
    assert await stored(redis) == 0


async def test_bad_closures_show_the_german_reason_and_store_nothing(
    redis: Redis, login: Login
) -> None:
    lead = await login("lea", Role.TEAM_LEAD)
    csrf = csrf_of((await lead.get(PAGE)).text)
    cases = [
        ({"ends": local(tomorrow(11))}, "Das Ende muss nach dem Beginn liegen."),
        ({"office": "schwimmbad"}, "Unbekannte Dienststelle: &#39;schwimmbad&#39;."),
        ({"note": "x" * (MAX_NOTE_CHARS + 1)}, f"mehr als {MAX_NOTE_CHARS} Zeichen"),
        ({"note": "   "}, "Bitte geben Sie einen kurzen Hinweis an."),
        ({"starts": "morgen"}, "Bitte geben Sie Beginn und Ende jeweils mit Datum"),
        ({"ends": "2026-13-40T25:00"}, "Bitte geben Sie Beginn und Ende jeweils mit Datum"),
    ]
    for changes, message in cases:
        response = await lead.post(PAGE, data=closure_form(csrf, **changes))
        assert response.status_code == 400, changes
        assert 'role="alert">' in response.text and message in response.text, changes
        assert 'aria-describedby="closure-error"' in response.text
        assert await stored(redis) == 0, changes
    kept = await lead.post(PAGE, data=closure_form(csrf, ends=local(tomorrow(11))))
    assert f'value="{NOTE}"' in kept.text  # the input stays for correcting
    at_limit = await lead.post(PAGE, data=closure_form(csrf, note="x" * MAX_NOTE_CHARS))
    assert at_limit.status_code == 303 and await stored(redis) == 1
    audit = await AuditLog(redis).entries()
    assert [e.action for e in audit if e.action is AuditAction.CLOSURE] == [AuditAction.CLOSURE]


async def test_notes_are_escaped(redis: Redis, login: Login) -> None:
    lead = await login("lea", Role.TEAM_LEAD)
    csrf = csrf_of((await lead.get(PAGE)).text)
    xss = '<script>alert("x")</script>'
    assert (await lead.post(PAGE, data=closure_form(csrf, note=xss))).status_code == 303
    page = (await lead.get(PAGE)).text
    assert xss not in page and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
