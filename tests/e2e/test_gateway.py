"""End to end: the dialogue core against the real Rasa and Redis of `rathausbot serve`."""

from __future__ import annotations

import asyncio
import re
import secrets
import signal
import subprocess

import httpx
import pytest

from dialogue.core import UNAVAILABLE_TEXT
from dialogue.messages import BotReply, Channel, Role, UserTurn
from dialogue.records import Delivery
from rathausbot.app import Runtime
from rathausbot.health import probe_rasa, probe_redis
from tests.e2e.conftest import REPO, Gateway, listening_process

pytestmark = pytest.mark.slow

URL = re.compile(r"https?://")


def new_session() -> str:
    return secrets.token_urlsafe(16)


def texts(replies: list[BotReply]) -> str:
    return " ".join(reply.text for reply in replies)


async def say(rt: Runtime, session: str, text: str, channel: Channel = Channel.WEBCHAT) -> str:
    return texts(await rt.core.handle(UserTurn(session, channel, text)))


def test_healthz_says_starting_until_everything_is_up(gateway: Gateway) -> None:
    statuses = [body for code, body in gateway.health_seen if code == 503]
    assert statuses, "the HTTP server should answer while Rasa is still loading"
    assert statuses[0]["status"] == "starting"
    assert statuses[0]["rasa"] is False
    response = httpx.get(f"{gateway.url}/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "redis": True, "rasa": True, "actions": True}


async def test_a_conversation_with_intents_in_the_transcript(rt: Runtime) -> None:
    session = new_session()
    greeting = texts(await rt.core.greet(session, Channel.WEBCHAT))
    assert "automatisiert" in greeting and "Mensch" in greeting
    challenge = await say(rt, session, "Bin ich hier mit einem echten Menschen verbunden?")
    assert "automatisierter Assistent" in challenge
    assert "Wiedersehen" in await say(rt, session, "danke tschüss")
    records = await rt.store.transcript(session)
    users = [r for r in records if r.role is Role.USER]
    assert [r.intent for r in users] == ["bot_challenge", "goodbye"]
    assert all(r.confidence is not None and 0.5 < r.confidence <= 1 for r in users)
    assert records[0].role is Role.BOT and records[0].text == greeting
    assert (await rt.store.session(session)) is not None


@pytest.mark.parametrize(
    "message", ["Hilfe es brennt in meiner Küche", "Unfall auf der Hauptstraße jemand ist verletzt"]
)
async def test_an_emergency_is_answered_with_112_and_110_on_every_channel(
    rt: Runtime, message: str
) -> None:
    chat = await say(rt, new_session(), message, Channel.WEBCHAT)
    assert "112" in chat and "110" in chat
    voice = await say(rt, new_session(), message, Channel.VOICE)
    assert "eins eins zwei" in voice and "eins eins null" in voice


async def test_voice_wording_is_short_without_links_or_buttons(rt: Runtime) -> None:
    chat = await rt.core.greet(new_session(), Channel.WEBCHAT)
    voice = await rt.core.greet(new_session(), Channel.VOICE)
    assert texts(chat) != texts(voice)
    assert any(reply.buttons for reply in chat)
    assert not any(reply.buttons or reply.links for reply in voice)
    assert not URL.search(texts(voice))


async def test_a_handoff_request_opens_a_case_with_the_transcript(rt: Runtime) -> None:
    session = new_session()
    replies = await rt.core.handle(
        UserTurn(session, Channel.WEBCHAT, "Ich möchte bitte mit jemandem vom Standesamt sprechen")
    )
    handoffs = [reply.handoff for reply in replies if reply.handoff]
    assert len(handoffs) == 1 and handoffs[0].case_id
    case = await rt.store.case(handoffs[0].case_id)
    assert case is not None
    assert (case.session_id, case.department, case.status.value) == (session, "standesamt", "open")
    assert case.case_id in await rt.store.open_case_ids()
    assert await rt.store.ttl(f"rb:transcript:{session}") == -1  # kept while the case is open
    assert [r.role for r in await rt.store.transcript(session)][:1] == [Role.USER]


async def test_rasa_stopped_mid_conversation(rt: Runtime, gateway: Gateway) -> None:
    session = new_session()
    await rt.core.greet(session, Channel.WEBCHAT)
    assert "automatisierter Assistent" in await say(rt, session, "bist du ein bot")

    listening_process(gateway.settings.rasa_port).send_signal(signal.SIGKILL)
    lost = "Ist jemand da? Mein Antrag ist dringend"
    assert await say(rt, session, lost) == UNAVAILABLE_TEXT[Channel.WEBCHAT]
    health = await rt.http.get(f"{gateway.url}/healthz")
    assert health.status_code == 503
    assert health.json()["status"] == "degraded" and health.json()["rasa"] is False

    async with asyncio.timeout(240):  # the gateway restarts Rasa, which reloads its model
        while not await probe_rasa(rt.http, gateway.settings.rasa_url, rt.secrets.rasa_token):
            await asyncio.sleep(1)
    assert "Wiedersehen" in await say(rt, session, "auf wiedersehen")

    records = await rt.store.transcript(session)
    undelivered = [r for r in records if r.delivery is Delivery.UNDELIVERED]
    assert [r.text for r in undelivered] == [lost]
    after_lost = records[records.index(undelivered[0]) + 1]
    assert (after_lost.role, after_lost.text) == (Role.SYSTEM, UNAVAILABLE_TEXT[Channel.WEBCHAT])
    assert [r.text for r in records if r.role is Role.USER] == [
        "bist du ein bot",
        lost,
        "auf wiedersehen",
    ]
    # Rasa's own conversation state survived in Redis: the bot_challenge before the crash.
    tracker = await rt.http.get(
        f"{gateway.settings.rasa_url}/conversations/{session}/tracker",
        params={"token": rt.secrets.rasa_token},
    )
    intents = [
        e["parse_data"]["intent"]["name"] for e in tracker.json()["events"] if e["event"] == "user"
    ]
    assert "bot_challenge" in intents and intents[-1] == "goodbye"


async def test_redis_restarted_mid_conversation_loses_no_turn(
    rt: Runtime, gateway: Gateway
) -> None:
    session = new_session()
    said = ["Hallo", "bist du ein mensch", "ich möchte mit dem Bürgerbüro sprechen", "danke"]
    await say(rt, session, said[0])
    booking = "Ich möchte einen Termin für einen Personalausweis buchen"
    assert "An welchem Tag" in await say(rt, new_session(), booking)  # actions use Redis
    redis_process = listening_process(gateway.settings.redis_port)
    redis_process.send_signal(signal.SIGTERM)  # Redis writes its append-only file and exits
    redis_process.wait(timeout=15)
    await say(rt, session, said[1])  # while Redis is down: accepted, kept in the outbox
    async with asyncio.timeout(60):  # the gateway restarts Redis from its append-only file
        while not await probe_redis(rt.redis):
            await asyncio.sleep(0.2)
        await rt.store.wait_flushed()
    for text in said[2:]:
        await say(rt, session, text)
    user_lines = [r.text for r in await rt.store.transcript(session) if r.role is Role.USER]
    assert user_lines == said
    # The action server's pooled connection died with Redis: its next command (free
    # appointment days) must still be answered, not end the booking form with an error.
    asked = await say(rt, new_session(), booking)
    assert "An welchem Tag" in asked, asked


def test_rathausbot_chat_reads_one_message_per_line(gateway: Gateway) -> None:
    result = subprocess.run(
        [str(REPO / ".venv" / "bin" / "rathausbot"), "chat"],
        input="Guten Tag\nSind Sie ein Roboter?\nEs brennt!\nTschüss\n",
        capture_output=True,
        text=True,
        env=gateway.env,
        cwd=REPO,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("Bot: ")
    assert "automatisiert" in out.split("\n")[0]  # the greeting discloses the machine first
    assert "automatisierter Assistent" in out
    assert "112" in out and "110" in out
    assert "Wiedersehen" in out


def test_the_gateway_log_has_no_secrets(gateway: Gateway) -> None:
    log = gateway.log_path.read_text(errors="replace")
    secrets_dir = gateway.settings.var_dir / "secrets"
    for name in ("rasa_token", "redis_password"):
        assert (secrets_dir / name).read_text().strip() not in log, name
    assert "rasa is ready" in log  # the log is the gateway's, at DEBUG level
