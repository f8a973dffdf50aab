"""The purge job: removes personal data whose retention has passed, wherever it lives.

Run by `rathausbot serve` (at start and hourly) and by `rathausbot privacy purge`. It covers
our Redis keys (sessions, transcripts, cases and the console's work on them, bookings and
their slots, tickets, callbacks), Rasa's tracker key, entries of the webhook queues whose
record is gone, recordings under var/recordings/, log files under var/log/ (rotated daily
first), lines of the conversation store's spill file var/outbox.jsonl (written when Redis
was away at shutdown) and the audit log (trimmed, keeping an anchor hash); Redis's
append-only file is then rewritten so that deleted data leaves the disk too. Keys that
should expire but have no TTL get one again. A case with a legal hold (`legal_hold` = 1)
is never purged. Each real run writes its counts to the audit log; `dry_run` only counts.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from channels.takeover import holder_key
from console.audit import AuditAction, AuditLog
from console.work import CLOSED_KEY, attempts_key, notes_key, viewers_key, work_key
from contract.records import (
    OPEN_CASES_KEY,
    WEBHOOK_FAILED_KEY,
    WEBHOOK_PROCESSING_KEY,
    WEBHOOK_QUEUE_KEY,
    RecordKind,
    WebhookEntry,
    WebhookEvent,
    case_key,
    session_key,
    tracker_key,
    transcript_key,
)
from contract.stats import stats_session_key
from dialogue.misses import AFTER_FALLBACK_PREFIX
from rathausbot.purge_insight import purge_misses, purge_statistics
from rathausbot.retention import DAY_S, FLAG_GRACE_DAYS, DataType, Retention

log = logging.getLogger(__name__)

SYSTEM_ACTOR = "system"
SCAN_COUNT = 500
WEBHOOK_KEYS = (WEBHOOK_QUEUE_KEY, WEBHOOK_PROCESSING_KEY, WEBHOOK_FAILED_KEY)
WEBHOOK_ENTRIES = "webhook_entries"
TTL_REPAIRED = "ttl_repaired"
FLAGGED = "flagged_cases"
_RECORD_TYPES = {
    RecordKind.BOOKING: DataType.BOOKINGS,
    RecordKind.TICKET: DataType.TICKETS,
    RecordKind.CALLBACK: DataType.CALLBACKS,
}


def lock_key(session_id: str) -> str:
    """Rasa's conversation lock (RedisLockStore, key prefix `rb`)."""
    return f"rb:lock:{session_id}"


def conversation_keys(session_id: str) -> list[str]:
    """Every key of one conversation: ours (its statistics and not-understood markers and a
    clerk's hold included) and Rasa's."""
    return [
        session_key(session_id),
        transcript_key(session_id),
        tracker_key(session_id),
        lock_key(session_id),
        stats_session_key(session_id),
        AFTER_FALLBACK_PREFIX + session_id,
        holder_key(session_id),
    ]


def work_keys(item_id: str) -> list[str]:
    """The console's keys of a case, callback or ticket."""
    return [work_key(item_id), notes_key(item_id), attempts_key(item_id), viewers_key(item_id)]


def stream_time(entry_id: str) -> float:
    """The Unix time in a stream entry id (`<ms>-<seq>`)."""
    return int(entry_id.split("-", 1)[0]) / 1000


def tracker_time(raw: str) -> float | None:
    """The time of the latest event in a Rasa tracker's JSON; None when there is none."""
    try:
        events = json.loads(raw).get("events", [])
        times = [float(e["timestamp"]) for e in events if isinstance(e, dict) and "timestamp" in e]
    except (ValueError, TypeError, AttributeError):
        return None
    return max(times) if times else None


@dataclass(slots=True)
class PurgeReport:
    """What a run removed (or, dry, would remove), per data type and extra counters."""

    dry_run: bool
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, count: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + count

    def detail(self) -> str:
        """Counts as `type=n` pairs in a fixed order (the audit entry's detail)."""
        names = [t.value for t in DataType] + [WEBHOOK_ENTRIES, FLAGGED, TTL_REPAIRED]
        return " ".join(f"{name}={self.counts.get(name, 0)}" for name in names)


class Purger:
    """One purge run over Redis and var/; `clock` and `retention` injected for tests."""

    def __init__(
        self,
        redis: Redis,
        audit: AuditLog,
        *,
        retention: Retention,
        recordings_dir: Path,
        log_dir: Path,
        spill_path: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`spill_path`: the conversation store's spill file (var/outbox.jsonl)."""
        self._redis = redis
        self._audit = audit
        self._retention = retention
        self._recordings = recordings_dir
        self._logs = log_dir
        self._spill = spill_path
        self._clock = clock

    def _cutoff(self, data_type: DataType) -> float:
        return self._clock() - self._retention.seconds(data_type)

    async def run(self, *, dry_run: bool = False) -> PurgeReport:
        """One pass over everything; the audit log gets the counts unless `dry_run`."""
        report = PurgeReport(dry_run)
        held = await self._cases(report)
        await self._conversations(report)
        await self._trackers(report)
        await self._consent_logs(report)
        for kind in RecordKind:
            await self._records(kind, report)
        await self._webhook_queues(report)
        for data_type, purge in (
            (DataType.STATISTICS, purge_statistics),
            (DataType.MISSES, purge_misses),
        ):
            keep_days = self._retention.days[data_type]
            count = await purge(
                self._redis, now=self._clock(), keep_days=keep_days, dry_run=dry_run
            )
            report.add(data_type, count)
        await asyncio.to_thread(self._files, report, held)
        cutoff = self._cutoff(DataType.AUDIT)
        report.add(DataType.AUDIT, await self._audit.trim(cutoff, dry_run=dry_run))
        if not dry_run:
            await self._audit.append(SYSTEM_ACTOR, AuditAction.PURGE, "", report.detail())
            if any(report.counts.values()):
                await self._rewrite_aof()
        log.info("purge%s: %s", " (dry run)" if dry_run else "", report.detail())
        return report

    async def _scan(self, pattern: str) -> list[str]:
        return [cast(str, k) async for k in self._redis.scan_iter(match=pattern, count=SCAN_COUNT)]

    async def _delete(self, report: PurgeReport, *keys: str) -> None:
        if not report.dry_run and keys:
            await self._redis.delete(*keys)

    async def _repair_ttl(self, report: PurgeReport, key: str, expires_at: float) -> None:
        """Gives `key` the expiry it should have when it has none."""
        if await self._redis.ttl(key) == -1:
            report.add(TTL_REPAIRED)
            if not report.dry_run:
                await self._redis.expireat(key, int(expires_at) + 1)

    # --- cases ---

    async def _cases(self, report: PurgeReport) -> set[str]:
        """Purges closed cases after their retention and open ones without activity after
        the flag's grace; returns the recording names of held cases (kept on disk)."""
        held: set[str] = set()
        closed_cutoff = self._cutoff(DataType.CLOSED_CASES)
        idle_cutoff = self._cutoff(DataType.INACTIVE_CASES)
        for key in await self._scan("rb:case:*"):
            fields = cast(dict[str, str], await self._redis.hgetall(key))
            case_id = fields.get("id")
            if not case_id:
                continue
            if fields.get("legal_hold") == "1":
                held.add(fields.get("recording", ""))
                continue
            if fields.get("status") == "closed":
                closed_at = float(fields.get("closed_at") or fields.get("created_at") or 0)
                if closed_at < closed_cutoff:
                    report.add(DataType.CLOSED_CASES)
                    await self._purge_case(report, fields)
                else:
                    expires = closed_at + self._retention.seconds(DataType.CLOSED_CASES)
                    await self._repair_ttl(report, key, expires)
                continue
            active = await self._last_activity(fields)
            flagged_at = float(fields.get("flagged_at") or 0)
            if active >= idle_cutoff:
                if flagged_at and not report.dry_run:
                    await self._redis.hdel(key, "flagged_at")
            elif not flagged_at:
                report.add(FLAGGED)
                if not report.dry_run:
                    await self._redis.hset(key, "flagged_at", repr(self._clock()))
                    await self._audit.append(SYSTEM_ACTOR, AuditAction.CASE_FLAGGED, case_id)
            elif flagged_at < self._clock() - FLAG_GRACE_DAYS * DAY_S:
                report.add(DataType.INACTIVE_CASES)
                await self._purge_case(report, fields)
        return held

    async def _last_activity(self, fields: dict[str, str]) -> float:
        times = [float(fields.get("created_at") or 0)]
        session_id = fields.get("session_id", "")
        if session_id:
            seen = await self._redis.hget(session_key(session_id), "last_seen")
            if seen:
                times.append(float(seen))
        updated = await self._redis.hget(work_key(fields["id"]), "updated_at")
        if updated:
            times.append(float(updated))
        return max(times)

    async def _purge_case(self, report: PurgeReport, fields: dict[str, str]) -> None:
        case_id = fields["id"]
        keys = [case_key(case_id), *work_keys(case_id)]
        if fields.get("session_id"):
            keys += conversation_keys(fields["session_id"])
        recording = fields.get("recording", "")
        if recording:
            report.add(DataType.RECORDINGS)
        if report.dry_run:
            return
        await self._redis.delete(*keys)
        await self._redis.zrem(OPEN_CASES_KEY, case_id)
        await self._redis.zrem(CLOSED_KEY, case_id)
        if recording:
            (self._recordings / Path(recording).name).unlink(missing_ok=True)

    # --- conversations without a case ---

    async def _conversations(self, report: PurgeReport) -> None:
        cutoff = self._cutoff(DataType.CONVERSATIONS)
        keep_s = self._retention.seconds(DataType.CONVERSATIONS)
        for key in await self._scan("rb:session:*"):
            session_id = key.removeprefix("rb:session:")
            fields = cast(dict[str, str], await self._redis.hgetall(key))
            if not fields or fields.get("case_id"):
                continue  # gone meanwhile, or its case decides
            last = float(fields.get("last_seen") or fields.get("created_at") or 0)
            if last < cutoff:
                report.add(DataType.CONVERSATIONS)
                await self._delete(report, *conversation_keys(session_id))
            else:
                for part in (key, transcript_key(session_id)):
                    if await self._redis.exists(part):
                        await self._repair_ttl(report, part, last + keep_s)
        for key in await self._scan("rb:transcript:*"):
            session_id = key.removeprefix("rb:transcript:")
            if await self._redis.exists(session_key(session_id)):
                continue
            newest = cast(list[tuple[str, object]], await self._redis.xrevrange(key, count=1))
            last = stream_time(newest[0][0]) if newest else 0.0
            if last < cutoff:
                report.add(DataType.CONVERSATIONS)
                await self._delete(report, key, tracker_key(session_id))
            else:
                await self._repair_ttl(report, key, last + keep_s)

    async def _trackers(self, report: PurgeReport) -> None:
        """Rasa's trackers whose session is gone: by their latest event's time."""
        cutoff = self._cutoff(DataType.CONVERSATIONS)
        keep_s = self._retention.seconds(DataType.CONVERSATIONS)
        for key in await self._scan("rb:tracker:*"):
            session_id = key.removeprefix("rb:tracker:")
            if await self._redis.exists(session_key(session_id)):
                continue
            raw = await self._redis.get(key)
            last = tracker_time(str(raw)) if raw is not None else None
            if last is None or last < cutoff:
                report.add(DataType.CONVERSATIONS)
                await self._delete(report, key, lock_key(session_id))
            else:
                await self._repair_ttl(report, key, last + keep_s)

    async def _consent_logs(self, report: PurgeReport) -> None:
        """Consent logs live as long as a recording and then the log's own retention."""
        keep_s = self._retention.seconds(DataType.RECORDINGS) + self._retention.seconds(
            DataType.CONSENT
        )
        for key in await self._scan("rb:consent:*"):
            newest = cast(list[tuple[str, object]], await self._redis.xrevrange(key, count=1))
            last = stream_time(newest[0][0]) if newest else 0.0
            if last + keep_s <= self._clock():
                report.add(DataType.CONSENT)
                await self._delete(report, key)
            else:
                await self._repair_ttl(report, key, last + keep_s)

    # --- bookings, tickets, callbacks ---

    async def _records(self, kind: RecordKind, report: PurgeReport) -> None:
        data_type = _RECORD_TYPES[kind]
        keep_s = self._retention.seconds(data_type)
        now = self._clock()
        for key in await self._scan(kind.key("*")):
            fields = cast(dict[str, str], await self._redis.hgetall(key))
            reference = fields.get("reference")
            if not reference:
                continue
            expires = record_expiry(kind, fields, keep_s)
            if expires <= now:
                report.add(data_type)
                await self._delete(report, key, *work_keys(reference))
                if not report.dry_run:
                    await self._redis.zrem(kind.index_key, reference)
                    await self._redis.zrem(CLOSED_KEY, reference)
                    slot = booking_slot_key(fields) if kind is RecordKind.BOOKING else None
                    if slot is not None:
                        await self._redis.srem(slot, reference)
            else:
                await self._repair_ttl(report, key, expires)
        # Index entries whose record expired by its TTL.
        references = cast(list[str], await self._redis.zrange(kind.index_key, 0, -1))
        for reference in references:
            if not await self._redis.exists(kind.key(reference)) and not report.dry_run:
                await self._redis.zrem(kind.index_key, reference)

    async def _webhook_queues(self, report: PurgeReport) -> None:
        """Queue entries whose record is gone (a deletion notice stays until delivered)."""
        for list_key in WEBHOOK_KEYS:
            for raw in cast(list[str], await self._redis.lrange(list_key, 0, -1)):
                entry = WebhookEntry.parse(raw)
                if entry is not None and entry.event is WebhookEvent.DELETED:
                    continue
                if entry is None or not await self._redis.exists(entry.kind.key(entry.reference)):
                    report.add(WEBHOOK_ENTRIES)
                    if not report.dry_run:
                        await self._redis.lrem(list_key, 1, raw)

    async def _rewrite_aof(self) -> None:
        """Deleted keys stay in Redis's append-only file until it is rewritten."""
        try:
            persistence = await self._redis.info("persistence")
            if str(persistence.get("aof_enabled")) == "1":
                await self._redis.bgrewriteaof()
        except RedisError as exc:  # one is running already, or a managed Redis refuses
            log.info("append-only file not rewritten: %s", type(exc).__name__)

    # --- files ---

    def _files(self, report: PurgeReport, held: set[str]) -> None:
        cutoff = self._cutoff(DataType.RECORDINGS)
        if self._recordings.is_dir():
            for path in sorted(self._recordings.glob("*.wav")):
                if path.name not in held and path.stat().st_mtime < cutoff:
                    report.add(DataType.RECORDINGS)
                    if not report.dry_run:
                        path.unlink(missing_ok=True)
        if self._spill is not None and self._spill.is_file():
            cutoffs = {op: self._cutoff(t) for op, t in SPILL_TYPES.items()}
            for data_type, count in purge_spill(self._spill, cutoffs, report.dry_run).items():
                report.add(data_type, count)
        if not self._logs.is_dir():
            return
        if not report.dry_run:
            rotate_logs(self._logs, self._clock())
        cutoff = self._cutoff(DataType.LOGS)
        for path in sorted(self._logs.glob("*.log.*")):
            if path.stat().st_mtime < cutoff:
                report.add(DataType.LOGS)
                if not report.dry_run:
                    path.unlink(missing_ok=True)


SPILL_TYPES = {"append": DataType.CONVERSATIONS, "open_case": DataType.INACTIVE_CASES}
"""The retention of a spill file line by its `op`; any other op is a case's field."""


def purge_spill(path: Path, cutoffs: dict[str, float], dry_run: bool) -> dict[DataType, int]:
    """Drops the lines of a spill file older than the cutoff of their op (`SPILL_TYPES`);
    a line's age is its newest time, or the file's when it has none (a case field). The
    file is rewritten atomically, or removed when nothing is left; returns counts per type."""
    file_time = path.stat().st_mtime
    kept: list[str] = []
    counts: dict[DataType, int] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        try:
            line = json.loads(raw)
            op = str(line.get("op", ""))
            times = [float(r["ts"]) for r in line.get("records", []) if "ts" in r]
            if "created_at" in line.get("fields", {}):
                times.append(float(line["fields"]["created_at"]))
        except (ValueError, TypeError, AttributeError, KeyError):
            op, times = "", []  # unreadable: aged by the file's time, like a case field
        data_type = SPILL_TYPES.get(op, DataType.INACTIVE_CASES)
        cutoff = cutoffs.get(op, cutoffs["open_case"])
        if (max(times) if times else file_time) < cutoff:
            counts[data_type] = counts.get(data_type, 0) + 1
        else:
            kept.append(raw)
    if dry_run or not counts:
        return counts
    if kept:
        partial = path.with_name(path.name + ".tmp")
        partial.write_text("".join(f"{raw}\n" for raw in kept), encoding="utf-8")
        os.utime(partial, (file_time, file_time))
        partial.replace(path)
    else:
        path.unlink(missing_ok=True)
    return counts


def record_expiry(kind: RecordKind, fields: dict[str, str], keep_s: int) -> float:
    """When a record's retention ends: bookings after the appointment's end, tickets and
    callbacks after they were taken. A record without a readable time expires at once."""
    try:
        if kind is RecordKind.BOOKING:
            return datetime.fromisoformat(fields["ends_at"]).timestamp() + keep_s
        return float(fields["created_at"]) + keep_s
    except (KeyError, ValueError):
        return 0.0


def booking_slot_key(fields: dict[str, str]) -> str | None:
    """The slot set a booking holds (`rb:slot:{office}:{date}:{time}`)."""
    if not all(fields.get(name) for name in ("office", "date", "time")):
        return None
    return f"rb:slot:{fields['office']}:{fields['date']}:{fields['time']}"


def rotate_logs(directory: Path, now: float) -> list[Path]:
    """Moves the content of each `*.log` into `*.log.YYYY-MM-DD` (the day of `now`, UTC) and
    empties it in place (the processes keep their append-mode handle); returns the copies."""
    day = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")
    rotated = []
    for path in sorted(directory.glob("*.log")):
        if path.stat().st_size == 0:
            continue
        target = path.with_name(f"{path.name}.{day}")
        with path.open("rb+") as source, target.open("ab") as sink:
            shutil.copyfileobj(source, sink)
            source.truncate(0)
        os.utime(target, (now, now))  # its age counts from this rotation
        rotated.append(target)
    return rotated


async def purge_periodically(purger: Purger, *, interval_s: float = 3600.0) -> None:
    """Runs the purge now and then every `interval_s` until cancelled; a failed run is
    logged and tried again at the next interval."""
    if interval_s <= 0:
        raise ValueError("interval_s must be positive")
    while True:
        try:
            await purger.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Redis away, audit refused: next interval
            log.warning("purge failed: %s", type(exc).__name__)
        await asyncio.sleep(interval_s)
