"""Last of the end-to-end tests (by name): a citizen books an appointment and reports
damage at an address through the gateway's chat, giving a name and a phone number; then
calls the hotline from a real SIP phone (baresip) and speaks the same booking, name, number
and address (Pico at 8 kHz) through the recogniser; then no log file any process wrote (the
gateway at DEBUG, Rasa and the action server at INFO) holds any of these values, nor what
the recogniser heard of them, nor the numbers the SIP test calls came from.

Whisper base mishears Pico's short answers (a weekday, a time, a name) often enough that
the booking by voice does not reliably complete; the call asserts that every turn reached
the recogniser and the dialogue and that the number was heard, not the booking."""

from __future__ import annotations

import asyncio
import re
from datetime import date, datetime, time
from pathlib import Path

import pytest

from bench.speech_samples import pico
from channels.protocol import BotLine, ServerMessage
from contract.german import WEEKDAYS, clock_spoken
from contract.records import transcript_key
from dialogue.store import ConversationStore
from rathausbot.app import make_redis
from rathausbot.secrets import redis_target, resolve_secrets
from tests.channels.chat_client import bot_texts, chat
from tests.e2e.conftest import Gateway
from tests.e2e.phones import BARESIP, baresip_call
from tests.e2e.test_sip_call import CALLER_NUMBER, wait_for_hotline
from voice.audio import AudioFrame, concat, write_wav

pytestmark = pytest.mark.slow

NAME = ("Henrietta", "Quastenberg")
PHONE = ("0152 98765432", "015298765432", "+4915298765432", "98765432")
ADDRESS = ("Quastenbergallee",)
PHONE_CALLER = "+4933987651234"  # the number the voice caller calls from
SPOKEN_PHONE = "null eins fünf zwei neun acht sieben sechs fünf vier drei zwei"


def first_button(frames: list[ServerMessage]) -> str:
    for frame in frames:
        if isinstance(frame, BotLine) and frame.buttons:
            return frame.buttons[0].payload
    raise AssertionError(f"no button offered: {frames}")


def log_files(gateway: Gateway) -> list[Path]:
    files = [gateway.log_path, *sorted((gateway.settings.var_dir / "log").glob("*.log*"))]
    return [f for f in files if f.is_file()]


async def free_slot(url: str) -> tuple[date, time]:
    """A free day and time for a booking (asked in a chat that then books nothing)."""
    async with chat(url) as client:
        await client.hello()
        day = first_button(await client.say("Ich möchte einen Termin für einen Personalausweis"))
        frames = await client.say(day)
        buttons = [b.payload for f in frames if isinstance(f, BotLine) for b in f.buttons]
        times = [t for t in buttons if re.fullmatch(r"\d{2}:\d{2}", t)]  # not "/stop"
        assert "nichts gebucht" in bot_texts(await client.say("doch nicht"))
    assert times, day
    assert (datetime.strptime(day, "%d.%m.%Y").date() - date.today()).days <= 7, day
    free = datetime.strptime(f"{day} {times[-1]}", "%d.%m.%Y %H:%M")
    return free.date(), free.time()


def silence(seconds: float) -> AudioFrame:
    return AudioFrame.silence(seconds, 8000)


def voice_caller(day: date, at: time) -> AudioFrame:
    """The caller's side of the call: each answer after time for the bot's question (the bot
    takes turns in order; one that speaks into a reply only cuts the reply short)."""
    turns = [
        (21, "Ich möchte einen Termin für einen Personalausweis."),  # after the greeting
        (20, f"Am {WEEKDAYS[day.weekday()]}."),  # the free days (the first is within a week)
        (20, f"Um {clock_spoken(at.hour, at.minute)}."),  # the free times
        (12, f"{NAME[0]} {NAME[1]}."),  # "Auf welchen Namen ..."
        (12, SPOKEN_PHONE + "."),  # "Unter welcher Telefonnummer ..."
        (24, "Ja."),  # the read-back of the booking
        (20, "Ich möchte ein Schlagloch melden."),  # the booking's reference, spelled
        (14, f"In der {ADDRESS[0]} siebzehn."),  # "Wo genau ist das?"
    ]
    parts: list[AudioFrame] = []
    for wait_s, text in turns:
        parts += [silence(wait_s), pico(text)]
    return concat([*parts, silence(20)], 8000)


async def phone_transcript(gateway: Gateway) -> list[tuple[str, str]]:
    """The voice call's transcript as (role, text): the SIP call that asked for a booking."""
    redis = make_redis(redis_target(gateway.settings, resolve_secrets(gateway.settings)))
    try:
        async with ConversationStore(redis, retention_s=3600) as store:
            for key in [k async for k in redis.scan_iter(match=transcript_key("sip-*"))]:
                lines = await store.transcript(str(key).removeprefix(transcript_key("")))
                if any("Personalausweis" in r.text for r in lines):
                    return [(r.role.value, r.text) for r in lines]
    finally:
        await redis.aclose()
    raise AssertionError("no call asked for a booking")


def personal_words(said: list[str]) -> set[str]:
    """Words of what the caller said that would identify them in a log: long names and
    street names (capitalised, 8+ letters) and digit runs of 5+."""
    words = set()
    for text in said:
        words |= {w for w in re.findall(r"\b[A-ZÄÖÜ][a-zäöüß]{7,}\b", text) if w not in COMMON}
        words |= set(re.findall(r"\d{5,}", text.replace(" ", "")))
    return words


COMMON = {"Personalausweis", "Schlagloch", "Dezember", "November", "Januar", "Februar"}


async def test_no_log_file_carries_a_citizens_name_number_or_address(
    gateway: Gateway, tmp_path: Path
) -> None:
    assert BARESIP is not None, "baresip is not installed (make setup-test installs it)"
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
    # the same by voice: a SIP call through the recogniser
    slot_day, slot_time = await free_slot(url)
    uri = await asyncio.to_thread(wait_for_hotline, gateway)
    await asyncio.to_thread(write_wav, tmp_path / "caller.wav", voice_caller(slot_day, slot_time))
    phone = await asyncio.to_thread(
        baresip_call, tmp_path / "phone", uri, tmp_path / "caller.wav", user=PHONE_CALLER
    )
    await asyncio.to_thread(phone.wait, 400)
    assert phone.established(), phone.log()
    transcript = await phone_transcript(gateway)
    said = [text for role, text in transcript if role == "user"]
    call = "\n".join(f"{role}: {text}" for role, text in transcript)
    assert len(said) >= 8, call  # every answer was recognised and went to the dialogue
    assert any(PHONE[3] in t.replace(" ", "") for t in said), call  # the number was heard
    heard = personal_words(said)
    assert heard, said
    files = await asyncio.to_thread(log_files, gateway)
    names = {f.name for f in files}
    assert {"serve.log", "rasa.log", "actions.log"} <= names, names
    texts = {f.name: await asyncio.to_thread(f.read_text, errors="replace") for f in files}
    assert "DEBUG" in texts["serve.log"]  # the gateway wrote at DEBUG
    for name, text in texts.items():
        values = (*NAME, *PHONE, *ADDRESS, *heard, CALLER_NUMBER, CALLER_NUMBER[3:])
        for value in (*values, PHONE_CALLER, PHONE_CALLER[3:]):
            assert value not in text, f"{value!r} in {name}"
