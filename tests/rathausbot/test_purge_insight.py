"""Issue 23's data in the purge job and in erasure: old statistics and not-understood
texts go after their retention; erasing a citizen leaves the statistics intact."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from redis.asyncio import Redis

from console.audit import AuditLog
from contract.conversation import Role
from contract.records import Channel
from contract.stats import stats_day_key
from dialogue.messages import Understanding
from dialogue.metrics import BERLIN, DAY_S, Metrics, StatChannel, TurnFacts
from dialogue.misses import INDEX_KEY, ITEM_PREFIX, MissLog
from dialogue.records import TranscriptRecord
from dialogue.store import ConversationStore
from rathausbot.citizen import CitizenData, KeyKind, Lookup
from rathausbot.purge import Purger
from rathausbot.purge_insight import day_of, purge_misses, purge_statistics
from rathausbot.retention import Retention

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=BERLIN).timestamp()
FALLBACK = Understanding("nlu_fallback", 0.2)


async def test_statistics_older_than_their_retention_go(redis: Redis) -> None:
    for day in ("2026-06-15", "2026-06-05", "2026-06-04", "2025-01-01"):
        await redis.hset(f"rb:stats:day:{day}:chat", "turns", 1)
    await redis.hset("rb:stats:day:garbage:chat", "turns", 1)
    assert await purge_statistics(redis, now=NOW, keep_days=10, dry_run=True) == 3
    assert await redis.exists("rb:stats:day:2025-01-01:chat")
    assert await purge_statistics(redis, now=NOW, keep_days=10, dry_run=False) == 3
    left = sorted(await redis.keys("rb:stats:day:*"))
    assert left == ["rb:stats:day:2026-06-05:chat", "rb:stats:day:2026-06-15:chat"]
    assert day_of("rb:stats:day:2026-06-05:phone") == datetime(2026, 6, 5).date()
    assert day_of("rb:stats:day:x") is None


async def test_not_understood_texts_older_than_their_retention_go(redis: Redis) -> None:
    for i, at in enumerate((NOW - 3 * DAY_S - 1, NOW - 3 * DAY_S, NOW)):
        await MissLog(redis, clock=lambda at=at: at).turn(
            f"s{i}", Channel.WEBCHAT, "x", FALLBACK, handoff=False
        )
    ids = await redis.zrange(INDEX_KEY, 0, -1)
    assert await purge_misses(redis, now=NOW, keep_days=3, dry_run=True) == 2
    assert await purge_misses(redis, now=NOW, keep_days=3, dry_run=False) == 2
    assert await redis.zrange(INDEX_KEY, 0, -1) == ids[2:]
    assert not await redis.exists(ITEM_PREFIX + ids[0], ITEM_PREFIX + ids[1])
    assert await redis.exists(ITEM_PREFIX + ids[2])
    assert await purge_misses(redis, now=NOW, keep_days=3, dry_run=False) == 0


async def test_the_purge_job_counts_them(redis: Redis, tmp_path: Path) -> None:
    await redis.hset("rb:stats:day:2020-01-01:phone", "turns", 1)
    audit = AuditLog(redis, clock=lambda: NOW)
    purger = Purger(
        redis,
        audit,
        retention=Retention.default(),
        recordings_dir=tmp_path,
        log_dir=tmp_path,
        clock=lambda: NOW,
    )
    report = await purger.run()
    assert "statistics=1" in report.detail() and "misses=0" in report.detail()
    assert not await redis.exists("rb:stats:day:2020-01-01:phone")


async def test_erasure_leaves_the_statistics_intact(redis: Redis, tmp_path: Path) -> None:
    metrics = Metrics(redis, intents=["id_card"], clock=lambda: NOW)
    await metrics.turn(TurnFacts("sess-erase", StatChannel.CHAT, "id_card", False))
    async with ConversationStore(redis, retention_s=3600) as store:
        await store.append(
            "sess-erase",
            TranscriptRecord.new(Channel.WEBCHAT, Role.USER, "Hallo", clock=lambda: NOW),
        )
    citizens = CitizenData(redis, AuditLog(redis), recordings_dir=tmp_path)
    findings = await citizens.find(Lookup.parse(KeyKind.SESSION, "sess-erase"))
    await citizens.erase(findings, actor="dana")
    assert not await redis.exists("rb:transcript:sess-erase")
    key = stats_day_key(datetime(2026, 6, 15).date(), "chat")
    assert await redis.hget(key, "conversations") == "1"
