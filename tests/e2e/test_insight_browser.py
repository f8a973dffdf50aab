"""The statistics page and the "Nicht verstanden" inbox in a real browser (Debian's chromium
via playwright-core, tests/e2e/browser/insight.mjs) against the real gateway and Redis: the
charts have text alternatives that agree with them, axe finds nothing serious, a clerk is
refused, masked numbers stay masked. RATHAUSBOT_SCREENSHOTS=DIR also saves screenshots."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest

from console.roles import Role
from contract.records import Channel
from dialogue.messages import Understanding
from dialogue.metrics import Metrics, StatChannel, TurnFacts
from dialogue.misses import MissKind, MissLog
from rathausbot.app import Runtime
from tests.e2e.conftest import REPO, Gateway
from tests.e2e.test_console_browser import SERIOUS, make_users, run_staff_script
from tests.e2e.test_conversations import Talk

pytestmark = pytest.mark.slow

SCRIPT = REPO / "tests" / "e2e" / "browser" / "insight.mjs"


async def seed(rt: Runtime) -> None:
    metrics = Metrics(rt.redis, intents=["opening_hours", "id_card", "human_handoff"])
    turns = [
        TurnFacts("e2e-chat-1", StatChannel.CHAT, "opening_hours", False),
        TurnFacts("e2e-chat-2", StatChannel.CHAT, "nlu_fallback", True),
        TurnFacts("e2e-chat-2", StatChannel.CHAT, "human_handoff", False, ("fallback",)),
        TurnFacts("sip-e2e-3", StatChannel.PHONE, "id_card", False),
    ]
    for facts in turns:
        await metrics.turn(facts)
    await metrics.answer_latency("sip-e2e-3", 600)  # as the voice session reports it
    guess = Understanding("nlu_fallback", 0.3, guess="bulky_waste", guess_confidence=0.27)
    await MissLog(rt.redis).turn(
        "e2e-chat-2", Channel.WEBCHAT, "Sperrmüll, rufen Sie 0171 2345678 an", guess, handoff=False
    )


async def run_insight(gateway: Gateway, users: list[dict[str, str]], out: Path | None) -> Any:
    args = [gateway.url, json.dumps(users)] + ([str(out)] if out is not None else [])
    return await run_staff_script(SCRIPT, *args)


async def test_statistics_and_inbox_in_the_browser(gateway: Gateway, rt: Runtime) -> None:
    await seed(rt)
    users = await make_users(rt, Role.TEAM_LEAD, Role.CLERK, Role.EDITOR)
    out = os.environ.get("RATHAUSBOT_SCREENSHOTS")
    if out:
        await asyncio.to_thread(Path(out).mkdir, parents=True, exist_ok=True)
    seen = await run_insight(gateway, users, Path(out) if out else None)
    assert "Statistik" in seen["leadMenu"] and "Nicht verstanden" in seen["leadMenu"]
    assert "Statistik" not in seen["clerkMenu"] and "Nicht verstanden" not in seen["clerkMenu"]
    assert seen["clerkStatus"] == [403, 403, 403]
    assert len(seen["charts"]) == 5
    for chart in seen["charts"]:
        assert chart["role"] == "img" and chart["name"], chart
        assert chart["rows"] is not None and chart["bars"] == chart["rows"], chart
    by_channel = dict(seen["charts"][0]["rows"])
    assert by_channel["Chat"] >= 2 and by_channel["Telefon"] >= 1
    assert seen["csvStatus"] == 200 and seen["csvHead"] == "von,bis,kanal,kennzahl,anzahl"
    for page in ("statsViolations", "missesViolations"):
        assert [v for v in seen[page] if v["impact"] in SERIOUS] == [], seen[page]
    assert "rufen Sie #### ####### an" in seen["missesText"]
    assert "0171" not in seen["missesText"]
    for shot in seen["shots"]:
        assert shot["overflow"] <= 0, shot


async def test_a_real_fallback_is_counted_and_kept_masked(rt: Runtime) -> None:
    before = {m.id for m in await MissLog(rt.redis).items()}
    talk = Talk(rt)
    first = await talk.say("blubb wurst quark")
    assert "nicht verstanden" in first
    await talk.say("Wann hat das Bürgerbüro geöffnet? Meine Nummer 0171 2345678")
    new = [m for m in await MissLog(rt.redis).items() if m.id not in before]
    assert [(m.text, m.kind) for m in new] == [
        ("Wann hat das Bürgerbüro geöffnet? Meine Nummer #### #######", MissKind.REASKED),
        ("blubb wurst quark", MissKind.FALLBACK),
    ], new
    assert new[1].guess is not None and new[1].guess != "nlu_fallback"
    assert new[1].confidence is not None and 0 <= new[1].confidence <= 1
    marker = await rt.redis.hgetall(f"rb:stats:session:{talk.session}")
    assert marker["fb"] == "0"
    assert int(await rt.redis.hget(marker["day"], "fallbacks") or 0) >= 1
