"""Speculative transcription: start transcribing when the caller first pauses, and use that
result at the end of the turn when the caller did not speak again (else transcribe anew).

The endpointer decides (`SpeechPaused`, `SpeechEnded.pause_holds`), so the outcome depends
only on the audio: the same recording always gives the same transcripts.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from voice.asr import Transcriber, Transcript
from voice.audio import AudioFrame
from voice.vad import SpeechEnded, SpeechPaused
from voice.workers import EngineBusy


@dataclass(frozen=True, slots=True)
class Recognised:
    transcript: Transcript
    speculative: bool  # the transcription started at the pause was used


class SpeculativeTranscriber:
    """Wraps a `Transcriber` for one audio stream. At most one transcription runs at a time:
    a pause that comes while an earlier, discarded one still runs is not speculated on.
    Owns its task: call `aclose()` when the stream ends."""

    def __init__(
        self,
        transcriber: Transcriber,
        *,
        recognise: Callable[[AudioFrame, bool], Awaitable[Transcript]] | None = None,
    ) -> None:
        """`recognise(audio, final)` replaces a worker thread per transcription (the
        shared RecognitionWorker); a speculative one may raise EngineBusy (dropped)."""
        self._asr = transcriber
        self._recognise = recognise
        self._task: asyncio.Task[Transcript] | None = None
        self._current = False  # the task belongs to the turn's latest pause
        self.reused = 0
        self.discarded = 0

    @property
    def running(self) -> bool:
        """A transcription runs now."""
        return self._task is not None and not self._task.done()

    def paused(self, event: SpeechPaused) -> None:
        if self._task is not None and not self._task.done():
            self._current = False
            return
        if self._task is not None and not self._task.cancelled():
            self._task.exception()  # an earlier one that failed (dropped under load) is over
        self._task = asyncio.create_task(
            self._transcribe(event.audio, final=False), name="asr-speculative"
        )
        self._current = True

    async def ended(self, event: SpeechEnded) -> Recognised:
        task, self._task = self._task, None
        if task is not None and self._current and event.pause_holds:
            try:
                transcript = await task
            except EngineBusy:  # dropped for final transcriptions: transcribe anew
                self.discarded += 1
            else:
                self.reused += 1
                return Recognised(transcript, speculative=True)
        elif task is not None:
            self.discarded += 1
            if self._recognise is not None:
                task.cancel()  # a shared worker takes finals first: no need to wait
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await task  # (a thread per transcription: the engine runs one at a time)
        return Recognised(await self._transcribe(event.audio), speculative=False)

    async def settle(self, timeout_s: float) -> None:
        """Waits up to `timeout_s` for a running transcription (offline runs use it to let
        the audio time between a pause and the end of the turn pass as on a live call)."""
        if self._task is not None and timeout_s > 0:
            await asyncio.wait({self._task}, timeout=timeout_s)

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _transcribe(self, audio: AudioFrame, *, final: bool = True) -> Transcript:
        if self._recognise is not None:
            return await self._recognise(audio, final)
        return await asyncio.to_thread(self._asr.transcribe, audio)
