"""The console's audit log: an append-only Redis stream whose entries are hash-chained.

Each entry holds the hash of the one before it, so a changed or removed entry shows in
`verify()`. One Lua script reads the chain's head and appends, so two gateways appending at
the same time never fork the chain. Entries carry no personal data of citizens beyond case
ids and references: `actor` is a staff user name, `target` a case id, reference or user.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from redis.asyncio import Redis
from redis.exceptions import RedisError

STREAM_KEY = "rb:audit"
HEAD_KEY = "rb:audit:head"
ANCHOR_KEY = "rb:audit:anchor"
"""Hash of the last entry trimmed after the audit retention: the chain is verified from it."""
GENESIS = "0" * 64


class AuditAction(StrEnum):
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGOUT = "logout"
    PASSWORD_CHANGED = "password_changed"
    VIEW_TRANSCRIPT = "view_transcript"
    VIEW_RECORDING = "view_recording"
    CLAIM = "claim"
    REASSIGN = "reassign"
    STATUS = "status"
    NOTE = "note"
    CALLBACK_ATTEMPT = "callback_attempt"
    CLOSURE = "closure"
    TAKEOVER = "takeover"
    HANDBACK = "handback"
    CHAT_CLOSED = "chat_closed"
    AVAILABILITY = "availability"
    SNIPPET = "snippet"
    USER_ADDED = "user_added"
    USER_DISABLED = "user_disabled"
    USER_ENABLED = "user_enabled"
    USER_PASSWORD_RESET = "user_password_reset"
    USER_2FA_RESET = "user_2fa_reset"
    PURGE = "purge"  # detail: counts per data type
    CASE_FLAGGED = "case_flagged"  # an open case without activity, for the team lead
    PRIVACY_SEARCH = "privacy_search"  # detail: the kind of key, never its value
    PRIVACY_EXPORT = "privacy_export"  # detail: the kind of key
    ERASURE = "erasure"  # the tombstone: detail holds kinds and counts, never content
    LEGAL_HOLD = "legal_hold"  # detail: on or off
    USER_DEPARTMENTS = "user_departments"
    MISS_TRIAGE = "miss_triage"  # "Nicht verstanden": detail the action (and the intent)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: str  # the stream entry id
    at: float
    actor: str
    action: AuditAction
    target: str
    detail: str  # a short code-like value (a new status, a role), never citizen text
    prev: str
    hash: str


def entry_hash(prev: str, at: str, actor: str, action: str, target: str, detail: str) -> str:
    """The chain hash of one entry: hex SHA-1 (the hash Redis' Lua offers) over the fields,
    each length-prefixed so no two entries serialise alike. A forger would need a second
    preimage, which SHA-1 still resists."""
    parts = (prev, at, actor, action, target, detail)
    data = "".join(f"{len(p.encode())}:{p};" for p in parts)
    return hashlib.sha1(data.encode(), usedforsecurity=False).hexdigest()


# KEYS: stream, head. ARGV: at, actor, action, target, detail. Reads the head, hashes and
# appends in one step: concurrent writers (several gateways) never fork the chain.
_APPEND = (
    """
local head = redis.call('GET', KEYS[2]) or '"""
    + GENESIS
    + """'
local data = ''
for _, part in ipairs({head, ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]}) do
  data = data .. #part .. ':' .. part .. ';'
end
local hash = redis.sha1hex(data)
local id = redis.call('XADD', KEYS[1], '*', 'at', ARGV[1], 'actor', ARGV[2], 'action', ARGV[3],
  'target', ARGV[4], 'detail', ARGV[5], 'prev', head, 'hash', hash)
redis.call('SET', KEYS[2], hash)
return {id, head, hash}
"""
)


# KEYS: stream, anchor. ARGV: cutoff stream id. Keeps the hash of the newest entry before the
# cutoff as the anchor, then trims everything before the cutoff, in one step.
_TRIM = """
local last = redis.call('XREVRANGE', KEYS[1], '(' .. ARGV[1], '-', 'COUNT', 1)
if #last == 0 then return 0 end
local fields = last[1][2]
for i = 1, #fields, 2 do
  if fields[i] == 'hash' then redis.call('SET', KEYS[2], fields[i + 1]) end
end
return redis.call('XTRIM', KEYS[1], 'MINID', ARGV[1])
"""


@dataclass(frozen=True, slots=True)
class ChainCheck:
    """The result of verifying the chain: `broken_at` names the first bad entry's id."""

    intact: bool
    checked: int
    broken_at: str | None


class AuditError(RuntimeError):
    """The audit log could not be written (the action it records must not proceed)."""


class AuditLog:
    """Appends and reads the audit chain. `clock` is injected for tests."""

    def __init__(
        self,
        redis: Redis,
        *,
        clock: Callable[[], float] = time.time,
        stream_key: str = STREAM_KEY,
        head_key: str = HEAD_KEY,
        anchor_key: str = ANCHOR_KEY,
    ) -> None:
        self._redis = redis
        self._clock = clock
        self._keys = [stream_key, head_key]
        self._anchor_key = anchor_key
        self._script = redis.register_script(_APPEND)
        self._trim_script = redis.register_script(_TRIM)

    async def append(
        self, actor: str, action: AuditAction, target: str = "", detail: str = ""
    ) -> AuditEntry:
        """Appends one entry after the current head, atomically. AuditError when Redis fails:
        the action it records must then not proceed."""
        at = repr(self._clock())
        try:
            entry_id, prev, digest = await self._script(
                keys=self._keys, args=[at, actor, action.value, target, detail]
            )
        except RedisError as error:
            raise AuditError(f"the audit log cannot be written ({type(error).__name__})") from None
        return AuditEntry(
            _text(entry_id), float(at), actor, action, target, detail, _text(prev), _text(digest)
        )

    async def entries(self, *, count: int = 100, before: str = "+") -> list[AuditEntry]:
        """The newest `count` entries up to `before` (a stream id), newest first."""
        rows = await self._redis.xrevrange(self._keys[0], max=before, count=count)
        return [_entry(entry_id, fields) for entry_id, fields in _rows(rows)]

    async def verify(self, *, batch: int = 1000) -> bool:
        """Whether the whole chain is intact: every entry's hash matches its fields and the
        previous entry's hash, and the head is the last one."""
        return (await self.check(batch=batch)).intact

    async def check(self, *, batch: int = 1000) -> ChainCheck:
        """Verifies the chain from its anchor (the last trimmed entry's hash, or genesis) and
        names the first entry whose link is broken ("head" when only the head is wrong)."""
        anchor = await self._redis.get(self._anchor_key)
        prev = _text(anchor) if anchor is not None else GENESIS
        start = "-"
        checked = 0
        while True:
            rows = _rows(await self._redis.xrange(self._keys[0], min=start, count=batch))
            for entry_id, fields in rows:
                try:
                    entry = _entry(entry_id, fields)
                except (KeyError, ValueError):
                    return ChainCheck(False, checked, entry_id)
                at, action = repr(entry.at), entry.action.value
                expected = entry_hash(prev, at, entry.actor, action, entry.target, entry.detail)
                if entry.prev != prev or entry.hash != expected:
                    return ChainCheck(False, checked, entry_id)
                prev = entry.hash
                checked += 1
            if len(rows) < batch:
                break
            start = "(" + rows[-1][0]
        head = await self._redis.get(self._keys[1])
        if (_text(head) if head is not None else GENESIS) != prev:
            return ChainCheck(False, checked, "head")
        return ChainCheck(True, checked, None)

    async def trim(self, before: float, *, dry_run: bool = False) -> int:
        """Removes the entries written before `before` (a Unix time), keeping the last removed
        entry's hash as the anchor that `check()` starts from; returns how many."""
        cutoff_ms = int(before * 1000)
        if cutoff_ms <= 0:
            return 0
        cutoff = f"{cutoff_ms}-0"
        if dry_run:
            count = 0
            start = "-"
            while True:
                rows = _rows(
                    await self._redis.xrange(self._keys[0], min=start, max="(" + cutoff, count=1000)
                )
                count += len(rows)
                if len(rows) < 1000:
                    return count
                start = "(" + rows[-1][0]
        removed = await self._trim_script(keys=[self._keys[0], self._anchor_key], args=[cutoff])
        return int(removed)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _rows(rows: object) -> list[tuple[str, dict[str, str]]]:
    """XRANGE/XREVRANGE rows as text, whether or not the client decodes responses."""
    out: list[tuple[str, dict[str, str]]] = []
    for entry_id, fields in rows or []:  # type: ignore[attr-defined]
        out.append((_text(entry_id), {_text(k): _text(v) for k, v in (fields or {}).items()}))
    return out


def _entry(entry_id: str, values: dict[str, str]) -> AuditEntry:
    return AuditEntry(
        id=entry_id,
        at=float(values["at"]),
        actor=values["actor"],
        action=AuditAction(values["action"]),
        target=values.get("target", ""),
        detail=values.get("detail", ""),
        prev=values["prev"],
        hash=values["hash"],
    )
