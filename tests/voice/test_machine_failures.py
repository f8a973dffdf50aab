"""The call machine when an engine fails: an apology offering a person, never silence."""

from __future__ import annotations

from dialogue.messages import BotReply
from tests.voice.test_machine import GREETING, Line, P, says
from voice.machine import HANDOFF_TRIGGER, Phase
from voice.signals import (
    CallStarted,
    Dtmf,
    EndOfSpeech,
    Engine,
    EngineFailed,
    HangUp,
    LogConsent,
    RecordOn,
    Reply,
    Say,
    SendTurn,
    SpeechDone,
    StopPlayback,
    Timer,
)
from voice.speech import Consent


def test_a_failing_dialogue_is_apologised_for_with_key_zero_for_a_person() -> None:
    line = Line()
    line.greeted()
    line.speak("eins")
    out = line(EngineFailed(Engine.DIALOGUE))
    assert out == [Say(2, (P.apology,), False, (P.apology,))]
    assert line(Dtmf("0")) == [StopPlayback(), SendTurn(HANDOFF_TRIGGER, None)]
    assert line(EngineFailed(Engine.DIALOGUE)) != []
    assert line(EngineFailed(Engine.DIALOGUE)) == []  # nothing was asked of it


def test_a_failing_greeting_goes_on_to_the_consent_question() -> None:
    line = Line(recording_enabled=True)
    line(CallStarted())
    out = line(EngineFailed(Engine.DIALOGUE))
    assert says(out) == [(P.apology,)]
    assert says(line.done(out)) == [(P.consent,)]


def test_a_failing_recogniser_is_apologised_for_and_silence_counts_again() -> None:
    line = Line(reprompt_after_s=2.0)
    line.greeted()
    line(EndOfSpeech())
    out = line(EngineFailed(Engine.ASR))
    assert says(out) == [(P.apology,)]
    line.done(out)
    assert says(line(Timer(2.0))) == [(P.reprompt,)]


def test_a_failing_synthesiser_apologises_then_goes_on_and_a_failing_apology_is_dropped() -> None:
    line = Line(recording_enabled=True)
    line(CallStarted())
    line(Reply((BotReply(GREETING),)))
    out = line(EngineFailed(Engine.TTS, 1))
    assert out == [Say(2, (P.apology,), False, (P.apology,))]
    out = line(EngineFailed(Engine.TTS, 2))  # the apology fails too: the greeting goes on
    assert says(out) == [(P.consent,)] and line.m.phase is Phase.CONSENT


def test_a_failing_goodbye_still_hangs_up() -> None:
    line = Line()
    line.greeted()
    line.speak("tschüss")
    out = line(Reply((BotReply("Auf Wiederhören!", hangup=True),)))
    assert line(EngineFailed(Engine.TTS, line.last_say(out).say_id)) == [HangUp()]
    assert line(EngineFailed(Engine.ASR)) == []


def test_a_recogniser_failing_during_a_prompt_apologises_after_it() -> None:
    line = Line(recording_enabled=True)
    line.greeted()  # the consent question plays (Say 2)
    line(EndOfSpeech())
    assert line(EngineFailed(Engine.ASR)) == []  # the question is not cut
    out = line(SpeechDone(2))
    assert out == [Say(3, (P.apology,), False, (P.apology,))]
    assert line(Dtmf("1")) == []  # waits for the apology
    assert line(SpeechDone(3)) == [RecordOn(), LogConsent(Consent.GRANTED, "key", 100.0)]


def test_a_failing_recogniser_without_an_utterance_owes_nothing_and_a_failing_apology_ends() -> (
    None
):
    line = Line()
    line.greeted()
    out = line(EngineFailed(Engine.ASR))
    assert not line.m.waiting
    assert line(EngineFailed(Engine.TTS, line.last_say(out).say_id)) == []
    assert not line.m.speaking and line.m.idle
