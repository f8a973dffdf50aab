"""The voice engines' worker threads, off the event loop that paces every call's RTP.

Each engine (VAD, ASR, TTS) has one worker thread fed from a bounded queue; owned by the
composition root (`VoiceEngines`) and joined by `aclose()`. A job beyond the queue's bound
fails at once with `EngineBusy` (the call hears an apology), so no call waits behind a
queue it cannot leave. The recogniser takes final transcriptions before speculative ones,
drops speculative ones while finals wait (speculation yields under load), and recognises
finals that end close together in one batch when the transcriber can
(`BatchTranscriber`).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

from voice.asr import Transcriber, Transcript
from voice.audio import AudioFrame

log = logging.getLogger(__name__)

T = TypeVar("T")


class EngineBusy(RuntimeError):
    """The engine's queue is full (or the worker is closed): the job was not taken."""


@runtime_checkable
class BatchTranscriber(Protocol):
    """A transcriber that recognises several utterances at once: those with the same
    `batch_key` (not None) give the same transcripts alone or together."""

    def batch_key(self, audio: AudioFrame) -> Hashable | None: ...

    def transcribe_batch(
        self, audios: Sequence[AudioFrame], *, detect: bool = False
    ) -> list[Transcript]:
        """`detect`: each transcript carries its audio's language probabilities."""
        ...


@dataclass
class _Job:
    run: Callable[[], Any]
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():
        return  # the caller gave up (its call ended)
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _deliver(job: _Job, result: Any, error: BaseException | None) -> None:
    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
        job.loop.call_soon_threadsafe(_settle, job.future, result, error)


class EngineWorker:
    """One thread running one engine's blocking jobs; `run()` awaits a job. Urgent jobs (a
    reply's first sentence, which the caller is waiting for) run before the others (the
    sentences after it, which have the playing one's time); each kind in order."""

    def __init__(self, name: str, *, max_queue: int = 64) -> None:
        if not 1 <= max_queue <= 4096:
            raise ValueError("max_queue must be in [1, 4096]")
        self._name = name
        self._max_queue = max_queue
        self._urgent: collections.deque[_Job] = collections.deque()
        self._jobs: collections.deque[_Job] = collections.deque()
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    async def run(self, work: Callable[[], T], *, urgent: bool = False) -> T:
        """`work()` on the worker thread; EngineBusy when the queue is full or closed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        with self._ready:
            if self._closed:
                raise EngineBusy(f"{self._name} worker is closed")
            if len(self._urgent) + len(self._jobs) >= self._max_queue:
                raise EngineBusy(f"{self._name} queue is full")
            (self._urgent if urgent else self._jobs).append(_Job(work, future, loop))
            self._ready.notify()
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name=self._name, daemon=True)
                self._thread.start()
        return await future

    def _take(self) -> _Job | None:
        with self._ready:
            while not self._urgent and not self._jobs and not self._closed:
                self._ready.wait()
            if self._urgent:
                return self._urgent.popleft()
            if self._jobs:
                return self._jobs.popleft()
            return None  # closed and drained

    def _serve(self) -> None:
        while (job := self._take()) is not None:
            if job.future.cancelled():
                continue
            try:
                result = job.run()
            except Exception as exc:
                _deliver(job, None, exc)
            else:
                _deliver(job, result, None)

    async def aclose(self) -> None:
        """Takes no more jobs, lets the queued ones finish and joins the thread."""
        with self._ready:
            self._closed = True
            self._ready.notify()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)


@dataclass
class _Utterance:
    audio: AudioFrame
    final: bool
    future: asyncio.Future[Transcript]
    loop: asyncio.AbstractEventLoop
    engine: Transcriber | None = None  # a call's own transcriber: recognised alone
    detect: bool = False  # with the language probabilities (a call's first turn)


class RecognitionWorker:
    """One thread for the recogniser, shared by every call (see the module docstring)."""

    def __init__(
        self,
        transcriber: Transcriber,
        *,
        max_batch: int = 4,
        max_queue: int = 32,
        lanes: int = 1,
    ) -> None:
        """`lanes`: threads recognising at the same time (the transcriber must take that
        many calls at once: faster-whisper's `num_workers`)."""
        if not 1 <= max_batch <= 64 or not 1 <= max_queue <= 1024 or not 1 <= lanes <= 16:
            raise ValueError(
                "max_batch must be in [1, 64], max_queue in [1, 1024], lanes in [1, 16]"
            )
        self._asr = transcriber
        self._max_batch = max_batch
        self._max_queue = max_queue
        self._lanes = lanes
        self._finals: collections.deque[_Utterance] = collections.deque()
        self._speculative: collections.deque[_Utterance] = collections.deque()
        self._ready = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._closed = False
        self.batches: list[int] = []  # sizes of the last batches (for the benchmarks)

    @property
    def detects(self) -> bool:
        """Whether `recognise(..., detect=True)` can give the language probabilities."""
        return isinstance(self._asr, BatchTranscriber)

    async def recognise(
        self,
        audio: AudioFrame,
        *,
        final: bool = True,
        engine: Transcriber | None = None,
        detect: bool = False,
    ) -> Transcript:
        """The transcript of `audio`; EngineBusy when the queue is full, and for a
        speculative one also when it was dropped for finals. `engine`: a call's own
        transcriber (its language, voice/language.py) instead of the shared one, on this
        thread but never in a batch. `detect`: by the shared transcriber, in a batch with
        the others, and with the language probabilities (`detects` must be True)."""
        if detect and (engine is not None or not self.detects):
            raise ValueError("language detection needs the shared batch transcriber")
        loop = asyncio.get_running_loop()
        job = _Utterance(audio, final, loop.create_future(), loop, engine, detect)
        with self._ready:
            if self._closed:
                raise EngineBusy("recogniser is closed")
            waiting = len(self._finals) + len(self._speculative)
            if waiting >= self._max_queue or (not final and self._finals):
                raise EngineBusy("recogniser is busy")
            (self._finals if final else self._speculative).append(job)
            self._ready.notify()
            if not self._threads:
                for lane in range(self._lanes):
                    thread = threading.Thread(target=self._serve, name=f"asr-{lane}", daemon=True)
                    self._threads.append(thread)
                    thread.start()
        return await job.future

    def _take(self) -> list[_Utterance] | None:
        with self._ready:
            while not self._finals and not self._speculative and not self._closed:
                self._ready.wait()
            if self._finals:
                for dropped in self._speculative:  # speculation yields to finals
                    self._fail(dropped, EngineBusy("speculation dropped under load"))
                self._speculative.clear()
                first = self._finals.popleft()
                batch = [first]
                key = self._key(first)
                if key is not None:
                    for other in list(self._finals):
                        if len(batch) >= self._max_batch:
                            break
                        if self._key(other) == key:
                            self._finals.remove(other)
                            batch.append(other)
                return batch
            if self._speculative:
                return [self._speculative.popleft()]
            return None  # closed and drained

    def _key(self, job: _Utterance) -> Hashable | None:
        if job.engine is None and isinstance(self._asr, BatchTranscriber):
            return self._asr.batch_key(job.audio)
        return None

    @staticmethod
    def _fail(job: _Utterance, error: BaseException) -> None:
        with contextlib.suppress(RuntimeError):
            job.loop.call_soon_threadsafe(_settle, job.future, None, error)

    def _serve(self) -> None:
        while (batch := self._take()) is not None:
            batch = [job for job in batch if not job.future.cancelled()]
            if not batch:
                continue
            self.batches = [*self.batches[-99:], len(batch)]
            detect = any(job.detect for job in batch)
            try:
                if (len(batch) > 1 or detect) and isinstance(self._asr, BatchTranscriber):
                    audios = [job.audio for job in batch]
                    results = self._asr.transcribe_batch(audios, detect=detect)
                else:
                    results = [(job.engine or self._asr).transcribe(job.audio) for job in batch]
            except Exception as exc:
                for job in batch:
                    self._fail(job, exc)
                continue
            for job, result in zip(batch, results, strict=True):
                with contextlib.suppress(RuntimeError):
                    job.loop.call_soon_threadsafe(_settle, job.future, result, None)

    async def aclose(self) -> None:
        """Takes no more utterances, finishes the queued ones and joins the threads."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()
        for thread in self._threads:
            await asyncio.to_thread(thread.join)


@dataclass
class VoiceWorkers:
    """The three engine workers of one process, shared by every call."""

    vad: EngineWorker
    asr: RecognitionWorker
    tts: EngineWorker

    @classmethod
    def create(
        cls, transcriber: Transcriber, *, max_calls: int, max_batch: int = 4, asr_lanes: int = 1
    ) -> VoiceWorkers:
        """Queues sized for `max_calls` calls (each has at most one VAD and one TTS job and
        two utterances outstanding); `asr_lanes` utterances recognised at once."""
        calls = max(1, max_calls)
        asr = RecognitionWorker(
            transcriber, max_batch=max_batch, max_queue=min(1024, 2 * calls), lanes=asr_lanes
        )
        return cls(
            EngineWorker("vad", max_queue=min(4096, 2 * calls)),
            asr,
            EngineWorker("tts", max_queue=min(4096, 2 * calls)),
        )

    async def aclose(self) -> None:
        await self.vad.aclose()
        await self.asr.aclose()
        await self.tts.aclose()
