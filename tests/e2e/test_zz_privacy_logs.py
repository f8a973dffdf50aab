"""Last of the end-to-end tests (by name): a citizen books an appointment and reports
damage at an address through the gateway's chat, giving a name and a phone number; then no
log file any process wrote (the gateway at DEBUG, Rasa and the action server at INFO)
holds any of these values, nor the number of the SIP test calls made earlier."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from channels.protocol import BotLine, ServerMessage
from rathausbot.app import make_redis
from rathausbot.secrets import redis_target, resolve_secrets
from tests.channels.chat_client import bot_texts, chat
from tests.e2e.conftest import Gateway
from tests.e2e.test_sip_call import CALLER_NUMBER

pytestmark = pytest.mark.slow

NAME = ("Henrietta", "Quastenberg")
PHONE = ("0152 98765432", "015298765432", "+4915298765432", "98765432")
ADDRESS = ("Quastenbergallee",)


def first_button(frames: list[ServerMessage]) -> str:
    for frame in frames:
        if isinstance(frame, BotLine) and frame.buttons:
            return frame.buttons[0].payload
    raise AssertionError(f"no button offered: {frames}")


def log_files(gateway: Gateway) -> list[Path]:
    files = [gateway.log_path, *sorted((gateway.settings.var_dir / "log").glob("*.log*"))]
    return [f for f in files if f.is_file()]


async def test_no_log_file_carries_a_citizens_name_number_or_address(gateway: Gateway) -> None:
    url = gateway.url.replace("http://", "ws://") + "/ws/chat"
    async with chat(url) as client:
        await client.hello()
        day = first_button(await client.say("Ich möchte einen Termin für einen Personalausweis"))
        at = first_button(await client.say(day))
        assert "Namen" in bot_texts(await client.say(at))
        assert "Telefonnummer" in bot_texts(await client.say(" ".join(NAME)))
        confirm = bot_texts(await client.say(PHONE[0]))
        assert "Ist das richtig?" in confirm and NAME[1] in confirm, confirm
        assert "B-" in bot_texts(await client.say("ja"))
    async with chat(url) as client:  # a second conversation: one chat's burst is 8 messages
        await client.hello()
        reply = bot_texts(await client.say("Ich möchte ein Schlagloch melden"))
        answers = {  # what the damage form asks, in whatever order: one answer each
            "Wo genau": f"{ADDRESS[0]} 17",
            "beschreiben": "Das Loch ist etwa einen halben Meter breit und tief",
            "freiwillig": "Nein danke",
            "abschicken": "Ja",
        }
        ticket = None
        for _ in range(len(answers)):
            question = next((q for q in answers if q in reply), None)
            assert question, reply
            reply = bot_texts(await client.say(answers.pop(question)))
            ticket = re.search(r"\bS-[A-Z2-9]{6}\b", reply)
            if ticket:
                break
        assert "Wo genau" not in answers  # the address was given
        done = reply
        assert ticket, done
    # The action server keeps a ticket for `retention.tickets` (180 days), not the 30 days
    # of conversations.
    redis = make_redis(redis_target(gateway.settings, resolve_secrets(gateway.settings)))
    try:
        assert await redis.ttl(f"rb:ticket:{ticket[0]}") > 100 * 86_400
    finally:
        await redis.aclose()
    files = await asyncio.to_thread(log_files, gateway)
    names = {f.name for f in files}
    assert {"serve.log", "rasa.log", "actions.log"} <= names, names
    texts = {f.name: await asyncio.to_thread(f.read_text, errors="replace") for f in files}
    assert "DEBUG" in texts["serve.log"]  # the gateway wrote at DEBUG
    for name, text in texts.items():
        for value in (*NAME, *PHONE, *ADDRESS, CALLER_NUMBER, CALLER_NUMBER[3:]):
            assert value not in text, f"{value!r} in {name}"
