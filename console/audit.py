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
    USER_DEPARTMENTS = "user_departments"


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
    ) -> None:
        self._redis = redis
        self._clock = clock
        self._keys = [stream_key, head_key]
        self._script = redis.register_script(_APPEND)

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
        prev = GENESIS
        start = "-"
        while True:
            rows = _rows(await self._redis.xrange(self._keys[0], min=start, count=batch))
            for entry_id, fields in rows:
                entry = _entry(entry_id, fields)
                at, action = repr(entry.at), entry.action.value
                expected = entry_hash(prev, at, entry.actor, action, entry.target, entry.detail)
                if entry.prev != prev or entry.hash != expected:
                    return False
                prev = entry.hash
            if len(rows) < batch:
                break
            start = "(" + rows[-1][0]
        head = await self._redis.get(self._keys[1])
        return (_text(head) if head is not None else GENESIS) == prev


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
