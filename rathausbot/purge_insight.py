"""The purge job's part for issue 23: team statistics (`rb:stats:day:*`) older than
`retention.statistics` and "Nicht verstanden" texts older than `retention.misses`.

Both normally expire by themselves in Redis; this catches keys whose expiry was lost (a
restore, a shortened retention) so that the configured months hold."""

from __future__ import annotations

from datetime import date, datetime
from typing import cast

from redis.asyncio import Redis

from contract.stats import STATS_DAY_PREFIX
from dialogue.metrics import BERLIN, DAY_S
from dialogue.misses import INDEX_KEY, ITEM_PREFIX

SCAN_COUNT = 500


def day_of(key: str) -> date | None:
    """The day of a statistics key; None for a key that does not name one."""
    try:
        return date.fromisoformat(key.removeprefix(STATS_DAY_PREFIX)[:10])
    except ValueError:
        return None


async def purge_statistics(redis: Redis, *, now: float, keep_days: int, dry_run: bool) -> int:
    """Deletes day hashes older than `keep_days` (and malformed ones); returns the count."""
    today = datetime.fromtimestamp(now, BERLIN).date()
    old: list[str] = []
    async for raw in redis.scan_iter(match=STATS_DAY_PREFIX + "*", count=SCAN_COUNT):
        key = cast(str, raw)
        day = day_of(key)
        if day is None or (today - day).days > keep_days:
            old.append(key)
    if old and not dry_run:
        await redis.delete(*old)
    return len(old)


async def purge_misses(redis: Redis, *, now: float, keep_days: int, dry_run: bool) -> int:
    """Deletes not-understood texts older than `keep_days`; returns the count."""
    cutoff = now - keep_days * DAY_S
    ids = cast(list[str], await redis.zrangebyscore(INDEX_KEY, "-inf", cutoff))
    if ids and not dry_run:
        async with redis.pipeline(transaction=True) as pipe:
            pipe.delete(*(ITEM_PREFIX + i for i in ids))
            pipe.zrem(INDEX_KEY, *ids)
            await pipe.execute()
    return len(ids)
