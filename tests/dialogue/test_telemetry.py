"""The live Prometheus metrics: closed label sets, what a turn and a stage count, and that
the statistics class feeds them even when Redis is down."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from prometheus_client import generate_latest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from contract.payloads import HandoffReason
from dialogue.metrics import Metrics, StatChannel, TurnFacts
from dialogue.telemetry import Service, Stage, Telemetry


def value(t: Telemetry, name: str, **labels: str) -> float | None:
    return t.registry.get_sample_value(name, labels)


def test_a_turn_counts_per_channel_with_fallbacks_and_known_reasons() -> None:
    t = Telemetry()
    t.turn("chat", fallback=False, handoff_reasons=())
    t.turn("chat", fallback=True, handoff_reasons=(HandoffReason.USER_REQUEST.value,))
    t.turn("phone", fallback=False, handoff_reasons=("made-up reason",))
    assert value(t, "rathausbot_turns_total", channel="chat") == 2
    assert value(t, "rathausbot_turns_total", channel="phone") == 1
    assert value(t, "rathausbot_fallbacks_total", channel="chat") == 1
    assert value(t, "rathausbot_fallbacks_total", channel="phone") is None
    reason = HandoffReason.USER_REQUEST.value
    assert value(t, "rathausbot_handoffs_total", channel="chat", reason=reason) == 1
    unknown = HandoffReason.UNSPECIFIED.value  # an unknown reason never becomes a label
    assert value(t, "rathausbot_handoffs_total", channel="phone", reason=unknown) == 1
    assert value(t, "rathausbot_handoffs_total", channel="phone", reason="made-up reason") is None


def test_stages_and_real_time_factor() -> None:
    t = Telemetry()
    for stage in Stage:  # every stage is exported from the start, at zero
        assert value(t, "rathausbot_stage_seconds_count", stage=stage.value) == 0
    t.observe(Stage.RASA, 0.25)
    t.observe(Stage.RASA, -1.0)  # a clock step back counts as zero, not negative
    assert value(t, "rathausbot_stage_seconds_count", stage="rasa") == 2
    assert value(t, "rathausbot_stage_seconds_sum", stage="rasa") == 0.25
    t.asr(0.5, audio_s=2.0)
    assert value(t, "rathausbot_stage_seconds_count", stage="asr") == 1
    assert value(t, "rathausbot_asr_real_time_factor_sum") == 0.25
    t.asr(0.5, audio_s=0.0)  # no audio: the stage counts, the factor does not
    assert value(t, "rathausbot_stage_seconds_count", stage="asr") == 2
    assert value(t, "rathausbot_asr_real_time_factor_count") == 1


def test_calls_taken_count_per_kind() -> None:
    t = Telemetry()
    assert value(t, "rathausbot_calls_total", kind="sip") is None
    t.call_started("sip")
    t.call_started("sip")
    t.call_started("browser")
    assert value(t, "rathausbot_calls_total", kind="sip") == 2
    assert value(t, "rathausbot_calls_total", kind="browser") == 1


def test_service_health_is_one_or_zero() -> None:
    t = Telemetry()
    t.service_up(Service.REDIS, True)
    t.service_up(Service.RASA, False)
    assert value(t, "rathausbot_service_up", service="redis") == 1
    assert value(t, "rathausbot_service_up", service="rasa") == 0


def test_two_registries_do_not_share_values() -> None:
    a, b = Telemetry(), Telemetry()
    a.turn("chat", fallback=False, handoff_reasons=())
    assert value(b, "rathausbot_turns_total", channel="chat") is None


async def test_the_statistics_feed_the_live_metrics_even_without_redis() -> None:
    t = Telemetry()
    broken = Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0))
    metrics = Metrics(broken, intents=[], telemetry=t)
    await metrics.turn(TurnFacts("sip-1", StatChannel.PHONE, None, True, ()))
    await metrics.answer_latency("web-1", 1500)  # a browser call: live metrics only
    metrics.observe(Stage.TTS_FIRST_AUDIO, 0.1)
    metrics.asr(0.2, audio_s=1.0)
    await broken.aclose()
    assert value(t, "rathausbot_turns_total", channel="phone") == 1
    assert value(t, "rathausbot_fallbacks_total", channel="phone") == 1
    assert value(t, "rathausbot_stage_seconds_sum", stage="answer") == 1.5
    assert value(t, "rathausbot_stage_seconds_count", stage="tts_first_audio") == 1
    assert value(t, "rathausbot_asr_real_time_factor_count") == 1


def test_promtool_accepts_the_names() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool missing: run `make setup-test` (Debian package prometheus)")
    t = Telemetry()
    t.turn("chat", fallback=True, handoff_reasons=("user_request",))
    t.observe(Stage.ANSWER, 1.0)
    done = subprocess.run(
        [promtool, "check", "metrics"], input=generate_latest(t.registry), capture_output=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert b"rathausbot_turns_total" in generate_latest(t.registry)
