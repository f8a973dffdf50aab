"""Live takeover against the real Rasa and Redis of the session's gateway: Rasa's tracker
records pause, the citizen's `user` events and the clerk's `agent` events and predicts
nothing while paused, also across a new Rasa session; after the hand-back the assistant
greets back and answers again. A second gateway on the same Redis serves the clerk; the
waiting timeout reaches the citizen's widget on the first gateway."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets

from channels.protocol import BotLine, Welcome, parse_server
from channels.takeover import WELCOME_BACK_TEXT, Takeover
from dialogue.live import LiveFeed
from dialogue.messages import Channel, UserTurn
from rathausbot.app import Runtime
from tests.e2e.conftest import Gateway
from tests.e2e.test_conversations import Talk

pytestmark = pytest.mark.slow

HUMAN = "Ich möchte mit einem Menschen sprechen"


async def tracker_events(rt: Runtime, session_id: str) -> tuple[bool, list[dict[str, Any]]]:
    response = await rt.http.get(
        f"{rt.settings.rasa_url}/conversations/{session_id}/tracker",
        params={"token": rt.secrets.rasa_token},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return body["paused"], body["events"]


def after_last(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    index = max(i for i, event in enumerate(events) if event["event"] == kind)
    return events[index + 1 :]


async def handed_off(rt: Runtime) -> tuple[Talk, str]:
    talk = Talk(rt)
    await talk.greet()
    await talk.say(HUMAN)
    case_ids = [r.handoff.case_id for r in talk.last if r.handoff is not None]
    assert case_ids and case_ids[0], talk.text
    return talk, str(case_ids[0])


async def test_rasa_stays_paused_and_predicts_nothing_until_handed_back(
    gateway: Gateway, rt: Runtime
) -> None:
    talk, case_id = await handed_off(rt)
    sid = talk.session
    await rt.takeover.start(session_id=sid, case_id=case_id, user="erika", name="Erika Muster")
    paused, _ = await tracker_events(rt, sid)
    assert paused
    assert await talk.say("Hallo, sind Sie da?") == ""  # no bot answer: the clerk answers
    await rt.takeover.say(sid, "erika", "Ja, hier ist Erika Muster. Wie kann ich helfen?")
    # Rasa starts a new session (a session start resets the pause flag) ...
    response = await rt.http.post(
        f"{rt.settings.rasa_url}/conversations/{sid}/tracker/events",
        params={"token": rt.secrets.rasa_token},
        json=[{"event": "session_started"}, {"event": "action", "name": "action_listen"}],
        timeout=60,
    )
    assert response.status_code == 200 and response.json()["paused"] is False
    assert await talk.say("Ich habe eine Frage zum Ausweis") == ""
    paused, events = await tracker_events(rt, sid)
    assert paused  # ... and the next message paused it again
    held = after_last(events, "pause") if events[-1]["event"] != "pause" else []
    assert held == []
    since_takeover = events[next(i for i, e in enumerate(events) if e["event"] == "pause") :]
    kinds = [e["event"] for e in since_takeover]
    assert kinds.count("user") == 2 and kinds.count("agent") == 1
    assert [e["text"] for e in since_takeover if e["event"] == "user"] == [
        "Hallo, sind Sie da?",
        "Ich habe eine Frage zum Ausweis",
    ]
    agent = next(e for e in since_takeover if e["event"] == "agent")
    assert agent["text"].startswith("Ja, hier ist Erika Muster")
    assert "bot" not in kinds  # Rasa said nothing while paused
    assert {e.get("name") for e in since_takeover if e["event"] == "action"} <= {"action_listen"}
    lines = await rt.store.transcript(sid)
    assert [(r.role.value, r.name) for r in lines if r.role.value == "staff"] == [
        ("staff", "Erika Muster")
    ]

    await rt.takeover.hand_back(sid, "erika")
    paused, events = await tracker_events(rt, sid)
    assert not paused
    tail = [(e["event"], e.get("name")) for e in after_last(events, "resume")]
    assert tail == [
        ("action", "action_listen"),
        ("action", "utter_welcome_back"),
        ("bot", None),
        ("action", "action_listen"),
    ]
    bot = [e for e in after_last(events, "resume") if e["event"] == "bot"]
    assert [e["text"] for e in bot] == [WELCOME_BACK_TEXT]
    answer = await talk.say("Wann hat das Bürgerbüro geöffnet?")
    assert "Uhr" in answer, answer  # the assistant answers again


async def test_the_waiting_timeout_reaches_the_widget_on_another_gateway(
    gateway: Gateway, rt: Runtime
) -> None:
    """The citizen is on gateway 1 (the served process); this process plays gateway 2,
    whose waiting list runs out (a clock of its own, no sleeping)."""
    url = gateway.url.replace("http", "ws") + "/ws/chat"
    async with websockets.connect(url, origin=gateway.url) as ws:  # type: ignore[arg-type]
        await ws.send(json.dumps({"type": "hello", "v": 2}))
        welcome = parse_server(str(await ws.recv()))
        assert isinstance(welcome, Welcome)
        await ws.send(json.dumps({"type": "human", "id": "h1"}))
        case_id = None
        async with asyncio.timeout(120):  # a safety net, not a speed requirement
            while case_id is None:
                frame = json.loads(await ws.recv())
                if frame["type"] == "handoff":
                    case_id = frame["case_id"]
        now = [1e10]
        takeover = Takeover(
            rt.redis, rt.store, rt.takeover._tracker, LiveFeed(rt.redis), clock=lambda: now[0]
        )
        await takeover.wait_for_staff(case_id)
        now[0] += takeover.wait_s - 1
        assert await takeover.expire_waiting() == []
        now[0] += 1
        assert await takeover.expire_waiting() == [case_id]
        async with asyncio.timeout(60):
            while True:
                message = parse_server(str(await ws.recv()))
                if isinstance(message, BotLine) and case_id in message.text:
                    break
        assert "niemand" in message.text
        assert [b.title for b in message.buttons] == ["Rückruf vereinbaren"]


async def test_a_version_1_widget_sees_the_clerk_as_assistant_lines(
    gateway: Gateway, rt: Runtime
) -> None:
    url = gateway.url.replace("http", "ws") + "/ws/chat"
    async with websockets.connect(url, origin=gateway.url) as ws:  # type: ignore[arg-type]
        await ws.send(json.dumps({"type": "hello", "v": 1}))
        welcome = json.loads(await ws.recv())
        assert welcome["v"] == 1
        await ws.send(json.dumps({"type": "human", "id": "h1"}))
        case_id = None
        async with asyncio.timeout(120):
            while case_id is None:
                frame = json.loads(await ws.recv())
                if frame["type"] == "handoff":
                    case_id = frame["case_id"]
        sid = await rt.redis.hget(f"rb:case:{case_id}", "session_id")
        await rt.takeover.start(session_id=str(sid), case_id=case_id, user="max", name="Max")
        await rt.takeover.say(str(sid), "max", "Guten Tag!")
        seen: list[dict[str, Any]] = []
        async with asyncio.timeout(60):
            while len(seen) < 2:
                frame = json.loads(await ws.recv())
                if frame["type"] not in ("typing",):
                    seen.append(frame)
        assert [f["type"] for f in seen] == ["bot", "bot"]
        assert seen[0]["text"] == "Sie schreiben jetzt mit Max (Stadtverwaltung)."
        assert seen[1]["text"] == "Max (Stadtverwaltung): Guten Tag!"
        await rt.takeover.hand_back(str(sid), "max")
        assert await rt.core.handle(UserTurn(str(sid), Channel.WEBCHAT, "Danke")) != []
