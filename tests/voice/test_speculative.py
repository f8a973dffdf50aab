"""Speculative transcription: reused when the caller stays silent, discarded when not."""

from __future__ import annotations

import numpy as np

from tests.fakes import FakeVad
from voice.asr import Transcript
from voice.audio import AudioFrame
from voice.speculative import SpeculativeTranscriber
from voice.vad import Endpointer, SpeechEnded, SpeechPaused, VadEvent


class LengthTranscriber:
    """'N ms' for an utterance of N milliseconds (so reused and fresh results differ)."""

    def __init__(self) -> None:
        self.calls = 0

    def transcribe(self, audio: AudioFrame) -> Transcript:
        self.calls += 1
        return Transcript(f"{round(audio.duration_s * 1000)} ms", 0.9)


def pattern(*parts: tuple[str, float]) -> AudioFrame:
    samples = [np.full(int(s * 16000), 8000 if kind == "s" else 0, np.int16) for kind, s in parts]
    return AudioFrame.from_samples(np.concatenate(samples), 16000)


def events(audio: AudioFrame) -> list[VadEvent]:
    ep = Endpointer(FakeVad(), end_silence_ms=500, pause_ms=192)
    return [e for f in audio.split(20) for e in ep.feed(f)] + ep.flush()


async def recognise(asr: SpeculativeTranscriber, audio: AudioFrame) -> list[tuple[str, bool]]:
    results = []
    try:
        for event in events(audio):
            match event:
                case SpeechPaused():
                    asr.paused(event)
                case SpeechEnded():
                    done = await asr.ended(event)
                    results.append((done.transcript.text, done.speculative))
    finally:
        await asr.aclose()
    return results


async def test_the_pause_transcript_is_used_when_the_caller_does_not_resume() -> None:
    engine = LengthTranscriber()
    asr = SpeculativeTranscriber(engine)
    audio = pattern(("q", 0.5), ("s", 1.0), ("q", 1.0))
    results = await recognise(asr, audio)
    assert len(results) == 1
    text, speculative = results[0]
    assert speculative and engine.calls == 1
    (ended,) = [e for e in events(audio) if isinstance(e, SpeechEnded)]
    # the pause's audio: the turn without the last 320 ms of the 512 ms end silence
    assert text == f"{round(ended.audio.duration_s * 1000) - 320} ms"
    assert (asr.reused, asr.discarded) == (1, 0)


async def test_speech_after_a_pause_discards_it_and_the_whole_turn_is_transcribed() -> None:
    engine = LengthTranscriber()
    asr = SpeculativeTranscriber(engine)
    audio = pattern(("q", 0.5), ("s", 1.0), ("q", 0.3), ("s", 0.5), ("q", 1.0), ("s", 0.1))
    results = await recognise(asr, audio)
    # the second pause (after "s 0.5") came while the first, discarded one could still run
    # or after it: either way the turn's text covers all speech up to the final pause
    text, _ = results[0]
    assert int(text.split()[0]) >= round((0.32 + 1.0 + 0.3 + 0.5) * 1000)
    assert asr.reused + asr.discarded == 1
    assert engine.calls >= 2


async def test_without_pauses_it_is_the_plain_transcriber() -> None:
    engine = LengthTranscriber()
    asr = SpeculativeTranscriber(engine)
    ep = Endpointer(FakeVad(), end_silence_ms=500)
    audio = pattern(("q", 0.5), ("s", 1.0), ("q", 1.0))
    (ended,) = [e for f in audio.split(20) for e in ep.feed(f) if isinstance(e, SpeechEnded)]
    done = await asr.ended(ended)
    await asr.aclose()
    assert not done.speculative and engine.calls == 1
    assert done.transcript.text == f"{round(ended.audio.duration_s * 1000)} ms"


async def test_a_speculation_dropped_under_load_is_transcribed_anew() -> None:
    from voice.workers import EngineBusy

    asr = LengthTranscriber()
    calls: list[bool] = []

    async def recognise_on_worker(audio: AudioFrame, final: bool) -> Transcript:
        calls.append(final)
        if not final:
            raise EngineBusy("speculation dropped under load")
        return asr.transcribe(audio)

    spec = SpeculativeTranscriber(asr, recognise=recognise_on_worker)
    results = await recognise(spec, pattern(("q", 0.5), ("s", 1.0), ("q", 1.0)))
    assert [speculative for _, speculative in results] == [False]
    assert calls == [False, True] and spec.reused == 0 and spec.discarded == 1
