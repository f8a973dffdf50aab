"""The statistics counters on a real Redis: bounded field names, the resolved-share
bookkeeping, expiry, limits, class boundaries, and that Redis trouble never fails a turn."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from contract.records import Callback, CallbackWindow, Channel
from contract.stats import stats_day_key, stats_session_key
from dialogue.metrics import (
    BERLIN,
    DAY_S,
    LATENCY_BUCKETS_MS,
    MAX_INTENTS,
    WAIT_BUCKETS_S,
    Metrics,
    StaffMetrics,
    StatChannel,
    TurnFacts,
    domain_intents,
    handoff_field,
    latency_field,
    wait_field,
)
from intents.actions.records import Records

NOON = datetime(2026, 3, 10, 12, 30, tzinfo=BERLIN).timestamp()
MIDNIGHT = datetime(2026, 3, 10, 0, 0, tzinfo=BERLIN).timestamp()
CHAT = stats_day_key(datetime(2026, 3, 10).date(), "chat")
PHONE = stats_day_key(datetime(2026, 3, 10).date(), "phone")


def facts(
    session: str = "s1",
    *,
    intent: str | None = "id_card",
    fallback: bool = False,
    reasons: tuple[str, ...] = (),
    channel: StatChannel = StatChannel.CHAT,
) -> TurnFacts:
    return TurnFacts(session, channel, intent, fallback, reasons)


def metrics(redis: Redis, keep_days: int = 730) -> Metrics:
    return Metrics(redis, intents=["id_card"], keep_days=keep_days, clock=lambda: NOON)


async def test_fields_come_from_closed_sets(redis: Redis) -> None:
    m = metrics(redis)
    await m.turn(facts(intent="id_card"))
    await m.turn(facts(intent="<script>x</script>"))
    await m.turn(facts(intent=None, reasons=("user_request", "made-up")))
    fields = await redis.hgetall(CHAT)
    assert fields == {
        "conversations": "1",
        "turns": "3",
        "hour:12": "3",
        "intent:id_card": "1",
        "intent:other": "2",
        "handoff:user_request": "1",
        "handoff:unspecified": "1",
        "escalated": "1",
    }
    assert handoff_field("complaint") == "handoff:complaint"


async def test_a_fallback_counts_until_the_conversation_recovers(redis: Redis) -> None:
    m = metrics(redis)
    await m.turn(facts(intent="nlu_fallback", fallback=True))
    assert await redis.hget(CHAT, "ended_on_fallback") == "1"
    await m.turn(facts(intent="nlu_fallback", fallback=True))
    assert await redis.hget(CHAT, "ended_on_fallback") == "1"
    assert await redis.hget(CHAT, "fallbacks") == "2"
    await m.turn(facts())
    assert await redis.hget(CHAT, "ended_on_fallback") == "0"
    await m.turn(facts(intent="nlu_fallback", fallback=True))
    await m.turn(facts(reasons=("fallback",)))
    assert await redis.hmget(CHAT, ["ended_on_fallback", "escalated"]) == ["0", "1"]
    await m.turn(facts(intent="nlu_fallback", fallback=True))  # after a case: not counted
    assert await redis.hmget(CHAT, ["ended_on_fallback", "escalated"]) == ["0", "1"]
    await m.turn(facts(reasons=("complaint",)))
    assert await redis.hget(CHAT, "escalated") == "1"


async def test_a_fallback_and_then_a_handoff_in_one_turn_is_escalated(redis: Redis) -> None:
    m = metrics(redis)
    await m.turn(facts(intent="nlu_fallback", fallback=True, reasons=("fallback",)))
    assert await redis.hmget(CHAT, ["ended_on_fallback", "escalated"]) == [None, "1"]


async def test_answer_latency_counts_for_sip_calls_only(redis: Redis) -> None:
    m = metrics(redis, keep_days=30)
    await m.answer_latency("webrtc-1", 400)  # a browser call
    await m.answer_latency("s1", 400)
    await m.answer_latency("sip-1", 400)
    await m.answer_latency("sip-1", 501)
    await m.answer_latency("sip-1", -3)  # a clock step back counts in the lowest class
    fields = await redis.hgetall(PHONE)
    assert fields == {"latency:500": "1", "latency:750": "1", "latency:250": "1"}
    assert await redis.hget(CHAT, "latency:500") is None
    assert await redis.ttl(PHONE) > 30 * DAY_S - DAY_S


async def test_turns_count_no_latency(redis: Redis) -> None:
    await metrics(redis).turn(facts("sip-1", channel=StatChannel.PHONE))
    assert not [f for f in await redis.hgetall(PHONE) if f.startswith("latency:")]


async def test_day_hashes_expire_after_keep_days_and_markers_soon(redis: Redis) -> None:
    await metrics(redis, keep_days=30).turn(facts())
    ttl = await redis.ttl(CHAT)
    expected = MIDNIGHT + 31 * DAY_S - NOON
    assert expected - 5 <= ttl <= expected
    assert 0 < await redis.ttl(stats_session_key("s1")) <= 6 * 3600


async def test_redis_trouble_never_fails_the_turn(redis: Redis) -> None:
    broken = Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0))
    await Metrics(broken, intents=[]).turn(facts())
    await StaffMetrics(broken).callback_done(StatChannel.CHAT)
    await broken.aclose()


def test_limits() -> None:
    redis = Redis()
    Metrics(redis, intents=[str(i) for i in range(MAX_INTENTS)], keep_days=1, session_ttl_s=60)
    Metrics(redis, intents=[], keep_days=3650)
    with pytest.raises(ValueError, match="intents"):
        Metrics(redis, intents=[str(i) for i in range(MAX_INTENTS + 1)])
    for keep in (0, 3651):
        with pytest.raises(ValueError, match="keep_days"):
            Metrics(redis, intents=[], keep_days=keep)
        with pytest.raises(ValueError, match="keep_days"):
            StaffMetrics(redis, keep_days=keep)
    StaffMetrics(redis, keep_days=1)
    StaffMetrics(redis, keep_days=3650)
    with pytest.raises(ValueError, match="session_ttl_s"):
        Metrics(redis, intents=[], session_ttl_s=59)


def test_class_boundaries() -> None:
    assert [wait_field(s) for s in (0, 60, 61, 3 * DAY_S, 3 * DAY_S + 1)] == [
        "wait:60",
        "wait:60",
        "wait:300",
        "wait:259200",
        "wait:more",
    ]
    assert [latency_field(ms) for ms in (0, 250, 251, 10_000, 10_001)] == [
        "latency:250",
        "latency:250",
        "latency:500",
        "latency:10000",
        "latency:more",
    ]


def test_channels() -> None:
    assert StatChannel.of(Channel.WEBCHAT, "sip-x") is StatChannel.CHAT
    assert StatChannel.of(Channel.VOICE, "sip-x") is StatChannel.PHONE
    assert StatChannel.of(Channel.VOICE, "webrtc-x") is StatChannel.BROWSER
    assert [c.label for c in StatChannel] == ["Chat", "Telefon", "Browser-Anruf"]


async def test_staff_metrics(redis: Redis) -> None:
    staff = StaffMetrics(redis, keep_days=10, clock=lambda: NOON)
    await staff.case_taken(StatChannel.PHONE, 120)
    await staff.case_taken(StatChannel.PHONE, -5)
    await staff.callback_done(StatChannel.PHONE)
    assert await redis.hgetall(PHONE) == {"wait:300": "1", "wait:60": "1", "callbacks_done": "1"}
    expected = MIDNIGHT + 11 * DAY_S - NOON
    assert expected - 5 <= await redis.ttl(PHONE) <= expected


async def test_the_action_server_counts_callbacks_and_marks_the_conversation(
    redis: Redis,
) -> None:
    m = metrics(redis)
    await m.turn(facts("sip-9", intent="nlu_fallback", fallback=True, channel=StatChannel.PHONE))
    records = Records(redis, retention_s=3600, clock=lambda: NOON)
    callback = Callback("R-ABCDEF", "+4930123", CallbackWindow.ANYTIME, Channel.VOICE, NOON)
    await records.count_callback(callback.channel, "sip-9")
    await records.count_callback(callback.channel, "sip-9")
    fields = await redis.hgetall(PHONE)
    assert (fields["callbacks_due"], fields["escalated"], fields["ended_on_fallback"]) == (
        "2",
        "1",
        "0",
    )
    assert await redis.ttl(PHONE) > 0
    await records.count_callback(Channel.WEBCHAT, "unknown-session")
    assert await redis.hget(CHAT, "callbacks_due") == "1"
    assert await redis.hget(CHAT, "escalated") is None
    assert await redis.ttl(CHAT) > 700 * DAY_S


def test_domain_intents_reads_plain_and_configured_entries(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(
        "intents:\n  - greet\n  - human_handoff:\n      use_entities: [department]\n  - 7\n"
    )
    (tmp_path / "b.yml").write_text("- not a mapping\n")
    (tmp_path / "c.yml").write_text("")
    (tmp_path / "d.yml").write_text("intents:\n  - {}\n  - goodbye\n")
    assert domain_intents(tmp_path) == {"greet", "human_handoff", "goodbye"}
    assert "opening_hours" in domain_intents(Path("intents/domain"))


def test_classes_by_value() -> None:
    assert LATENCY_BUCKETS_MS == (250, 500, 750, 1000, 1500, 2000, 3000, 5000, 10_000)
    assert WAIT_BUCKETS_S == (60, 300, 900, 1800, 3600, 14_400, 86_400, 259_200)


async def test_default_expiries(redis: Redis) -> None:
    await Metrics(redis, intents=[], clock=lambda: NOON).turn(facts())
    expected = MIDNIGHT + 731 * DAY_S - NOON
    assert expected - 5 <= await redis.ttl(CHAT) <= expected
    assert 6 * 3600 - 5 <= await redis.ttl(stats_session_key("s1")) <= 6 * 3600
    await StaffMetrics(redis, clock=lambda: NOON).callback_done(StatChannel.PHONE)
    assert expected - 5 <= await redis.ttl(PHONE) <= expected
