"""Key presses on a real SIP phone: baresip speaks a request, types answers the form cannot
use (a day number 99, sent as RFC 4733 telephone-events), hears the question turn into a key
menu after two misses, and picks the first free day with one key."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bench.speech_samples import pico
from tests.e2e.conftest import Gateway
from tests.e2e.phones import BARESIP, BaresipCall, baresip_call
from tests.e2e.test_sip_call import CALLER_NUMBER, silence, transcribe, wait_for_hotline
from voice.audio import concat, write_wav

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(BARESIP is None, reason="baresip is not installed (make setup-test)"),
]

TURN_TIMEOUT_S = 90
SPOKEN_S = 18  # sequencing only: long enough for a question to be played out


def turns_logged(gateway: Gateway, since: int) -> list[str]:
    log = gateway.log_path.read_text(errors="replace")[since:]
    return [line for line in log.splitlines() if "turn on voice: intent=" in line]


def wait_for_turns(gateway: Gateway, phone: BaresipCall, since: int, count: int) -> list[str]:
    """The gateway's turn lines of this call once there are `count` (bounded wait)."""
    deadline = time.monotonic() + TURN_TIMEOUT_S
    while len(turns := turns_logged(gateway, since)) < count:
        assert not phone.ended(), phone.log()
        assert time.monotonic() < deadline, f"{len(turns)} of {count} turns: {turns}"
        time.sleep(0.3)
    return turns


def press(phone: BaresipCall, keys: str) -> None:
    for key in keys:
        phone.send_dtmf(key)
        time.sleep(0.3)  # one telephone-event after the other


def test_typed_answers_misses_and_a_key_menu_on_a_real_phone(
    gateway: Gateway, tmp_path: Path
) -> None:
    uri = wait_for_hotline(gateway)
    request = pico("Ich möchte einen Termin für einen Reisepass.")
    write_wav(tmp_path / "caller.wav", concat([silence(21), request, silence(200)], 8000))
    since = len(gateway.log_path.read_text(errors="replace"))
    phone = baresip_call(tmp_path / "phone", uri, tmp_path / "caller.wav", user=CALLER_NUMBER)
    turns = wait_for_turns(gateway, phone, since, 2)  # the greeting, then the request
    assert "intent=book_appointment" in turns[1], turns
    # keys cut the bot short like speech does: each waits until the reply has been spoken
    time.sleep(SPOKEN_S)
    press(phone, "99#")  # no such day: a miss
    wait_for_turns(gateway, phone, since, 3)
    time.sleep(SPOKEN_S)
    press(phone, "99#")  # a second miss: the free days become keys
    wait_for_turns(gateway, phone, since, 4)
    time.sleep(2 * SPOKEN_S)  # the question again, with the menu at its end
    press(phone, "1")  # the first free day
    wait_for_turns(gateway, phone, since, 5)
    # the time question is spoken after the day's free times (longer on some days)
    time.sleep(35)
    phone.hangup()
    phone.wait(timeout_s=30)
    heard = transcribe(gateway.settings, phone.recording())
    assert "eingegeben" in heard, heard  # the typed keys read back
    assert "eins für" in heard or "1 für" in heard, heard  # the key menu
    # the picked day was taken: "Welche Uhrzeit passt Ihnen?" (Whisper once wrote "Unzeit")
    assert "uhrzeit" in heard or "zeit passt ihnen" in heard, heard
