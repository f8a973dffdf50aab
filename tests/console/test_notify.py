"""The e-mail notifier on a real Redis with a fake SMTP transport (and one real SMTP sink):
what a mail holds, once-only, retries, bounds, due callbacks, the pub/sub listener."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from redis.asyncio import Redis

from console.notify import (
    MailSecurity,
    Notice,
    NoticeKind,
    Notifier,
    SmtpTransport,
    compose,
)
from contract.conversation import Case
from contract.records import (
    CASE_EVENTS_CHANNEL,
    OPEN_CASES_KEY,
    Callback,
    CallbackWindow,
    Channel,
    RecordKind,
    case_key,
)
from telephony.staff_hours import StaffHours
from tests.fakes import FakeMailTransport
from tests.smtp_sink import SmtpSink

BERLIN = ZoneInfo("Europe/Berlin")
HOURS = StaffHours.parse("Mo-Fr 08:00-16:00", state="NW")
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=BERLIN)  # a Wednesday
BASE = "https://rathaus.musterstadt.de"
MAILBOXES = {"buergerbuero": "buergerbuero@musterstadt.de", "*": "zentrale@musterstadt.de"}


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def notifier(
    redis: Redis,
    transport: FakeMailTransport,
    *,
    sleep: Callable[[float], Awaitable[None]] | None = None,
    **options: object,
) -> Notifier:
    return Notifier(
        redis,
        transport,
        sender="rathausbot@musterstadt.de",
        mailboxes=options.pop("mailboxes", MAILBOXES),  # type: ignore[arg-type]
        base_url=BASE,
        hours=HOURS,
        clock=NOW.timestamp,
        sleep=sleep or Sleeps(),
        **options,  # type: ignore[arg-type]
    )


async def open_case(redis: Redis, case_id: str, department: str | None, at: float) -> None:
    case = Case(case_id, "session-1", Channel.WEBCHAT, "user_request", department, at)
    await redis.hset(case_key(case_id), mapping=case.to_fields())  # type: ignore[arg-type]
    await redis.zadd(OPEN_CASES_KEY, {case_id: at})


def test_a_new_case_mail_holds_its_number_and_link_only() -> None:
    message = compose(
        Notice(NoticeKind.NEW_CASE, "C-20261202-K7QX2M", "buergerbuero"),
        sender="bot@musterstadt.de",
        to="bb@musterstadt.de",
        base_url=BASE + "/",
    )
    assert message["Subject"] == "Neuer Fall C-20261202-K7QX2M"
    assert (message["From"], message["To"]) == ("bot@musterstadt.de", "bb@musterstadt.de")
    body = message.get_content()
    assert f"{BASE}/console/case/C-20261202-K7QX2M\n" in body
    assert "keine Angaben der Bürgerin oder des Bürgers" in body


def test_a_callback_mail_says_when_it_is_due() -> None:
    due = datetime(2026, 12, 3, 15, 30, tzinfo=BERLIN)
    message = compose(
        Notice(NoticeKind.CALLBACK_DUE, "R-K7QX2M", due=due),
        sender="bot@musterstadt.de",
        to="z@musterstadt.de",
        base_url=BASE,
    )
    assert message["Subject"] == "Rückruf R-K7QX2M wird fällig"
    assert "spätestens 03.12.2026, 15:30 Uhr" in message.get_content()
    assert f"{BASE}/console/case/R-K7QX2M" in message.get_content()


async def test_a_new_case_is_mailed_once_to_its_departments_mailbox(redis: Redis) -> None:
    transport = FakeMailTransport()
    mail = notifier(redis, transport)
    await open_case(redis, "C-20261202-AAAAAA", "buergerbuero", NOW.timestamp())
    await open_case(redis, "C-20261202-BBBBBB", "bauamt", NOW.timestamp())
    assert await mail.case_opened("C-20261202-AAAAAA")
    assert not await mail.case_opened("C-20261202-AAAAAA")  # a second gateway, a replay
    assert await mail.case_opened("C-20261202-BBBBBB")
    assert not await mail.case_opened("C-20261202-NOSUCH")
    assert await mail.deliver(Notice(NoticeKind.NEW_CASE, "C-20261202-AAAAAA", "buergerbuero"))
    assert await mail.deliver(Notice(NoticeKind.NEW_CASE, "C-20261202-BBBBBB", "bauamt"))
    assert [m["To"] for m in transport.sent] == [
        "buergerbuero@musterstadt.de",
        "zentrale@musterstadt.de",  # no mailbox of its own: the fallback
    ]


async def test_without_any_mailbox_nothing_is_sent(redis: Redis) -> None:
    transport = FakeMailTransport()
    mail = notifier(redis, transport, mailboxes={"standesamt": "sa@musterstadt.de"})
    assert not await mail.deliver(Notice(NoticeKind.NEW_CASE, "C-1", "bauamt"))
    assert transport.attempts == 0


async def test_failures_are_retried_with_backoff_and_logged_without_addresses(
    redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    transport = FakeMailTransport()
    transport.fail_next = 2
    sleeps = Sleeps()
    mail = notifier(redis, transport, sleep=sleeps, attempts=3, retry_initial_s=2.0)
    with caplog.at_level(logging.INFO):
        assert await mail.deliver(Notice(NoticeKind.NEW_CASE, "C-20261202-AAAAAA", "bauamt"))
    assert transport.attempts == 3 and len(transport.sent) == 1
    assert sleeps.delays == [2.0, 4.0]
    assert "ConnectionRefusedError" in caplog.text
    assert "@" not in caplog.text


@pytest.mark.parametrize("switch", ["timeout", "reject_recipients"])
async def test_a_notice_is_given_up_after_the_last_attempt(
    redis: Redis, switch: str, caplog: pytest.LogCaptureFixture
) -> None:
    transport = FakeMailTransport()
    setattr(transport, switch, True)
    sleeps = Sleeps()
    mail = notifier(redis, transport, sleep=sleeps, attempts=2)
    assert not await mail.deliver(Notice(NoticeKind.NEW_CASE, "C-20261202-AAAAAA"))
    assert transport.attempts == 2 and mail.failed == 1 and sleeps.delays == [2.0]
    assert "given up" in caplog.text and "@" not in caplog.text


async def test_the_queue_is_bounded_and_a_dropped_notice_stays_unclaimed(redis: Redis) -> None:
    mail = notifier(redis, FakeMailTransport(), queue_limit=1)
    for suffix in ("AAAAAA", "BBBBBB"):
        await open_case(redis, f"C-20261202-{suffix}", None, NOW.timestamp())
    assert await mail.case_opened("C-20261202-AAAAAA")
    assert not await mail.case_opened("C-20261202-BBBBBB")
    assert mail.dropped == 1
    assert not await redis.exists(Notice(NoticeKind.NEW_CASE, "C-20261202-BBBBBB").key)


def callback(reference: str, created: datetime) -> Callback:
    return Callback(reference, "+4930123456", CallbackWindow.ANYTIME, None, created.timestamp())


async def store_callback(redis: Redis, record: Callback, *, status: str = "new") -> None:
    fields = record.to_fields() | {"status": status}
    await redis.hset(RecordKind.CALLBACK.key(record.reference), mapping=fields)  # type: ignore[arg-type]
    await redis.zadd(RecordKind.CALLBACK.index_key, {record.reference: record.created_at})


async def test_the_scan_finds_callbacks_due_within_the_next_service_hour(redis: Redis) -> None:
    # NOW is Wednesday 10:00; 23 service hours (8 a day, Mo-Fr 8-16) before it: Friday
    # 11:00. Reminders go out from 23 service hours on, the callback is due at 24.
    transport = FakeMailTransport()
    mail = notifier(redis, transport, sleep=asyncio.sleep, scan_interval_s=3600)
    due_soon = callback("R-DUESON", datetime(2026, 11, 27, 10, 30, tzinfo=BERLIN))  # 23.5 h
    just_in = callback("R-JUSTIN", datetime(2026, 11, 27, 11, 0, tzinfo=BERLIN))  # 23 h
    not_yet = callback("R-NOTYET", datetime(2026, 11, 27, 11, 1, tzinfo=BERLIN))  # 22:59 h
    overdue = callback("R-OVERDU", datetime(2026, 11, 26, 9, 0, tzinfo=BERLIN))
    handled = callback("R-HANDLD", datetime(2026, 11, 27, 9, 0, tzinfo=BERLIN))
    for record in (due_soon, just_in, not_yet, overdue):
        await store_callback(redis, record)
    await store_callback(redis, handled, status="done")
    assert await mail.scan() == 3
    assert await mail.scan() == 0  # once only
    run = asyncio.create_task(mail.run())
    try:
        await asyncio.wait_for(mail.wait_sent(), 10)
    finally:
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)
    subjects = sorted(str(m["Subject"]) for m in transport.sent)
    assert subjects == [f"Rückruf R-{r} wird fällig" for r in ("DUESON", "JUSTIN", "OVERDU")]
    due = {m["Subject"]: m.get_content() for m in transport.sent}
    assert "spätestens 02.12.2026, 10:30 Uhr" in due["Rückruf R-DUESON wird fällig"]
    assert all(m["To"] == "zentrale@musterstadt.de" for m in transport.sent)
    assert all("+4930123456" not in m.as_string() for m in transport.sent)


async def test_the_scan_mails_recent_cases_nobody_mailed_but_not_old_ones(redis: Redis) -> None:
    mail = notifier(redis, FakeMailTransport())
    await open_case(redis, "C-20261202-RECENT", "bauamt", NOW.timestamp() - 600)
    await open_case(redis, "C-20261201-OLDONE", "bauamt", NOW.timestamp() - 7200)
    assert await mail.scan() == 1
    assert await redis.exists(Notice(NoticeKind.NEW_CASE, "C-20261202-RECENT").key)


async def test_a_published_case_is_mailed_through_a_real_smtp_server(redis: Redis) -> None:
    async with SmtpSink() as sink:
        mail = Notifier(
            redis,
            SmtpTransport("127.0.0.1", sink.port, MailSecurity.NONE, timeout_s=5),
            sender="rathausbot@musterstadt.de",
            mailboxes=MAILBOXES,
            base_url=BASE,
            hours=HOURS,
        )
        run = asyncio.create_task(mail.run())
        try:
            case_id = Case.new_id(NOW.timestamp())
            await open_case(redis, case_id, "buergerbuero", NOW.timestamp() - 7200)
            for _ in range(200):  # until the listener is subscribed: bounded
                event = json.dumps({"event": "opened", "case_id": case_id})
                if await redis.publish(CASE_EVENTS_CHANNEL, event):
                    break
                await asyncio.sleep(0.05)
            await asyncio.wait_for(sink.arrived.wait(), 30)
        finally:
            run.cancel()
            await asyncio.gather(run, return_exceptions=True)
    (message,) = sink.messages
    assert sink.recipients == [["buergerbuero@musterstadt.de"]]
    assert message["Subject"] == f"Neuer Fall {case_id}"
    assert f"{BASE}/console/case/{case_id}" in message.get_content()


def test_options_are_bounded(redis: Redis) -> None:
    for options in (
        {"queue_limit": 0},
        {"queue_limit": 100_001},
        {"attempts": 0},
        {"attempts": 21},
        {"retry_initial_s": 0.0},
        {"scan_interval_s": 0.5},
        {"mailboxes": {}},
    ):
        with pytest.raises(ValueError):
            notifier(redis, FakeMailTransport(), **options)
    notifier(redis, FakeMailTransport(), queue_limit=100_000, attempts=20, scan_interval_s=3600)
