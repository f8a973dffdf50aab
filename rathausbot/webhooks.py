"""Delivers new and changed records (bookings, tickets, callbacks) to the office's webhooks.

The action server queues `{"type", "event", "reference"}` in `rb:webhook:queue`; this
dispatcher, owned by `rathausbot serve`, moves each entry to `rb:webhook:processing`, POSTs
`{"type", "event", "record": {...}}` to the webhook configured for its type, retrying with
exponential backoff, and then drops it. Entries that exhaust their attempts are kept in
`rb:webhook:failed`; entries of types without a webhook are dropped. An entry that was being
delivered when the gateway stopped is delivered again at the next start (at least once).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import cast

import httpx
from redis.asyncio import Redis

from contract.records import (
    DELIVERED_FIELD,
    WEBHOOK_FAILED_KEY,
    WEBHOOK_PROCESSING_KEY,
    WEBHOOK_QUEUE_KEY,
    WEBHOOK_QUEUE_LIMIT,
    RecordKind,
    WebhookEntry,
    WebhookEvent,
)

QUEUE_KEY = WEBHOOK_QUEUE_KEY
PROCESSING_KEY = WEBHOOK_PROCESSING_KEY
FAILED_KEY = WEBHOOK_FAILED_KEY
FAILED_LIMIT = WEBHOOK_QUEUE_LIMIT

log = logging.getLogger(__name__)

# KEYS: record hash. ARGV: field. Marks a delivered record, unless it is gone meanwhile.
_MARK_LUA = """
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], ARGV[1], '1') end
return 0
"""


class WebhookDispatcher:
    """One loop; ``run()`` until cancelled. Options are bounded."""

    def __init__(
        self,
        redis: Redis,
        http: httpx.AsyncClient,
        urls: Mapping[RecordKind, str],
        *,
        attempts: int = 5,
        timeout_s: float = 10.0,
        backoff_s: float = 1.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not 1 <= attempts <= 20:
            raise ValueError("attempts must be 1..20")
        if not 0 < timeout_s <= 120 or not 0 <= backoff_s <= 60:
            raise ValueError("timeout_s must be in (0, 120], backoff_s in [0, 60]")
        self._redis = redis
        self._http = http
        self._urls = dict(urls)
        self._attempts = attempts
        self._timeout_s = timeout_s
        self._backoff_s = backoff_s
        self._sleep = sleep
        self._mark_script = redis.register_script(_MARK_LUA)

    async def run(self) -> None:
        """Delivers queued entries until cancelled; survives Redis outages."""
        while True:
            try:
                await self.recover()
                while True:
                    await self.step(block_s=1)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away: wait, then start over
                log.warning("webhook dispatcher paused: %s", type(exc).__name__)
                await self._sleep(max(self._backoff_s, 1.0))

    async def recover(self) -> None:
        """Requeues entries that were in delivery when the gateway stopped."""
        while await self._redis.lmove(PROCESSING_KEY, QUEUE_KEY, "RIGHT", "RIGHT"):
            pass

    async def step(self, *, block_s: int = 0) -> bool:
        """Delivers (or drops) one entry; False when the queue stayed empty."""
        if block_s > 0:
            raw = await self._redis.blmove(QUEUE_KEY, PROCESSING_KEY, block_s, "RIGHT", "LEFT")
        else:
            raw = await self._redis.lmove(QUEUE_KEY, PROCESSING_KEY, "RIGHT", "LEFT")
        if raw is None:
            return False
        raw = raw.decode() if isinstance(raw, bytes) else raw
        job = WebhookEntry.parse(raw)
        url = self._urls.get(job.kind) if job else None
        if job is not None and url is not None and not await self._deliver(job, url):
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.lpush(FAILED_KEY, raw)
                pipe.ltrim(FAILED_KEY, 0, FAILED_LIMIT - 1)
                await pipe.execute()
            log.warning("webhook for %s %s failed; kept in %s", job.kind.value, job.reference,
                        FAILED_KEY)  # fmt: skip
        await self._redis.lrem(PROCESSING_KEY, 1, raw)
        return True

    async def _deliver(self, job: WebhookEntry, url: str) -> bool:
        key = job.kind.key(job.reference)
        if job.event is WebhookEvent.DELETED:
            record: dict[str, str] = {"reference": job.reference}
        else:
            record = cast(dict[str, str], await self._redis.hgetall(key))
            if not record:
                return True  # expired meanwhile: nothing left to deliver
            record.pop(DELIVERED_FIELD, None)
        body = {"type": job.kind.value, "event": job.event.value, "record": record}
        for attempt in range(1, self._attempts + 1):
            try:
                response = await self._http.post(url, json=body, timeout=self._timeout_s)
                if response.is_success:
                    if job.event is not WebhookEvent.DELETED:
                        # Marks it only while it exists (HSET would recreate an erased one).
                        await self._mark(key)
                    return True
                reason = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                reason = type(exc).__name__
            log.info("webhook attempt %d/%d for a %s: %s", attempt, self._attempts,
                     job.kind.value, reason)  # fmt: skip
            if attempt < self._attempts:
                await self._sleep(self._backoff_s * 2 ** (attempt - 1))
        return False

    async def _mark(self, key: str) -> None:
        await self._mark_script(keys=[key], args=[DELIVERED_FIELD])
