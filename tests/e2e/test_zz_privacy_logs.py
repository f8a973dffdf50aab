"""Last of the end-to-end tests (by name): a citizen books an appointment and reports
damage at an address through the gateway's chat, giving a name and a phone number; then
calls the hotline from a real SIP phone (baresip) and books by voice: the request, the
name and the address spoken (Pico at 8 kHz) through the recogniser, the day, the time,
the phone number and the yes typed on the keys (RFC 4733), since Whisper base mishears
Pico's short answers; the booking must be in Redis. Then no log file any process wrote
(the gateway at DEBUG, Rasa and the action server at INFO) holds any of these values, nor
what the recogniser heard of them, nor the numbers the SIP test calls came from.

The call follows the gateway's log turn by turn (bounded waits); it takes about 70 s."""

from __future__ import annotations

import asyncio
import itertools
import re
import time as clock
from datetime import date, datetime, time
from pathlib import Path

import pytest

from bench.speech_samples import pico
from channels.protocol import BotLine, ServerMessage
from contract.german import spell_reference
from contract.records import Channel, RecordKind, channel_field, transcript_key
from dialogue.store import ConversationStore
from rathausbot.app import make_redis
from rathausbot.secrets import redis_target, resolve_secrets
from tests.channels.chat_client import bot_texts, chat
from tests.e2e.conftest import Gateway
from tests.e2e.phones import BARESIP, BaresipCall, baresip_call
from tests.e2e.test_sip_call import CALLER_NUMBER, wait_for_hotline
from voice.audio import AudioFrame, concat, write_wav

pytestmark = pytest.mark.slow

NAME = ("Henrietta", "Quastenberg")
PHONE = ("0152 98765432", "015298765432", "+4915298765432", "98765432")
ADDRESS = ("Quastenbergallee",)
PHONE_CALLER = "+4933987651234"  # the number the voice caller calls from
TURN_TIMEOUT_S = 120  # one turn through Whisper and Rasa on a loaded machine
REPLY_S = 3  # sequencing only: the reply's key menu is in place once its turn is logged


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


def spoken(text: str, lead_s: float = 0.0) -> AudioFrame:
    """One spoken answer, then silence that outlasts the call (the call ends with the file)."""
    return concat([silence(lead_s), pico(text), silence(400)], 8000)


def turns_logged(gateway: Gateway, since: int) -> list[str]:
    log = gateway.log_path.read_text(errors="replace")[since:]
    return [line for line in log.splitlines() if "turn on voice: intent=" in line]


def wait_for_turns(gateway: Gateway, phone: BaresipCall, since: int, count: int) -> list[str]:
    """The gateway's turn lines of this call once there are `count` (bounded wait), then a
    moment for the reply's key menu."""
    deadline = clock.monotonic() + TURN_TIMEOUT_S
    while len(turns := turns_logged(gateway, since)) < count:
        assert not phone.ended(), phone.log()
        assert clock.monotonic() < deadline, f"{len(turns)} of {count} turns: {turns}"
        clock.sleep(0.3)
    clock.sleep(REPLY_S)
    return turns


def press(phone: BaresipCall, keys: str) -> None:
    for key in keys:
        phone.send_dtmf(key)
        clock.sleep(0.3)  # one telephone-event after the other


def book_by_phone(gateway: Gateway, uri: str, workdir: Path, day: date, at: time) -> BaresipCall:
    """Books `day` `at` in one call, then reports damage at an address; returns the ended call."""
    workdir.mkdir()
    # after the greeting (its first sentence cannot be interrupted)
    request = "Ich möchte einen Termin für einen Personalausweis."
    write_wav(workdir / "request.wav", spoken(request, lead_s=21))
    write_wav(workdir / "name.wav", spoken(f"{NAME[0]} {NAME[1]}."))
    write_wav(workdir / "damage.wav", spoken("Ich möchte ein Schlagloch melden."))
    write_wav(workdir / "address.wav", spoken(f"In der {ADDRESS[0]} siebzehn."))
    since = len(gateway.log_path.read_text(errors="replace"))
    phone = baresip_call(workdir / "phone", uri, workdir / "request.wav", user=PHONE_CALLER)
    try:
        turns = wait_for_turns(gateway, phone, since, 2)  # the greeting, then the request
        assert "intent=book_appointment" in turns[1], turns
        press(phone, f"{day.day}#")  # the day: the next such day of a month
        wait_for_turns(gateway, phone, since, 3)
        press(phone, f"{at:%H%M}#")  # the time: 1430 is 14:30
        wait_for_turns(gateway, phone, since, 4)
        phone.play(workdir / "name.wav")  # "Auf welchen Namen ..."
        wait_for_turns(gateway, phone, since, 5)
        press(phone, f"{PHONE[1]}#")  # "Unter welcher Telefonnummer ..."
        wait_for_turns(gateway, phone, since, 6)
        press(phone, "1")  # the read-back of the booking: 1 for Ja
        wait_for_turns(gateway, phone, since, 7)
        phone.play(workdir / "damage.wav")
        wait_for_turns(gateway, phone, since, 8)
        phone.play(workdir / "address.wav")  # "Wo genau ist das?"
        wait_for_turns(gateway, phone, since, 9)
        phone.hangup()
    finally:
        phone.wait(timeout_s=30)
    return phone


async def phone_transcript(gateway: Gateway) -> list[tuple[str, str]]:
    """The voice call's transcript as (role, text): of the SIP calls that mention the
    Personalausweis (other tests' calls on this Redis may ask about it too), the one in which
    the caller said the most."""
    redis = make_redis(redis_target(gateway.settings, resolve_secrets(gateway.settings)))
    found: list[list[tuple[str, str]]] = []
    try:
        async with ConversationStore(redis, retention_s=3600) as store:
            for key in [k async for k in redis.scan_iter(match=transcript_key("sip-*"))]:
                lines = await store.transcript(str(key).removeprefix(transcript_key("")))
                if any("Personalausweis" in r.text for r in lines):
                    found.append([(r.role.value, r.text) for r in lines])
    finally:
        await redis.aclose()
    if not found:
        raise AssertionError("no call asked for a booking")
    return max(found, key=lambda lines: sum(role == "user" for role, _ in lines))


async def voice_bookings(gateway: Gateway) -> list[dict[str, str]]:
    """Every booking the action server took from a voice conversation."""
    redis = make_redis(redis_target(gateway.settings, resolve_secrets(gateway.settings)))
    try:
        found = []
        for reference in await redis.zrange(RecordKind.BOOKING.index_key, 0, -1):
            fields = await redis.hgetall(RecordKind.BOOKING.key(str(reference)))
            if fields.get("channel") == channel_field(Channel.VOICE):
                found.append({str(k): str(v) for k, v in fields.items()})
        return found
    finally:
        await redis.aclose()


def personal_words(said: list[str]) -> set[str]:
    """Words of what the caller said that would identify them in a log: long names and
    street names (capitalised, 8+ letters) and digit runs of 5+."""
    words = set()
    for text in said:
        words |= {w for w in re.findall(r"\b[A-ZÄÖÜ][a-zäöüß]{7,}\b", text) if w not in COMMON}
        words |= set(re.findall(r"\d{5,}", text.replace(" ", "")))
    return words


def answer_words(transcript: list[tuple[str, str]], question: str) -> set[str]:
    """The words (4+ letters) the caller said right after the bot asked `question`: the name
    or the address as the recogniser heard it, however it was split."""
    for (role, text), (_, answer) in itertools.pairwise(transcript):
        if role == "bot" and question in text:
            return {w for w in re.split(r"[^\wäöüßÄÖÜ]+", answer) if len(w) >= 4}
    raise AssertionError(f"the bot never asked {question!r}: {transcript}")


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
    started = clock.monotonic()
    phone = await asyncio.to_thread(
        book_by_phone, gateway, uri, tmp_path / "call", slot_day, slot_time
    )
    print(f"the call took {clock.monotonic() - started:.0f} s")  # a figure, not an assertion
    assert phone.established(), phone.log()
    transcript = await phone_transcript(gateway)
    said = [text for role, text in transcript if role == "user"]
    call = "\n".join(f"{role}: {text}" for role, text in transcript)
    print(call)  # what the recogniser heard, shown when the test fails
    assert len(said) >= 8, call  # every answer went to the dialogue
    # booked in this call: its reference was told, spelled
    bookings = [b for b in await voice_bookings(gateway) if spell_reference(b["reference"]) in call]
    assert len(bookings) == 1, bookings
    booking = bookings[0]
    assert booking["status"] == "booked", booking
    assert (booking["date"], booking["time"]) == (slot_day.isoformat(), f"{slot_time:%H:%M}")
    assert booking["phone"] == PHONE[1], booking
    assert booking["name"].casefold() in call.casefold(), booking  # the name as heard
    heard = personal_words(said) | {booking["name"]}
    heard |= answer_words(transcript, "Auf welchen Namen") | answer_words(transcript, "Wo genau")
    files = await asyncio.to_thread(log_files, gateway)
    names = {f.name for f in files}
    assert {"serve.log", "rasa.log", "actions.log"} <= names, names
    texts = {f.name: await asyncio.to_thread(f.read_text, errors="replace") for f in files}
    assert "DEBUG" in texts["serve.log"]  # the gateway wrote at DEBUG
    for name, text in texts.items():
        values = (*NAME, *PHONE, *ADDRESS, *heard, CALLER_NUMBER, CALLER_NUMBER[3:])
        for value in (*values, PHONE_CALLER, PHONE_CALLER[3:]):
            assert value not in text, f"{value!r} in {name}"
