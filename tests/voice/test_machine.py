"""The call machine alone: events in, commands out, no engines, no event loop."""

from __future__ import annotations

import pytest

from contract.conversation import Button
from contract.phone import NUMBER_NOT_ALLOWED_TEXT, CallbackPolicy
from dialogue.messages import BotReply, Handoff
from voice.keymenu import KeyMenu
from voice.machine import (
    CALLBACK_TRIES,
    CALLBACK_TRIGGER,
    CONSENT_TRIES,
    HANDOFF_TRIGGER,
    MAX_QUEUED_TURNS,
    WITHDRAW_TRIGGER,
    CallMachine,
    MachineOptions,
    Phase,
)
from voice.prompts import PROMPTS
from voice.signals import (
    AttachRecording,
    CallStarted,
    Command,
    Dtmf,
    EndOfSpeech,
    EndReason,
    Engine,
    EngineFailed,
    Greet,
    HangUp,
    HungUp,
    LogConsent,
    RecordingState,
    RecordOff,
    RecordOn,
    Reply,
    Say,
    SendTurn,
    SpeechDone,
    SpeechStart,
    StopPlayback,
    Timer,
    Transcript,
    Transfer,
    TransferOutcome,
    TransferResult,
    Unprotected,
)
from voice.speech import Consent, readback

GREETING = "Hier spricht ein Computer."
P = PROMPTS
STAFF = Handoff("user_request", case_id="C-1")


class Line:
    """A machine with the commands it gave so far; `number` is the caller ID."""

    def __init__(self, *, number: str | None = None, **options: object) -> None:
        opts: dict[str, object] = {
            "reprompt_after_s": 8.0,
            "max_reprompts": 2,
            "recording_enabled": False,
            "max_dtmf_digits": 20,
            "dtmf_timeout_s": 2.0,
            "callback_policy": CallbackPolicy(),
            "min_confidence": 0.2,
        }
        opts.update(options)
        self.number = number
        self.m = CallMachine(
            options=MachineOptions(**opts),  # type: ignore[arg-type]
            prompts=PROMPTS,
            caller_id=lambda: self.number,
            read_back=readback,
            clock=lambda: 100.0,
        )

    def __call__(self, *events: object) -> list[Command]:
        out: list[Command] = []
        for event in events:
            out += self.m.handle(event)  # type: ignore[arg-type]
        return out

    def last_say(self, out: list[Command]) -> Say:
        says = [c for c in out if isinstance(c, Say)]
        assert says, out
        return says[-1]

    def done(self, out: list[Command]) -> list[Command]:
        """The last Say of `out` plays to its end."""
        return self(SpeechDone(self.last_say(out).say_id))

    def greeted(self) -> list[Command]:
        assert self(CallStarted()) == [Greet()]
        out = self(Reply((BotReply(GREETING),)))
        assert out == [Say(1, (GREETING,), True, ())]
        return self.done(out)

    def speak(self, text: str, confidence: float | None = 0.9) -> list[Command]:
        return self(SpeechStart(), EndOfSpeech(), Transcript(text, confidence))


def says(out: list[Command]) -> list[tuple[str, ...]]:
    return [c.texts for c in out if isinstance(c, Say)]


def test_greeting_then_listening_and_a_turn_is_sent() -> None:
    line = Line()
    assert line.m.phase is Phase.GREETING
    assert line.greeted() == []
    assert line.m.phase is Phase.LISTENING and not line.m.speaking
    assert line.speak("Hundesteuer") == [SendTurn("Hundesteuer", 0.9)]
    out = line(Reply((BotReply("Dazu."), BotReply(""))))
    assert out == [Say(2, ("Dazu.",), False, ())]
    assert line.m.speaking and line.m.outcome.turns == 1


def test_the_protected_greeting_is_not_barged_in_until_unprotected() -> None:
    line = Line()
    line(CallStarted(), Reply((BotReply(GREETING), BotReply("Bitte?"))))
    assert line(SpeechStart()) == []
    assert line(Unprotected(7)) == []  # another speech's: still protected
    assert line(SpeechStart()) == []
    line(Unprotected(1))
    assert line(SpeechStart()) == [StopPlayback()]
    assert line.m.outcome.barge_ins == 1 and line.m.phase is Phase.LISTENING


def test_barge_in_stops_an_answer_and_stale_speech_events_are_ignored() -> None:
    line = Line()
    line.greeted()
    line.speak("eins")
    line(Reply((BotReply("Antwort."),)))
    assert line(SpeechStart()) == [StopPlayback()]
    assert line(SpeechStart()) == []  # nothing plays any more
    assert line(SpeechDone(2), EngineFailed(Engine.TTS, 2)) == []
    assert line.m.outcome.barge_ins == 1


def test_a_new_turn_stops_the_answer_still_playing() -> None:
    line = Line()
    line.greeted()
    line.speak("eins")
    line(Reply((BotReply("Antwort."),)))
    assert line.speak("zwei") == [StopPlayback(), SendTurn("zwei", 0.9)]


def test_turns_wait_while_a_reply_is_awaited_and_are_bounded() -> None:
    assert (MAX_QUEUED_TURNS, CONSENT_TRIES, CALLBACK_TRIES) == (8, 2, 2)
    line = Line()
    line.greeted()
    line.speak("eins")
    for i in range(MAX_QUEUED_TURNS + 1):
        assert line(Transcript(f"t{i}", 0.9)) == []
    out = line(Reply(()))
    assert out == [SendTurn("t0", 0.9)]
    sent = 1
    while out:
        out = [c for c in line(Reply(())) if isinstance(c, SendTurn)]
        sent += len(out)
    assert sent == MAX_QUEUED_TURNS  # the ninth was dropped


def test_empty_transcripts_are_no_turns_and_keep_the_reprompt_count() -> None:
    line = Line(reprompt_after_s=2.0, max_reprompts=1)
    line.greeted()
    out = line(Timer(2.0))
    assert says(out) == [(P.reprompt,)]
    line.done(out)
    assert line(Transcript("  ", 0.9)) == []
    out = line(Timer(2.0))
    assert says(out) == [(P.silence_goodbye,)] and line.m.phase is Phase.ENDING
    assert line.m.outcome.end is EndReason.SILENCE and not line.m.finished
    assert line.done(out) == [HangUp()] and line.m.finished
    assert line(Timer(9.0), HungUp()) == []
    assert line.m.outcome.end is EndReason.SILENCE


def test_silence_is_counted_only_when_nobody_speaks_or_waits() -> None:
    line = Line(reprompt_after_s=2.0)
    line.greeted()
    assert line(Timer(1.99)) == []
    assert line(Timer(1.0, caller_speaking=True), Timer(1.99)) == []  # reset by speech
    assert line(SpeechStart(), Timer(1.99)) == []  # reset by the start of speech
    line(EndOfSpeech())
    assert line(Timer(5.0)) == []  # a transcript is coming
    line(Transcript("eins", 0.9))
    assert line(Timer(5.0)) == []  # a reply is coming
    line(Reply((BotReply("Antwort."),)))
    assert line(Timer(5.0)) == []  # the bot speaks
    line(SpeechDone(2))
    assert says(line(Timer(2.0))) == [(P.reprompt,)]


def test_a_recognised_turn_resets_the_reprompts() -> None:
    line = Line(reprompt_after_s=2.0, max_reprompts=1)
    line.greeted()
    line.done(line(Timer(2.0)))
    line.speak("eins")
    line.done(line(Reply((BotReply("Antwort."),))))
    out = line(Timer(2.0))
    assert says(out) == [(P.reprompt,)]
    line.done(out)
    assert says(line(Timer(2.0))) == [(P.silence_goodbye,)]  # counted from zero again


def test_speech_in_the_goodbye_changes_nothing() -> None:
    line = Line()
    line.greeted()
    line.speak("tschüss")
    out = line(Reply((BotReply("Auf Wiederhören!", hangup=True),)))
    assert says(out) == [("Auf Wiederhören!",)] and line.m.phase is Phase.ENDING
    assert line(SpeechStart(), Transcript("noch was", 0.9), Dtmf("0"), Timer(60.0)) == []
    assert line.done(out) == [HangUp()]
    assert line.m.outcome.end is EndReason.BOT_HANGUP


def test_caller_hang_up_ends_at_once() -> None:
    line = Line()
    line.greeted()
    assert line(HungUp()) == [] and line.m.finished
    assert line.m.outcome.end is EndReason.CALLER_HANGUP
    assert line(Transcript("eins", 0.9)) == []


@pytest.mark.parametrize(
    ("keys", "sent"),
    [("0123#", "0123"), ("12*34#", "34"), ("#", None), ("1a#", "1"), ("12", None)],
)
def test_keys_typed_and_sent_with_hash(keys: str, sent: str | None) -> None:
    line = Line()
    line.greeted()
    out: list[Command] = []
    for key in keys:
        out += line(Dtmf(key))
    if sent is None:
        assert out == []
        return
    assert out == [SendTurn(sent, None)]
    said = says(line(Reply((BotReply("Gut."),))))
    assert said == [(P.typed_digits.format(digits=_spell(sent)), "Gut.")]


def _spell(digits: str) -> str:
    from contract.german import spell_digits

    return spell_digits(digits)


def test_typed_digits_are_bounded() -> None:
    line = Line(max_dtmf_digits=3)
    line.greeted()
    for key in "12345#":
        out = line(Dtmf(key))
    assert out == [SendTurn("123", None)]


def test_a_lone_zero_asks_for_a_person_after_the_key_timeout() -> None:
    line = Line(dtmf_timeout_s=2.0)
    line.greeted()
    assert line(Dtmf("0"), Timer(1.98)) == []
    assert line(Timer(0.02)) == [SendTurn(HANDOFF_TRIGGER, None)]


def test_a_key_resets_the_key_timeout_and_two_keys_are_no_call_for_a_person() -> None:
    line = Line(dtmf_timeout_s=2.0)
    line.greeted()
    assert line(Dtmf("0"), Timer(1.5), Dtmf("0"), Timer(1.5)) == []
    assert line(Timer(0.5), Dtmf("#")) == []  # "00" timed out: dropped


def test_a_lone_nine_without_a_recording_does_nothing() -> None:
    line = Line()
    line.greeted()
    assert line(Dtmf("9"), Timer(2.0), Dtmf("#")) == []


def test_keys_reset_the_silence() -> None:
    line = Line(reprompt_after_s=2.0)
    line.greeted()
    assert line(Timer(1.9), Dtmf("*"), Timer(1.9)) == []


def test_menu_keys_pick_a_choice_at_once() -> None:
    line = Line()
    line.greeted()
    line.speak("buchen")
    buttons = (Button("Ja", "/affirm"), Button("Nein", "/deny"))
    out = line(Reply((BotReply("Buchen?", buttons=buttons),)))
    menu = KeyMenu(buttons).prompt()
    assert out == [Say(2, ("Buchen?", menu), False, (menu,))]
    assert line(Dtmf("2")) == [StopPlayback(), SendTurn("/deny", None)]
    line(Reply((BotReply("Gut."),)))
    assert line(Dtmf("2"), Dtmf("#")) == [StopPlayback(), SendTurn("2", None)]  # menu gone


def test_spoken_numbers_are_read_back_as_the_sessions_own_text() -> None:
    line = Line()
    line.greeted()
    line.speak("Nummer 4711")
    out = line(Reply((BotReply("Danke."),)))
    confirmation = "Ich habe verstanden: vier sieben eins eins."
    assert out == [Say(2, (confirmation, "Danke."), False, (confirmation,))]


def consented(line: Line) -> list[Command]:
    line.greeted()
    assert line.m.phase is Phase.CONSENT
    assert line(Dtmf("1")) == []  # waits for the question to end
    out = line(SpeechDone(2))
    assert line.m.phase is Phase.LISTENING
    return out


def test_consent_is_asked_after_the_greeting_and_a_key_answers() -> None:
    line = Line(recording_enabled=True)
    assert line(CallStarted()) == [Greet()]
    out = line.done(line(Reply((BotReply(GREETING),))))
    assert out == [Say(2, (P.consent,), False, (P.consent,))]
    assert line(Dtmf("1")) == []
    assert line(SpeechDone(2)) == [RecordOn(), LogConsent(Consent.GRANTED, "key", 100.0)]
    assert line.m.outcome.consent is Consent.GRANTED


@pytest.mark.parametrize(
    ("answers", "logged"),
    [
        (("2",), LogConsent(Consent.DENIED, "key", 100.0)),
        (("nein",), LogConsent(Consent.DENIED, "speech", 100.0)),
        ((" ja gerne ",), LogConsent(Consent.GRANTED, "speech", 100.0)),
        (("hm", "ja"), LogConsent(Consent.GRANTED, "speech", 100.0)),
        (("hm", "äh"), LogConsent(Consent.DENIED, "none", 100.0)),
    ],
)
def test_consent_answers(answers: tuple[str, ...], logged: LogConsent) -> None:
    line = Line(recording_enabled=True)
    line.greeted()
    out = line(SpeechDone(2))
    for i, answer in enumerate(answers):
        out = line(Transcript(answer, 0.9))
        if i < len(answers) - 1:
            assert says(out) == [(P.consent,)]
            out = line.done(out)
    assert out[-1] == logged
    assert (RecordOn() in out) is (logged.answer is Consent.GRANTED)


def test_keys_other_than_one_and_two_do_not_answer_consent_at_once() -> None:
    line = Line(recording_enabled=True)
    line.greeted()
    line(SpeechDone(2))
    assert line(Dtmf("3")) == []
    assert line(Dtmf("1"), Dtmf("#")) == [Say(3, (P.consent,), False, (P.consent,))]


def recording(line: Line) -> None:
    consented(line)
    line(RecordingState(True))


@pytest.mark.parametrize(("event", "via"), [("key", "key"), ("Aufnahme stoppen", "speech")])
def test_withdrawal_stops_the_recording(event: str, via: str) -> None:
    line = Line(recording_enabled=True)
    recording(line)
    out = line(Dtmf("9"), Timer(2.0)) if event == "key" else line(Transcript(event, 0.9))
    assert out == [RecordOff(via), Say(3, (P.withdrawn,), False, (P.withdrawn,))]
    assert line(Transcript("eins", 0.9)) == []  # waits for the notice
    assert line(SpeechDone(3)) == [SendTurn("eins", 0.9)]
    assert line.m.outcome.turns == 1
    line(Reply(()))
    assert line(Transcript("Aufnahme stoppen", 0.9)) == [SendTurn("Aufnahme stoppen", 0.9)]


def test_a_recording_that_did_not_start_cannot_be_withdrawn() -> None:
    line = Line(recording_enabled=True)
    consented(line)
    line(RecordingState(False))
    assert line(Transcript(WITHDRAW_TRIGGER, 0.9), Transcript("x", 0.9)) == [SendTurn("x", 0.9)]
    assert line.m.outcome.turns == 1


def handed_off(line: Line, *, recording_on: bool = False) -> list[Command]:
    line.greeted()
    if recording_on:
        line(RecordingState(True))
    line.speak("Mitarbeiter")
    out = line(Reply((BotReply("Ich verbinde.", handoff=STAFF),)))
    assert line.m.phase is Phase.TRANSFERRING
    assert (AttachRecording("C-1") in out) is recording_on
    assert line(Transcript("noch was", 0.9)) == []  # waits
    return line.done(out)


def test_a_transfer_ends_the_session_as_transferred() -> None:
    line = Line()
    assert handed_off(line) == [Transfer(STAFF)]
    assert line(Timer(60.0)) == []  # no silence counted while transferring
    assert line(TransferResult(TransferOutcome.DONE)) == [] and line.m.finished
    line(HungUp())
    assert line.m.outcome.end is EndReason.TRANSFERRED


def test_a_recording_is_attached_to_the_case() -> None:
    handed_off(Line(), recording_on=True)


def test_a_result_without_a_transfer_is_ignored() -> None:
    line = Line()
    line.greeted()
    assert line(TransferResult(TransferOutcome.DONE)) == [] and not line.m.finished


@pytest.mark.parametrize(
    ("outcome", "intro"),
    [(TransferOutcome.FAILED, P.transfer_failed), (TransferOutcome.STAFF_AWAY, P.staff_away)],
)
def test_no_transfer_offers_a_callback_to_the_own_number(
    outcome: TransferOutcome, intro: str
) -> None:
    line = Line(number="+4930123456")
    handed_off(line)
    out = line(TransferResult(outcome))
    offer = P.callback_own_number.format(number=_spell("+4930123456"))
    assert out == [Say(3, (intro, offer), False, (intro, offer))]
    assert line.m.phase is Phase.CALLBACK_OFFER
    # "noch was", said during the transfer, is no answer: offered again, without the intro
    assert line(SpeechDone(3)) == [Say(4, (offer,), False, (offer,))]
    assert line(Dtmf("1")) == []  # the offer plays to its end first
    assert line(SpeechDone(4)) == [SendTurn(CALLBACK_TRIGGER, None)]
    assert line.m.phase is Phase.LISTENING
    assert line(Reply((BotReply("Ihre Nummer?"),))) == [SendTurn("+4930123456", None)]
    out = line(Reply((BotReply("Notiert."),)))
    confirmed = P.callback_confirmed.format(number=_spell("+4930123456"))
    assert out == [Say(5, (confirmed, "Notiert."), False, (confirmed,))]


@pytest.mark.parametrize(("answer", "number"), [("ja gerne", "0301234"), ("0301111", "0301111")])
def test_a_spoken_yes_takes_the_own_number_and_a_typed_one_replaces_it(
    answer: str, number: str
) -> None:
    line = Line(number="0301234")
    handed_off(line)
    line.done(line(TransferResult(TransferOutcome.FAILED)))
    line(SpeechDone(4))
    assert line(Transcript(answer, 0.9)) == [SendTurn(CALLBACK_TRIGGER, None)]
    assert line(Reply(())) == [SendTurn(number, None)]


def test_a_spoken_no_declines_the_callback() -> None:
    line = Line(number="0301234")
    line.greeted()
    line.speak("Mitarbeiter")
    line.done(line(Reply((BotReply("Ich verbinde.", handoff=STAFF),))))
    line.done(line(TransferResult(TransferOutcome.STAFF_AWAY)))
    out = line(Transcript("nein danke", 0.9))
    assert out == [Say(4, (P.callback_declined,), False, (P.callback_declined,))]
    assert line.m.phase is Phase.LISTENING


def test_without_an_own_number_a_typed_one_is_asked_for_and_checked() -> None:
    line = Line(number="+49900123456")  # premium rate: never offered
    line.greeted()
    line.speak("Mitarbeiter")
    line.done(line(Reply((BotReply("Ich verbinde.", handoff=STAFF),))))
    out = line(TransferResult(TransferOutcome.STAFF_AWAY))
    assert says(out) == [(P.staff_away, P.callback_type_number)]
    line.done(out)
    ask = P.callback_type_number
    assert line(Dtmf("1")) == [Say(4, (ask,), False, (ask,))]  # no own number to say yes to
    line(SpeechDone(4))
    assert says(line(Transcript("0900123456", None))) == [(P.callback_declined,)]
    assert line.m.phase is Phase.LISTENING


def test_a_refused_number_is_explained_and_a_short_one_is_asked_again() -> None:
    line = Line()
    line.greeted()
    line.speak("Mitarbeiter")
    line.done(line(Reply((BotReply("Ich verbinde.", handoff=STAFF),))))
    line.done(line(TransferResult(TransferOutcome.STAFF_AWAY)))
    out = line(Transcript("0900123456", None))
    assert says(out) == [(NUMBER_NOT_ALLOWED_TEXT, P.callback_type_number)]
    line.done(out)
    assert line(Transcript("015112345678", None)) == [SendTurn(CALLBACK_TRIGGER, None)]


def test_two_unclear_answers_decline_the_callback() -> None:
    line = Line()
    line.greeted()
    line.speak("Mitarbeiter")
    line.done(line(Reply((BotReply("Ich verbinde.", handoff=STAFF),))))
    line.done(line(TransferResult(TransferOutcome.STAFF_AWAY)))
    out = line.done(line(Transcript("12", None)))  # too short for a number
    assert out == []
    assert says(line(Transcript("ja", None))) == [(P.callback_declined,)]  # no own number


def test_idle_and_waiting_say_whose_turn_it_is() -> None:
    line = Line()
    assert not line.m.idle and not line.m.waiting
    line(CallStarted())
    assert line.m.waiting and not line.m.idle  # the greeting is owed
    out = line(Reply((BotReply(GREETING),)))
    assert not line.m.waiting and not line.m.idle  # it plays
    line.done(out)
    assert line.m.idle and not line.m.waiting
    line(EndOfSpeech())
    assert line.m.waiting and not line.m.idle  # a transcript is owed
    line(Transcript("eins", 0.9))
    assert line.m.waiting and not line.m.idle  # the reply is owed
    line(Transcript("zwei", 0.9))
    line(Reply(()))
    assert line.m.waiting and not line.m.idle  # "zwei" went out
    line(Reply(()))
    assert line.m.idle
    line.speak("Mitarbeiter")
    line.done(line(Reply((BotReply("Ich verbinde.", handoff=STAFF),))))
    assert line.m.waiting and not line.m.idle  # the transfer is owed


def test_a_transcript_without_an_end_of_speech_keeps_the_count_at_zero() -> None:
    line = Line()
    line.greeted()
    line(Transcript("", 0.9))
    assert not line.m.waiting
    line(EndOfSpeech())
    assert line.m.waiting
    line(Transcript("", 0.9))
    assert not line.m.waiting and line.m.idle


def test_each_typed_key_restarts_the_key_timeout() -> None:
    line = Line(dtmf_timeout_s=2.0)
    line.greeted()
    assert line(Dtmf("1"), Timer(1.5), Dtmf("2"), Timer(1.5)) == []
    assert line(Dtmf("#")) == [SendTurn("12", None)]  # 3 s in all, but 1.5 s since the "2"


def test_a_two_digit_answer_is_no_callback_number_and_no_refused_one() -> None:
    line = Line()
    line.greeted()
    line.speak("Mitarbeiter")
    line.done(line(Reply((BotReply("Ich verbinde.", handoff=STAFF),))))
    line.done(line(TransferResult(TransferOutcome.STAFF_AWAY)))
    assert says(line(Transcript("12", None))) == [(P.callback_type_number,)]


def test_a_picked_menu_is_gone_before_the_reply() -> None:
    line = Line()
    line.greeted()
    line.speak("buchen")
    line(Reply((BotReply("Buchen?", buttons=(Button("Ja", "/affirm"), Button("Nein", "/deny"))),)))
    assert line(Dtmf("2")) == [StopPlayback(), SendTurn("/deny", None)]
    assert line(Dtmf("1")) == []  # typed now, no second pick
    assert not any(isinstance(c, SendTurn) for c in line(Reply((BotReply("Gut."),))))


def test_after_the_consent_answer_keys_type_again() -> None:
    line = Line(recording_enabled=True)
    consented(line)
    assert line(Dtmf("1"), Dtmf("2"), Dtmf("#")) == [SendTurn("12", None)]


def test_the_callback_offer_counts_its_own_tries_and_keys_type_after_it() -> None:
    line = Line(recording_enabled=True)
    line.greeted()
    line.done(line(SpeechDone(2), Transcript("hm", 0.9)))  # two consent tries
    line(Transcript("ja", 0.9))
    line.speak("Mitarbeiter")
    line.done(line(Reply((BotReply("Ich verbinde.", handoff=STAFF),))))
    line.done(line(TransferResult(TransferOutcome.STAFF_AWAY)))
    assert says(line(Transcript("hm", 0.9))) == [(P.callback_type_number,)]  # asked again
    line(SpeechDone(line.m._said))
    line(Transcript("nein", 0.9))
    assert line(Dtmf("1"), Dtmf("2"), Dtmf("#")) == [StopPlayback(), SendTurn("12", None)]
