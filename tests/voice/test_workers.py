"""Engine workers: bounded queues, finals before speculation, batches, shutdown."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Hashable, Sequence

import pytest

from tests.fakes import FakeTranscriber
from voice.asr import Transcript
from voice.audio import AudioFrame
from voice.workers import EngineBusy, EngineWorker, RecognitionWorker, VoiceWorkers

HANG_GUARD_S = 30  # a guard against a worker that never runs the job, not a timing check


def audio(seconds: float) -> AudioFrame:
    return AudioFrame.silence(seconds, 16000)


class Gate:
    """Blocks the worker thread in a job until opened."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.open = threading.Event()

    def __call__(self) -> str:
        self.entered.set()
        self.open.wait(10)
        return "gate"


async def entered(gate: Gate) -> None:
    for _ in range(500):
        if gate.entered.is_set():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the worker never started the job")


async def held(worker: RecognitionWorker, gate: Gate) -> asyncio.Future[Transcript]:
    """A 9 s utterance recognised alone and held at the fake's `gate`, so that the next
    ones queue up behind it."""
    running = asyncio.ensure_future(worker.recognise(audio(9.0)))
    await entered(gate)
    return running


async def test_jobs_run_in_order_on_one_thread_and_errors_come_back() -> None:
    worker = EngineWorker("test", max_queue=4)
    names = await asyncio.gather(
        *(worker.run(lambda: threading.current_thread().name) for _ in range(3))
    )
    assert names == ["test"] * 3

    def broken() -> None:
        raise ValueError("engine broke")

    with pytest.raises(ValueError, match="engine broke"):
        await worker.run(broken)
    await worker.aclose()
    with pytest.raises(EngineBusy):
        await worker.run(lambda: 1)


async def test_a_full_queue_refuses_at_once_at_n_plus_one() -> None:
    worker = EngineWorker("test", max_queue=2)
    gate = Gate()
    running = asyncio.ensure_future(worker.run(gate))
    await entered(gate)
    queued = [asyncio.ensure_future(worker.run(lambda i=i: i)) for i in range(2)]  # N = 2
    await asyncio.sleep(0)
    with pytest.raises(EngineBusy):
        await worker.run(lambda: 3)  # N + 1
    gate.open.set()
    assert await running == "gate"
    assert await asyncio.gather(*queued) == [0, 1]
    await worker.aclose()


async def test_urgent_jobs_run_before_waiting_ones_each_kind_in_order() -> None:
    worker = EngineWorker("tts", max_queue=5)
    gate = Gate()
    running = asyncio.ensure_future(worker.run(gate))
    await entered(gate)
    order: list[str] = []
    jobs = [
        asyncio.ensure_future(worker.run(lambda name=name: order.append(name), urgent=urgent))
        for name, urgent in (("next-1", False), ("first-a", True), ("next-2", False))
    ]
    jobs.append(asyncio.ensure_future(worker.run(lambda: order.append("next-3"))))  # default
    jobs.append(asyncio.ensure_future(worker.run(lambda: order.append("first-b"), urgent=True)))
    await asyncio.sleep(0)
    gate.open.set()
    await running
    await asyncio.gather(*jobs)
    assert order == ["first-a", "first-b", "next-1", "next-2", "next-3"]
    await worker.aclose()


async def test_urgent_and_waiting_jobs_share_the_bound_and_a_closed_worker_takes_neither() -> None:
    worker = EngineWorker("tts", max_queue=2)
    gate = Gate()
    running = asyncio.ensure_future(worker.run(gate))
    await entered(gate)
    queued = [
        asyncio.ensure_future(worker.run(lambda: "later")),
        asyncio.ensure_future(worker.run(lambda: "now", urgent=True)),
    ]
    await asyncio.sleep(0)
    with pytest.raises(EngineBusy, match="tts queue is full"):
        await worker.run(lambda: "too many", urgent=True)
    gate.open.set()
    assert await running == "gate"
    assert await asyncio.gather(*queued) == ["later", "now"]
    await worker.aclose()
    for urgent in (False, True):
        with pytest.raises(EngineBusy, match="tts worker is closed"):
            await worker.run(lambda: 1, urgent=urgent)


async def test_a_cancelled_waiting_job_never_runs() -> None:
    worker = EngineWorker("tts", max_queue=4)
    gate = Gate()
    running = asyncio.ensure_future(worker.run(gate))
    await entered(gate)
    ran: list[str] = []
    dropped = asyncio.ensure_future(worker.run(lambda: ran.append("dropped")))
    kept = asyncio.ensure_future(worker.run(lambda: ran.append("kept")))
    await asyncio.sleep(0)
    dropped.cancel()
    gate.open.set()
    await running
    await kept
    assert ran == ["kept"]
    await worker.aclose()


async def test_an_idle_worker_waits_for_the_next_job_and_is_joined_on_close() -> None:
    worker = EngineWorker("idle-then-busy", max_queue=2)
    assert await worker.run(lambda: 1) == 1
    await asyncio.sleep(0.05)  # the queue ran empty: the thread waits, it does not end
    assert await asyncio.wait_for(worker.run(lambda: 2), HANG_GUARD_S) == 2
    await worker.aclose()
    assert "idle-then-busy" not in {t.name for t in threading.enumerate()}


async def test_sixty_four_jobs_wait_by_default_and_the_sixty_fifth_is_refused() -> None:
    worker = EngineWorker("default")
    gate = Gate()
    running = asyncio.ensure_future(worker.run(gate))
    await entered(gate)
    queued = [asyncio.ensure_future(worker.run(lambda i=i: i)) for i in range(64)]
    await asyncio.sleep(0)
    with pytest.raises(EngineBusy, match="default queue is full"):
        await worker.run(lambda: 64)
    gate.open.set()
    await running
    assert await asyncio.gather(*queued) == list(range(64))
    await worker.aclose()


def test_bounds_are_validated() -> None:
    for bad in (0, 4097):
        with pytest.raises(ValueError):
            EngineWorker("x", max_queue=bad)
    EngineWorker("x", max_queue=1)
    EngineWorker("x", max_queue=4096)
    with pytest.raises(ValueError):
        RecognitionWorker(FakeTranscriber(), max_batch=0)
    with pytest.raises(ValueError):
        RecognitionWorker(FakeTranscriber(), max_queue=1025)


class Batching:
    """A batch transcriber: the key is the length in tenths of a second; a gate holds the
    first call so that others queue up behind it."""

    def __init__(self) -> None:
        self.gate = Gate()
        self.batches: list[list[float]] = []
        self.detected: list[bool] = []
        self.alone: list[float] = []

    def batch_key(self, audio: AudioFrame) -> Hashable | None:
        return round(audio.duration_s * 10) if audio.duration_s < 5 else None

    def transcribe_batch(
        self, audios: Sequence[AudioFrame], *, detect: bool = False
    ) -> list[Transcript]:
        self.batches.append([a.duration_s for a in audios])
        self.detected.append(detect)
        return [Transcript(f"{a.duration_s:.1f}", 0.9) for a in audios]

    def transcribe(self, audio: AudioFrame) -> Transcript:
        if not self.alone:
            self.gate()
        self.alone.append(audio.duration_s)
        return Transcript(f"{audio.duration_s:.1f}", 0.9)


async def test_finals_that_wait_together_are_batched_by_key_and_speculation_yields() -> None:
    asr = Batching()
    worker = RecognitionWorker(asr, max_batch=2, max_queue=8)
    first = await held(worker, asr.gate)
    speculative = asyncio.ensure_future(worker.recognise(audio(1.0), final=False))
    await asyncio.sleep(0)
    finals = [asyncio.ensure_future(worker.recognise(audio(s))) for s in (1.0, 2.0, 1.0, 1.0)]
    await asyncio.sleep(0)
    with pytest.raises(EngineBusy):  # finals wait: no new speculation
        await worker.recognise(audio(1.0), final=False)
    asr.gate.open.set()
    assert (await first).text == "9.0"
    assert [t.text for t in await asyncio.gather(*finals)] == ["1.0", "2.0", "1.0", "1.0"]
    with pytest.raises(EngineBusy):  # dropped when the finals were taken
        await speculative
    assert asr.batches == [[1.0, 1.0]]  # two of one key (max_batch), the rest alone
    assert asr.detected == [False]
    assert asr.alone == [9.0, 2.0, 1.0]
    assert worker.batches[-3:] == [2, 1, 1]
    await worker.aclose()


async def test_a_first_turn_to_detect_joins_a_batch_and_alone_is_still_detected() -> None:
    asr = Batching()
    worker = RecognitionWorker(asr, max_batch=4, max_queue=8)
    first = await held(worker, asr.gate)
    waiting = [
        asyncio.ensure_future(worker.recognise(audio(1.0), detect=True)),
        asyncio.ensure_future(worker.recognise(audio(1.0))),
        asyncio.ensure_future(worker.recognise(audio(2.0))),
    ]
    await asyncio.sleep(0)
    asr.gate.open.set()
    await first
    assert [t.text for t in await asyncio.gather(*waiting)] == ["1.0", "1.0", "2.0"]
    assert (await worker.recognise(audio(3.0), detect=True)).text == "3.0"
    # the detecting turn and a German turn in one batch; a detecting turn alone still asks
    assert asr.batches == [[1.0, 1.0], [3.0]] and asr.detected == [True, True]
    assert asr.alone == [9.0, 2.0]
    await worker.aclose()


async def test_a_speculative_utterance_runs_when_no_final_waits() -> None:
    worker = RecognitionWorker(FakeTranscriber("Hundesteuer"))
    assert (await worker.recognise(audio(1.0), final=False)).text == "Hundesteuer"
    await worker.aclose()
    with pytest.raises(EngineBusy):
        await worker.recognise(audio(1.0))


async def test_a_failing_batch_fails_each_of_its_utterances() -> None:
    asr = FakeTranscriber()
    asr.fail_next = 1
    worker = RecognitionWorker(asr)
    with pytest.raises(RuntimeError, match="broke"):
        await worker.recognise(audio(1.0))
    assert (await worker.recognise(audio(1.0))).text == ""
    await worker.aclose()


async def test_the_recogniser_queue_is_bounded_at_n_plus_one() -> None:
    asr = Batching()
    worker = RecognitionWorker(asr, max_queue=2)
    running = await held(worker, asr.gate)
    waiting = [asyncio.ensure_future(worker.recognise(audio(9.0))) for _ in range(2)]
    await asyncio.sleep(0)
    with pytest.raises(EngineBusy):
        await worker.recognise(audio(9.0))
    asr.gate.open.set()
    await asyncio.gather(running, *waiting)
    await worker.aclose()


async def test_voice_workers_are_sized_for_the_calls_and_closed_together() -> None:
    workers = VoiceWorkers.create(FakeTranscriber("a"), max_calls=3)
    assert await workers.vad.run(lambda: 1) == 1
    assert (await workers.asr.recognise(audio(1.0))).text == "a"
    await workers.aclose()
    for run in (workers.vad.run(lambda: 1), workers.tts.run(lambda: 1)):
        with pytest.raises(EngineBusy):
            await run


class Lanes:
    """A transcriber whose utterances of 9 s wait at the gate; the others pass at once."""

    def __init__(self) -> None:
        self.gate = Gate()
        self.threads: set[str] = set()

    def transcribe(self, audio: AudioFrame) -> Transcript:
        self.threads.add(threading.current_thread().name)
        if audio.duration_s > 5:
            self.gate()
        return Transcript(f"{audio.duration_s:.1f}", 0.9)


async def test_two_lanes_recognise_a_second_utterance_while_the_first_runs() -> None:
    asr = Lanes()
    worker = RecognitionWorker(asr, max_batch=1, lanes=2)
    slow = await held(worker, asr.gate)
    fast = await asyncio.wait_for(worker.recognise(audio(1.0)), HANG_GUARD_S)
    assert fast.text == "1.0" and not slow.done()  # past the one that still runs
    asr.gate.open.set()
    assert (await slow).text == "9.0"
    assert asr.threads == {"asr-0", "asr-1"}
    await worker.aclose()  # joins both
    with pytest.raises(EngineBusy):
        await worker.recognise(audio(1.0))


async def test_one_lane_keeps_utterances_in_order() -> None:
    asr = Lanes()
    worker = RecognitionWorker(asr, max_batch=1)
    slow = await held(worker, asr.gate)
    fast = asyncio.ensure_future(worker.recognise(audio(1.0)))
    await asyncio.sleep(0.05)
    assert not fast.done()  # waits behind the running one
    asr.gate.open.set()
    assert [t.text for t in await asyncio.gather(slow, fast)] == ["9.0", "1.0"]
    assert asr.threads == {"asr-0"}
    await worker.aclose()


def test_lanes_are_bounded() -> None:
    for bad in (0, 17):
        with pytest.raises(ValueError, match="lanes"):
            RecognitionWorker(FakeTranscriber(), lanes=bad)
    RecognitionWorker(FakeTranscriber(), lanes=1)
    RecognitionWorker(FakeTranscriber(), lanes=16)


async def test_voice_workers_pass_their_lanes_on() -> None:
    asr = Lanes()
    workers = VoiceWorkers.create(asr, max_calls=2, asr_lanes=2)
    slow = await held(workers.asr, asr.gate)
    assert (await asyncio.wait_for(workers.asr.recognise(audio(1.0)), HANG_GUARD_S)).text
    asr.gate.open.set()
    await slow
    await workers.aclose()


def test_recogniser_limits_at_their_bounds() -> None:
    for kwargs in ({"max_batch": 0}, {"max_batch": 65}, {"max_queue": 0}, {"max_queue": 1025}):
        with pytest.raises(ValueError):
            RecognitionWorker(FakeTranscriber(), **kwargs)  # type: ignore[arg-type]
    for kwargs in ({"max_batch": 1}, {"max_batch": 64}, {"max_queue": 1}, {"max_queue": 1024}):
        RecognitionWorker(FakeTranscriber(), **kwargs)  # type: ignore[arg-type]


async def test_default_recogniser_batches_four_and_holds_thirty_two() -> None:
    asr = Batching()
    worker = RecognitionWorker(asr)
    first = await held(worker, asr.gate)
    waiting = [asyncio.ensure_future(worker.recognise(audio(1.0))) for _ in range(32)]
    await asyncio.sleep(0)
    with pytest.raises(EngineBusy):  # the 33rd waiting
        await worker.recognise(audio(1.0))
    asr.gate.open.set()
    await asyncio.gather(first, *waiting)
    assert asr.batches == [[1.0] * 4] * 8
    assert worker.batches[-8:] == [4] * 8
    await worker.aclose()


async def test_speculative_utterances_count_against_the_queue_bound() -> None:
    asr = Batching()
    worker = RecognitionWorker(asr, max_queue=2)
    first = await held(worker, asr.gate)
    speculative = [
        asyncio.ensure_future(worker.recognise(audio(1.0), final=False)) for _ in range(2)
    ]
    await asyncio.sleep(0)
    with pytest.raises(EngineBusy):
        await worker.recognise(audio(2.0))  # a final too: two speculative ones wait
    asr.gate.open.set()
    await first
    assert [t.text for t in await asyncio.gather(*speculative)] == ["1.0", "1.0"]
    await worker.aclose()


async def test_a_cancelled_utterance_is_not_recognised_and_the_history_is_bounded() -> None:
    asr = Batching()
    worker = RecognitionWorker(asr, max_batch=1, max_queue=200)
    first = await held(worker, asr.gate)
    given_up = asyncio.ensure_future(worker.recognise(audio(3.0)))
    await asyncio.sleep(0)
    given_up.cancel()  # the call ended while its utterance waited
    asr.gate.open.set()
    await first
    await worker.recognise(audio(1.0))
    assert worker.batches == [1, 1]  # nothing counted for the cancelled one
    for _ in range(104):
        await worker.recognise(audio(1.0))
    assert 3.0 not in asr.alone
    assert len(worker.batches) == 100
    await worker.aclose()
