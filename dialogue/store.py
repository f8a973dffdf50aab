"""Sessions, transcripts and escalation cases in Redis, with an outbox for Redis outages.

Writes are operations applied in order. When Redis is unreachable they wait in a bounded
in-memory outbox that a flusher task owned by the store drains once Redis is back; when
the outbox is full, `StoreFull` is raised so that the caller refuses new input instead of
losing it. Each operation is idempotent, so a retried write never duplicates a line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self, cast

from redis import exceptions as redis_errors
from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT

from contract.phone import to_e164
from dialogue.messages import Button, Channel, Role
from dialogue.records import (
    CASE_EVENTS_CHANNEL,
    OPEN_CASES_KEY,
    Case,
    CaseStatus,
    SessionState,
    TranscriptRecord,
    case_key,
    session_key,
    tracker_key,
    transcript_key,
)
from dialogue.tasks import cancel_and_wait

log = logging.getLogger(__name__)

# KEYS: transcript stream, session hash.
# ARGV: ttl, id of the batch's last record, ts, channel, then per record: n, n field/values.
# Skips a batch already appended (a retried write). While the session has an open case its
# transcript and session stay without expiry, else their retention is refreshed.
_APPEND_LUA = f"""
if redis.call('HGET', KEYS[2], 'last_record') == ARGV[2] then return 0 end
local i = 5
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  redis.call('XADD', KEYS[1], '*', unpack(ARGV, i + 1, i + n))
  i = i + n + 1
end
redis.call('HSETNX', KEYS[2], 'created_at', ARGV[3])
redis.call('HSETNX', KEYS[2], 'channel', ARGV[4])
redis.call('HSETNX', KEYS[2], 'state', '{SessionState.ACTIVE.value}')
redis.call('HSET', KEYS[2], 'last_seen', ARGV[3], 'last_record', ARGV[2])
if redis.call('HEXISTS', KEYS[2], 'case_id') == 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  redis.call('EXPIRE', KEYS[2], ARGV[1])
end
return 1
"""

# KEYS: session hash, transcript stream, Rasa tracker. Deletes the conversation unless a
# case holds it (the case's retention then applies).
_DELETE_LUA = """
if redis.call('HEXISTS', KEYS[1], 'case_id') == 1 then return 0 end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
return 1
"""

# KEYS: session hash. ARGV: field, value. Sets it only on an existing session (never one
# without its expiry).
_CALLER_LUA = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""

CONSENT_TTL_S = 395 * 86_400
"""Default life of a consent log: the recordings' and the log's default retention together."""


def consent_key(session_id: str) -> str:
    """The call's consent log (stream): question, answer, withdrawal."""
    return f"rb:consent:{session_id}"


@dataclass(frozen=True, slots=True)
class ConsentEntry:
    """One line of a consent log: what was asked (its version), the answer and how it came
    (`key`, `speech` or `none`), when; `recording` names the file it covers."""

    event: str  # "answer" or "withdrawn"
    answer: str  # "granted", "denied" or "withdrawn"
    via: str
    at: float
    question_version: str
    asked_at: float | None = None
    recording: str = ""

    def to_fields(self) -> dict[str, str]:
        fields = {
            "event": self.event,
            "answer": self.answer,
            "via": self.via,
            "at": repr(self.at),
            "question_version": self.question_version,
        }
        if self.asked_at is not None:
            fields["asked_at"] = repr(self.asked_at)
        if self.recording:
            fields["recording"] = self.recording
        return fields


CALLER_FIELD = "caller"
"""Session field: the caller's number in E.164, found by the privacy officer's search."""

_STORE_UNREACHABLE = (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError)


def _encodable(fields: dict[str, str]) -> Mapping[FieldT, EncodableT]:
    return cast(Mapping[FieldT, EncodableT], fields)


SPILL_FILE = "outbox.jsonl"
"""Name of the spill file under var/ (what Redis could not take before a shutdown)."""


class StoreFull(Exception):
    """Redis is unreachable and the outbox is full: new input must be refused."""


@dataclass(frozen=True, slots=True)
class AppendOp:
    session_id: str
    records: tuple[TranscriptRecord, ...]


@dataclass(frozen=True, slots=True)
class OpenCaseOp:
    case: Case


@dataclass(frozen=True, slots=True)
class RecordingOp:
    case_id: str
    name: str  # the recording's file name under the recordings directory; "" takes it off


@dataclass(frozen=True, slots=True)
class TransferOp:
    case_id: str
    target: str  # where a phone call was transferred (a SIP URI of the staff's line)


Op = AppendOp | OpenCaseOp | RecordingOp | TransferOp


@dataclass(frozen=True, slots=True)
class SessionInfo:
    session_id: str
    channel: Channel
    state: SessionState
    created_at: float
    last_seen: float
    case_id: str | None


class ConversationStore:
    """Owns the Redis writes of the dialogue core; use as `async with store:`."""

    def __init__(
        self,
        redis: Redis,
        *,
        retention_s: int,
        outbox_limit: int = 10_000,
        spill_path: Path | None = None,
        retry_initial_s: float = 0.1,
        retry_max_s: float = 2.0,
        consent_ttl_s: int = CONSENT_TTL_S,
    ) -> None:
        if retention_s < 1 or consent_ttl_s < 1:
            raise ValueError("retention_s and consent_ttl_s must be positive")
        if outbox_limit < 1:
            raise ValueError("outbox_limit must be positive")
        self._redis = redis
        self._retention_s = retention_s
        self._consent_ttl_s = consent_ttl_s
        self._outbox: deque[Op] = deque()
        self._outbox_limit = outbox_limit
        self._spill_path = spill_path
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s
        self._wake = asyncio.Event()
        self._flushed = asyncio.Event()
        self._flushed.set()
        self._flusher: asyncio.Task[None] | None = None
        self._append_script = redis.register_script(_APPEND_LUA)
        self._delete_script = redis.register_script(_DELETE_LUA)
        self._caller_script = redis.register_script(_CALLER_LUA)

    async def __aenter__(self) -> Self:
        self._load_spill()
        self._flusher = asyncio.create_task(self._flush_forever(), name="store-outbox")
        if self._outbox:
            self._flushed.clear()
            self._wake.set()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stops the flusher; what Redis still lacks is spilled to disk (if configured)."""
        await cancel_and_wait(self._flusher)
        self._flusher = None
        if self._outbox:
            with contextlib.suppress(*_STORE_UNREACHABLE):
                await self._drain_once()
        if self._outbox:
            self._spill()

    @property
    def pending(self) -> int:
        """Operations accepted but not yet in Redis."""
        return len(self._outbox)

    async def wait_flushed(self) -> None:
        """Returns once every accepted operation is in Redis."""
        await self._flushed.wait()

    async def append(self, session_id: str, *records: TranscriptRecord) -> None:
        """Appends lines to a transcript, in order, in one write."""
        if records:
            await self._submit(AppendOp(session_id, records))

    async def open_case(self, case: Case) -> None:
        await self._submit(OpenCaseOp(case))

    async def attach_recording(self, case_id: str, name: str) -> None:
        """Names a consented call's recording on its case (the console links to it)."""
        await self._submit(RecordingOp(case_id, name))

    async def detach_recording(self, case_id: str) -> None:
        """Takes a withdrawn (deleted) recording off its case: no link to a missing file."""
        await self._submit(RecordingOp(case_id, ""))

    async def note_caller(self, session_id: str, number: str) -> bool:
        """Stores a caller's number (E.164) on an existing session; False when the number
        is not one or the session or Redis is not there (logged without the number)."""
        e164 = to_e164(number)
        if e164 is None:
            return False
        try:
            return bool(
                await self._caller_script(keys=[session_key(session_id)], args=[CALLER_FIELD, e164])
            )
        except redis_errors.RedisError as exc:
            log.warning("caller number not kept on its session: %s", type(exc).__name__)
            return False

    async def log_consent(self, session_id: str, entry: ConsentEntry) -> bool:
        """Appends to the call's consent log, which lives `consent_ttl_s` from its latest
        entry; False (logged) when Redis does not take it."""
        key = consent_key(session_id)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.xadd(key, cast(dict[FieldT, EncodableT], entry.to_fields()))
                pipe.expire(key, self._consent_ttl_s)
                await pipe.execute()
        except redis_errors.RedisError as exc:
            log.warning("consent log not written: %s", type(exc).__name__)
            return False
        return True

    async def note_transfer(self, case_id: str, target: str) -> None:
        """Records on a phone case that its call went to `target` (the console shows it)."""
        await self._submit(TransferOp(case_id, target))

    async def delete_conversation(self, session_id: str) -> bool:
        """Deletes the session, its transcript and Rasa tracker; False (nothing deleted)
        when a case holds the conversation. Raises a Redis error when Redis is down."""
        if any(
            isinstance(op, OpenCaseOp) and op.case.session_id == session_id for op in self._outbox
        ):
            return False
        self._outbox = deque(
            op
            for op in self._outbox
            if not (isinstance(op, AppendOp) and op.session_id == session_id)
        )
        keys = [session_key(session_id), transcript_key(session_id), tracker_key(session_id)]
        return bool(await self._delete_script(keys=keys))

    def ensure_capacity(self) -> None:
        """Raises StoreFull when no further operation could be accepted."""
        if len(self._outbox) >= self._outbox_limit:
            raise StoreFull(f"Redis unreachable and {len(self._outbox)} records waiting")

    async def _submit(self, op: Op) -> None:
        if not self._outbox:
            try:
                await self._apply(op)
                return
            except _STORE_UNREACHABLE as exc:
                log.warning("Redis unreachable (%s); keeping writes in the outbox", exc)
        self.ensure_capacity()
        self._outbox.append(op)
        self._flushed.clear()
        self._wake.set()

    async def _apply(self, op: Op) -> None:
        match op:
            case AppendOp(session_id, records):
                last = records[-1]
                args: list[str] = [
                    str(self._retention_s),
                    last.record_id,
                    repr(last.ts),
                    last.channel.value,
                ]
                for record in records:
                    fields = record.to_fields()
                    args.append(str(2 * len(fields)))
                    for name, value in fields.items():
                        args += [name, value]
                await self._append_script(
                    keys=[transcript_key(session_id), session_key(session_id)], args=args
                )
            case OpenCaseOp(case):
                pipe = self._redis.pipeline(transaction=True)
                pipe.hset(case_key(case.case_id), mapping=_encodable(case.to_fields()))
                pipe.zadd(OPEN_CASES_KEY, {case.case_id: case.created_at})
                pipe.hset(
                    session_key(case.session_id),
                    mapping=_encodable(
                        {"case_id": case.case_id, "state": SessionState.HANDOFF.value}
                    ),
                )
                pipe.persist(transcript_key(case.session_id))
                pipe.persist(session_key(case.session_id))
                pipe.publish(
                    CASE_EVENTS_CHANNEL, json.dumps({"event": "opened", "case_id": case.case_id})
                )
                await pipe.execute()
            case RecordingOp(case_id, ""):
                await self._redis.hdel(case_key(case_id), "recording")
            case RecordingOp(case_id, name):
                await self._redis.hset(case_key(case_id), "recording", name)
            case TransferOp(case_id, target):
                await self._redis.hset(case_key(case_id), "transferred_to", target)

    async def _drain_once(self) -> None:
        while self._outbox:
            await self._apply(self._outbox[0])
            self._outbox.popleft()

    async def _flush_forever(self) -> None:
        delay = self._retry_initial_s
        while True:
            await self._wake.wait()
            try:
                await self._drain_once()
            except _STORE_UNREACHABLE:
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max_s)
                continue
            except redis_errors.RedisError:
                # Not an outage: this operation can never succeed. Keep it on disk for
                # an operator rather than block every later write behind it.
                log.exception("Redis refused a write; spilling it for the operator")
                self._spill_one(self._outbox.popleft())
                continue
            delay = self._retry_initial_s
            log.info("Redis reachable again; outbox flushed")
            self._wake.clear()
            self._flushed.set()

    # --- spill file: what Redis could not take before shutdown survives a restart ---

    def _spill(self) -> None:
        if self._spill_path is None:
            log.error("Redis unreachable at shutdown: %d records lost", len(self._outbox))
            return
        while self._outbox:
            self._spill_one(self._outbox.popleft())
        log.warning("Redis unreachable at shutdown: records kept in %s", self._spill_path)

    def _spill_one(self, op: Op) -> None:
        if self._spill_path is None:
            log.error("dropping an operation Redis refused: %s", type(op).__name__)
            return
        line: dict[str, object]
        match op:
            case AppendOp(session_id, records):
                line = {
                    "op": "append",
                    "session_id": session_id,
                    "records": [record.to_fields() for record in records],
                }
            case OpenCaseOp(case):
                line = {"op": "open_case", "fields": case.to_fields()}
            case RecordingOp(case_id, name):
                line = {"op": "case_field", "id": case_id, "field": "recording", "value": name}
            case TransferOp(case_id, target):
                line = {
                    "op": "case_field",
                    "id": case_id,
                    "field": "transferred_to",
                    "value": target,
                }
        self._spill_path.parent.mkdir(parents=True, exist_ok=True)
        with self._spill_path.open("a", encoding="utf-8") as spill:
            spill.write(json.dumps(line) + "\n")

    def _load_spill(self) -> None:
        if self._spill_path is None or not self._spill_path.exists():
            return
        for raw in self._spill_path.read_text(encoding="utf-8").splitlines():
            line = json.loads(raw)
            if line["op"] == "append":
                records = tuple(TranscriptRecord.from_fields(f) for f in line["records"])
                self._outbox.append(AppendOp(line["session_id"], records))
            elif line["op"] == "case_field" and line["field"] == "recording":
                self._outbox.append(RecordingOp(line["id"], line["value"]))
            elif line["op"] == "case_field":
                self._outbox.append(TransferOp(line["id"], line["value"]))
            else:
                self._outbox.append(OpenCaseOp(Case.from_fields(line["fields"])))
        self._spill_path.unlink()
        log.info("Loaded %d records kept from an earlier Redis outage", len(self._outbox))

    # --- reads ---

    # The client decodes responses (decode_responses=True): every value is a str.

    async def transcript(self, session_id: str) -> list[TranscriptRecord]:
        entries = cast(
            list[tuple[str, dict[str, str]]], await self._redis.xrange(transcript_key(session_id))
        )
        return [TranscriptRecord.from_fields(fields) for _, fields in entries]

    async def offered_buttons(self, session_id: str, *, scan: int = 50) -> tuple[Button, ...]:
        """The quick replies the citizen's widget still shows: those of the assistant's lines
        since the citizen's or a clerk's last line (among the last `scan` lines)."""
        entries = cast(
            list[tuple[str, dict[str, str]]],
            await self._redis.xrevrange(transcript_key(session_id), count=scan),
        )
        offered: list[Button] = []
        for _, fields in entries:
            record = TranscriptRecord.from_fields(fields)
            if record.role in (Role.USER, Role.STAFF):
                break
            offered += record.buttons
        return tuple(offered)

    async def case(self, case_id: str) -> Case | None:
        fields = cast(dict[str, str], await self._redis.hgetall(case_key(case_id)))
        return Case.from_fields(fields) if fields else None

    async def open_case_ids(self) -> list[str]:
        return cast(list[str], await self._redis.zrange(OPEN_CASES_KEY, 0, -1))

    async def session(self, session_id: str) -> SessionInfo | None:
        fields = cast(dict[str, str], await self._redis.hgetall(session_key(session_id)))
        if not fields:
            return None
        return SessionInfo(
            session_id=session_id,
            channel=Channel(fields["channel"]),
            state=SessionState(fields.get("state", SessionState.ACTIVE.value)),
            created_at=float(fields["created_at"]),
            last_seen=float(fields["last_seen"]),
            case_id=fields.get("case_id"),
        )

    async def ttl(self, key: str) -> int:
        return int(await self._redis.ttl(key))


__all__ = ["Case", "CaseStatus", "ConversationStore", "SessionInfo", "SessionState", "StoreFull"]
