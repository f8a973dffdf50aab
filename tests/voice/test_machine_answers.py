"""The call machine's answer latency (end of speech to the answer's first audio), unsure
turns, and the withdrawal key while the caller is asked for a number."""

from __future__ import annotations

from contract.conversation import Button
from dialogue.messages import BotReply
from tests.voice.test_machine import STAFF, Line, consented, says
from voice.keymenu import REASK, TOPICS, KeyMenu
from voice.machine import MISS_TRIGGER, NUMBER_QUESTION, WITHDRAW_TRIGGER
from voice.prompts import PROMPTS
from voice.signals import (
    AnswerLatency,
    Command,
    Dtmf,
    EndOfSpeech,
    Engine,
    EngineFailed,
    FirstAudio,
    KeepUnsure,
    RecordingState,
    RecordOff,
    Reply,
    Say,
    SendTurn,
    SpeechDone,
    SpeechStart,
    StopPlayback,
    Timer,
    Transcript,
    TransferOutcome,
    TransferResult,
)

P = PROMPTS


def spoken(line: Line, text: str, *, until: float, confidence: float = 0.9) -> list[Command]:
    return line(SpeechStart(), EndOfSpeech(until), Transcript(text, confidence))


def test_the_first_audio_of_a_spoken_answer_reports_the_callers_wait() -> None:
    line = Line()
    line.greeted()
    assert line(FirstAudio(1, 5.0)) == []  # the greeting answers nobody
    assert spoken(line, "Hundesteuer", until=10.0) == [SendTurn("Hundesteuer", 0.9)]
    say = line.last_say(line(Reply((BotReply("Dazu."),))))
    assert line(FirstAudio(say.say_id, 10.75)) == [AnswerLatency(0.75)]
    assert line(FirstAudio(say.say_id, 11.0)) == []  # once per answer


def test_only_the_answers_first_audio_counts() -> None:
    line = Line()
    line.greeted()
    spoken(line, "Hundesteuer", until=10.0)
    say = line.last_say(line(Reply((BotReply("Dazu."),))))
    assert line(FirstAudio(say.say_id - 1, 10.5)) == []  # an older speech's audio
    assert line(FirstAudio(say.say_id, 10.5)) == [AnswerLatency(0.5)]


def test_typed_turns_and_turns_without_an_end_time_report_nothing() -> None:
    line = Line()
    line.greeted()
    assert line(Dtmf("4"), Dtmf("#")) == [SendTurn("4", None)]
    say = line.last_say(line(Reply((BotReply("Vier."),))))
    assert line(FirstAudio(say.say_id, 3.0)) == []
    line(SpeechStart(), EndOfSpeech(), Transcript("Hundesteuer", 0.9))  # no end time known
    say = line.last_say(line(Reply((BotReply("Dazu."),))))
    assert line(FirstAudio(say.say_id, 3.0)) == []


def test_turns_keep_their_own_end_of_speech_in_order() -> None:
    line = Line()
    line.greeted()
    line(SpeechStart(), EndOfSpeech(10.0), SpeechStart(), EndOfSpeech(12.0))
    assert line(Transcript("eins", 0.9)) == [SendTurn("eins", 0.9)]
    assert line(Transcript("zwei", 0.9)) == []  # waits for the first reply
    out = line(Reply((BotReply("Eins."),)))
    assert out[1:] == [StopPlayback(), SendTurn("zwei", 0.9)]  # the next turn stops it
    say = line.last_say(line(Reply((BotReply("Zwei."),))))
    assert line(FirstAudio(say.say_id, 12.5)) == [AnswerLatency(0.5)]


def test_a_failed_recognition_takes_its_end_of_speech_with_it() -> None:
    line = Line()
    line.greeted()
    line(SpeechStart(), EndOfSpeech(10.0), SpeechStart(), EndOfSpeech(20.0))
    line.done(line(EngineFailed(Engine.ASR)))  # the apology plays to its end
    assert line(Transcript("zwei", 0.9)) == [SendTurn("zwei", 0.9)]
    say = line.last_say(line(Reply((BotReply("Zwei."),))))
    assert line(FirstAudio(say.say_id, 20.5)) == [AnswerLatency(0.5)]


def test_a_reask_reports_nothing_and_a_handoff_or_goodbye_answer_does() -> None:
    line = Line()
    line.greeted()
    out = spoken(line, "Müll", until=10.0, confidence=0.1)
    assert out[0] == KeepUnsure("Müll", 0.1)
    assert line(FirstAudio(line.last_say(out).say_id, 10.4)) == []  # not an answer
    spoken(line, "Mitarbeiter", until=20.0)
    say = line.last_say(line(Reply((BotReply("Ich verbinde.", handoff=STAFF),))))
    assert line(FirstAudio(say.say_id, 20.25)) == [AnswerLatency(0.25)]
    line = Line()
    line.greeted()
    spoken(line, "Tschüss", until=30.0)
    say = line.last_say(line(Reply((BotReply("Auf Wiederhören.", hangup=True),))))
    assert line(FirstAudio(say.say_id, 31.0)) == [AnswerLatency(1.0)]  # while ending


def test_a_prompt_said_before_the_answer_was_heard_takes_the_report_away() -> None:
    line = Line()
    line.greeted()
    spoken(line, "Hundesteuer", until=10.0)
    say = line.last_say(line(Reply((BotReply("Dazu."),))))
    reprompt = line.last_say(line(Timer(0.1), SpeechDone(say.say_id), Timer(8.0)))
    assert reprompt.texts == (P.reprompt,)
    assert line(FirstAudio(say.say_id, 11.0), FirstAudio(reprompt.say_id, 19.0)) == []


def recording(line: Line) -> None:
    consented(line)
    line(RecordingState(True))


def test_a_lone_nine_while_the_dialogue_asks_for_a_phone_number_is_a_digit() -> None:
    line = Line(recording_enabled=True)
    recording(line)
    line.speak("Rückruf")
    line(Reply((BotReply(f"{NUMBER_QUESTION} erreichen wir Sie?"),)))
    assert line(Dtmf("9"), Timer(2.0)) == []  # typed, then dropped by the key timeout
    assert line(Dtmf("9"), Dtmf("#")) == [StopPlayback(), SendTurn("9", None)]
    line(Reply((BotReply("Danke."),)))
    out = line(Dtmf("9"), Timer(2.0))  # no number asked for now: the nine withdraws
    assert out == [StopPlayback(), RecordOff("key"), *out[2:]]
    assert says(out) == [(P.withdrawn,)]


def test_the_question_must_be_the_answers_last_text() -> None:
    line = Line(recording_enabled=True)
    recording(line)
    line.speak("Rückruf")
    line(Reply((BotReply(f"{NUMBER_QUESTION[:-1]}?"),)))  # one letter short: no question
    assert RecordOff("key") in line(Dtmf("9"), Timer(2.0))
    line = Line(recording_enabled=True)
    recording(line)
    line.speak("Rückruf")
    buttons = (Button("Ja", "/affirm"), Button("Nein", "/deny"))
    line(Reply((BotReply(f"{NUMBER_QUESTION}?", buttons=buttons),)))  # the menu is last
    assert RecordOff("key") in line(Dtmf("9"), Timer(2.0))


def test_a_lone_nine_during_the_callback_offer_is_a_digit_and_withdraws_after_it() -> None:
    line = Line(recording_enabled=True)
    recording(line)
    line.speak("Mitarbeiter")
    line.done(line(Reply((BotReply("Ich verbinde.", handoff=STAFF),))))
    line.done(line(TransferResult(TransferOutcome.STAFF_AWAY)))
    assert line(Dtmf("9"), Timer(2.0)) == []  # neither a withdrawal nor an answer
    assert line(Dtmf("9"), Timer(2.0)) == []
    out = line(*(Dtmf(d) for d in "030999#"))
    assert out == [SendTurn("/callback_request", None)]
    assert line(Reply(())) == [SendTurn("030999", None)]
    line(Reply((BotReply("Gern."),)))
    assert RecordOff("key") in line(Dtmf("9"), Timer(2.0))  # "Gern." asks for nothing


def test_a_withdrawal_trigger_typed_as_text_is_still_the_key() -> None:
    line = Line(recording_enabled=True)
    recording(line)
    assert RecordOff("key") in line(Transcript(WITHDRAW_TRIGGER, None))


def test_unsure_turns_are_reasked_with_topics_outside_a_form() -> None:
    line = Line()
    line.greeted()
    out = line.speak("Müll Müll", 0.199)
    prompt = KeyMenu(TOPICS).prompt()
    reask = Say(2, (REASK, prompt), False, (REASK, prompt))
    assert out == [KeepUnsure("Müll Müll", 0.199), reask]  # kept for the inbox, re-asked
    assert line(Dtmf("1")) == [StopPlayback(), SendTurn("/book_appointment", None)]


def test_an_unsure_turn_at_the_limit_is_trusted_and_one_without_confidence_too() -> None:
    line = Line()
    line.greeted()
    assert line.speak("eins", 0.2) == [SendTurn("eins", 0.2)]
    line(Reply(()))
    assert line.speak("zwei", None) == [SendTurn("zwei", None)]


def test_an_unsure_turn_in_a_form_is_a_miss() -> None:
    line = Line()
    line.greeted()
    line.speak("Termin")
    line(Reply((BotReply("Welcher Tag?", buttons=(Button("Abbrechen", "/stop"),)),)))
    out = line.speak("drei", 0.1)
    assert out == [StopPlayback(), KeepUnsure("drei", 0.1), SendTurn(MISS_TRIGGER, None)]
    line(Reply((BotReply("Welcher Tag?"),)))
    assert says(line.speak("x", 0.1))[0][0] == REASK  # the form is over
