"""The degraded-audio bench's own arithmetic: re-asks, wrong guesses and the per-voice
counts, on hand-made results (no model, no Rasa)."""

from __future__ import annotations

import pytest

from bench.degraded import Heard, at_limit, by_voice, voice_label


def heard(confidence: float, *, right: bool = False, fallback: bool = False) -> Heard:
    return Heard(confidence, right, fallback, looped=False, seconds=0.1)


def test_a_turn_at_the_limit_is_kept_and_one_below_it_is_re_asked() -> None:
    files = [
        heard(0.2, right=True),  # kept, right
        heard(0.19, right=True),  # re-asked, however right
        heard(0.5),  # kept, a wrong guess
        heard(0.6),  # kept, another
        heard(0.5, fallback=True),  # kept, Rasa's own fallback: no guess
        heard(0.1),  # re-asked
    ]
    assert at_limit(files, 0.2) == (1, 2, 2)
    assert at_limit(files, 0.05) == (2, 0, 3)
    assert at_limit(files, 0.51) == (0, 5, 1)


def test_right_answers_are_counted_per_voice_in_the_order_voices_first_speak() -> None:
    voices = ["pico", "espeak de+m1 135 wpm p35", "pico", "espeak de+m1 135 wpm p35", "pico"]
    files = [
        heard(0.2, right=True),
        heard(0.9, right=True),
        heard(0.19, right=True),  # below the limit: re-asked, not right
        heard(0.9),
        heard(0.7, right=True),
    ]
    counts = by_voice(voices, files, 0.2)
    assert counts == {"pico": (2, 3), "espeak de+m1 135 wpm p35": (1, 2)}
    assert list(counts) == ["pico", "espeak de+m1 135 wpm p35"]
    assert by_voice(voices, files, 0.19) == {"pico": (3, 3), "espeak de+m1 135 wpm p35": (1, 2)}


def test_per_voice_counts_refuse_results_that_do_not_match_the_files() -> None:
    with pytest.raises(ValueError, match="2 voices for 1 files"):
        by_voice(["pico", "pico"], [heard(0.9)], 0.2)


@pytest.mark.parametrize(
    ("voice", "label"),
    [("pico", "pico"), ("espeak de+klatt 160 wpm p45", "de+klatt"), ("espeak de+f2", "de+f2")],
)
def test_voice_columns_are_headed_by_the_voice_or_its_espeak_variant(
    voice: str, label: str
) -> None:
    assert voice_label(voice) == label
