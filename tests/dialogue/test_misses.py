"""The "Nicht verstanden" store: redaction before storage, capture rules, grouping, limits."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from contract.records import Channel
from dialogue.messages import Understanding
from dialogue.misses import (
    AFTER_FALLBACK_S,
    INDEX_KEY,
    ITEM_PREFIX,
    MAX_ITEMS,
    MAX_TEXT_CHARS,
    Miss,
    MissKind,
    MissLog,
    MissStatus,
    group,
    redact,
    similarity,
    tokens,
    valid_miss_id,
)

FALLBACK = Understanding("nlu_fallback", 0.3, guess="passport", guess_confidence=0.28)
UNDERSTOOD = Understanding("id_card", 0.9)


def test_redaction_masks_digits_mail_and_names() -> None:
    text = "Ich heiße Erika Mustermann, Tel 0171 2345678, erika.m@example.org, Frau Schulz"
    assert redact(text) == "Ich heiße [Name], Tel #### #######, [E-Mail], Frau [Name]"
    assert redact("mein name ist erika") == "mein name ist [Name]"
    assert redact("Gruß von Jannik", ["jannik", " ", ""]) == "Gruß von [Name]"
    assert redact("Anna und Annabell", ["Anna", "Annabell"]) == "[Name] und [Name]"
    assert redact("Herr Meier sagt Hallo") == "Herr [Name] sagt Hallo"
    assert redact("Wo ist das Amt?") == "Wo ist das Amt?"
    assert redact("a(b", ["a(b"]) == "[Name]"


def test_longer_names_are_masked_first() -> None:
    assert redact("Erika Mustermann ruft an", ["Erika", "Erika Mustermann"]) == "[Name] ruft an"


def test_limits_by_value() -> None:
    assert (MAX_TEXT_CHARS, MAX_ITEMS, AFTER_FALLBACK_S) == (300, 5000, 900)


def test_redaction_cuts_long_texts() -> None:
    assert len(redact("x" * (MAX_TEXT_CHARS + 1))) == MAX_TEXT_CHARS
    assert len(redact("x" * MAX_TEXT_CHARS)) == MAX_TEXT_CHARS


def test_tokens_and_similarity() -> None:
    assert tokens("Wann ist die Müllabfuhr in der Hauptstraße?") == {
        "müllabfuhr",
        "hauptstraße",
    }
    assert tokens("ab zu") == frozenset()
    assert similarity(frozenset({"a", "b"}), frozenset({"b", "c"})) == 0.5
    assert similarity(frozenset({"a", "b", "d"}), frozenset({"b"})) == 0.5
    assert similarity(frozenset({"a", "b", "d"}), frozenset({"b", "e"})) == 0.4
    assert similarity(frozenset(), frozenset({"a"})) == 0.0
    assert similarity(frozenset({"a"}), frozenset()) == 0.0


def miss(text: str, at: float = 1.0) -> Miss:
    return Miss("x" * 16, text, MissKind.FALLBACK, Channel.WEBCHAT, None, None, at)


def test_grouping_by_overlap() -> None:
    items = [
        miss("Sperrmüll abholen lassen"),
        miss("Hundesteuer zahlen"),
        miss("Sperrmüll abholen"),
        miss("wo abholen"),
        miss("??"),
        miss("!!"),
    ]
    groups = group(items)
    assert [[m.text for m in g.items] for g in groups] == [
        ["Sperrmüll abholen lassen", "Sperrmüll abholen", "wo abholen"],
        ["??", "!!"],
        ["Hundesteuer zahlen"],
    ]
    assert groups[0].lead.text == "Sperrmüll abholen lassen"
    assert len(group(items, threshold=0.51)) == 4
    assert len(group(items, threshold=1.0)) == 5


async def test_fallbacks_reasks_and_handoffs_are_captured_redacted(redis: Redis) -> None:
    ticks = iter(range(1000, 1100))
    log = MissLog(redis, clock=lambda: float(next(ticks)))
    await log.turn("s", Channel.VOICE, "Meine Nummer ist 0171 2345678", FALLBACK, handoff=False)
    await log.turn("s", Channel.VOICE, "Personalausweis beantragen", UNDERSTOOD, handoff=False)
    await log.turn("s", Channel.VOICE, "noch was", UNDERSTOOD, handoff=False)
    await log.turn("t", Channel.WEBCHAT, "blubb", FALLBACK, handoff=False)
    await log.turn("t", Channel.WEBCHAT, "Mensch bitte", UNDERSTOOD, handoff=True)
    await log.turn("u", Channel.WEBCHAT, "blah", FALLBACK, handoff=True)
    items = await log.items()
    assert [(m.text, m.kind, m.guess, m.confidence) for m in items] == [
        ("blah", MissKind.HANDOFF_AFTER_FALLBACK, "passport", 0.28),
        ("Mensch bitte", MissKind.HANDOFF_AFTER_FALLBACK, "id_card", 0.9),
        ("blubb", MissKind.FALLBACK, "passport", 0.28),
        ("Personalausweis beantragen", MissKind.REASKED, "id_card", 0.9),
        ("Meine Nummer ist #### #######", MissKind.FALLBACK, "passport", 0.28),
    ]
    stored = await redis.hgetall(ITEM_PREFIX + items[-1].id)
    assert "0171" not in str(stored)
    assert 90 * 86_400 - 5 <= await redis.ttl(ITEM_PREFIX + items[-1].id) <= 90 * 86_400
    assert 0 < await redis.ttl("rb:misses:after:u") <= AFTER_FALLBACK_S


async def test_unsure_voice_turns_are_kept_masked_and_blank_ones_not(redis: Redis) -> None:
    log = MissLog(redis, clock=lambda: 5.0)
    await log.unsure(Channel.VOICE, "  ", 0.1)
    assert await log.items() == []
    await log.unsure(Channel.VOICE, "Ich heiße Anna, Nummer 0171", 0.12)
    (item,) = await log.items()
    assert (item.text, item.kind, item.guess, item.confidence, item.at) == (
        "Ich heiße [Name], Nummer ####",
        MissKind.LOW_CONFIDENCE,
        None,
        0.12,
        5.0,
    )
    assert MissKind.LOW_CONFIDENCE.value == "low_confidence"
    assert MissKind("low_confidence").label == "schlecht verstanden (Telefon)"


async def test_a_payload_that_fell_back_is_no_item_but_marks_the_next_turn(
    redis: Redis,
) -> None:
    log = MissLog(redis)
    await log.turn("s", Channel.VOICE, "/nlu_fallback", FALLBACK, handoff=False)
    assert await log.items() == []
    await log.turn("s", Channel.VOICE, "Personalausweis", UNDERSTOOD, handoff=False)
    assert [(m.text, m.kind) for m in await log.items()] == [("Personalausweis", MissKind.REASKED)]


async def test_out_of_scope_is_a_miss_too(redis: Redis) -> None:
    log = MissLog(redis)
    await log.turn(
        "s",
        Channel.WEBCHAT,
        "Wie wird das Wetter?",
        Understanding("out_of_scope", 0.9),
        handoff=False,
    )
    await log.turn("s", Channel.WEBCHAT, "ok", Understanding("affirm", 0.9), handoff=False)
    assert [m.kind for m in await log.items()] == [MissKind.REASKED, MissKind.FALLBACK]


async def test_status_changes_and_ids(redis: Redis) -> None:
    log = MissLog(redis)
    await log.turn("s", Channel.WEBCHAT, "blubb", FALLBACK, handoff=False)
    [item] = await log.items()
    assert valid_miss_id(item.id)
    assert not valid_miss_id("../etc") and not valid_miss_id(item.id + "x")
    assert await log.set_status(item.id, MissStatus.DONE)
    assert await log.items() == []
    assert [m.id for m in await log.items(status=MissStatus.DONE)] == [item.id]
    assert not await log.set_status("A" * 16, MissStatus.DONE)
    assert await log.get("bad") is None
    await redis.hset(ITEM_PREFIX + item.id, "kind", "garbage")
    assert await log.get(item.id) is None


async def test_the_store_is_bounded(redis: Redis) -> None:
    now = [0.0]
    log = MissLog(redis, max_items=2, keep_days=1, clock=lambda: now[0])
    for i in range(3):
        now[0] = 1000.0 + i
        await log.turn(f"s{i}", Channel.WEBCHAT, f"text {i}", FALLBACK, handoff=False)
    assert [m.text for m in await log.items()] == ["text #", "text #"]
    assert await redis.zcard(INDEX_KEY) == 2
    assert len(await log.items(limit=1)) == 1
    now[0] = 1002.0 + 86_400 + 1
    await log.turn("s9", Channel.WEBCHAT, "late", FALLBACK, handoff=False)
    assert await redis.zcard(INDEX_KEY) == 1


def test_limits() -> None:
    redis = Redis()
    MissLog(redis, keep_days=1, max_items=1)
    MissLog(redis, keep_days=3650, max_items=100_000)
    for bad in ({"keep_days": 0}, {"keep_days": 3651}, {"max_items": 0}, {"max_items": 100_001}):
        with pytest.raises(ValueError):
            MissLog(redis, **bad)  # type: ignore[arg-type]
