"""The statistics page on a real Redis, fed by the dialogue core on a fake clock: counts,
the share resolved without staff, SVG charts that agree with their tables, CSV, roles."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime

import pytest
from redis.asyncio import Redis

from console.audit import AuditLog
from console.roles import Role
from console.stats import Period, Totals, chart, latency_label, wait_label
from console.work import Workbench, WorkStatus
from contract.records import OPEN_CASES_KEY, Callback, CallbackWindow
from dialogue.core import DialogueCore
from dialogue.messages import BotReply, Channel, EngineAnswer, Handoff, Understanding, UserTurn
from dialogue.metrics import BERLIN, LATENCY_BUCKETS_MS, Metrics, StaffMetrics
from dialogue.store import ConversationStore
from intents.actions.records import Records
from tests.console.conftest import Login
from tests.fakes import FakeClock, FakeEngine

DAY = date(2026, 3, 10)
PAGE = "/console/statistik"
ANSWERS = {
    "wann haben sie offen": ("opening_hours", 0.93),
    "personalausweis": ("id_card", 0.88),
    "blubb": ("nlu_fallback", 0.21),
    "ich will einen menschen": ("human_handoff", 0.95),
}


def script(session_id: str, channel: Channel, text: str) -> EngineAnswer:
    intent, confidence = ANSWERS[text]
    handoff = Handoff("user_request") if intent == "human_handoff" else None
    reply = BotReply("Antwort", handoff=handoff)
    return EngineAnswer((reply,), Understanding(intent, confidence))


@pytest.fixture
async def scripted_day(redis: Redis) -> None:
    """Five conversations: two resolved chats (one after a fallback), a chat handoff, a
    phone call that ends on a fallback and later gets a callback, and a resolved phone call;
    a clerk takes the chat case after 15 minutes and does the callback."""
    clock = FakeClock(datetime(2026, 3, 10, 9, 0, tzinfo=BERLIN).timestamp())
    metrics = Metrics(redis, intents=["opening_hours", "id_card", "human_handoff"], clock=clock)
    async with ConversationStore(redis, retention_s=3600) as store:
        core = DialogueCore(FakeEngine(script), store, clock=clock, metrics=metrics)
        day = [
            (9, "chat-a", Channel.WEBCHAT, "wann haben sie offen"),
            (9, "chat-b", Channel.WEBCHAT, "blubb"),
            (10, "chat-b", Channel.WEBCHAT, "wann haben sie offen"),
            (10, "sip-c", Channel.VOICE, "blubb"),
            (14, "chat-d", Channel.WEBCHAT, "ich will einen menschen"),
            (14, "sip-e", Channel.VOICE, "personalausweis"),
        ]
        for hour, session, channel, text in day:
            clock.now = datetime(2026, 3, 10, hour, 5, tzinfo=BERLIN).timestamp()
            await core.handle(UserTurn(session, channel, text))
            if channel is Channel.VOICE:  # the caller's wait, as the voice session reports it
                await core.answer_latency(session, 0.8 if session == "sip-c" else 1.2)
        await core.answer_latency("webrtc-f", 9.0)  # a browser call: not a phone answer
    staff = StaffMetrics(redis, clock=clock)
    audit = AuditLog(redis, clock=clock)
    work = Workbench(redis, audit, retention_s=3600, metrics=staff, clock=clock)
    [case_id] = await redis.zrange(OPEN_CASES_KEY, 0, -1)
    clock.now += 15 * 60
    assert await work.claim(case_id, "tom") == (True, "tom")
    await work.set_status(case_id, WorkStatus.DONE, user="tom")
    await work.claim(case_id, "tom")  # counted once
    records = Records(redis, retention_s=3600, clock=clock)
    callback = Callback("R-ABCDEF", "+4930123", CallbackWindow.ANYTIME, Channel.VOICE, clock.now)
    await records.create(callback)
    await records.count_callback(Channel.VOICE, "sip-c")
    await work.claim("R-ABCDEF", "tom")
    await work.set_status("R-ABCDEF", WorkStatus.DONE, user="tom")
    await work.set_status("R-ABCDEF", WorkStatus.DONE, user="tom")  # counted once


def figure(html: str, name: str) -> str:
    match = re.search(rf'<dd id="{name}">([^<]*)</dd>', html)
    assert match, html
    return match.group(1)


def charts(html: str) -> dict[str, tuple[list[tuple[str, int]], list[tuple[str, int]]]]:
    """Per chart title: (bars of the SVG, rows of its table)."""
    found = {}
    for section in html.split('<section class="chart"')[1:]:
        title = re.search(r"<h2[^>]*>([^<]+)</h2>", section)
        assert title
        bars = re.findall(r'data-label="([^"]*)" data-value="(\d+)"', section)
        rows = re.findall(
            r'<td data-label="Wert">([^<]*)</td><td data-label="Anzahl">(\d+)</td>', section
        )
        found[title.group(1)] = (
            [(label, int(n)) for label, n in bars],
            [(label, int(n)) for label, n in rows],
        )
    return found


async def test_a_scripted_day_shows_the_right_counts_and_share(
    scripted_day: None, login: Login
) -> None:
    client = await login("tom", Role.TEAM_LEAD)
    page = await client.get(PAGE, params={"zeitraum": "tag", "datum": DAY.isoformat()})
    assert page.status_code == 200
    html = page.text
    assert figure(html, "gespraeche") == "5"
    assert figure(html, "geloest") == "60 % (3 von 5)"
    assert figure(html, "uebergaben") == "1"
    assert figure(html, "fallbacks") == "2"
    assert figure(html, "wartezeit") == "bis 15 Minuten"
    assert figure(html, "antwortzeit") == "bis 1 s / bis 1,5 s"
    assert figure(html, "rueckrufe") == "1 / 1"
    drawn = charts(html)
    for title, (bars, rows) in drawn.items():
        assert bars == rows, title
    assert drawn["Gespräche nach Kanal"][1] == [("Chat", 3), ("Telefon", 2), ("Browser-Anruf", 0)]
    assert drawn["Übergaben nach Grund"][1] == [("Wunsch nach einer Person", 1)]
    assert drawn["Häufigste Anliegen (Intents)"][1] == [
        ("opening_hours", 2),
        ("human_handoff", 1),
        ("id_card", 1),
    ]
    waits = dict(drawn["Wartezeit bis zur Übernahme"][1])
    assert (waits["bis 15 Minuten"], sum(waits.values())) == (1, 1)
    hours = dict(drawn["Nachrichten nach Uhrzeit"][1])
    assert (hours["09"], hours["10"], hours["14"], hours["08"]) == (2, 2, 2, 0)
    assert len(hours) == 24
    assert 'role="img"' in html and 'aria-describedby="table-1"' in html


async def test_channel_filter_and_other_days(scripted_day: None, login: Login) -> None:
    client = await login("adm", Role.ADMIN)
    phone = await client.get(
        PAGE, params={"zeitraum": "tag", "datum": "2026-03-10", "kanal": "phone"}
    )
    assert figure(phone.text, "gespraeche") == "2"
    assert figure(phone.text, "geloest") == "50 % (1 von 2)"
    other = await client.get(PAGE, params={"zeitraum": "tag", "datum": "2026-03-11"})
    assert figure(other.text, "gespraeche") == "0"
    assert figure(other.text, "geloest") == "–"
    assert figure(other.text, "wartezeit") == "–"
    assert figure(other.text, "antwortzeit") == "– / –"
    week = await client.get(PAGE, params={"zeitraum": "woche", "datum": "2026-03-15"})
    assert figure(week.text, "gespraeche") == "5"
    month = await client.get(PAGE, params={"zeitraum": "monat", "datum": "2026-04-01"})
    assert figure(month.text, "gespraeche") == "0"
    bad = await client.get(PAGE, params={"zeitraum": "jahr", "datum": "x", "kanal": "fax"})
    assert bad.status_code == 200


async def test_csv_export_holds_the_aggregates(scripted_day: None, login: Login) -> None:
    client = await login("tom", Role.TEAM_LEAD)
    response = await client.get(f"{PAGE}.csv", params={"zeitraum": "tag", "datum": "2026-03-10"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "statistik-2026-03-10-2026-03-10.csv" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["von", "bis", "kanal", "kennzahl", "anzahl"]
    table = {(r[2], r[3]): int(r[4]) for r in rows[1:]}
    assert table[("chat", "conversations")] == 3
    assert table[("phone", "ended_on_fallback")] == 0
    assert table[("phone", "escalated")] == 1
    assert table[("phone", "callbacks_due")] == 1
    assert table[("chat", "escalated")] == 1
    assert table[("chat", "handoff:user_request")] == 1
    assert ("browser", "conversations") not in table


async def test_clerks_get_403_and_see_no_link(login: Login) -> None:
    client = await login("erika", Role.CLERK)
    assert (await client.get(PAGE)).status_code == 403
    assert (await client.get(f"{PAGE}.csv")).status_code == 403
    assert 'href="/console/statistik"' not in (await client.get("/console/inbox")).text
    lead = await login("tom", Role.TEAM_LEAD)
    assert 'href="/console/statistik"' in (await lead.get("/console/inbox")).text


def test_periods() -> None:
    assert Period.DAY.days(DAY) == [DAY]
    week = Period.WEEK.days(date(2026, 3, 15))
    assert (week[0], week[-1], len(week)) == (date(2026, 3, 9), date(2026, 3, 15), 7)
    feb = Period.MONTH.days(date(2026, 2, 14))
    assert (feb[0], feb[-1]) == (date(2026, 2, 1), date(2026, 2, 28))
    dec = Period.MONTH.days(date(2026, 12, 31))
    assert (dec[0], dec[-1]) == (date(2026, 12, 1), date(2026, 12, 31))


def test_totals_and_chart() -> None:
    totals = Totals()
    assert totals.resolved_percent is None
    totals.counts.update({"conversations": 3, "escalated": 1, "ended_on_fallback": 1})
    assert (totals.resolved, totals.resolved_percent) == (1, 33)
    totals.counts.update({"ended_on_fallback": 5})
    assert totals.resolved == 0
    totals.counts["turns"] = -2
    assert totals.get("turns") == 0
    drawn = chart("t", [("a", 4), ("b", 2), ("c", 0)])
    assert [(b.width, b.y) for b in drawn.bars] == [(300, 0), (150, 24), (0, 48)]
    assert drawn.height == 72
    assert chart("t", []).height == 24
    assert len(chart("t", [(str(i), i) for i in range(30)]).bars) == 24


def test_labels_and_quantiles() -> None:
    assert [wait_label(b) for b in (None, "60", "300", "3600", "14400", "86400", "259200")] == [
        "–",
        "bis 1 Minute",
        "bis 5 Minuten",
        "bis 1 Stunde",
        "bis 4 Stunden",
        "bis 1 Tag",
        "bis 3 Tage",
    ]
    assert wait_label("more") == "über 3 Tage"
    assert [latency_label(b) for b in (None, "250", "1000", "more")] == [
        "–",
        "bis 0,25 s",
        "bis 1 s",
        "über 10 s",
    ]
    totals = Totals()
    assert totals.quantile("latency", LATENCY_BUCKETS_MS, 0.5) is None
    totals.counts.update({"latency:250": 5, "latency:1000": 4, "latency:more": 1})
    assert totals.quantile("latency", LATENCY_BUCKETS_MS, 0.5) == "250"
    assert totals.quantile("latency", LATENCY_BUCKETS_MS, 0.51) == "1000"
    assert totals.quantile("latency", LATENCY_BUCKETS_MS, 0.9) == "1000"
    assert totals.quantile("latency", LATENCY_BUCKETS_MS, 0.95) == "more"
    assert totals.histogram("latency", (250, 500))[-1] == ("more", 1)
