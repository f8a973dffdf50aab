"""The privacy officer's pages on a real Redis: roles, CSRF, search, export, erasure with
its confirmation and tombstone, legal hold, retention, the audit log and its chain check,
the Art. 30 record."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime

import httpx
from redis.asyncio import Redis

from console.audit import STREAM_KEY, AuditAction, AuditLog
from console.audit_labels import ACTION_LABELS, detail_text
from console.roles import Role
from contract.records import Callback, CallbackWindow, Channel, RecordKind
from rathausbot.retention import DAY_S, FLAG_GRACE_DAYS
from telephony.staff_hours import BERLIN
from tests.console.conftest import Login, csrf_of

PAGE = "/console/datenschutz"
GETS = [PAGE, f"{PAGE}/aufbewahrung", f"{PAGE}/protokoll", f"{PAGE}/verzeichnis"]
POSTS = [f"{PAGE}/suche", f"{PAGE}/export", f"{PAGE}/loeschen", f"{PAGE}/sperre"]
ERIKA = "+49301234567"


async def callback(redis: Redis, reference: str, phone: str) -> None:
    fields = Callback(reference, phone, CallbackWindow.ANYTIME, Channel.VOICE, 1e9).to_fields()
    await redis.hset(RecordKind.CALLBACK.key(reference), mapping=fields)  # type: ignore[arg-type]


async def officer(login: Login) -> tuple[httpx.AsyncClient, str]:
    client = await login("dana", Role.PRIVACY)
    page = await client.get(PAGE)
    assert page.status_code == 200
    return client, csrf_of(page.text)


async def test_unauthenticated_requests_are_refused(
    client_for: Callable[[str], httpx.AsyncClient],
) -> None:
    client = client_for("http://testserver")
    for path in GETS:
        response = await client.get(path)
        assert (response.status_code, response.headers["location"]) == (303, "/console/login")
    for path in POSTS:
        assert (await client.post(path, data={})).status_code == 401, path


async def test_every_other_role_gets_403(redis: Redis, login: Login) -> None:
    for name, role in (("erika", Role.CLERK), ("tom", Role.TEAM_LEAD), ("adm", Role.ADMIN)):
        client = await login(name, role)
        csrf = csrf_of((await client.get("/console/password")).text)
        for path in GETS:
            assert (await client.get(path)).status_code == 403, (role, path)
        for path in POSTS:
            response = await client.post(path, data={"csrf": csrf, "kind": "phone", "q": ERIKA})
            assert response.status_code == 403, (role, path)
        assert 'href="/console/datenschutz"' not in (await client.get("/console/password")).text
    assert await AuditLog(redis).entries() != []
    assert not any(e.action is AuditAction.PRIVACY_SEARCH for e in await AuditLog(redis).entries())


async def test_the_officer_starts_on_the_privacy_page_with_a_menu_entry(login: Login) -> None:
    client, _ = await officer(login)
    assert (await client.get("/console/")).headers["location"] == PAGE
    assert 'href="/console/datenschutz"' in (await client.get(PAGE)).text


async def test_posts_need_csrf_and_our_origin(redis: Redis, login: Login) -> None:
    await callback(redis, "R-AAAAAA", ERIKA)
    client, csrf = await officer(login)
    form = {"kind": "phone", "q": ERIKA, "confirm": "LÖSCHEN"}
    for path in POSTS:
        assert (await client.post(path, data=form)).status_code == 403, path
    evil = {"origin": "https://evil.example"}
    erase = await client.post(f"{PAGE}/loeschen", data={**form, "csrf": csrf}, headers=evil)
    assert erase.status_code == 403
    assert await redis.exists(RecordKind.CALLBACK.key("R-AAAAAA"))


async def test_search_preview_erase_and_tombstone(redis: Redis, login: Login) -> None:
    await callback(redis, "R-AAAAAA", "030 1234567")
    await callback(redis, "R-BBBBBB", "+49301234568")
    client, csrf = await officer(login)
    found = await client.post(f"{PAGE}/suche", data={"csrf": csrf, "kind": "phone", "q": ERIKA})
    assert found.status_code == 200
    assert "R-AAAAAA" in found.text and "R-BBBBBB" not in found.text
    assert "Rückrufwünsche" in found.text and "Endgültig löschen" in found.text
    wrong = await client.post(
        f"{PAGE}/loeschen", data={"csrf": csrf, "kind": "phone", "q": ERIKA, "confirm": "ja"}
    )
    assert wrong.status_code == 400 and "es wurde nichts gelöscht" in wrong.text
    assert await redis.exists(RecordKind.CALLBACK.key("R-AAAAAA"))
    done = await client.post(
        f"{PAGE}/loeschen",
        data={"csrf": csrf, "kind": "phone", "q": ERIKA, "confirm": "LÖSCHEN"},
    )
    assert done.status_code == 200 and "Gelöscht." in done.text
    assert not await redis.exists(RecordKind.CALLBACK.key("R-AAAAAA"))
    assert await redis.exists(RecordKind.CALLBACK.key("R-BBBBBB"))
    entries = await AuditLog(redis).entries()
    assert entries[0].action is AuditAction.ERASURE and entries[0].actor == "dana"
    assert "callbacks=1" in entries[0].detail
    assert entries[1].action is AuditAction.PRIVACY_SEARCH and entries[1].detail == "phone"
    raw = json.dumps(await redis.xrange(STREAM_KEY))
    assert "1234567" not in raw  # neither the search nor the tombstone holds the number
    log = await client.get(f"{PAGE}/protokoll", params={"action": "erasure"})
    body = log.text.split("<tbody>")[1]
    assert "Datenschutz: Löschung (Art. 17)" in body and "Rückrufwünsche: 1" in body
    assert "Suchschlüssel: Telefonnummer" in body
    assert "Datenschutz: Suche" not in body  # filtered out
    assert not {"erasure", "callbacks=1", "key=phone"} & set(re.split(r"[<>\s]", body))
    assert '<option value="erasure" selected>Datenschutz: Löschung (Art. 17)</option>' in log.text
    assert "unversehrt" in log.text


async def test_a_bad_key_is_explained_and_nothing_is_audited(redis: Redis, login: Login) -> None:
    client, csrf = await officer(login)
    before = len(await AuditLog(redis).entries())
    bad = await client.post(f"{PAGE}/suche", data={"csrf": csrf, "kind": "phone", "q": "12"})
    assert bad.status_code == 400 and "keine vollständige Telefonnummer" in bad.text
    unknown = await client.post(f"{PAGE}/suche", data={"csrf": csrf, "kind": "x", "q": "12"})
    assert unknown.status_code == 400 and "wonach gesucht wird" in unknown.text
    assert len(await AuditLog(redis).entries()) == before


async def test_export_as_json_and_as_report(redis: Redis, login: Login) -> None:
    await callback(redis, "R-AAAAAA", ERIKA)
    client, csrf = await officer(login)
    form = {"csrf": csrf, "kind": "reference", "q": "r-aaaaaa"}
    as_json = await client.post(f"{PAGE}/export", data={**form, "format": "json"})
    assert as_json.headers["content-type"].startswith("application/json")
    assert "attachment" in as_json.headers["content-disposition"]
    assert [c["reference"] for c in as_json.json()["callbacks"]] == ["R-AAAAAA"]
    report = await client.post(f"{PAGE}/export", data={**form, "format": "html"})
    assert "Auskunft über gespeicherte Daten (Art. 15 DSGVO)" in report.text
    assert "R-AAAAAA" in report.text
    assert (await AuditLog(redis).entries(count=1))[0].detail == "reference"


async def test_legal_hold_from_the_page(redis: Redis, login: Login) -> None:
    await redis.hset("rb:case:C-20261201-AAAAAA", mapping={"id": "C-20261201-AAAAAA"})
    client, csrf = await officer(login)
    on = await client.post(
        f"{PAGE}/sperre", data={"csrf": csrf, "case": "C-20261201-AAAAAA", "on": "1"}
    )
    assert on.status_code == 200 and "gesetzt" in on.text
    assert await redis.hget("rb:case:C-20261201-AAAAAA", "legal_hold") == "1"
    off = await client.post(
        f"{PAGE}/sperre", data={"csrf": csrf, "case": "C-20261201-AAAAAA", "on": "0"}
    )
    assert "aufgehoben" in off.text
    for case in ("C-20261201-ZZZZZZ", "rb:*"):
        missing = await client.post(f"{PAGE}/sperre", data={"csrf": csrf, "case": case, "on": "1"})
        assert missing.status_code == 404


async def test_retention_and_processing_pages_show_the_configuration(login: Login) -> None:
    client, _ = await officer(login)
    retention = await client.get(f"{PAGE}/aufbewahrung")
    assert "Terminbuchungen, nach dem Termin" in retention.text
    assert '<code>closed_cases</code></td><td data-label="Tage">90</td>' in retention.text
    processing = await client.get(f"{PAGE}/verzeichnis")
    assert "Verzeichnis von Verarbeitungstätigkeiten (Art. 30 DSGVO)" in processing.text
    assert "Tonaufzeichnungen" not in processing.text  # recording is off by default
    printable = await client.get(f"{PAGE}/verzeichnis", params={"druck": "1"})
    assert "print.css" in printable.text and "Hauptnavigation" not in printable.text


async def test_the_audit_page_flags_a_broken_chain(redis: Redis, login: Login) -> None:
    client, _ = await officer(login)
    audit = AuditLog(redis)
    middle = await audit.append("erika", AuditAction.NOTE, "C-1")
    await audit.append("erika", AuditAction.NOTE, "C-2")
    await redis.xdel(STREAM_KEY, middle.id)
    page = await client.get(f"{PAGE}/protokoll")
    assert "Die Kette des Protokolls ist unterbrochen" in page.text
    assert 'class="broken"' in page.text
    filtered = await client.get(f"{PAGE}/protokoll", params={"target": "C-2", "actor": "erika"})
    body = filtered.text.split("<tbody>")[1]
    assert "C-2" in body and "login" not in body


async def test_a_case_the_purge_flagged_shows_so_in_the_inbox(redis: Redis, login: Login) -> None:
    from console.inbox import FLAGGED_NOTE
    from contract.conversation import Case
    from contract.records import OPEN_CASES_KEY, case_key

    for case_id, flagged in (("C-20261201-FLAGGA", True), ("C-20261201-QUIETA", False)):
        case = Case(case_id, "s" + case_id[-6:] * 4, Channel.WEBCHAT, "user_request", None, 1e9)
        fields = case.to_fields() | ({"flagged_at": "1800000000.0"} if flagged else {})
        await redis.hset(case_key(case_id), mapping=fields)  # type: ignore[arg-type]
        await redis.zadd(OPEN_CASES_KEY, {case_id: case.created_at})
    lead = await login("tom", Role.TEAM_LEAD)
    rows = (await lead.get("/console/inbox")).text
    assert FLAGGED_NOTE.strip() in rows
    table = rows.split("<tbody>")[1].split("<tr")
    [flagged_row] = [row for row in table if "C-20261201-FLAGGA" in row]
    [quiet_row] = [row for row in table if "C-20261201-QUIETA" in row]
    assert "zur Prüfung vorgelegt" in flagged_row and "zur Prüfung vorgelegt" not in quiet_row
    # a separate notice for the team lead, above the list: which case, and when it goes
    notice = rows.split('id="vorgelegt"')[1].split("</section>")[0]
    assert "Zur Prüfung vorgelegt: 1 Vorgang ohne Bearbeitung" in notice
    assert 'href="/console/case/C-20261201-FLAGGA"' in notice and "QUIETA" not in notice
    flagged_day = datetime.fromtimestamp(1_800_000_000, BERLIN)
    purge_day = datetime.fromtimestamp(1_800_000_000 + FLAG_GRACE_DAYS * DAY_S, BERLIN)
    assert f"vorgelegt am {flagged_day:%d.%m.%Y}, wird ab {purge_day:%d.%m.%Y} gelöscht" in notice
    clerk = await login("erika", Role.CLERK)  # the clerk sees the row's note, not the notice
    clerk_rows = (await clerk.get("/console/inbox")).text
    assert "C-20261201-FLAGGA" in clerk_rows and 'id="vorgelegt"' not in clerk_rows
    await redis.hdel(case_key("C-20261201-FLAGGA"), "flagged_at")  # activity unflags it
    assert 'id="vorgelegt"' not in (await lead.get("/console/inbox")).text


def test_every_audit_action_and_detail_reads_german() -> None:
    assert set(ACTION_LABELS) == set(AuditAction)
    assert len(set(ACTION_LABELS.values())) == len(AuditAction)
    purge = "conversations=2 inactive_cases=0 webhook_entries=1 flagged_cases=3"
    assert detail_text(purge) == (
        "Gesprächsverläufe ohne Vorgang (Chat und Telefon): 2; Offene Vorgänge ohne "
        "Bearbeitung, bis zur Vorlage an die Teamleitung: 0; Einträge in "
        "Webhook-Warteschlangen: 1; der Teamleitung vorgelegte Vorgänge: 3"
    )
    assert detail_text("key=name cases=1 held=0") == (
        "Suchschlüssel: Name (in Terminbuchungen); Vorgänge: 1; gesperrte Vorgänge (nicht "
        "gelöscht): 0"
    )
    assert detail_text("on") == "gesetzt" and detail_text("erledigt") == "erledigt"
    assert detail_text("") == "" and detail_text("unknown=4") == "unknown: 4"
