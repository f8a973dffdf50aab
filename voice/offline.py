"""Whole voice turns from a recording: VAD, ASR, the real dialogue core and TTS, timed.
Used by `rathausbot voice-test` (admins checking a deployment) and by the tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from dialogue.core import DialogueCore
from dialogue.messages import Channel, Role, UserTurn
from dialogue.store import ConversationStore
from voice.asr import Transcriber
from voice.audio import AudioFrame, concat
from voice.keymenu import REASK, TOPICS, KeyMenu
from voice.speculative import SpeculativeTranscriber
from voice.speech import readback
from voice.tts import Synthesizer
from voice.vad import Endpointer, SpeechEnded, SpeechPaused, VadEvent

FEED_MS = 20


@dataclass(frozen=True, slots=True)
class TurnReport:
    """One caller turn; `timings_ms` are wall-clock milliseconds (`endpoint_silence` is
    audio time: the silence the endpointer waited for before declaring the turn over)."""

    transcript: str
    asr_confidence: float
    intent: str | None
    confidence: float | None
    reply: str
    hangup: bool
    speculative: bool = False
    timings_ms: dict[str, float] = field(default_factory=dict)
    reasked: bool = False  # too unsure to guess: asked again, the dialogue never saw it

    def as_json(self) -> dict[str, object]:
        return {
            "transcript": self.transcript,
            "asr_confidence": self.asr_confidence,
            "intent": self.intent,
            "confidence": self.confidence,
            "reply": self.reply,
            "hangup": self.hangup,
            "speculative": self.speculative,
            "reasked": self.reasked,
            "timings_ms": self.timings_ms,
        }


@dataclass(frozen=True, slots=True)
class FileRun:
    greeting: str
    turns: tuple[TurnReport, ...]
    bot_audio: AudioFrame


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


async def run_recording(
    audio: AudioFrame,
    *,
    core: DialogueCore,
    store: ConversationStore,
    session_id: str,
    endpointer: Endpointer,
    transcriber: Transcriber,
    synthesizer: Synthesizer,
    read_back: Callable[[str], str | None] = readback,
    min_confidence: float = 0.2,
) -> FileRun:
    """Plays `audio` into the endpointer in 20 ms frames and answers each turn in order.
    Stops after a reply that hangs up. A turn below `min_confidence` is re-asked as on a
    call outside a form (voice/session.py): its intent is None. Bot audio is returned at
    the synthesiser's rate.
    When the endpointer reports pauses, transcription starts there (speculatively) and the
    audio time from a pause to the next event passes in wall-clock time, as on a call."""
    greeting = " ".join(r.text for r in await core.greet(session_id, Channel.VOICE) if r.text)
    bot_audio = [await _speak(synthesizer, greeting)]
    frames = audio.split(FEED_MS)
    events = [event for frame in frames for event in endpointer.feed(frame)]
    events += endpointer.flush()
    asr = SpeculativeTranscriber(transcriber)
    try:
        return await _turns(
            events,
            asr,
            core,
            store,
            session_id,
            synthesizer,
            read_back,
            greeting,
            bot_audio,
            min_confidence,
        )
    finally:
        await asr.aclose()


async def _turns(
    events: list[VadEvent],
    asr: SpeculativeTranscriber,
    core: DialogueCore,
    store: ConversationStore,
    session_id: str,
    synthesizer: Synthesizer,
    read_back: Callable[[str], str | None],
    greeting: str,
    bot_audio: list[AudioFrame],
    min_confidence: float,
) -> FileRun:
    turns: list[TurnReport] = []
    last_at = 0.0
    for event in events:
        await asr.settle(event.at_s - last_at)
        last_at = event.at_s
        if isinstance(event, SpeechPaused):
            asr.paused(event)
        if not isinstance(event, SpeechEnded):
            continue
        ended = time.perf_counter()
        recognised = await asr.ended(event)
        transcript = recognised.transcript
        asr_done = time.perf_counter()
        if not transcript.text.strip():
            continue
        reasked = transcript.confidence < min_confidence
        if reasked:
            replies = []
            texts = [REASK, KeyMenu(TOPICS).prompt()]
        else:
            turn = UserTurn(session_id, Channel.VOICE, transcript.text, transcript.confidence)
            replies = await core.handle(turn)
            said = [t for t in [read_back(transcript.text)] if t]
            texts = said + [r.text for r in replies if r.text]
        dialogue_done = time.perf_counter()
        reply = " ".join(texts)
        speech, first_audio = await _speak_timed(synthesizer, reply)
        bot_audio.append(speech)
        intent, confidence = (None, None) if reasked else await _understanding(store, session_id)
        hangup = any(r.hangup for r in replies)
        turns.append(
            TurnReport(
                transcript=transcript.text,
                asr_confidence=transcript.confidence,
                intent=intent,
                confidence=confidence,
                reply=reply,
                hangup=hangup,
                speculative=recognised.speculative,
                reasked=reasked,
                timings_ms={
                    "asr": _ms(asr_done - ended),
                    "dialogue": _ms(dialogue_done - asr_done),
                    "tts_first_audio": _ms(first_audio - dialogue_done),
                    "end_of_speech_to_first_audio": _ms(first_audio - ended),
                    "endpoint_silence": _ms(event.endpoint_silence_s),
                    "utterance": _ms(event.audio.duration_s),
                },
            )
        )
        if hangup:
            break
    return FileRun(greeting, tuple(turns), concat(bot_audio, synthesizer.sample_rate))


async def _speak(synthesizer: Synthesizer, text: str) -> AudioFrame:
    return (await _speak_timed(synthesizer, text))[0]


async def _speak_timed(synthesizer: Synthesizer, text: str) -> tuple[AudioFrame, float]:
    """All sentences of `text`, and the moment the first one was ready."""
    sentences = synthesizer.synthesize(text)
    frames: list[AudioFrame] = []
    first = time.perf_counter()
    while (frame := await asyncio.to_thread(next, sentences, None)) is not None:
        if not frames:
            first = time.perf_counter()
        frames.append(frame)
    return concat(frames, synthesizer.sample_rate), first


async def _understanding(
    store: ConversationStore, session_id: str
) -> tuple[str | None, float | None]:
    await store.wait_flushed()
    for record in reversed(await store.transcript(session_id)):
        if record.role is Role.USER:
            return record.intent, record.confidence
    return None, None
