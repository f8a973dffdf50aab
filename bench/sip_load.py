"""Callers for the load benchmarks: each dials the hotline, listens to the greeting, asks
its questions and times every answer. A caller reacts to the bot as a person would: it
waits until the answer has ended, stays quiet for a while (`think_s`), then asks again.

Latency of a turn: from the caller's last speech frame leaving, plus the endpoint silence
(the bot cannot know sooner that the turn is over), to the first loud frame of the answer
arriving. A turn counts as answered when that frame comes within `listen_s`.

The callers run in a process of their own (`CallerProcess`): real callers are not in the
bot's process, and a caller sharing the bot's event loop and interpreter would both slow it
down and be slowed by it, so its timings would count the bench's own work.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import random
import time
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from telephony.media import RtpSession
from telephony.sdp import make_offer, parse_answer
from telephony.sip.ua import SipCall, SipCallError, SipConfig, UserAgent
from voice.audio import AudioFrame, resample

FRAME_MS = 20
LOUD_PEAK = 1000
ANSWER_OVER_S = 1.0  # this much quiet after the bot's audio: its answer has ended
INVITE_TIMEOUT_S = 40.0

T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class CallerPlan:
    """What one caller does: wait `start_s`, dial, let the greeting end, then for each of
    `questions`: ask, wait for the answer's end (at most `listen_s` for it to begin),
    stay quiet `think_s` (each drawn from the range), ask the next."""

    questions: tuple[AudioFrame, ...]
    start_s: float = 0.0
    think_s: tuple[float, float] = (8.0, 12.0)
    listen_s: float = 6.0
    greeting_max_s: float = 20.0
    end_silence_ms: int = 500


@dataclass
class CallerResult:
    answered: bool = False  # the call was taken (not refused with 503)
    status: int = 0  # the SIP status of a refused call
    latencies_ms: list[float] = field(default_factory=list)
    unanswered: int = 0  # questions without an answer within listen_s

    @property
    def all_answered(self) -> bool:
        return self.answered and self.unanswered == 0 and bool(self.latencies_ms)


class Ear:
    """Arrival times of loud frames from the bot."""

    def __init__(self) -> None:
        self.last_loud = 0.0
        self.loud: list[float] = []
        self.changed = asyncio.Event()

    def heard(self, frame: AudioFrame) -> None:
        if frame.peak() > LOUD_PEAK:
            now = time.monotonic()
            self.last_loud = now
            self.loud.append(now)
            self.changed.set()

    def first_after(self, moment: float) -> float | None:
        return next((t for t in self.loud if t > moment), None)


async def run_caller(uri: str, plan: CallerPlan, *, seed: int) -> CallerResult:
    """Runs one caller along `plan` against `uri` (over loopback UDP)."""
    await asyncio.sleep(plan.start_s)
    rng = random.Random(seed)
    agent = UserAgent(SipConfig(host="127.0.0.1", port=0), _refuse_inbound)
    await agent.start()
    media = await RtpSession.open("127.0.0.1", port_range=(30000, 39999))
    result = CallerResult()
    try:
        offer = make_offer("127.0.0.1", media.local_port)
        try:
            async with asyncio.timeout(INVITE_TIMEOUT_S):
                call = await agent.invite(uri, offer)
        except SipCallError as error:
            result.status = error.status
            return result
        except TimeoutError:
            return result
        result.answered = True
        media.start(parse_answer(call.remote_sdp, offer))
        ear = Ear()
        receiver = asyncio.create_task(_receive(media, ear), name="load-caller-receive")
        try:
            await _converse(media, call, plan, ear, result, rng)
        finally:
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiver
            if not call.is_ended:
                with contextlib.suppress(TimeoutError, SipCallError):
                    async with asyncio.timeout(10):
                        await call.bye()
        return result
    finally:
        await media.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                await agent.stop()


async def run_callers(uri: str, plans: Sequence[CallerPlan]) -> list[CallerResult]:
    """Runs every plan's caller at once (caller i seeded with i)."""
    return list(
        await asyncio.gather(*(run_caller(uri, plan, seed=i) for i, plan in enumerate(plans)))
    )


def _run(work: Callable[..., Coroutine[Any, Any, Any]], args: tuple[Any, ...]) -> Any:
    return asyncio.run(work(*args))


class CallerProcess:
    """One child process (spawned, so it shares nothing with the bot) that runs callers:
    `await callers.run(run_callers, uri, plans)`; `work` must be a module-level coroutine
    function, its arguments and result picklable."""

    def __init__(self) -> None:
        self._pool = ProcessPoolExecutor(
            max_workers=1, mp_context=multiprocessing.get_context("spawn")
        )

    async def run(self, work: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
        result: T = await asyncio.get_running_loop().run_in_executor(self._pool, _run, work, args)
        return result

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)


async def _converse(
    media: RtpSession,
    call: SipCall,
    plan: CallerPlan,
    ear: Ear,
    result: CallerResult,
    rng: random.Random,
) -> None:
    silence = AudioFrame.silence(FRAME_MS / 1000, 8000)
    started = time.monotonic()
    # the greeting: wait for it to begin and end
    while time.monotonic() - started < plan.greeting_max_s and not call.is_ended:
        await media.play(silence)
        if ear.loud and time.monotonic() - ear.last_loud > ANSWER_OVER_S:
            break
    for question in plan.questions:
        if call.is_ended:
            result.unanswered += 1
            continue
        think = rng.uniform(*plan.think_s)
        for _ in range(round(think * 1000 / FRAME_MS)):
            await media.play(silence)
        spoke_until = 0.0
        for frame in resample(question, 8000).split(FRAME_MS):
            await media.play(frame)
            if frame.peak() > 500:
                spoke_until = time.monotonic() + 5 * FRAME_MS / 1000  # the queue ahead
        due = spoke_until + plan.end_silence_ms / 1000
        first: float | None = None
        while time.monotonic() < due + plan.listen_s and not call.is_ended:
            await media.play(silence)
            first = ear.first_after(due)
            if first is not None:
                break
        if first is None:
            result.unanswered += 1
            continue
        result.latencies_ms.append((first - due) * 1000)
        while time.monotonic() - ear.last_loud < ANSWER_OVER_S and not call.is_ended:
            await media.play(silence)  # the rest of the answer


async def _receive(media: RtpSession, ear: Ear) -> None:
    async for item in media.receive():
        if isinstance(item, AudioFrame):
            ear.heard(item)


async def _refuse_inbound(call: SipCall) -> None:
    await call.reject(486, "Busy Here")


def summary(calls: int, mode: str, results: list[CallerResult]) -> str:
    """The one line a load ends with: `calls=12 mode=staggered p50_ms=… p95_ms=…
    answered=12/12` (answered: calls whose every question was answered)."""
    latencies = sorted(t for r in results for t in r.latencies_ms)

    def pick(q: float) -> str:
        if not latencies:
            return "nan"
        return f"{latencies[min(len(latencies) - 1, round(q * (len(latencies) - 1)))]:.0f}"

    answered = sum(r.all_answered for r in results)
    figures = f"p50_ms={pick(0.5)} p95_ms={pick(0.95)}"
    return f"calls={calls} mode={mode} {figures} answered={answered}/{calls}"
