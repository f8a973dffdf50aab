"""The voice session on a fake clock: one tick is 20 ms of caller audio and of playback."""

from __future__ import annotations

import asyncio
import datetime
import wave
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import numpy as np
import pytest
from redis.asyncio import Redis

from contract.phone import NUMBER_NOT_ALLOWED_TEXT, CallbackPolicy
from dialogue.core import DialogueCore
from dialogue.messages import BotReply, Channel, EngineAnswer, Handoff
from dialogue.metrics import Metrics
from dialogue.misses import MissLog
from dialogue.store import ConversationStore, consent_key
from tests.fakes import FakeCall, FakeEngine, FakeSynthesizer, FakeTranscriber, FakeVad
from voice.asr import Transcriber
from voice.audio import AudioFrame
from voice.language import CallLanguage, CallTranscriber, Recognise
from voice.readback import ReadBack, Streets
from voice.recording import Recorder, recorder_factory
from voice.session import (
    CALLBACK_DECLINED_TEXT,
    CALLBACK_TRIGGER,
    CALLBACK_TYPE_NUMBER_TEXT,
    CONSENT_TEXT,
    CONSENT_VERSION,
    REPROMPT_TEXT,
    STAFF_AWAY_TEXT,
    TRANSFER_FAILED_TEXT,
    WITHDRAW_TRIGGER,
    WITHDRAWN_TEXT,
    AudioIn,
    CallerHungUp,
    DtmfIn,
    EndReason,
    SessionOptions,
    SessionResult,
    VoiceSession,
)
from voice.speech import Consent, readback
from voice.vad import Endpointer
from voice.workers import VoiceWorkers

GREETING = "Hier spricht ein Computer. Wie kann ich Ihnen helfen?"
SPEECH = AudioFrame.from_samples(np.full(160, 8000, dtype=np.int16), 8000)  # 20 ms loud
QUIET = AudioFrame.silence(0.02, 8000)
# 1.2 s at the fake synthesiser's 10 ms a character: long enough to speak a whole turn into
LONG_GOODBYE = "Vielen Dank für Ihren Anruf bei der Stadtverwaltung. " * 2 + "Auf Wiederhören!!"


def script(session_id: str, channel: Channel, text: str) -> EngineAnswer:
    match text:
        case "/greet":
            return EngineAnswer((BotReply(GREETING),))
        case "/human_handoff":
            return EngineAnswer((BotReply("Ich verbinde.", handoff=Handoff("user_request")),))
        case "tschüss":
            return EngineAnswer((BotReply("Auf Wiederhören!", hangup=True),))
        case "danke":
            return EngineAnswer((BotReply(LONG_GOODBYE, hangup=True),))
    return EngineAnswer((BotReply(f"Sie sagten {text}. Noch etwas?"),))


@pytest.fixture
async def store(redis: Redis) -> AsyncIterator[ConversationStore]:
    async with ConversationStore(redis, retention_s=3600) as store:
        yield store


# A guard against a session that never ends, not a timing check: on a loaded 2-core machine
# (several test runs at once) ending a session took over 10 s now and then.
HANG_GUARD_S = 60


class Harness:
    def __init__(
        self,
        store: ConversationStore,
        *texts: str | tuple[str, float],
        pause_ms: int | None = None,
        read_back: Callable[[str], str | None] = readback,
        recorder: Callable[[int], Recorder] | None = None,
        engine_workers: bool = False,
        misses: MissLog | None = None,
        session_id: str = "call-1",
        metrics: Metrics | None = None,
        english: tuple[str, ...] | None = None,
        **options: object,
    ) -> None:
        """The session's clock is the line's: one tick is 20 ms. `english`: the call has
        its language (voice/language.py), with these English transcripts."""
        self.call = FakeCall()
        self.consents: list[Consent] = []
        self.engine = FakeEngine(script)
        self.tts = FakeSynthesizer(ms_per_char=10)
        self.asr = FakeTranscriber(*texts)
        self.workers = VoiceWorkers.create(self.asr, max_calls=1) if engine_workers else None
        self.language = CallLanguage()
        transcriber: Transcriber = self.asr
        recognise: Recognise | None = None
        if english is not None:
            self.asr_en = FakeTranscriber(*english)
            own = CallTranscriber(self.asr, self.asr_en, None, self.language)
            transcriber = own
            recognise = own.recogniser(self.workers.asr) if self.workers else None
        self.session = VoiceSession(
            self.call,
            DialogueCore(self.engine, store, misses=misses, metrics=metrics),
            session_id=session_id,
            endpointer=Endpointer(FakeVad(), start_ms=64, end_silence_ms=300, pause_ms=pause_ms),
            transcriber=transcriber,
            synthesizer=self.tts,
            options=SessionOptions(**options),  # type: ignore[arg-type]
            on_consent=self.consents.append,
            read_back=read_back,
            recorder=recorder,
            workers=self.workers,
            clock=lambda: self.call.now * 0.02,
            recognise=recognise,
            register=lambda: self.language.register,
        )
        self.task: asyncio.Task[SessionResult] | None = None

    async def __aenter__(self) -> Harness:
        self.task = asyncio.create_task(self.session.run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.task is not None and not self.task.done():
            self.call.send(CallerHungUp())
            await self._ticking_until_done()
            await asyncio.wait_for(self.task, HANG_GUARD_S)
        if self.workers is not None:
            await self.workers.aclose()

    async def _ticking_until_done(self) -> None:
        """The line's clock goes on while a session ends (playback waits for its ticks)."""
        assert self.task is not None
        for _ in range(500):
            if self.task.done():
                return
            await self.call.tick()

    async def audio(self, frame: AudioFrame, ticks: int) -> None:
        for _ in range(ticks):
            self.call.send(AudioIn(frame))
            await self.call.tick()

    async def until_quiet(self, limit: int = 3000) -> None:
        """Silence until the bot has said something new and stopped talking."""
        since = self.call.now
        for _ in range(limit):
            await self.audio(QUIET, 1)
            last = self.call.played[-1][0] if self.call.played else -1
            if since < last < self.call.now - 3 and not self.session.speaking:
                return
        raise AssertionError("the bot never stopped talking")

    async def until(self, condition: Callable[[], bool], limit: int = 3000) -> None:
        for _ in range(limit):
            if condition():
                return
            await self.audio(QUIET, 1)
        raise AssertionError("condition not reached")

    async def result(self) -> SessionResult:
        assert self.task is not None
        await self._ticking_until_done()
        return await asyncio.wait_for(self.task, HANG_GUARD_S)


async def test_greets_then_answers_a_turn(store: ConversationStore) -> None:
    async with Harness(store, "Hundesteuer") as h:
        await h.until_quiet()
        assert h.tts.calls[:2] == ["Hier spricht ein Computer.", "Wie kann ich Ihnen helfen?"]
        await h.audio(SPEECH, 25)
        await h.until_quiet()
        assert h.tts.calls[-2:] == ["Sie sagten Hundesteuer.", "Noch etwas?"]
        assert h.engine.received[-1] == ("call-1", Channel.VOICE, "Hundesteuer")
    transcript = await store.transcript("call-1")
    user = [r for r in transcript if r.text == "Hundesteuer"]
    assert user and user[0].asr_confidence == 0.9


@pytest.mark.parametrize("engine_workers", [False, True])
async def test_the_next_sentence_is_synthesised_while_the_one_before_plays(
    store: ConversationStore, engine_workers: bool
) -> None:
    async with Harness(store, engine_workers=engine_workers) as h:
        await h.until(lambda: len(h.call.played) >= 1)
        first_unit_frames = 26 * 10 // 20  # "Hier spricht ein Computer." at 10 ms a char
        for _ in range(500):  # bounded; the line's clock stands still meanwhile
            if len(h.tts.calls) == 2:
                break
            await asyncio.sleep(0.01)
        assert h.tts.calls == ["Hier spricht ein Computer.", "Wie kann ich Ihnen helfen?"]
        assert len(h.call.played) < first_unit_frames  # the first is still playing
        await h.until_quiet()
        ticks = [t for t, _ in h.call.played]
        assert ticks == list(range(ticks[0], ticks[0] + len(ticks)))  # no gap between them


async def test_barge_in_stops_playback_within_200_ms_and_hears_the_caller(
    store: ConversationStore,
) -> None:
    async with Harness(store, "erste Frage", "zweite Frage") as h:
        await h.until_quiet()
        await h.audio(SPEECH, 25)
        before = len(h.call.played)
        # The answer plays; the caller interrupts after 5 frames (100 ms) of it.
        await h.until(lambda: len(h.call.played) >= before + 5)
        started = h.call.now
        await h.audio(SPEECH, 4)  # 64 ms speech start + detection
        detected = h.call.now
        await h.audio(SPEECH, 20)
        after = [t for t, _ in h.call.played if t > detected]
        assert len(after) <= 10, "playback went on for more than 200 ms after barge-in"
        assert h.call.stops and started <= h.call.stops[-1] <= detected + 10
        await h.until_quiet()
        assert h.engine.received[-1][2] == "zweite Frage"
    assert (await h.result()).barge_ins == 1


async def test_first_greeting_sentence_cannot_be_interrupted(store: ConversationStore) -> None:
    async with Harness(store) as h:
        await h.audio(SPEECH, 30)  # the caller talks over the AI disclosure
        assert not h.call.stops
        first = len(h.tts.calls)
        assert first >= 1 and h.tts.calls[0] == "Hier spricht ein Computer."


async def test_a_long_first_greeting_sentence_is_protected_in_both_parts(
    store: ConversationStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    long = "Hier spricht ein Computer der Stadt, der Ihnen gerne bei Fragen hilft. Bitte?"
    monkeypatch.setattr(f"{__name__}.GREETING", long)
    async with Harness(store) as h:
        await h.until(lambda: len(h.tts.calls) >= 2)
        assert h.tts.calls[:2] == [
            "Hier spricht ein Computer der Stadt,",
            "der Ihnen gerne bei Fragen hilft.",
        ]
        # the second unit is synthesised once the first has played: talk over it now
        await h.audio(SPEECH, 12)
        assert not h.call.stops


async def test_speculative_transcription_is_used_when_the_caller_stays_silent(
    store: ConversationStore,
) -> None:
    async with Harness(store, "Hundesteuer", pause_ms=96) as h:
        await h.until_quiet()
        await h.audio(SPEECH, 25)
        await h.until_quiet()
        assert h.engine.received[-1] == ("call-1", Channel.VOICE, "Hundesteuer")
        # transcribed once, at the pause: the audio lacks the last 224 ms of end silence
        (heard,) = h.asr.heard
        assert 25 * 0.02 + 0.096 <= heard <= 25 * 0.02 + 0.32 + 0.096 + 0.032


async def test_reprompts_then_hangs_up_after_silence(store: ConversationStore) -> None:
    async with Harness(store, reprompt_after_s=2.0, max_reprompts=1) as h:
        await h.until_quiet()
        await h.audio(QUIET, 100)
        await h.until_quiet()
        assert REPROMPT_TEXT.split(".")[0].split("?")[0] in " ".join(h.tts.calls)
        for _ in range(400):
            if h.call.hung_up:
                break
            await h.audio(QUIET, 1)
        assert h.call.hung_up
    assert (await h.result()).end is EndReason.SILENCE


async def test_dtmf_zero_asks_for_a_person_and_transfers(store: ConversationStore) -> None:
    async with Harness(store) as h:
        await h.until_quiet()
        h.call.send(DtmfIn("0"))
        await h.until(lambda: bool(h.call.transferred))
        assert h.engine.received[-1][2] == "/human_handoff"
        assert h.call.transferred and h.call.transferred[0].case_id
    assert (await h.result()).end is EndReason.TRANSFERRED
    await store.wait_flushed()
    case_id = h.call.transferred[0].case_id
    fields = await store._redis.hgetall(f"rb:case:{case_id}")
    assert fields["transferred_to"] == "sip:buergerbuero@pbx.example"  # the console shows it


async def test_keypad_number_ending_with_hash_is_read_back(store: ConversationStore) -> None:
    async with Harness(store) as h:
        await h.until_quiet()
        for digit in "0123#":
            h.call.send(DtmfIn(digit))
        await h.until_quiet()
        assert "Sie haben eingegeben: null eins zwei drei." in h.tts.calls
        assert h.engine.received[-1][2] == "0123"


async def test_spoken_numbers_are_read_back(store: ConversationStore) -> None:
    async with Harness(store, "Meine Nummer ist 4711") as h:
        await h.until_quiet()
        await h.audio(SPEECH, 25)
        await h.until_quiet()
        assert "Ich habe verstanden: vier sieben eins eins." in h.tts.calls


async def test_dates_and_streets_are_read_back_when_configured(store: ConversationStore) -> None:
    read_back = ReadBack(
        streets=Streets(("Bergstraße",)), today=lambda: datetime.date(2026, 11, 22)
    )
    said = "In der Berg Straße 5 am 3. Dezember"
    async with Harness(store, said, read_back=read_back) as h:
        await h.until_quiet()
        await h.audio(SPEECH, 25)
        await h.until_quiet()
        spoken = " ".join(h.tts.calls)  # units: a long first sentence comes in two
        assert "Ich habe verstanden: Bergstraße 5, Donnerstag, der dritte Dezember." in spoken
        assert h.engine.received[-1][2] == said  # the dialogue gets what was said


async def test_goodbye_reply_hangs_up(store: ConversationStore) -> None:
    async with Harness(store, "tschüss") as h:
        await h.until_quiet()
        await h.audio(SPEECH, 25)
        for _ in range(400):
            if h.call.hung_up:
                break
            await h.audio(QUIET, 1)
        assert h.call.hung_up and h.tts.calls[-1] == "Auf Wiederhören!"
    assert (await h.result()).end is EndReason.BOT_HANGUP


async def test_what_the_caller_says_during_the_goodbye_is_not_recognised(
    store: ConversationStore,
) -> None:
    async with Harness(store, "danke", "noch eine Frage") as h:
        await h.until_quiet()
        await h.audio(SPEECH, 25)
        await h.until(lambda: h.session.speaking and "Auf Wiederhören!!" not in h.tts.calls)
        await h.audio(SPEECH, 25)  # a whole turn into the goodbye: 500 ms speech, then quiet
        await h.until(lambda: h.call.hung_up)
        assert h.tts.calls[-1] == "Auf Wiederhören!!"  # the goodbye was not cut off
        assert len(h.asr.heard) == 1  # only "danke": the second turn cost no recognition
        assert [t for _, _, t in h.engine.received] == ["/greet", "danke"]
    assert (await h.result()).end is EndReason.BOT_HANGUP


@pytest.mark.parametrize(("answer", "expected"), [("1", Consent.GRANTED), ("2", Consent.DENIED)])
async def test_recording_needs_consent_by_dtmf(
    store: ConversationStore, answer: str, expected: Consent
) -> None:
    async with Harness(store, recording_enabled=True) as h:
        await h.until_quiet()
        assert any("aufzeichnen" in c for c in h.tts.calls)
        await h.until_quiet()  # the consent question
        h.call.send(DtmfIn(answer))
        await h.until(lambda: bool(h.consents))
        assert h.consents == [expected]
    assert (await h.result()).consent is expected


async def test_recording_consent_by_speech_and_off_by_default(store: ConversationStore) -> None:
    async with Harness(store, "Ja, gerne", recording_enabled=True) as h:
        await h.until_quiet()
        await h.until_quiet()  # the consent question
        await h.audio(SPEECH, 25)
        await h.until(lambda: bool(h.consents))
        assert h.consents == [Consent.GRANTED]
    async with Harness(store) as h:
        await h.until_quiet()
        assert not any("aufzeichnen" in c for c in h.tts.calls)
    assert (await h.result()).consent is None


async def test_refused_transfer_offers_a_callback_to_the_callers_own_number(
    store: ConversationStore,
) -> None:
    async with Harness(store) as h:
        h.call.transfer_ok = False
        h.call.number = "+4930123456"
        await h.until_quiet()
        h.call.send(DtmfIn("0"))
        await h.until(lambda: bool(h.call.transferred))
        await h.until(lambda: "sechs zurückrufen" in " ".join(h.tts.calls))
        spoken = " ".join(h.tts.calls)
        assert TRANSFER_FAILED_TEXT in spoken
        assert "drei null eins zwei drei vier fünf sechs zurückrufen" in spoken
        h.call.send(DtmfIn("1"))
        await h.until(lambda: h.engine.received[-1][2] == "+4930123456")
        assert [r[2] for r in h.engine.received[-2:]] == [CALLBACK_TRIGGER, "+4930123456"]
        assert not h.call.hung_up
    assert (await h.result()).end is EndReason.CALLER_HANGUP


async def test_outside_staff_hours_no_transfer_is_tried_and_a_typed_number_is_taken(
    store: ConversationStore,
) -> None:
    async with Harness(store) as h:
        h.call.staff_present = False
        await h.until_quiet()
        h.call.send(DtmfIn("0"))
        await h.until(lambda: h.engine.received[-1][2] == "/human_handoff")
        await h.until(lambda: CALLBACK_TYPE_NUMBER_TEXT in " ".join(h.tts.calls))
        await h.until_quiet()
        assert not h.call.transferred  # no caller ID to offer, and staff are away:
        spoken = " ".join(h.tts.calls)
        # where the concern goes and its case number (the core's notice) come first
        assert spoken.index("Ich verbinde.") < spoken.index(STAFF_AWAY_TEXT)
        for digit in "030999#":
            h.call.send(DtmfIn(digit))
        await h.until(lambda: h.engine.received[-1][2] == "030999")
        assert h.engine.received[-2][2] == CALLBACK_TRIGGER


async def test_declined_callback_goes_back_to_the_dialogue(store: ConversationStore) -> None:
    async with Harness(store, "nein danke") as h:
        h.call.staff_present = False
        h.call.number = "0301234"
        await h.until_quiet()
        h.call.send(DtmfIn("0"))
        await h.until(lambda: h.engine.received[-1][2] == "/human_handoff")
        await h.until(lambda: "zurückrufen?" in " ".join(h.tts.calls))
        await h.until_quiet()
        await h.audio(SPEECH, 25)
        await h.until(lambda: " ".join(h.tts.calls).endswith(CALLBACK_DECLINED_TEXT))
        assert CALLBACK_TRIGGER not in [r[2] for r in h.engine.received]


@pytest.mark.parametrize(("answer", "recorded"), [("1", True), ("2", False)])
async def test_only_consented_calls_are_recorded(
    store: ConversationStore, tmp_path: Path, answer: str, recorded: bool
) -> None:
    folder = tmp_path / "recordings"
    async with Harness(store, recording_enabled=True, recorder=recorder_factory(folder)) as h:
        await h.until_quiet()
        await h.until_quiet()  # the consent question
        h.call.send(DtmfIn(answer))
        await h.until(lambda: bool(h.consents))
        await h.audio(SPEECH, 25)  # the caller speaks, the bot answers
        await h.until_quiet()
    result = await h.result()
    files = list(folder.glob("*.wav")) if folder.exists() else []
    if not recorded:
        assert files == [] and result.recording is None
        return
    assert files == [result.recording]
    assert "call-1" not in files[0].name  # no session id or number in the name
    with wave.open(str(files[0])) as wav:
        assert (wav.getnchannels(), wav.getframerate()) == (2, 8000)
        stereo = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    caller, bot = stereo[0::2], stereo[1::2]
    assert np.abs(caller).max() >= 8000  # the caller's speech is on the left
    assert np.abs(bot).max() > 0  # the bot's answer on the right


async def test_no_recording_without_the_operator_enabling_it(
    store: ConversationStore, tmp_path: Path
) -> None:
    folder = tmp_path / "recordings"
    async with Harness(store, "ja", recorder=recorder_factory(folder)) as h:
        await h.until_quiet()
        await h.audio(SPEECH, 25)
        await h.until_quiet()
        assert not h.consents
    assert (await h.result()).recording is None and not folder.exists()


async def test_a_premium_caller_number_is_not_offered_and_a_typed_one_is_refused(
    store: ConversationStore,
) -> None:
    async with Harness(store) as h:
        h.call.staff_present = False
        h.call.number = "+49900123456"  # a forged From: a premium-rate number
        await h.until_quiet()
        h.call.send(DtmfIn("0"))
        await h.until(lambda: CALLBACK_TYPE_NUMBER_TEXT in " ".join(h.tts.calls))
        await h.until_quiet()
        assert "neun null null" not in " ".join(h.tts.calls)  # never read out as an offer
        for digit in "0900123456#":
            h.call.send(DtmfIn(digit))
        await h.until(lambda: NUMBER_NOT_ALLOWED_TEXT in " ".join(h.tts.calls))
        await h.until_quiet()
        assert CALLBACK_TRIGGER not in [r[2] for r in h.engine.received]
        for digit in "015112345678#":
            h.call.send(DtmfIn(digit))
        await h.until(lambda: h.engine.received[-1][2] == "015112345678")
        assert h.engine.received[-2][2] == CALLBACK_TRIGGER


async def test_configured_prefixes_allow_a_foreign_caller_number(store: ConversationStore) -> None:
    async with Harness(store, callback_policy=CallbackPolicy(("+43",))) as h:
        h.call.staff_present = False
        h.call.number = "+43123456789"
        await h.until_quiet()
        h.call.send(DtmfIn("0"))
        await h.until(lambda: "neun zurückrufen" in " ".join(h.tts.calls))
        h.call.send(DtmfIn("1"))
        await h.until(lambda: h.engine.received[-1][2] == "+43123456789")


async def test_a_consented_recording_is_named_on_the_case_it_opened(
    store: ConversationStore, redis: Redis, tmp_path: Path
) -> None:
    folder = tmp_path / "recordings"
    async with Harness(store, recording_enabled=True, recorder=recorder_factory(folder)) as h:
        h.call.staff_present = False
        await h.until_quiet()
        await h.until_quiet()  # the consent question
        h.call.send(DtmfIn("1"))
        await h.until(lambda: h.consents == [Consent.GRANTED])
        h.call.send(DtmfIn("0"))
        await h.until(lambda: h.engine.received[-1][2] == "/human_handoff")
        await h.until(lambda: CALLBACK_TYPE_NUMBER_TEXT in " ".join(h.tts.calls))
    result = await h.result()
    (case_id,) = await store.open_case_ids()
    assert result.recording is not None
    assert await redis.hget(f"rb:case:{case_id}", "recording") == result.recording.name


async def test_no_recording_is_named_on_a_case_without_consent(
    store: ConversationStore, redis: Redis
) -> None:
    async with Harness(store) as h:
        h.call.staff_present = False
        await h.until_quiet()
        h.call.send(DtmfIn("0"))
        await h.until(lambda: CALLBACK_TYPE_NUMBER_TEXT in " ".join(h.tts.calls))
    (case_id,) = await store.open_case_ids()
    assert await redis.hget(f"rb:case:{case_id}", "recording") is None


async def test_the_callers_number_is_kept_on_the_session_normalised(
    store: ConversationStore, redis: Redis
) -> None:
    h = Harness(store)
    h.call.number = "030 1234567"
    async with h:
        await h.until_quiet()
    assert await redis.hget("rb:session:call-1", "caller") == "+49301234567"


async def test_a_caller_number_needs_a_session_and_a_real_number(
    store: ConversationStore, redis: Redis
) -> None:
    assert not await store.note_caller("nobody", "+49301234567")
    assert not await redis.exists("rb:session:nobody")  # no session without its expiry
    await redis.hset("rb:session:s", "channel", "voice")
    assert not await store.note_caller("s", "anonymous")
    assert await store.note_caller("s", "0049 30 1234567")
    assert await redis.hget("rb:session:s", "caller") == "+49301234567"


async def consent_log(redis: Redis) -> list[dict[str, str]]:
    return [fields for _, fields in await redis.xrange(consent_key("call-1"))]


@pytest.mark.parametrize(("answer", "logged"), [("1", "granted"), ("2", "denied")])
async def test_the_consent_answer_by_key_is_logged_with_question_version_and_times(
    store: ConversationStore, redis: Redis, tmp_path: Path, answer: str, logged: str
) -> None:
    folder = tmp_path / "recordings"
    async with Harness(store, recording_enabled=True, recorder=recorder_factory(folder)) as h:
        await h.until_quiet()
        await h.until_quiet()  # the consent question
        h.call.send(DtmfIn(answer))
        await h.until(lambda: bool(h.consents))
        await h.until_quiet()
    result = await h.result()
    [entry] = await consent_log(redis)
    assert entry["event"] == "answer" and entry["answer"] == logged and entry["via"] == "key"
    assert entry["question_version"] == CONSENT_VERSION == "2"
    assert float(entry["asked_at"]) <= float(entry["at"])
    if logged == "granted":
        assert result.recording is not None and entry["recording"] == result.recording.name
    else:
        assert "recording" not in entry
    assert 0 < await redis.ttl(consent_key("call-1")) <= 395 * 86_400


async def test_a_spoken_answer_is_logged_as_speech(store: ConversationStore, redis: Redis) -> None:
    async with Harness(store, "Ja, gerne", recording_enabled=True) as h:
        await h.until_quiet()
        await h.until_quiet()
        await h.audio(SPEECH, 25)
        await h.until(lambda: bool(h.consents))
        await h.until_quiet()
    [entry] = await consent_log(redis)
    assert (entry["answer"], entry["via"]) == ("granted", "speech")


async def test_the_question_says_how_to_withdraw() -> None:
    assert "Aufnahme stoppen" in CONSENT_TEXT and "Neun" in CONSENT_TEXT


@pytest.mark.parametrize("how", ["speech", "key"])
async def test_withdrawing_consent_mid_call_stops_and_deletes_the_recording(
    store: ConversationStore, redis: Redis, tmp_path: Path, how: str
) -> None:
    folder = tmp_path / "recordings"
    texts = ("Aufnahme stoppen", "Hundesteuer") if how == "speech" else ("Hundesteuer",)
    async with Harness(
        store, *texts, recording_enabled=True, recorder=recorder_factory(folder)
    ) as h:
        await h.until_quiet()
        await h.until_quiet()  # the consent question
        h.call.send(DtmfIn("1"))
        await h.until(lambda: bool(h.consents))
        await h.until_quiet()
        assert len(list(folder.glob("*.wav"))) == 1
        if how == "speech":
            await h.audio(SPEECH, 25)
        else:
            h.call.send(DtmfIn("9"))
        await h.until(lambda: WITHDRAWN_TEXT in h.tts.calls)
        assert list(folder.glob("*.wav")) == []
        await h.audio(SPEECH, 25)  # the call goes on, unrecorded
        await h.until_quiet()
        assert not any(r[2] in ("Aufnahme stoppen", WITHDRAW_TRIGGER) for r in h.engine.received)
    assert (await h.result()).recording is None
    assert list(folder.glob("*.wav")) == []
    entries = await consent_log(redis)
    assert [e["event"] for e in entries] == ["answer", "withdrawn"]
    assert entries[1]["via"] == how and entries[1]["recording"] == entries[0]["recording"]


async def test_a_withdrawn_recording_is_taken_off_the_case_it_was_named_on(
    store: ConversationStore, redis: Redis, tmp_path: Path
) -> None:
    folder = tmp_path / "recordings"
    async with Harness(
        store, "Nein", "Aufnahme stoppen", recording_enabled=True, recorder=recorder_factory(folder)
    ) as h:
        h.call.staff_present = False
        await h.until_quiet()
        await h.until_quiet()  # the consent question
        h.call.send(DtmfIn("1"))
        await h.until(lambda: h.consents == [Consent.GRANTED])
        h.call.send(DtmfIn("0"))
        await h.until(lambda: CALLBACK_TYPE_NUMBER_TEXT in " ".join(h.tts.calls))
        (case_id,) = await store.open_case_ids()
        await h.until(lambda: bool(list(folder.glob("*.wav"))))
        [name] = [f.name for f in folder.glob("*.wav")]
        await store.wait_flushed()
        assert await redis.hget(f"rb:case:{case_id}", "recording") == name
        await h.audio(SPEECH, 25)  # "Nein": no callback, the call goes on
        await h.until(lambda: CALLBACK_DECLINED_TEXT in " ".join(h.tts.calls))
        await h.audio(SPEECH, 25)  # "Aufnahme stoppen"
        await h.until(lambda: WITHDRAWN_TEXT in h.tts.calls)
        await store.wait_flushed()
        assert await redis.hget(f"rb:case:{case_id}", "recording") is None
    assert list(folder.glob("*.wav")) == []


async def test_nine_or_the_words_do_nothing_special_without_a_recording(
    store: ConversationStore,
) -> None:
    async with Harness(store, "Aufnahme stoppen") as h:
        await h.until_quiet()
        h.call.send(DtmfIn("9"))
        await h.audio(QUIET, 150)  # the lone nine times out
        await h.audio(SPEECH, 25)
        await h.until_quiet()
        assert WITHDRAWN_TEXT not in h.tts.calls
        assert [r[2] for r in h.engine.received][-1] == "Aufnahme stoppen"  # an ordinary turn
