"""Live operational metrics for Prometheus (`/metrics` on its own loopback listener).

Unlike the team statistics in `dialogue.metrics` (per day, in Redis, kept for years), these
live in the process and vanish with it. Every label value comes from a closed set (channels,
stages, handoff reasons, services); a session or call id is never a label.
"""

from __future__ import annotations

from contextvars import ContextVar
from enum import StrEnum

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector

from contract.payloads import HandoffReason

PREFIX = "rathausbot"

CURRENT_SESSION: ContextVar[str | None] = ContextVar("rathausbot_session", default=None)
"""The call or chat session a task works for (set per turn; JSON log lines carry it)."""

STAGE_BUCKETS_S = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
RTF_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 4.0)


class Stage(StrEnum):
    """The measured stages of a turn."""

    VAD_END_OF_TURN = "vad_end_of_turn"  # silence the endpointer waited before ending the turn
    ASR = "asr"  # transcription of one utterance
    RASA = "rasa"  # one round trip to the dialogue engine
    TTS_FIRST_AUDIO = "tts_first_audio"  # synthesis until the first audio of a reply
    ANSWER = "answer"  # end of the caller's speech to the first audio of the reply


class Service(StrEnum):
    """The services whose health is exported."""

    REDIS = "redis"
    RASA = "rasa"
    ACTIONS = "actions"


class Telemetry:
    """The process's metrics on one registry (so tests can build as many as they like)."""

    def __init__(self, *, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        ProcessCollector(registry=r)  # CPU seconds, resident memory, open files
        self._turns = Counter(
            f"{PREFIX}_turns", "User turns answered, per channel", ["channel"], registry=r
        )
        self._fallbacks = Counter(
            f"{PREFIX}_fallbacks",
            "User turns the assistant did not understand, per channel",
            ["channel"],
            registry=r,
        )
        self._handoffs = Counter(
            f"{PREFIX}_handoffs",
            "Escalation cases opened, per channel and reason",
            ["channel", "reason"],
            registry=r,
        )
        self._stage = Histogram(
            f"{PREFIX}_stage_seconds",
            "Latency of each stage of a turn",
            ["stage"],
            buckets=STAGE_BUCKETS_S,
            registry=r,
        )
        self._rtf = Histogram(
            f"{PREFIX}_asr_real_time_factor",
            "Seconds of recognition per second of speech",
            buckets=RTF_BUCKETS,
            registry=r,
        )
        self._calls = Counter(
            f"{PREFIX}_calls", "Calls taken, per kind (sip, browser)", ["kind"], registry=r
        )
        self.calls_active = Gauge(f"{PREFIX}_calls_active", "Calls in progress", registry=r)
        self.chats_active = Gauge(f"{PREFIX}_chats_active", "Open web chat connections", registry=r)
        self.cases_waiting = Gauge(
            f"{PREFIX}_cases_waiting", "Open escalation cases (all gateways)", registry=r
        )
        self.webhook_queue = Gauge(
            f"{PREFIX}_webhook_queue_length", "Records waiting for their webhook", registry=r
        )
        self._up = Gauge(
            f"{PREFIX}_service_up", "Whether a service answers its probe", ["service"], registry=r
        )
        self.loop_lag = Gauge(
            f"{PREFIX}_event_loop_lag_seconds",
            "How late the event loop ran a timer at the last check",
            registry=r,
        )
        self.draining = Gauge(
            f"{PREFIX}_draining", "1 while the gateway drains before it stops", registry=r
        )
        for stage in Stage:
            self._stage.labels(stage=stage.value)
        for service in Service:
            self._up.labels(service=service.value)

    def turn(self, channel: str, *, fallback: bool, handoff_reasons: tuple[str, ...]) -> None:
        """Counts one user turn; `channel` is a `StatChannel` value, reasons are normalised
        to the contract's closed set."""
        self._turns.labels(channel=channel).inc()
        if fallback:
            self._fallbacks.labels(channel=channel).inc()
        known = {r.value for r in HandoffReason}
        for reason in handoff_reasons:
            label = reason if reason in known else HandoffReason.UNSPECIFIED.value
            self._handoffs.labels(channel=channel, reason=label).inc()

    def call_started(self, kind: str) -> None:
        """Counts one call taken; `kind` is a `telephony.capacity.CallKind` value."""
        self._calls.labels(kind=kind).inc()

    def observe(self, stage: Stage, seconds: float) -> None:
        self._stage.labels(stage=stage.value).observe(max(seconds, 0.0))

    def asr(self, seconds: float, *, audio_s: float) -> None:
        """One transcription that took `seconds` for `audio_s` of speech."""
        self.observe(Stage.ASR, seconds)
        if audio_s > 0:
            self._rtf.observe(max(seconds, 0.0) / audio_s)

    def service_up(self, service: Service, up: bool) -> None:
        self._up.labels(service=service.value).set(1 if up else 0)
