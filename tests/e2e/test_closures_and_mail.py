"""Against the real gateway (Redis, Rasa, action server): a closure set through ClosureStore
changes the next opening-hours answer; a new case is mailed to a local SMTP server with its
number and none of the citizen's text."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from console.audit import AuditLog
from console.closures import ClosureStore
from console.notify import MailSecurity, Notifier, SmtpTransport
from dialogue.messages import Channel
from rathausbot.app import Runtime
from telephony.staff_hours import StaffHours
from tests.e2e.conftest import REPO
from tests.e2e.test_conversations import Talk
from tests.smtp_sink import SmtpSink

pytestmark = pytest.mark.slow

BERLIN = ZoneInfo("Europe/Berlin")
QUESTION = "Wann hat das Bürgerbüro heute geöffnet?"


@pytest.mark.parametrize("channel", [Channel.WEBCHAT, Channel.VOICE])
async def test_a_closure_changes_the_next_opening_hours_answer(
    rt: Runtime, channel: Channel
) -> None:
    closures = ClosureStore(
        rt.redis, audit=AuditLog(rt.redis), knowledge=REPO / "intents" / "knowledge"
    )
    note = f"Heute wegen einer Betriebsversammlung geschlossen, Kennung {secrets.token_hex(3)}"
    talk = Talk(rt, channel)
    before = await talk.say(QUESTION)
    assert "Bürgerbüro" in before and note not in before
    now = datetime.now(BERLIN)
    closure = await closures.set(
        office="buergerbuero",
        starts=now - timedelta(hours=1),
        ends=now + timedelta(hours=2),
        note=note,
        actor="teamleitung-test",
    )
    try:
        during = await talk.say(QUESTION)
        assert f"Hinweis: {note}." in during
        assert "Im Moment ist das Bürgerbüro geschlossen." in during
    finally:
        assert await closures.remove(closure.id, actor="teamleitung-test")
    after = await talk.say(QUESTION)
    assert note not in after


async def test_a_new_case_is_mailed_with_its_number_and_no_citizen_text(rt: Runtime) -> None:
    marker = f"Quackenbush{secrets.token_hex(3)}"
    async with SmtpSink() as sink:
        mail = Notifier(
            rt.redis,
            SmtpTransport("127.0.0.1", sink.port, MailSecurity.NONE, timeout_s=10),
            sender="rathausbot@musterstadt.de",
            mailboxes={"*": "zentrale@musterstadt.de"},
            base_url="https://rathaus.musterstadt.de",
            hours=StaffHours.parse("Mo-Fr 08:00-16:00", state="NW"),
        )
        run = asyncio.create_task(mail.run())
        try:
            talk = Talk(rt)
            await talk.say(f"Mein Nachbar {marker} parkt seit Tagen vor meiner Einfahrt")
            await talk.say("Ich möchte bitte mit einem Mitarbeiter sprechen")
            handoffs = [r.handoff for r in talk.last if r.handoff]
            assert handoffs and handoffs[0].case_id, talk.text
            case_id = handoffs[0].case_id
            assert f"Vorgangsnummer {case_id}" in talk.text  # the citizen is told it, too
            for _ in range(60):  # bounded: other tests' cases may be mailed as well
                if any(case_id in str(m["Subject"]) for m in sink.messages):
                    break
                sink.arrived.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(sink.arrived.wait(), 1)
        finally:
            run.cancel()
            await asyncio.gather(run, return_exceptions=True)
    (message,) = [m for m in sink.messages if case_id in str(m["Subject"])]
    raw = message.as_string()
    assert f"https://rathaus.musterstadt.de/console/case/{case_id}" in message.get_content()
    assert marker not in raw and "Einfahrt" not in raw and "sprechen" not in raw
