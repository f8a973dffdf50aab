from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from bench.speech_samples import conversation, espeak, pico
from tests.fakes import FakeVad
from voice.audio import AudioFrame
from voice.vad import (
    Endpointer,
    SileroVad,
    SpeechEnded,
    SpeechPaused,
    SpeechStarted,
    VadEvent,
    chunk_level_db,
)

LOUD = AudioFrame.from_samples(np.full(8000, 8000, dtype=np.int16), 16000)  # 0.5 s


def pattern(*parts: tuple[str, float], rate: int = 16000) -> AudioFrame:
    frames = [
        AudioFrame.from_samples(np.full(int(s * rate), 8000 if kind == "s" else 0, np.int16), rate)
        for kind, s in parts
    ]
    return AudioFrame(b"".join(f.pcm for f in frames), rate)


def run(ep: Endpointer, audio: AudioFrame, frame_ms: int = 20) -> list[VadEvent]:
    return [e for f in audio.split(frame_ms) for e in ep.feed(f)] + ep.flush()


def test_speech_and_silence_pattern_gives_turns() -> None:
    audio = pattern(
        ("q", 1.0), ("s", 1.0), ("q", 0.3), ("s", 0.5), ("q", 1.0), ("s", 0.6), ("q", 1.0)
    )
    events = run(Endpointer(FakeVad(), start_ms=96, end_silence_ms=500), audio)
    kinds = [type(e).__name__ for e in events]
    # a 300 ms pause does not end the turn; 1 s does
    assert kinds == ["SpeechStarted", "SpeechEnded", "SpeechStarted", "SpeechEnded"]
    first = events[1]
    assert isinstance(first, SpeechEnded)
    assert first.endpoint_silence_s == pytest.approx(0.512, abs=0.001)
    # 320 ms pre-roll (the 96 ms that started the turn and 224 ms before), speech, silence
    assert first.audio.duration_s == pytest.approx(0.224 + 1.8 + 0.512, abs=0.04)


def test_end_silence_is_configurable_and_short_blips_are_ignored() -> None:
    audio = pattern(
        ("q", 0.5), ("s", 0.02), ("q", 0.5), ("s", 0.5), ("q", 0.3), ("s", 0.3), ("q", 0.5)
    )
    events = run(Endpointer(FakeVad(), start_ms=96, end_silence_ms=200), audio)
    assert [type(e).__name__ for e in events] == ["SpeechStarted", "SpeechEnded"] * 2
    with pytest.raises(ValueError):
        Endpointer(FakeVad(), end_silence_ms=50)


def test_deterministic_at_any_input_rate_and_frame_size() -> None:
    audio = pattern(("q", 0.5), ("s", 1.0), ("q", 1.0))
    reference = [(type(e).__name__, e.at_s) for e in run(Endpointer(FakeVad()), audio)]
    for rate, frame_ms in ((8000, 20), (48000, 10), (16000, 30)):
        from voice.audio import resample

        events = run(Endpointer(FakeVad()), resample(audio, rate), frame_ms)
        assert [type(e).__name__ for e in events] == [name for name, _ in reference]
        assert [e.at_s for e in events] == pytest.approx([t for _, t in reference], abs=0.07)


@pytest.mark.parametrize("rate", [8000, 48000])
def test_the_resampled_turn_is_exact_with_no_random_dither(rate: int) -> None:
    # soxr's int16 stream dithers at random: a steady 8000 came out as 7999..8001, so
    # the same recording gave a different turn (and words) in every process
    audio = pattern(("q", 0.5), ("s", 1.0), ("q", 1.0), rate=rate)
    (ended,) = [e for e in run(Endpointer(FakeVad()), audio) if isinstance(e, SpeechEnded)]
    samples = ended.audio.samples
    steady = samples[np.abs(samples.astype(np.int32) - 8000) < 100][200:-200]
    assert len(steady) > 12000 and set(steady.tolist()) == {8000}
    loud = AudioFrame.from_samples(np.full(rate, 32767, np.int16), rate)
    (top,) = [e for e in run(Endpointer(FakeVad()), loud) if isinstance(e, SpeechEnded)]
    assert top.audio.samples.max() == 32767  # the filter's overshoot is clipped, not wrapped
    assert top.audio.samples.min() >= 0


def test_the_end_of_a_turn_is_heard_as_soon_as_its_silence_is_complete() -> None:
    # 8 kHz speech until 1.5 s: the 16th silent 32 ms chunk (from 1.504 s) ends at 2.016 s
    # at 16 kHz; with the resampler's 5.4 ms on top, the 20 ms frame from 2.02 s (index 101)
    # completes it. soxr's stream held that audio back: the turn ended at frame 104.
    audio = pattern(("q", 0.5), ("s", 1.0), ("q", 1.5), rate=8000)
    endpointer = Endpointer(FakeVad(), end_silence_ms=500)
    ended = [
        (index, event)
        for index, frame in enumerate(audio.split(20))
        for event in endpointer.feed(frame)
        if isinstance(event, SpeechEnded)
    ]
    assert [(index, event.at_s, event.endpoint_silence_s) for index, event in ended] == [
        (101, pytest.approx(2.016), pytest.approx(0.512))
    ]


def test_after_a_reset_a_recording_gives_exactly_what_a_fresh_endpointer_gives() -> None:
    # voice-test resets at the recording's start: however long the greeting took to say,
    # the caller's turns are the same, to the sample
    speech = pico("Es brennt in unserer Wohnung!")
    audio = conversation(speech, speech)
    fresh = [e for e in run(Endpointer(SileroVad()), audio) if isinstance(e, SpeechEnded)]
    for lead_s in (0.02, 0.14, 3.5):  # 7 frames: part of a chunk left in the buffer
        used = Endpointer(SileroVad())
        run(used, conversation(speech, gap_s=lead_s))
        used.feed(AudioFrame.silence(0.02 * 7, 8000))
        used.reset()
        again = [e for e in run(used, audio) if isinstance(e, SpeechEnded)]
        assert [e.audio.pcm for e in again] == [e.audio.pcm for e in fresh]
        assert [e.endpoint_silence_s for e in again] == [e.endpoint_silence_s for e in fresh]
    assert len(fresh) == 2


def test_silero_finds_german_speech_at_8_khz_and_nothing_in_noise() -> None:
    audio = conversation(pico("Ich brauche einen neuen Personalausweis."), espeak("Guten Tag"))
    events = run(Endpointer(SileroVad()), audio)
    ended = [e for e in events if isinstance(e, SpeechEnded)]
    assert len(ended) == 2
    assert isinstance(events[0], SpeechStarted) and 0.4 < events[0].at_s < 1.0
    rng = np.random.default_rng(1)
    noise = AudioFrame.from_samples(rng.normal(0, 0.01, 8000 * 3), 8000)
    assert run(Endpointer(SileroVad()), noise) == []
    again = run(Endpointer(SileroVad()), audio)
    assert [(type(e).__name__, e.at_s) for e in again] == [
        (type(e).__name__, e.at_s) for e in events
    ]


def test_silero_ends_a_caller_s_turn_over_voices_20_db_behind_them() -> None:
    caller = pico("Ich möchte einen Termin für einen Reisepass.").samples.astype(np.float64)
    others = [
        pico("Wann wird der Sperrmüll abgeholt?"),
        pico("Wo kann ich mein Auto anmelden?"),
        espeak("Ich habe meinen Ausweis verloren."),
        espeak("Guten Tag, ich hätte eine Frage zur Hundesteuer."),
    ]
    length = 4000 + len(caller) + 8000 * 6  # 0.5 s before the caller, 6 s after
    voices = sum(
        np.resize(np.roll(o.samples.astype(np.float64), 1000 * i), length)
        for i, o in enumerate(others)
    )

    def level(x: npt.NDArray[np.float64]) -> float:
        voiced = x[np.abs(x) > 0.02 * np.abs(x).max()]
        return float(np.sqrt(np.mean(voiced**2)))

    mixed = voices * level(caller) / level(voices) / 10.0  # 20 dB down
    mixed[4000 : 4000 + len(caller)] += caller
    audio = AudioFrame.from_samples(np.clip(np.rint(mixed), -32768, 32767).astype(np.int16), 8000)
    caller_end_s = 0.5 + len(caller) / 8000
    turns = ended(run(Endpointer(SileroVad()), audio))
    assert len(turns) == 2  # the caller's, then the voices' own
    assert turns[0].at_s < caller_end_s + 0.5
    assert turns[0].endpoint_silence_s == pytest.approx(24 * CHUNK_S)
    assert turns[1].endpoint_silence_s == 0.0
    # Silero alone hears the voices as the caller's turn until the recording ends
    alone = ended(run(Endpointer(SileroVad(), background_db=None), audio))
    assert len(alone) == 1 and alone[0].at_s == pytest.approx(audio.duration_s, abs=0.1)


def test_pauses_are_reported_and_hold_only_when_the_caller_stays_silent() -> None:
    audio = pattern(("q", 0.5), ("s", 1.0), ("q", 0.3), ("s", 0.5), ("q", 1.0))
    events = run(Endpointer(FakeVad(), end_silence_ms=500, pause_ms=192), audio)
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["SpeechStarted", "SpeechPaused", "SpeechPaused", "SpeechEnded"]
    first, second, ended = events[1], events[2], events[3]
    assert isinstance(first, SpeechPaused) and isinstance(second, SpeechPaused)
    assert isinstance(ended, SpeechEnded) and ended.pause_holds
    # the second pause's audio is the whole turn but the trailing silence after the pause
    assert second.audio.pcm == ended.audio.pcm[: len(second.audio.pcm)]
    assert ended.audio.duration_s - second.audio.duration_s == pytest.approx(0.32, abs=0.001)
    assert first.audio.duration_s < second.audio.duration_s - 0.5


def test_a_turn_that_ends_by_length_after_speech_does_not_hold_its_pause() -> None:
    audio = pattern(("q", 0.5), ("s", 0.5), ("q", 0.3), ("s", 1.0))
    events = run(Endpointer(FakeVad(), pause_ms=192, max_utterance_s=1.5), audio)
    ended = [e for e in events if isinstance(e, SpeechEnded)]
    assert ended and not ended[0].pause_holds  # cut in the middle of the second phrase
    without = run(Endpointer(FakeVad()), pattern(("q", 0.5), ("s", 1.0), ("q", 1.0)))
    assert not any(isinstance(e, SpeechPaused) for e in without)
    with pytest.raises(ValueError):
        Endpointer(FakeVad(), end_silence_ms=300, pause_ms=290)


class ScriptedVad:
    """Speech probabilities from a list, one per 32 ms chunk."""

    def __init__(self, probabilities: list[float]) -> None:
        self._left = list(probabilities)

    def speech_probability(self, chunk: object) -> float:
        return self._left.pop(0) if self._left else 0.0

    def reset(self) -> None:
        pass


def test_a_soft_first_word_below_the_threshold_belongs_to_the_turn() -> None:
    # 20 quiet chunks, 10 chunks of a soft word (0.3), then clear speech
    probabilities = [0.02] * 20 + [0.3] * 10 + [0.95] * 10 + [0.02] * 30
    ep = Endpointer(ScriptedVad(probabilities), start_ms=96, end_silence_ms=500, pre_roll_ms=320)
    events = run(ep, AudioFrame.silence(len(probabilities) * 0.032, 16000))
    ended = [e for e in events if isinstance(e, SpeechEnded)]
    assert len(ended) == 1
    # the soft word (320 ms) and 224 ms of pre-roll before it are in the turn
    assert ended[0].audio.duration_s >= (10 + 10 + 7) * 0.032


@pytest.mark.parametrize("lead_s", [1.0, 4.0, 8.0, 21.0, 40.0])
def test_speech_after_a_long_silence_is_heard_from_its_first_word(lead_s: float) -> None:
    # Silero's state drifted over long silence: the first 1-1.6 s of a sentence were lost
    speech = pico("Was kostet ein neuer Personalausweis?")
    audio = AudioFrame.silence(lead_s, 8000) + speech + AudioFrame.silence(2.0, 8000)
    ended = [e for e in run(Endpointer(SileroVad()), audio) if isinstance(e, SpeechEnded)]
    assert len(ended) == 1
    onset_s = lead_s + int(np.argmax(np.abs(speech.samples) > 500)) / speech.sample_rate
    turn_start_s = ended[0].at_s - ended[0].audio.duration_s
    assert turn_start_s <= onset_s


class CountingSession:
    """Silero's ONNX session, counting inferences."""

    def __init__(self, session: object) -> None:
        self._session = session
        self.runs = 0

    def run(self, *args: object) -> object:
        self.runs += 1
        return self._session.run(*args)  # type: ignore[attr-defined]


def test_a_renewed_state_is_copied_not_primed_again() -> None:
    first = SileroVad()
    counting = CountingSession(first.session)
    vad = SileroVad(session=counting, initial=first.initial)
    assert counting.runs == 0  # a call's start costs no inference
    vad.speech_probability(np.zeros(512, dtype=np.float32))
    vad.reset()
    assert counting.runs == 1
    primed = SileroVad(session=counting)
    assert counting.runs == 1 + 78  # priming on 2.5 s of silence: once per model
    assert np.array_equal(primed.initial.h, first.initial.h)
    assert np.array_equal(primed.initial.c, first.initial.c)


def test_a_copied_state_detects_as_a_primed_one() -> None:
    audio = conversation(pico("Ich brauche einen neuen Personalausweis."), espeak("Guten Tag"))
    first = SileroVad()
    copied = run(Endpointer(SileroVad(session=first.session, initial=first.initial)), audio)
    assert [(type(e), e.at_s) for e in copied] == [
        (type(e), e.at_s) for e in run(Endpointer(SileroVad()), audio)
    ]
    assert copied


# Background voices: FakeVad calls any chunk above 1000 speech, as Silero does a television
# 30 dB below the caller. The caller speaks at 8000 (78.06 dB); 10 dB below is 2529.8.
CHUNK_S = 0.032


def levels(*parts: tuple[int, float]) -> AudioFrame:
    """16 kHz audio of constant amplitudes: (amplitude, seconds) each."""
    return AudioFrame(
        b"".join(
            np.full(round(s * 16000), amp, np.int16).astype("<i2").tobytes() for amp, s in parts
        ),
        16000,
    )


def ended(events: list[VadEvent]) -> list[SpeechEnded]:
    return [e for e in events if isinstance(e, SpeechEnded)]


def test_a_chunk_s_level_is_its_power_in_db() -> None:
    assert chunk_level_db(np.zeros(512, np.int16)) == 0.0
    assert chunk_level_db(np.full(512, 8000, np.int16)) == pytest.approx(78.0618, abs=1e-4)
    assert chunk_level_db(np.full(512, -8000, np.int16)) == pytest.approx(78.0618, abs=1e-4)
    half = np.concatenate([np.zeros(256, np.int16), np.full(256, 8000, np.int16)])
    assert chunk_level_db(half) == pytest.approx(75.0515, abs=1e-4)


def test_voices_in_the_background_do_not_keep_the_caller_s_turn_open() -> None:
    audio = levels((0, 0.512), (8000, 1.024), (2000, 3.0))  # 16 chunks, 32, then 12 dB down
    events = run(Endpointer(FakeVad()), audio)
    assert [type(e).__name__ for e in events] == [
        "SpeechStarted",
        "SpeechEnded",
        "SpeechStarted",  # the background alone is a turn of its own
        "SpeechEnded",
    ]
    first = ended(events)[0]
    # 768 ms (24 chunks: 16 of silence and 8 more) after the caller's last chunk
    assert first.at_s == pytest.approx((16 + 32 + 24) * CHUNK_S)
    assert first.endpoint_silence_s == pytest.approx(24 * CHUNK_S)
    assert ended(events)[1].endpoint_silence_s == 0.0  # ... ended by the recording's end
    # without the level rule the turn lasts as long as the voices behind the caller
    plain = run(Endpointer(FakeVad(), background_db=None), audio)
    assert [type(e).__name__ for e in plain] == ["SpeechStarted", "SpeechEnded"]
    assert ended(plain)[0].at_s == pytest.approx(audio.duration_s, abs=CHUNK_S)


@pytest.mark.parametrize(("amplitude", "ends"), [(2528, True), (2531, False)])
def test_background_is_what_lies_10_db_below_the_caller(amplitude: int, ends: bool) -> None:
    # 2528 is 10.006 dB below 8000, 2531 is 9.996 dB below
    audio = levels((0, 0.512), (8000, 1.024), (amplitude, 2.0))
    events = ended(run(Endpointer(FakeVad()), audio))
    assert (events[0].at_s < audio.duration_s - 0.5) is ends
    # the limit is configurable: 12 dB down is background at 10 and 12, not at 12.5
    quieter = levels((0, 0.512), (8000, 1.024), (2000, 2.0))  # 12.04 dB down
    for limit, heard_apart in ((10.0, True), (12.0, True), (12.5, False)):
        first = ended(run(Endpointer(FakeVad(), background_db=limit), quieter))[0]
        assert (first.at_s < quieter.duration_s - 0.5) is heard_apart


@pytest.mark.parametrize(("speech_chunks", "lag_chunks"), [(13, 24), (12, 25)])
def test_the_caller_s_level_counts_from_10_chunks_of_the_turn(
    speech_chunks: int, lag_chunks: int
) -> None:
    # the first 3 chunks start the turn; 10 more make a level, 9 make one with the first
    # background chunk, which is then one chunk late to count as quiet
    audio = levels((0, 0.512), (8000, speech_chunks * CHUNK_S), (2000, 2.0))
    first = ended(run(Endpointer(FakeVad()), audio))[0]
    assert first.at_s == pytest.approx((16 + speech_chunks + lag_chunks) * CHUNK_S)


@pytest.mark.parametrize(("hangover", "silence_chunks"), [(0, 16), (8, 16), (9, 24)])
def test_silence_after_a_quieter_hangover_ends_the_turn_as_before_up_to_8_chunks(
    hangover: int, silence_chunks: int
) -> None:
    # Silero goes on hearing speech for a while after a word, and a hesitation may be soft:
    # silence still ends such a turn 16 chunks on, unless 24 quiet chunks come first
    audio = levels((0, 0.512), (8000, 1.024), (2000, hangover * CHUNK_S), (0, 2.0))
    first = ended(run(Endpointer(FakeVad()), audio))[0]
    assert first.endpoint_silence_s == pytest.approx(silence_chunks * CHUNK_S)
    quiet_from = 16 + 32 + (hangover if silence_chunks == 16 else 0)
    assert first.at_s == pytest.approx((quiet_from + silence_chunks) * CHUNK_S)


@pytest.mark.parametrize(("caller_chunks", "heard_apart"), [(16, True), (15, False)])
def test_the_caller_s_level_is_that_of_the_turn_s_last_31_speech_chunks(
    caller_chunks: int, heard_apart: bool
) -> None:
    # the turn starts on the background; 16 chunks of the caller are a majority of the last
    # 31 and the background after them is heard as quiet, 15 are not
    audio = levels((0, 0.512), (2000, 1.5), (8000, caller_chunks * CHUNK_S), (2000, 2.0))
    first = ended(run(Endpointer(FakeVad()), audio))[0]
    caller_end = 0.512 + 1.5 + caller_chunks * CHUNK_S
    expected = caller_end + 24 * CHUNK_S if heard_apart else audio.duration_s
    assert first.at_s == pytest.approx(expected, abs=CHUNK_S)


def test_a_chunk_at_the_speech_threshold_counts_to_the_caller_s_level() -> None:
    audio = levels((0, 0.512), (8000, 1.024), (2000, 2.0))
    # every loud chunk is speech at exactly the endpointer's threshold (0.5)
    first = ended(run(Endpointer(FakeVad(speech=0.5)), audio))[0]
    assert first.at_s == pytest.approx((16 + 32 + 24) * CHUNK_S)


def test_a_quieter_turn_is_measured_against_itself_not_the_turn_before() -> None:
    # the caller moves away from the phone: the next turn is 12 dB down, still one turn
    audio = levels((0, 0.512), (8000, 1.0), (0, 1.0), (2000, 1.5), (0, 1.0))
    ep = Endpointer(FakeVad())
    events = run(ep, audio)
    assert [type(e).__name__ for e in events] == ["SpeechStarted", "SpeechEnded"] * 2
    assert ended(events)[1].audio.duration_s >= 1.5
    assert ended(events)[1].endpoint_silence_s == pytest.approx(16 * CHUNK_S)


def test_a_reset_forgets_the_caller_s_level_of_a_turn_in_progress() -> None:
    ep = Endpointer(FakeVad())
    for frame in levels((0, 0.512), (8000, 1.0)).split(20):
        ep.feed(frame)
    ep.reset()
    events = ended(run(ep, levels((0, 0.512), (2000, 1.5), (0, 1.0))))
    assert len(events) == 1 and events[0].audio.duration_s >= 1.5


@pytest.mark.parametrize("limit", [3.0, 60.0, None])
def test_the_background_limit_accepts_3_to_60_db_or_none(limit: float | None) -> None:
    Endpointer(FakeVad(), background_db=limit)


@pytest.mark.parametrize("limit", [2.9, 60.1, 0.0])
def test_the_background_limit_refuses_other_values(limit: float) -> None:
    with pytest.raises(ValueError, match="background_db"):
        Endpointer(FakeVad(), background_db=limit)


def test_silence_is_counted_from_the_first_chunk_after_the_turn_started() -> None:
    # 3 loud chunks start the turn; the 16 silent ones after them end it, not 13 or 15
    audio = levels((0, 0.512), (8000, 3 * CHUNK_S), (0, 2.0))
    first = ended(run(Endpointer(FakeVad()), audio))[0]
    assert first.at_s == pytest.approx((16 + 3 + 16) * CHUNK_S)
    assert first.endpoint_silence_s == pytest.approx(16 * CHUNK_S)


def test_a_chunk_at_the_silence_threshold_is_not_silence_but_may_be_quiet() -> None:
    audio = levels((0, 0.512), (8000, 1.024), (0, 2.0))
    # quiet chunks at exactly the endpointer's silence threshold (0.5 - 0.15)
    first = ended(run(Endpointer(FakeVad(quiet=0.35)), audio))[0]
    # not silent at 0.35, so only the level rule ends the turn, 24 chunks on
    assert first.endpoint_silence_s == pytest.approx(24 * CHUNK_S)
    assert first.at_s == pytest.approx((16 + 32 + 24) * CHUNK_S)
