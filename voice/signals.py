"""What goes into a call's `CallMachine` (events) and what comes out (commands): small
frozen messages in two closed unions."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from dialogue.messages import BotReply, Handoff
from voice.speech import Consent


class Engine(Enum):
    ASR = "asr"
    TTS = "tts"
    DIALOGUE = "dialogue"


class EndReason(Enum):
    BOT_HANGUP = "bot_hangup"
    CALLER_HANGUP = "caller_hangup"
    SILENCE = "silence"
    TRANSFERRED = "transferred"


class TransferOutcome(Enum):
    DONE = "done"  # staff have the call
    FAILED = "failed"  # tried and refused or failed
    STAFF_AWAY = "staff_away"  # not tried: no target or outside staff hours


# --- events in ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallStarted:
    pass


@dataclass(frozen=True, slots=True)
class Timer:
    """`elapsed_s` of the caller's audio passed; `caller_speaking`: the VAD is in a turn."""

    elapsed_s: float
    caller_speaking: bool = False


@dataclass(frozen=True, slots=True)
class SpeechStart:
    """The caller started speaking (barge-in when the bot's speech may be interrupted)."""


@dataclass(frozen=True, slots=True)
class EndOfSpeech:
    """The caller's turn ended; a `Transcript` (or an ASR `EngineFailed`) follows.
    `spoke_until`: the session clock when the caller stopped speaking (the endpointer's
    silence before the end taken off), None when unknown."""

    spoke_until: float | None = None


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    confidence: float | None = None
    speculative: bool = False  # recognised from the audio up to the caller's pause


@dataclass(frozen=True, slots=True)
class Dtmf:
    digit: str


@dataclass(frozen=True, slots=True)
class Reply:
    """The dialogue's answer to the last `Greet` or `SendTurn`."""

    replies: tuple[BotReply, ...]


@dataclass(frozen=True, slots=True)
class Unprotected:
    """The protected first sentence of speech `say_id` has played: it may be interrupted."""

    say_id: int


@dataclass(frozen=True, slots=True)
class FirstAudio:
    """The first frame of speech `say_id` went out to the caller at session clock `at`."""

    say_id: int
    at: float


@dataclass(frozen=True, slots=True)
class SpeechDone:
    say_id: int


@dataclass(frozen=True, slots=True)
class TransferResult:
    outcome: TransferOutcome


@dataclass(frozen=True, slots=True)
class RecordingState:
    """Whether a recording runs now (a `RecordOn` may fail to start one)."""

    on: bool


@dataclass(frozen=True, slots=True)
class EngineFailed:
    """`engine` raised: for TTS, `say_id` is the speech that broke off."""

    engine: Engine
    say_id: int | None = None


@dataclass(frozen=True, slots=True)
class HungUp:
    pass


Event = (
    CallStarted
    | Timer
    | SpeechStart
    | EndOfSpeech
    | Transcript
    | Dtmf
    | Reply
    | Unprotected
    | FirstAudio
    | SpeechDone
    | TransferResult
    | RecordingState
    | EngineFailed
    | HungUp
)

# --- commands out -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Greet:
    pass


@dataclass(frozen=True, slots=True)
class Say:
    """Speak `texts` in order (a `SpeechDone` follows); `protect_first`: the first sentence
    cannot be interrupted (`Unprotected` follows it); `note`: the session's own texts among
    them, for the transcript (the dialogue's replies are stored by the dialogue core)."""

    say_id: int
    texts: tuple[str, ...]
    protect_first: bool = False
    note: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AnswerLatency:
    """The caller heard the answer to a spoken turn `seconds` after they stopped speaking
    (the phone answer latency of the statistics)."""

    seconds: float


@dataclass(frozen=True, slots=True)
class StopPlayback:
    pass


@dataclass(frozen=True, slots=True)
class SendTurn:
    text: str
    confidence: float | None = None


@dataclass(frozen=True, slots=True)
class KeepUnsure:
    """A turn the recogniser was too unsure of (re-asked, or a form's miss): kept for the
    "Nicht verstanden" inbox."""

    text: str
    confidence: float


@dataclass(frozen=True, slots=True)
class Transfer:
    handoff: Handoff


@dataclass(frozen=True, slots=True)
class HangUp:
    pass


@dataclass(frozen=True, slots=True)
class RecordOn:
    pass


@dataclass(frozen=True, slots=True)
class RecordOff:
    """Consent withdrawn (`via` "key" or "speech"): stop, delete, take off its cases."""

    via: str


@dataclass(frozen=True, slots=True)
class AttachRecording:
    case_id: str


@dataclass(frozen=True, slots=True)
class LogConsent:
    answer: Consent
    via: str  # "key", "speech" or "none"
    asked_at: float


Command = (
    Greet
    | Say
    | StopPlayback
    | SendTurn
    | KeepUnsure
    | AnswerLatency
    | Transfer
    | HangUp
    | RecordOn
    | RecordOff
    | AttachRecording
    | LogConsent
)
