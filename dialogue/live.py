"""The live feed of a conversation for the console's case view: every transcript line and
the citizen's typing, published on a per-session Redis channel (best effort: the case view
loads the history first and follows the channel after)."""

from __future__ import annotations

import json
import logging

from redis import exceptions as redis_errors
from redis.asyncio import Redis

from dialogue.records import KEY_PREFIX, TranscriptRecord

log = logging.getLogger(__name__)

_PREFIX = f"{KEY_PREFIX}:chat:live:"
_UNREACHABLE = (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError)


def live_channel(session_id: str) -> str:
    return _PREFIX + session_id


def line_event(record: TranscriptRecord) -> dict[str, object]:
    """One transcript line as the case view's script shows it (text only, never markup)."""
    return {
        "kind": "line",
        "role": record.role.value,
        "text": record.text,
        "name": record.name,
        "marker": record.marker.value if record.marker is not None else None,
        "at": record.ts,
    }


class LiveFeed:
    """Publishes to `rb:chat:live:{session}`; a lost Redis only loses the live view."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def lines(self, session_id: str, *records: TranscriptRecord) -> None:
        for record in records:
            await self._publish(session_id, line_event(record))

    async def typing(self, session_id: str, on: bool) -> None:
        await self._publish(session_id, {"kind": "typing", "on": on})

    async def _publish(self, session_id: str, event: dict[str, object]) -> None:
        try:
            await self._redis.publish(live_channel(session_id), json.dumps(event))
        except _UNREACHABLE as exc:
            log.warning("live feed unavailable: %s", type(exc).__name__)
