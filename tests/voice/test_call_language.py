"""A call's language in the call machine and the shared recogniser (docs/languages.md):
English prompts from prompts.toml's [en] table, English calls as jobs of their own."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from contract.language import Register
from contract.phone import CallbackPolicy
from dialogue.messages import BotReply
from tests.fakes import FakeTranscriber
from voice.asr import Transcript
from voice.audio import AudioFrame
from voice.language import CallLanguage, CallTranscriber
from voice.machine import CallMachine, MachineOptions
from voice.prompts import PROMPTS, PROMPTS_EN, Prompts, load_prompts
from voice.signals import CallStarted, Command, Reply, Say, SpeechDone, Timer
from voice.speech import Consent, parse_consent, parse_withdrawal
from voice.workers import RecognitionWorker

ONE_SECOND = AudioFrame.from_samples(np.zeros(16000, dtype=np.int16), 16000)


class FakeDetector:
    def __init__(self, *probabilities: tuple[str, float]) -> None:
        self.probabilities = list(probabilities)
        self.calls = 0

    def language_probabilities(self, audio: AudioFrame) -> list[tuple[str, float]]:
        self.calls += 1
        return self.probabilities


def machine(register: list[Register], *, english: Prompts | None = PROMPTS_EN) -> CallMachine:
    m = CallMachine(
        options=MachineOptions(
            reprompt_after_s=2.0,
            max_reprompts=2,
            recording_enabled=False,
            max_dtmf_digits=20,
            dtmf_timeout_s=2.0,
            callback_policy=CallbackPolicy(),
            min_confidence=0.2,
        ),
        prompts=PROMPTS,
        english=english,
        register=lambda: register[0],
        caller_id=lambda: None,
        read_back=lambda _: None,
        clock=lambda: 100.0,
    )
    m.handle(CallStarted())
    for command in m.handle(Reply((BotReply("Guten Tag."),))):
        assert isinstance(command, Say)
        m.handle(SpeechDone(command.say_id))
    return m


def said(out: list[Command]) -> list[tuple[str, ...]]:
    return [c.texts for c in out if isinstance(c, Say)]


def test_every_german_prompt_has_its_english_one_and_they_differ() -> None:
    for field in dataclasses.fields(Prompts):
        german, english = getattr(PROMPTS, field.name), getattr(PROMPTS_EN, field.name)
        assert english and english != german, field.name
        assert ("{" in english) == ("{" in german), field.name  # the same placeholders
    assert PROMPTS_EN.reprompt == "Are you still there? How can I help you?"
    assert PROMPTS_EN.consent_version != PROMPTS.consent_version  # the log tells them apart
    assert PROMPTS_EN.apology in PROMPTS_EN.fixed()


def test_an_unknown_or_missing_language_table_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no prompts for the language 'fr'"):
        load_prompts(language="fr")
    german_only = tmp_path / "prompts.toml"
    german_only.write_text(
        "\n".join(f'{f.name} = "x"' for f in dataclasses.fields(Prompts)), encoding="utf-8"
    )
    assert load_prompts(german_only).reprompt == "x"
    with pytest.raises(ValueError, match=r"missing table \[en\]"):
        load_prompts(german_only, language="en")
    german_only.write_text('[en]\nreprompt = "Hello?"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="missing or empty prompts apology"):
        load_prompts(german_only, language="en")


def test_an_english_call_hears_the_english_prompts_and_a_german_one_the_german() -> None:
    register = [Register.DE]
    m = machine(register)
    assert said(m.handle(Timer(2.0))) == [(PROMPTS.reprompt,)] and m.prompts is PROMPTS
    german = machine([Register.DE])
    register[0] = Register.EN  # "English please", or the first turn detected as English
    english = machine(register)
    assert said(english.handle(Timer(2.0))) == [(PROMPTS_EN.reprompt,)]
    assert english.prompts is PROMPTS_EN and german.prompts is PROMPTS


def test_leichte_sprache_keeps_the_german_prompts_and_no_english_table_means_german() -> None:
    assert machine([Register.EINFACH]).prompts is PROMPTS
    assert machine([Register.EN], english=None).prompts is PROMPTS


def test_english_callers_answer_the_recording_question_in_english() -> None:
    assert parse_consent("yes, that's fine") is Consent.GRANTED
    assert parse_consent("yeah sure") is Consent.GRANTED
    assert parse_consent("no thanks") is Consent.DENIED
    assert parse_consent("yes, but rather not") is Consent.DENIED  # never consent by doubt
    assert parse_consent("hmm") is Consent.UNCLEAR
    assert parse_withdrawal("please stop recording")
    assert parse_withdrawal("stop the recording")
    assert not parse_withdrawal("stop")


async def test_a_calls_own_transcriber_runs_on_the_shared_worker_never_batched() -> None:
    shared, own = FakeTranscriber("geteilt"), FakeTranscriber("own")
    worker = RecognitionWorker(shared, max_batch=4)
    assert (await worker.recognise(ONE_SECOND, engine=own)).text == "own"
    assert (await worker.recognise(ONE_SECOND)).text == "geteilt"
    assert own.heard == [1.0] and shared.heard == [1.0]
    await worker.aclose()


async def test_an_undetected_or_english_call_recognises_with_its_own_engines() -> None:
    shared = FakeTranscriber()
    english = FakeTranscriber("I need a passport", "and how much is it")
    detector = FakeDetector(("en", 0.95), ("de", 0.05))
    language = CallLanguage()
    call = CallTranscriber(shared, english, detector, language)
    worker = RecognitionWorker(shared)
    recognise = call.recogniser(worker)
    assert not call.german_settled
    assert (await recognise(ONE_SECOND, True)).text == "I need a passport"
    assert language.register is Register.EN and not call.german_settled
    assert (await recognise(ONE_SECOND, True)).text == "and how much is it"
    assert shared.heard == [] and detector.calls == 1
    await worker.aclose()


async def test_a_german_call_goes_to_the_shared_recogniser_once_detected() -> None:
    shared = FakeTranscriber("Ich brauche einen Pass", "English please", "passport")
    detector = FakeDetector(("de", 0.9), ("en", 0.1))
    language = CallLanguage()
    english = FakeTranscriber("I need a passport")
    call = CallTranscriber(shared, english, detector, language)
    worker = RecognitionWorker(shared)
    recognise = call.recogniser(worker)
    await recognise(ONE_SECOND, True)  # detected German, by the call's own job
    assert call.german_settled and detector.calls == 1
    assert (await recognise(ONE_SECOND, False)).text == "English please"  # shared, heard
    assert language.register is Register.EN and not call.german_settled
    assert (await recognise(ONE_SECOND, True)).text == "I need a passport"
    assert len(shared.heard) == 2 and english.heard == [1.0]
    await asyncio.sleep(0)
    await worker.aclose()


class SharedModel:
    """The process's shared recogniser as the worker sees it: batches every utterance
    (one key) and, when asked, detects the language with the scripted probabilities."""

    def __init__(self, *texts: str, languages: tuple[tuple[str, float], ...]) -> None:
        self.texts = list(texts)
        self.languages = languages
        self.batches: list[tuple[int, bool]] = []  # (batch size, detect); 0: alone

    def batch_key(self, audio: AudioFrame) -> int:
        return 1

    def transcribe(self, audio: AudioFrame) -> Transcript:
        self.batches.append((0, False))  # alone
        return Transcript(self.texts.pop(0), 0.9)

    def transcribe_batch(
        self, audios: Sequence[AudioFrame], *, detect: bool = False
    ) -> list[Transcript]:
        self.batches.append((len(audios), detect))
        heard = self.languages if detect else ()
        return [Transcript(self.texts.pop(0), 0.9, heard) for _ in audios]


async def test_a_first_turn_is_recognised_by_the_shared_model_and_detected_from_it() -> None:
    shared = SharedModel("Ich brauche einen Pass", "Was kostet er?", languages=(("de", 0.9),))
    own_detector = FakeDetector(("en", 1.0))  # not asked: the shared model detects
    english = FakeTranscriber("I need a passport")
    language = CallLanguage()
    call = CallTranscriber(FakeTranscriber(), english, own_detector, language)
    worker = RecognitionWorker(shared)
    assert worker.detects
    recognise = call.recogniser(worker)
    first = await recognise(ONE_SECOND, True)
    assert first == Transcript("Ich brauche einen Pass", 0.9, (("de", 0.9),))
    assert language.detected and language.register is Register.DE and call.german_settled
    assert (await recognise(ONE_SECOND, True)).text == "Was kostet er?"
    assert shared.batches == [(1, True), (0, False)]
    assert own_detector.calls == 0 and english.heard == []
    await worker.aclose()


async def test_a_first_turn_detected_as_english_is_recognised_again_in_english() -> None:
    shared = SharedModel("Ei nied a pass", languages=(("en", 0.95), ("de", 0.05)))
    english = FakeTranscriber("I need a passport", "how much is it")
    language = CallLanguage()
    call = CallTranscriber(FakeTranscriber(), english, FakeDetector(), language)
    worker = RecognitionWorker(shared)
    recognise = call.recogniser(worker)
    assert (await recognise(ONE_SECOND, True)).text == "I need a passport"
    assert language.register is Register.EN and not call.german_settled
    assert (await recognise(ONE_SECOND, False)).text == "how much is it"
    assert shared.batches == [(1, True)] and english.heard == [1.0, 1.0]
    await worker.aclose()


async def test_a_first_turn_too_short_to_detect_is_the_calls_own_job() -> None:
    shared = SharedModel(languages=(("en", 1.0),))
    german = FakeTranscriber("ja")
    detector = FakeDetector(("en", 1.0))
    language = CallLanguage()
    call = CallTranscriber(german, FakeTranscriber(), detector, language)
    worker = RecognitionWorker(shared)
    short = AudioFrame.from_samples(np.zeros(7999, dtype=np.int16), 16000)  # < MIN_DETECT_S
    assert (await call.recogniser(worker)(short, True)).text == "ja"
    assert shared.batches == [] and detector.calls == 0 and not language.detected
    await worker.aclose()


async def test_a_first_turn_decided_meanwhile_is_not_detected_twice() -> None:
    # a speculative turn was detected as English while the final one waited in German
    shared = SharedModel("Ich brauche", languages=(("de", 1.0),))
    english = FakeTranscriber("I need a passport")
    language = CallLanguage()
    call = CallTranscriber(FakeTranscriber(), english, FakeDetector(), language)
    worker = RecognitionWorker(shared)
    original = shared.transcribe_batch

    def decided_meanwhile(
        audios: Sequence[AudioFrame], *, detect: bool = False
    ) -> list[Transcript]:
        language.first_turn(Register.EN)
        return original(audios, detect=detect)

    shared.transcribe_batch = decided_meanwhile  # type: ignore[method-assign]
    assert (await call.recogniser(worker)(ONE_SECOND, True)).text == "I need a passport"
    assert language.register is Register.EN
    await worker.aclose()


async def test_detection_needs_the_shared_batch_transcriber() -> None:
    plain = RecognitionWorker(FakeTranscriber("a"))
    assert not plain.detects
    with pytest.raises(ValueError, match="language detection"):
        await plain.recognise(ONE_SECOND, detect=True)
    shared = RecognitionWorker(SharedModel("b", languages=()))
    with pytest.raises(ValueError, match="language detection"):
        await shared.recognise(ONE_SECOND, detect=True, engine=FakeTranscriber())
    await plain.aclose()
    await shared.aclose()


async def test_a_first_turn_of_exactly_the_minimum_is_detected_and_its_words_heard() -> None:
    # German detected, but the words ask for English: the words decide the next turn
    shared = SharedModel("English please", languages=(("de", 0.9), ("en", 0.1)))
    english = FakeTranscriber("I need a passport")
    language = CallLanguage()
    call = CallTranscriber(FakeTranscriber(), english, FakeDetector(), language)
    worker = RecognitionWorker(shared)
    half = AudioFrame.from_samples(np.zeros(8000, dtype=np.int16), 16000)  # MIN_DETECT_S
    assert (await call.recogniser(worker)(half, True)).text == "English please"
    assert shared.batches == [(1, True)] and language.detected
    assert language.register is Register.EN
    await worker.aclose()
