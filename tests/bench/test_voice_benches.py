"""The voice benchmarks' own logic: the batch bench's utterances and the load's batch and
stage lines."""

from __future__ import annotations

import numpy as np
import pytest

from bench.asr_batch import TURN_S, utterances
from bench.sip_calls import batch_sizes, stage_means, stage_totals
from dialogue.telemetry import Stage, Telemetry
from voice.asr import _window


def test_the_batch_bench_s_utterances_share_one_encoder_window_and_differ() -> None:
    audios = utterances(16)
    assert len(audios) == 16
    assert {(a.sample_rate, a.num_samples) for a in audios} == {(8000, int(TURN_S * 8000))}
    assert {_window(a.num_samples * 2) for a in audios} == {700}  # 4 s at 16 kHz + 3 s margin
    distinct = {a.samples.tobytes() for a in audios}
    assert len(distinct) >= 8  # real sentences, not one copied
    assert all(np.abs(a.samples[-800:]).max() == 0 for a in audios)  # padded with silence


def test_a_load_s_batches_are_counted_by_size() -> None:
    assert batch_sizes([1, 1, 2, 1, 3]) == "8 recognitions in 5 batches (size 1: 3, 2: 1, 3: 1)"
    assert batch_sizes([4]) == "4 recognitions in 1 batch (size 4: 1)"
    assert batch_sizes([]) == "0 recognitions in 0 batches (size -)"


def test_a_load_s_stage_means_count_only_what_the_load_observed() -> None:
    telemetry = Telemetry()
    telemetry.asr(5.0, audio_s=2.0)  # before the load: left out
    before = stage_totals(telemetry.registry)
    telemetry.asr(0.8, audio_s=2.0)
    telemetry.asr(0.4, audio_s=2.0)
    telemetry.observe(Stage.RASA, 0.15)
    telemetry.observe(Stage.ANSWER, 9.0)  # not a stage the line shows
    after = stage_totals(telemetry.registry)
    assert after[Stage.ASR] == (pytest.approx(6.2), 3.0)
    assert stage_means(before, after) == (
        "means per turn: recognition 600 ms, dialogue 150 ms, first audio -"
    )
    assert stage_means(after, after) == "means per turn: recognition -, dialogue -, first audio -"
