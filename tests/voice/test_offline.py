"""voice-test's turn reports on fakes: an unsure transcript is re-asked, never guessed."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import numpy as np
import pytest
from redis.asyncio import Redis

from contract.conversation import Button
from dialogue.core import DialogueCore
from dialogue.messages import BotReply, Channel, EngineAnswer, Understanding
from dialogue.store import ConversationStore
from tests.fakes import FakeClock, FakeEngine, FakeSynthesizer, FakeTranscriber, FakeVad
from voice.asr import Transcriber, Transcript
from voice.audio import AudioFrame, concat
from voice.keymenu import REASK, TOPICS, KeyMenu
from voice.offline import FileRun, KeyReport, _Timings, _Turn, run_recording
from voice.session import Observed
from voice.signals import Dtmf, Reply, Say, SendTurn
from voice.signals import Transcript as Heard
from voice.tts import Synthesizer
from voice.vad import Endpointer, SpeechEnded

SPEECH = AudioFrame.from_samples(np.full(8000, 8000, dtype=np.int16), 8000)  # 1 s loud
QUIET = AudioFrame.silence(1.0, 8000)


def script(session_id: str, channel: Channel, text: str) -> EngineAnswer:
    return EngineAnswer((BotReply(f"Zu {text}."),))


@pytest.fixture
async def store(redis: Redis) -> AsyncIterator[ConversationStore]:
    async with ConversationStore(redis, retention_s=3600) as store:
        yield store


async def record(
    store: ConversationStore,
    audio: AudioFrame,
    engine: FakeEngine,
    *,
    session_id: str,
    transcriber: Transcriber,
    synthesizer: Synthesizer,
    **options: Any,
) -> FileRun:
    """`audio` through voice-test's runner on the fakes, with the tests' endpointer."""
    return await run_recording(
        audio,
        core=DialogueCore(engine, store),
        store=store,
        session_id=session_id,
        endpointer=Endpointer(FakeVad(), start_ms=64, end_silence_ms=300),
        transcriber=transcriber,
        synthesizer=synthesizer,
        **options,
    )


async def test_unsure_turns_are_reasked_with_no_intent(store: ConversationStore) -> None:
    engine = FakeEngine(script)
    audio = concat([QUIET, SPEECH, QUIET, SPEECH, QUIET, SPEECH, QUIET], 8000)
    run = await record(
        store,
        audio,
        engine,
        session_id="offline-1",
        transcriber=FakeTranscriber(("Müll Müll", 0.2), ("Hundesteuer", 0.35), ("x", 0.349)),
        synthesizer=FakeSynthesizer(ms_per_char=1),
        min_confidence=0.35,
    )
    first, second, third = (t.as_json() for t in run.turns)
    assert first["reasked"] is True and first["intent"] is None and first["confidence"] is None
    assert first["reply"] == f"{REASK} {KeyMenu(TOPICS).prompt()}"
    assert first["asr_confidence"] == 0.2
    assert second["reasked"] is False and second["reply"] == "Zu Hundesteuer."
    assert third["reasked"] is True
    assert [r[2] for r in engine.received] == ["/greet", "Hundesteuer"]
    for turn in (first, second):
        timings = turn["timings_ms"]
        assert isinstance(timings, dict)
        assert {"asr", "end_of_speech_to_first_audio"} <= set(timings)


def menu_script(session_id: str, channel: Channel, text: str) -> EngineAnswer:
    if text == "Termin buchen":
        buttons = (Button("Ja", "/affirm"), Button("Nein", "/deny"))
        return EngineAnswer((BotReply("Soll ich buchen?", buttons=buttons),))
    return EngineAnswer((BotReply(f"Zu {text}. " + "Noch etwas? " * 20),))


async def test_keys_in_a_recording_pick_from_the_menu_as_on_a_call(
    store: ConversationStore,
) -> None:
    engine = FakeEngine(menu_script)
    audio = concat([QUIET, SPEECH, QUIET, QUIET, QUIET], 8000)
    run = await record(
        store,
        audio,
        engine,
        session_id="offline-keys",
        transcriber=FakeTranscriber("Termin buchen"),
        synthesizer=FakeSynthesizer(ms_per_char=1),
        keys=[(3.5, "2")],
    )
    assert [r[2] for r in engine.received] == ["/greet", "Termin buchen", "/deny"]
    (turn,) = run.turns  # the key is no spoken turn
    assert (
        turn.reply
        == "Soll ich buchen? Drücken Sie 1 für Ja, 2 für Nein, oder 0 für eine Mitarbeiterin."
    )
    picked = KeyReport("2", "/deny", None, None, "Zu /deny. " + "Noch etwas? " * 20, False)
    assert run.steps == (turn, picked)  # ... but a turn of the call, in its place


def digits_script(session_id: str, channel: Channel, text: str) -> EngineAnswer:
    if text.isdigit():
        understood = Understanding("inform", 0.5 + len(text) / 10)  # a turn's own figure
        return EngineAnswer((BotReply(f"Am Tag {text}."),), understood)
    return EngineAnswer((BotReply("An welchem Tag?"),), Understanding("book_appointment", 0.8))


async def test_typed_digits_are_a_turn_of_their_own_in_order(store: ConversationStore) -> None:
    engine = FakeEngine(digits_script)
    audio = concat([QUIET, SPEECH, QUIET, QUIET, QUIET, QUIET, QUIET, QUIET], 8000)
    run = await record(
        store,
        audio,
        engine,
        session_id="offline-digits",
        transcriber=FakeTranscriber("Termin buchen"),
        synthesizer=FakeSynthesizer(ms_per_char=1),
        keys=[(3.5, "9"), (3.7, "*"), (3.9, "1"), (4.1, "2"), (4.3, "#"), (6, "3"), (6.2, "#")],
    )
    assert [r[2] for r in engine.received] == ["/greet", "Termin buchen", "12", "3"]
    (spoken,) = run.turns
    assert (spoken.transcript, spoken.intent, spoken.reply) == (
        "Termin buchen",
        "book_appointment",
        "An welchem Tag?",
    )
    assert run.steps == (
        spoken,
        KeyReport(
            "9*12#", "12", "inform", 0.7, "Sie haben eingegeben: eins zwei. Am Tag 12.", False
        ),
        KeyReport("3#", "3", "inform", 0.6, "Sie haben eingegeben: drei. Am Tag 3.", False),
    )


async def test_a_key_turn_reports_the_keys_since_the_last_turn(store: ConversationStore) -> None:
    engine = FakeEngine(digits_script)
    run = await record(
        store,
        concat([QUIET, SPEECH, QUIET, QUIET, QUIET], 8000),
        engine,
        session_id="offline-key-since",
        transcriber=FakeTranscriber("Termin buchen"),
        synthesizer=FakeSynthesizer(ms_per_char=1),
        # the 5 makes no turn (no # follows; it times out), the spoken turn is sent, then 1#
        keys=[(0.5, "5"), (3.5, "1"), (3.7, "#")],
    )
    assert [r[2] for r in engine.received] == ["/greet", "Termin buchen", "1"]
    (spoken,) = run.turns
    heard = "Sie haben eingegeben: eins. Am Tag 1."
    assert run.steps == (spoken, KeyReport("1#", "1", "inform", 0.6, heard, False))


async def test_speech_over_a_long_answer_barges_in_as_on_a_call(store: ConversationStore) -> None:
    engine = FakeEngine(menu_script)
    audio = concat([QUIET, SPEECH, QUIET, SPEECH, QUIET, QUIET], 8000)
    run = await record(
        store,
        audio,
        engine,
        session_id="offline-barge",
        transcriber=FakeTranscriber("erste Frage", "zweite Frage"),
        synthesizer=FakeSynthesizer(ms_per_char=10),  # the first answer lasts about 2.5 s
        keys=(),
    )
    assert [t.transcript for t in run.turns] == ["erste Frage", "zweite Frage"]
    assert [r[2] for r in engine.received] == ["/greet", "erste Frage", "zweite Frage"]
    assert run.barge_ins == 1  # the first answer was cut short


async def test_without_speech_over_it_the_answer_plays_to_its_end(
    store: ConversationStore,
) -> None:
    audio = concat([QUIET, SPEECH, QUIET, QUIET, QUIET, QUIET], 8000)
    run = await record(
        store,
        audio,
        FakeEngine(menu_script),
        session_id="offline-no-barge",
        transcriber=FakeTranscriber("erste Frage"),
        synthesizer=FakeSynthesizer(ms_per_char=10),
    )
    assert run.barge_ins == 0 and len(run.turns) == 1


class SlowSynthesizer(FakeSynthesizer):
    """Takes `delay_s` for each sentence, as a loaded machine's TTS would."""

    def __init__(self, delay_s: float) -> None:
        super().__init__(ms_per_char=1)
        self._delay_s = delay_s

    def synthesize(self, text: str) -> Iterator[AudioFrame]:
        time.sleep(self._delay_s)
        yield from super().synthesize(text)


class KeepingTranscriber(FakeTranscriber):
    def __init__(self) -> None:
        super().__init__()
        self.audio: list[bytes] = []

    def transcribe(self, audio: AudioFrame) -> Transcript:
        self.audio.append(audio.pcm)
        return super().transcribe(audio)


async def test_the_same_recording_gives_the_same_turns_however_long_the_greeting_took(
    store: ConversationStore,
) -> None:
    # the greeting's synthesis time decides how much line silence comes before the
    # recording; the caller's turns must not depend on it, to the sample
    rising = AudioFrame.from_samples(np.linspace(500, 9000, 6000).astype(np.int16), 8000)
    audio = concat([QUIET, rising, QUIET, SPEECH, QUIET], 8000)
    heard = []
    for n, delay_s in enumerate((0.0, 0.05, 0.11)):
        transcriber = KeepingTranscriber()
        await record(
            store,
            audio,
            FakeEngine(script),
            session_id=f"offline-same-{n}",
            transcriber=transcriber,
            synthesizer=SlowSynthesizer(delay_s),
        )
        heard.append(transcriber.audio)
    assert len(heard[0]) == 2
    assert heard[1] == heard[0] and heard[2] == heard[0]


def goodbye_script(session_id: str, channel: Channel, text: str) -> EngineAnswer:
    if text == "Tschüss":
        understood = Understanding("goodbye", 0.97)
        return EngineAnswer((BotReply("Auf Wiederhören! " * 20, hangup=True),), understood)
    return EngineAnswer((BotReply(f"Zu {text}."),), Understanding("question", 0.8))


async def test_speech_over_the_goodbye_is_no_turn_of_the_call(store: ConversationStore) -> None:
    half = AudioFrame.silence(0.5, 8000)
    audio = concat([QUIET, SPEECH, QUIET, SPEECH, half, SPEECH, QUIET, QUIET, QUIET], 8000)
    engine = FakeEngine(goodbye_script)
    run = await record(
        store,
        audio,
        engine,
        session_id="offline-goodbye",
        transcriber=FakeTranscriber("erste Frage", "Tschüss", "noch etwas"),
        synthesizer=FakeSynthesizer(ms_per_char=10),  # the goodbye lasts about 3.4 s
    )
    assert [t.transcript for t in run.turns] == ["erste Frage", "Tschüss"]
    assert [r[2] for r in engine.received] == ["/greet", "erste Frage", "Tschüss"]
    assert [(t.intent, t.confidence) for t in run.turns] == [("question", 0.8), ("goodbye", 0.97)]
    assert [t.reply for t in run.turns] == [
        "Zu erste Frage.",
        "Auf Wiederhören! " * 20,
    ]
    assert [t.hangup for t in run.turns] == [False, True] and run.barge_ins == 0
    assert run.greeting == "Zu /greet."
    for turn in run.turns:
        assert turn.timings_ms["end_of_speech_to_first_audio"] >= 0


PLAYED = None  # a frame of the bot's audio went out


def observed(*steps: tuple[float, Observed | None]) -> _Timings:
    """A `_Timings` that saw each (clock time, item) in order."""
    clock = FakeClock()
    timings = _Timings(clock)
    for at, item in steps:
        clock.now = at
        if item is None:
            timings.played()
        else:
            timings.observe(item)
    return timings


def ended(duration_s: float, endpoint_silence_s: float) -> SpeechEnded:
    return SpeechEnded(AudioFrame.silence(duration_s, 16000), 0.0, endpoint_silence_s)


def test_a_turn_is_timed_from_its_own_events() -> None:
    timings = observed(
        (0.5, Say(1, ("Guten Tag.", "Worum geht es?"))),
        (0.6, PLAYED),  # the greeting's audio times no turn
        (1.0, ended(1.5, 0.4)),
        (2.0, Heard("Hundesteuer", 0.8)),
        (2.1, SendTurn("Hundesteuer", 0.8)),
        (3.0, Reply((BotReply("Zu Hundesteuer."),))),
        (3.5, Say(2, ("Zu Hundesteuer.", "Noch etwas?"))),
        (4.0, PLAYED),
        (5.0, PLAYED),  # later frames of the same answer move nothing
    )
    assert timings.greeting == "Guten Tag. Worum geht es?"
    assert timings.steps == [
        _Turn(
            ended_at=1.0,
            utterance_s=1.5,
            endpoint_silence_s=0.4,
            text="Hundesteuer",
            confidence=0.8,
            asr_done=2.0,
            sent=0,
            dialogue_done=3.0,  # the dialogue's answer, not the moment it is said
            first_audio=4.0,
            reply="Zu Hundesteuer. Noch etwas?",
        )
    ]


def test_a_reasked_turn_is_timed_to_its_reask_and_sends_nothing() -> None:
    timings = observed(
        (0.5, Say(1, ("Guten Tag.",))),
        (0.7, Say(2, ("Sind Sie noch da?",))),  # no turn yet: the greeting stays
        (1.0, ended(1.0, 0.5)),
        (1.5, Heard("   ", 0.9)),  # nothing said: no turn
        (2.0, ended(2.0, 0.5)),
        (3.0, Heard("Müll Müll")),  # no confidence: counted as none
        (7.0, Say(3, ("Entschuldigung, die Verbindung ist schlecht.",))),
        (8.0, PLAYED),
        (9.0, ended(1.0, 0.5)),
        (9.5, Heard("Hundesteuer", 0.7)),
        (9.6, SendTurn("Hundesteuer", 0.7)),
    )
    assert timings.greeting == "Guten Tag."
    reasked, sent = timings.steps
    assert (reasked.text, reasked.confidence, reasked.sent) == ("Müll Müll", 0.0, None)
    assert (reasked.dialogue_done, reasked.first_audio) == (7.0, 8.0)
    assert reasked.reply == "Entschuldigung, die Verbindung ist schlecht."
    assert (sent.text, sent.sent, sent.ended_at) == ("Hundesteuer", 0, 9.0)


def test_speech_after_the_goodbye_is_no_turn_but_keys_before_it_are() -> None:
    timings = observed(
        (0.5, Say(1, ("Guten Tag.",))),
        (1.0, Dtmf("4")),
        (1.1, Dtmf("#")),
        (1.2, SendTurn("4")),
        (2.0, Reply((BotReply("Zu 4."),))),
        (2.5, Say(2, ("Zu 4.",))),
        (3.0, ended(1.0, 0.5)),
        (3.5, Heard("Tschüss", 0.9)),
        (3.6, SendTurn("Tschüss", 0.9)),
        (4.0, Reply((BotReply("Auf Wiederhören!", hangup=True),))),
        (4.1, Say(3, ("Auf Wiederhören!",))),
        (5.0, ended(1.0, 0.5)),  # over the goodbye
        (6.0, Heard("noch etwas", 0.9)),
        (6.1, Say(4, ("Auf Wiederhören!",))),
    )
    keys, goodbye = timings.steps
    assert (keys.keys, keys.text, keys.sent, keys.ended_at) == ("4#", "4", 0, 1.2)
    assert (keys.dialogue_done, keys.reply, keys.hangup) == (2.0, "Zu 4.", False)
    assert (goodbye.text, goodbye.sent, goodbye.hangup) == ("Tschüss", 1, True)
    assert goodbye.reply == "Auf Wiederhören!"


def test_transcripts_pair_with_the_turns_in_the_order_they_ended() -> None:
    timings = observed(
        (0.5, Say(1, ("Guten Tag.",))),
        (1.0, ended(1.0, 0.5)),
        (2.0, ended(2.0, 0.6)),  # ended before the first was recognised
        (3.0, Heard("erste", 0.9)),
        (4.0, Heard("zweite", 0.9)),
    )
    assert [(t.text, t.ended_at, t.utterance_s) for t in timings.steps] == [
        ("erste", 1.0, 1.0),
        ("zweite", 2.0, 2.0),
    ]
