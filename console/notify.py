"""E-mail to a department's mailbox for each new case and each callback falling due.

A mail carries the case number (or callback reference) and a link into the console, never
the citizen's data. New cases come from the Redis channel `rb:events:cases`; a scan every
few minutes also picks up cases opened while no gateway listened, and finds callbacks that
are due within the next service hour (the 115 standard: a callback within 24 service hours)
and still `new`. A Redis key per notice (SET NX) makes every mail go out once, however
many gateways run. Sending runs in a worker thread (smtplib) behind `MailTransport`, from a
bounded queue, with retries and backoff; failures are logged without addresses or text.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import smtplib
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from enum import Enum
from typing import Protocol, cast

from redis import exceptions as redis_errors
from redis.asyncio import Redis

from contract.records import (
    CASE_EVENTS_CHANNEL,
    KEY_PREFIX,
    OPEN_CASES_KEY,
    RecordKind,
    RequestStatus,
    case_key,
)
from telephony.staff_hours import BERLIN, StaffHours

log = logging.getLogger(__name__)

FALLBACK_MAILBOX = "*"
"""Key of the mailbox for departments without one of their own (and for callbacks)."""
CASE_PATH = "/console/case/{reference}"
SERVICE_DAY = timedelta(hours=24)
REMIND_BEFORE = timedelta(hours=1)
NOTIFIED_TTL_S = 30 * 86_400
CASE_LOOKBACK_S = 3600.0
"""A scan mails cases opened this recently that no listener mailed (missed pub/sub)."""
CALLBACK_LOOKBACK_S = 30 * 86_400.0
SCAN_BATCH = 1000
LISTEN_RETRY_S = 0.05
LISTEN_WAIT_S = 1.0
_UNREACHABLE = (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError)
_SEND_ERRORS = (OSError, smtplib.SMTPException, TimeoutError)


class MailSecurity(Enum):
    STARTTLS = "starttls"
    TLS = "tls"
    NONE = "none"


class MailTransport(Protocol):
    """Sends one message, blocking; raises OSError or smtplib.SMTPException on failure.
    tests/fakes.py has the fake."""

    def send(self, message: EmailMessage) -> None: ...


@dataclass(frozen=True, slots=True)
class SmtpTransport:
    """smtplib, one connection per message (notices are rare)."""

    host: str
    port: int
    security: MailSecurity = MailSecurity.STARTTLS
    user: str | None = None
    password: str | None = None
    timeout_s: float = 20.0

    def send(self, message: EmailMessage) -> None:
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.security is MailSecurity.TLS:
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout_s, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
        with smtp:
            if self.security is MailSecurity.STARTTLS:
                smtp.starttls(context=context)
            if self.user is not None and self.password is not None:
                smtp.login(self.user, self.password)
            smtp.send_message(message)


class NoticeKind(Enum):
    NEW_CASE = "case"
    CALLBACK_DUE = "callback"


@dataclass(frozen=True, slots=True)
class Notice:
    """One mail to send: a new case or a callback due at `due`."""

    kind: NoticeKind
    reference: str  # case id or callback reference; no citizen data
    department: str | None = None
    due: datetime | None = None

    @property
    def key(self) -> str:
        """Redis key that marks this notice as sent (or being sent)."""
        return f"{KEY_PREFIX}:notified:{self.kind.value}:{self.reference}"


def compose(notice: Notice, *, sender: str, to: str, base_url: str) -> EmailMessage:
    """The German mail for ``notice``: its number and the console link, nothing else."""
    link = base_url.rstrip("/") + CASE_PATH.format(reference=notice.reference)
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    if notice.kind is NoticeKind.NEW_CASE:
        message["Subject"] = f"Neuer Fall {notice.reference}"
        lead = f"im Posteingang der Konsole liegt ein neuer Fall: {notice.reference}."
    else:
        due = notice.due.astimezone(BERLIN) if notice.due else None
        when = f" (spätestens {due:%d.%m.%Y, %H:%M} Uhr)" if due else ""
        message["Subject"] = f"Rückruf {notice.reference} wird fällig"
        lead = f"der Rückruf {notice.reference} wird bald fällig{when} und ist noch offen."
    message.set_content(
        f"Guten Tag,\n\n{lead}\n\nÖffnen in der Konsole:\n{link}\n\n"
        "Diese Nachricht enthält bewusst keine Angaben der Bürgerin oder des Bürgers; "
        "Sie sehen sie nach der Anmeldung in der Konsole.\n\n-- \nrathausbot\n"
    )
    return message


class Notifier:
    """Owns the listener, the scan and the sender; run `run()` as a task of the composition
    root and cancel it to stop. `clock` and `sleep` are injected for tests."""

    def __init__(
        self,
        redis: Redis,
        transport: MailTransport,
        *,
        sender: str,
        mailboxes: Mapping[str, str],
        base_url: str,
        hours: StaffHours,
        queue_limit: int = 1000,
        attempts: int = 5,
        retry_initial_s: float = 2.0,
        retry_max_s: float = 300.0,
        scan_interval_s: float = 300.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not 1 <= queue_limit <= 100_000:
            raise ValueError("queue_limit must be in [1, 100000]")
        if not 1 <= attempts <= 20:
            raise ValueError("attempts must be in [1, 20]")
        if not 0 < retry_initial_s <= retry_max_s:
            raise ValueError("retry_initial_s must be positive and at most retry_max_s")
        if not 1 <= scan_interval_s <= 3600:
            raise ValueError("scan_interval_s must be in [1, 3600]")
        if not mailboxes:
            raise ValueError("mailboxes must name at least one mailbox")
        self._redis = redis
        self._transport = transport
        self._sender = sender
        self._mailboxes = dict(mailboxes)
        self._base_url = base_url
        self._hours = hours
        self._queue: asyncio.Queue[Notice] = asyncio.Queue(maxsize=queue_limit)
        self._attempts = attempts
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s
        self._scan_interval_s = scan_interval_s
        self._clock = clock
        self._sleep = sleep
        self.sent = 0
        self.failed = 0
        self.dropped = 0

    def mailbox(self, department: str | None) -> str | None:
        """The department's mailbox, else the fallback (`*`); None when neither is set."""
        if department is not None and department in self._mailboxes:
            return self._mailboxes[department]
        return self._mailboxes.get(FALLBACK_MAILBOX)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self._listen(), name="notify-listen")
            group.create_task(self._scan_forever(), name="notify-scan")
            group.create_task(self._send_forever(), name="notify-send")

    async def case_opened(self, case_id: str) -> bool:
        """Queues the mail for a new case once (False: already mailed, unknown or full)."""
        department = await self._redis.hget(case_key(case_id), "department")
        exists = department is not None or await self._redis.exists(case_key(case_id))
        if not exists:
            return False
        return await self._submit(Notice(NoticeKind.NEW_CASE, case_id, _text(department)))

    async def scan(self) -> int:
        """One scan: recent cases not yet mailed, callbacks falling due. Returns how many
        notices it queued."""
        now = self._clock()
        queued = 0
        recent = await self._redis.zrangebyscore(
            OPEN_CASES_KEY, now - CASE_LOOKBACK_S, "+inf", start=0, num=SCAN_BATCH
        )
        for case_id in recent:
            queued += await self.case_opened(_text(case_id) or "")
        index = RecordKind.CALLBACK.index_key
        references = await self._redis.zrangebyscore(
            index, now - CALLBACK_LOOKBACK_S, "+inf", start=0, num=SCAN_BATCH
        )
        for raw in references:
            reference = _text(raw) or ""
            fields = await self._redis.hmget(
                RecordKind.CALLBACK.key(reference), ["status", "created_at"]
            )
            status, created_at = (_text(v) for v in cast(list[object], fields))
            try:
                created = datetime.fromtimestamp(float(created_at or ""), BERLIN)
            except ValueError:
                continue  # expired meanwhile, or damaged
            if status != RequestStatus.NEW.value:
                continue
            remind_at = self._hours.add_service_time(created, SERVICE_DAY - REMIND_BEFORE)
            if remind_at is None or datetime.fromtimestamp(now, BERLIN) < remind_at:
                continue
            due = self._hours.add_service_time(created, SERVICE_DAY)
            queued += await self._submit(Notice(NoticeKind.CALLBACK_DUE, reference, due=due))
        return queued

    async def deliver(self, notice: Notice) -> bool:
        """Sends one notice, retrying with backoff; False when every attempt failed."""
        to = self.mailbox(notice.department)
        if to is None:
            log.warning("no mailbox for %s %s: not mailed", notice.kind.value, notice.reference)
            return False
        message = compose(notice, sender=self._sender, to=to, base_url=self._base_url)
        delay = self._retry_initial_s
        for attempt in range(1, self._attempts + 1):
            try:
                await asyncio.to_thread(self._transport.send, message)
            except _SEND_ERRORS as error:
                log.warning(
                    "mail for %s %s failed (attempt %d of %d): %s",
                    notice.kind.value,
                    notice.reference,
                    attempt,
                    self._attempts,
                    type(error).__name__,
                )
                if attempt < self._attempts:
                    await self._sleep(delay)
                    delay = min(delay * 2, self._retry_max_s)
                continue
            self.sent += 1
            log.info("mail for %s %s sent", notice.kind.value, notice.reference)
            return True
        self.failed += 1
        log.error("mail for %s %s given up", notice.kind.value, notice.reference)
        return False

    async def _submit(self, notice: Notice) -> bool:
        if self._queue.full():
            self.dropped += 1
            log.warning("mail queue full: %s %s not mailed", notice.kind.value, notice.reference)
            return False
        claimed = await self._redis.set(notice.key, "1", nx=True, ex=NOTIFIED_TTL_S)
        if not claimed:
            return False
        self._queue.put_nowait(notice)
        return True

    async def _send_forever(self) -> None:
        while True:
            notice = await self._queue.get()
            try:
                await self.deliver(notice)
            finally:
                self._queue.task_done()

    async def wait_sent(self) -> None:
        """Returns once every queued notice has been sent or given up."""
        await self._queue.join()

    async def _scan_forever(self) -> None:
        while True:
            try:
                await self.scan()
            except Exception as error:  # Redis away or a damaged record: try again later
                log.warning("notification scan failed (%s)", type(error).__name__)
            _stop_if_cancelled()
            await self._sleep(self._scan_interval_s)

    async def _listen(self) -> None:
        delay = LISTEN_RETRY_S
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(CASE_EVENTS_CHANNEL)
                delay = LISTEN_RETRY_S
                while True:  # not listen(): redis-py may swallow a cancellation there
                    _stop_if_cancelled()
                    message = await pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=LISTEN_WAIT_S
                    )
                    case_id = _opened(message.get("data")) if message else None
                    if case_id is not None:
                        await self.case_opened(case_id)
            except (*_UNREACHABLE, redis_errors.RedisError):
                _stop_if_cancelled()
                await self._sleep(delay)  # the scan catches what was missed meanwhile
                delay = min(delay * 2, self._retry_max_s)
            finally:
                with contextlib.suppress(*_UNREACHABLE):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]


def _stop_if_cancelled() -> None:
    """Raises CancelledError when this task is being cancelled: a library that swallowed
    the cancellation (redis-py during a read) must not keep an owned loop alive."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _opened(data: object) -> str | None:
    """The case id of an `opened` event on rb:events:cases; None for anything else."""
    try:
        event = json.loads(_text(data) or "")
    except ValueError:
        return None
    if isinstance(event, dict) and event.get("event") == "opened":
        case_id = event.get("case_id")
        if isinstance(case_id, str) and case_id:
            return case_id
    return None


def _text(value: object) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)
