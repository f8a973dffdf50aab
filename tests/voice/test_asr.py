from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from voice.asr import (
    CPU_LANES,
    GPU_BATCH,
    RETRY_NO_REPEAT_NGRAM,
    RETRY_REPETITION_PENALTY,
    Device,
    DeviceChoice,
    ModelUnavailable,
    Transcript,
    WhisperTranscriber,
    _decode_limit,
    _LastEncoding,
    batch_for,
    choose_device,
    collapse_repeats,
    join_packaged_model,
    lanes_for,
    other_script_tokens,
    resolve_model,
    vocabulary_prompt,
)
from voice.audio import AudioFrame
from voice.guards import GuardLimits, confidence

REPO = Path(__file__).resolve().parents[2]


def test_cuda_with_float16_when_ctranslate2_reports_a_gpu() -> None:
    choice = choose_device(Device.AUTO, cuda_devices=lambda: 1, cpu_count=lambda: 2)
    assert (choice.device, choice.compute_type) == (Device.CUDA, "float16")


def test_cpu_int8_with_one_thread_per_usable_core_without_a_gpu() -> None:
    choice = choose_device(Device.AUTO, cuda_devices=lambda: 0, cpu_count=lambda: 2)
    assert (choice.device, choice.compute_type, choice.cpu_threads) == (Device.CPU, "int8", 2)
    forced = choose_device(Device.CPU, cuda_devices=lambda: 4, cpu_count=lambda: 8)
    assert forced.device is Device.CPU and forced.cpu_threads == 8


@pytest.mark.parametrize(
    ("requested", "device", "lanes", "threads"),
    [
        (0, DeviceChoice(Device.CPU, "int8", 2), 2, 1),  # the development machine
        (0, DeviceChoice(Device.CPU, "int8", 1), 1, 1),  # one core: one at a time
        (0, DeviceChoice(Device.CPU, "int8", 3), 2, 1),
        (0, DeviceChoice(Device.CPU, "int8", 16), 2, 8),
        (1, DeviceChoice(Device.CPU, "int8", 2), 1, 2),  # configured: as before
        (3, DeviceChoice(Device.CPU, "int8", 16), 3, 5),
        (4, DeviceChoice(Device.CPU, "int8", 2), 4, 1),
        (0, DeviceChoice(Device.CUDA, "float16", 0), 1, 0),  # a GPU batches instead
        (2, DeviceChoice(Device.CUDA, "float16", 0), 2, 0),
    ],
)
def test_recognition_lanes_share_the_cores(
    requested: int, device: DeviceChoice, lanes: int, threads: int
) -> None:
    assert CPU_LANES == 2
    found, each = lanes_for(requested, device)
    assert (found, each.cpu_threads) == (lanes, threads)
    assert (each.device, each.compute_type) == (device.device, device.compute_type)


@pytest.mark.parametrize(
    ("requested", "device", "batch"),
    [
        (0, DeviceChoice(Device.CPU, "int8", 2), 1),  # one by one on the CPU
        (0, DeviceChoice(Device.CPU, "int8", 16), 1),
        (0, DeviceChoice(Device.CUDA, "float16", 0), 4),
        (1, DeviceChoice(Device.CUDA, "float16", 0), 1),  # configured wins on either
        (16, DeviceChoice(Device.CUDA, "float16", 0), 16),
        (3, DeviceChoice(Device.CPU, "int8", 2), 3),
    ],
)
def test_the_batch_size_is_four_on_a_gpu_one_on_the_cpu_unless_configured(
    requested: int, device: DeviceChoice, batch: int
) -> None:
    assert GPU_BATCH == 4
    assert batch_for(requested, device) == batch


def test_cuda_patch_of_ctranslate2_is_what_auto_consults(monkeypatch: pytest.MonkeyPatch) -> None:
    import ctranslate2

    monkeypatch.setattr(ctranslate2, "get_cuda_device_count", lambda: 2)
    assert choose_device(Device.AUTO).device is Device.CUDA
    monkeypatch.setattr(ctranslate2, "get_cuda_device_count", lambda: 0)
    assert choose_device(Device.AUTO).device is Device.CPU


def fake_parts(tmp_path: Path) -> tuple[Path, Path]:
    one, two = tmp_path / "p1", tmp_path / "p2"
    one.mkdir()
    two.mkdir()
    (one / "model.bin.part1").write_bytes(b"A" * 1000)
    (two / "model.bin.part2").write_bytes(b"B" * 500)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        (one / name).write_text(name)
    return one, two


def test_packaged_model_is_joined_once_with_progress(tmp_path: Path) -> None:
    one, two = fake_parts(tmp_path)
    lines: list[str] = []
    target = join_packaged_model(tmp_path / "cache", one, two, progress=lines.append)
    assert (target / "model.bin").read_bytes() == b"A" * 1000 + b"B" * 500
    assert (target / "tokenizer.json").read_text() == "tokenizer.json"
    assert lines[0].startswith("Joining") and any("100 %" in line for line in lines)
    assert not (target / "model.bin.partial").exists()
    again: list[str] = []
    join_packaged_model(tmp_path / "cache", one, two, progress=again.append)
    assert again == []  # nothing to do the second time


def test_an_interrupted_join_is_redone(tmp_path: Path) -> None:
    one, two = fake_parts(tmp_path)
    target = tmp_path / "cache"
    target.mkdir()
    (target / "model.bin").write_bytes(b"A" * 10)  # truncated by a crash
    join_packaged_model(target, one, two)
    assert (target / "model.bin").stat().st_size == 1500


def test_configured_model_must_be_a_ctranslate2_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="not a CTranslate2 Whisper directory"):
        resolve_model("large-v3", tmp_path)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "model.bin").write_bytes(b"x")
    assert resolve_model(str(tmp_path / "mine"), tmp_path / "cache") == tmp_path / "mine"


def test_vocabulary_prompt_holds_municipal_terms() -> None:
    prompt = vocabulary_prompt(REPO / "intents" / "knowledge", extra=["Hundesteuer", "hundesteuer"])
    terms = prompt.split(", ")
    assert "Bürgerbüro" in terms and "Einwohnermeldeamt" in terms
    assert terms.count("Hundesteuer") == 1 and "hundesteuer" not in terms


def test_focused_prompt_keeps_single_words_that_matter() -> None:
    knowledge = REPO / "intents" / "knowledge"
    full = vocabulary_prompt(knowledge, extra=["Hundesteuer"]).split(", ")
    focused = vocabulary_prompt(knowledge, extra=["Hundesteuer"], focused=True).split(", ")
    assert "Buergeramt" in full and "Bauamts" in full
    assert "Buergeramt" not in focused and "Bauamts" not in focused  # spellings, inflections
    assert "Bürgeramt" in focused and "Hundesteuer" in focused
    assert all(" " not in t and "-" not in t for t in focused)
    assert len(focused) <= 30 < len(full)


@pytest.mark.parametrize(
    ("decoded", "kept"),
    [
        ("Kreis 4, Kreis 4, Kreis 4, Kre", "Kreis 4"),
        ("Ver Ver Ver Ver Ver", "Ver"),
        ("Ich brauche einen neuen Personalausweis.", "Ich brauche einen neuen Personalausweis."),
        ("Wie bitte? Wie bitte?", "Wie bitte? Wie bitte?"),  # twice is not a loop
        ("null null null eins", "null null null eins"),  # digits of a phone number
        ("3, 4, 3, 4, 3, 4", "3, 4, 3, 4, 3, 4"),
        ("", ""),
    ],
)
def test_a_decoder_loop_is_collapsed_to_one_copy(decoded: str, kept: str) -> None:
    assert collapse_repeats(decoded) == kept


class _Result:
    def __init__(self, text: str, score: float) -> None:
        self.sequences_ids = [[WORDS.index(w) for w in text.split()]]
        self.scores = [score]


WORDS = [
    "Sperrmüll",
    "Müll,",
    "abholen",
    "Müll",
    "Es",
    "brennt",
    "in",
    "unserer",
    "Wohnung,",
    "Wohnung",
    *["Ich", "möchte", "einen", "Termin", "beim", "Bürgeramt", "am", "Montag"],
    *["um", "neun", "Uhr", "bitte", "und", "danach", "noch"],
    "Siewennnnnnnnnnn",
    *["Das", "ist", "mein", "Part秀,", "Pass,", "秀"],
    *["Kreis", "4,", "Kre"],
]
EOT = len(WORDS)
FOREIGN = [WORDS.index("Part秀,"), WORDS.index("秀")]  # the fake vocabulary's other-script tokens


class _Decoder:
    """Stands in for CTranslate2's Whisper: returns the scripted results in turn."""

    def __init__(self, *results: tuple[str, float]) -> None:
        self.results = [_Result(*r) for r in results]
        self.calls: list[tuple[list[int], dict[str, object]]] = []
        self.batches: list[int] = []

    def generate(
        self, encoded: object, prompts: list[list[int]], **options: object
    ) -> list[_Result]:
        self.calls.append((prompts[0], options))
        self.batches.append(len(prompts))
        return [self.results.pop(0) for _ in prompts]


def _engine(decoder: _Decoder, *, prompt: bool, latin: bool = True) -> WhisperTranscriber:
    engine = object.__new__(WhisperTranscriber)
    engine._model = SimpleNamespace(  # type: ignore[attr-defined]
        model=decoder, feature_extractor=lambda a: np.zeros((80, 3000)), encode=lambda f: f
    )
    engine._tokenizer = SimpleNamespace(  # type: ignore[attr-defined]
        eot=EOT, decode=lambda tokens: " ".join(WORDS[t] for t in tokens)
    )
    engine._beam_size = 1  # type: ignore[attr-defined]
    engine._short_context = True  # type: ignore[attr-defined]
    engine._guards = GuardLimits()  # type: ignore[attr-defined]
    engine._last = _LastEncoding()  # type: ignore[attr-defined]
    engine._prompt = "Sperrmüll" if prompt else None  # type: ignore[attr-defined]
    engine._bare_tokens = [90]  # type: ignore[attr-defined]
    engine._latin = latin  # type: ignore[attr-defined]
    engine._foreign_tokens = FOREIGN  # type: ignore[attr-defined]
    engine._prompt_tokens = [80, 90] if prompt else [90]  # type: ignore[attr-defined]
    return engine


SPEECH = AudioFrame.silence(1.0, 16000)
LOOP = ("Sperrmüll Müll, Müll, Müll, Müll", -0.3)


@pytest.mark.parametrize("prompt", [True, False])
def test_a_tripped_guard_decodes_again_without_prompt_and_without_loops(prompt: bool) -> None:
    decoder = _Decoder(LOOP, ("Sperrmüll abholen", -0.4))
    heard = _engine(decoder, prompt=prompt).transcribe(SPEECH)
    assert heard == Transcript("Sperrmüll abholen", confidence(-0.4))
    (first, plain), (second, retry) = decoder.calls
    assert first == ([80, 90] if prompt else [90]) and second == [90]
    assert (plain["repetition_penalty"], plain["no_repeat_ngram_size"]) == (1.0, 0)
    assert (retry["repetition_penalty"], retry["no_repeat_ngram_size"]) == (1.3, 3)
    assert (RETRY_REPETITION_PENALTY, RETRY_NO_REPEAT_NGRAM) == (1.3, 3)
    for options in (plain, retry):  # scores for the guards, Whisper's own suppressions
        assert (options["return_scores"], options["suppress_blank"]) == (True, True)
    # a loop's retry keeps every token: barring some renormalises the scores of the rest
    assert plain["suppress_tokens"] == retry["suppress_tokens"] == [-1]


@pytest.mark.parametrize("prompt", [True, False])
def test_a_batch_member_that_trips_a_guard_is_decoded_once_more_alone_without_prompt(
    prompt: bool,
) -> None:
    decoder = _Decoder(LOOP, ("Sperrmüll abholen", -0.2), ("Müll abholen", -0.4))
    heard = _engine(decoder, prompt=prompt).transcribe_batch([SPEECH, SPEECH])
    assert heard == [
        Transcript("Müll abholen", confidence(-0.4)),
        Transcript("Sperrmüll abholen", confidence(-0.2)),
    ]
    assert decoder.batches == [2, 1]  # the batch, then the retry alone: no prompted decode
    (first, plain), (second, retry) = decoder.calls
    assert first == ([80, 90] if prompt else [90]) and second == [90]
    assert "repetition_penalty" not in plain and "no_repeat_ngram_size" not in plain
    assert (retry["repetition_penalty"], retry["no_repeat_ngram_size"]) == (1.3, 3)
    assert retry["max_length"] == 48  # its own second: 12 + 12 tokens, twice


class _BatchDecoder(_Decoder):
    """A decoder that also detects languages, one scripted list per utterance encoded."""

    def __init__(
        self, *results: tuple[str, float], languages: list[list[tuple[str, float]]]
    ) -> None:
        super().__init__(*results)
        self.languages = languages
        self.encoded: list[tuple[int, ...]] = []
        self.prompts: list[list[list[int]]] = []

    def generate(
        self, encoded: object, prompts: list[list[int]], **options: object
    ) -> list[_Result]:
        self.encoded.append(np.shape(encoded))
        self.prompts.append(prompts)
        return super().generate(encoded, prompts, **options)

    def detect_language(self, encoded: object) -> list[list[tuple[str, float]]]:
        count = np.shape(encoded)[0] if np.ndim(encoded) == 3 else 1
        return [self.languages.pop(0) for _ in range(count)]


def _batch_engine(decoder: _BatchDecoder, heard: list[int]) -> WhisperTranscriber:
    """`_engine` whose feature extractor gives one frame per 10 ms of the audio it gets (whose
    lengths it notes in `heard`), as Whisper's does before its 30 s padding."""
    engine = _engine(decoder, prompt=True)

    def features(audio: np.ndarray) -> np.ndarray:
        heard.append(len(audio))
        return np.zeros((80, len(audio) // 160))

    engine._model.feature_extractor = features  # type: ignore[attr-defined]
    return engine


GERMAN = [("<|de|>", 0.9), ("<|en|>", 0.05)]
ENGLISH = [("<|en|>", 0.7), ("<|de|>", 0.2)]


def test_one_window_is_encoded_and_decoded_as_one_batch_to_its_longest_member_s_limit() -> None:
    shorter, longer = AudioFrame.silence(0.9, 16000), AudioFrame.silence(1.0, 16000)
    decoder = _BatchDecoder(("Sperrmüll abholen", -0.2), ("Müll abholen", -0.4), languages=[])
    heard: list[int] = []
    engine = _batch_engine(decoder, heard)
    assert engine.batch_key(shorter) == engine.batch_key(longer) == 400  # 4 s: speech + 3 s
    assert engine.transcribe_batch([shorter, longer]) == [
        Transcript("Sperrmüll abholen", confidence(-0.2)),
        Transcript("Müll abholen", confidence(-0.4)),
    ]
    assert heard == [400 * 160, 400 * 160]  # each padded with silence to the window
    assert decoder.encoded == [(2, 80, 400)] and decoder.prompts == [[[80, 90], [80, 90]]]
    ((_, options),) = decoder.calls
    assert options == {
        "beam_size": 1,
        "return_scores": True,
        "max_length": 48,  # 1.0 s, the longer: 12 + 12 tokens, twice (0.9 s would give 44)
        "suppress_blank": True,
        "suppress_tokens": [-1],
    }


def test_a_batch_with_detection_gives_each_member_its_own_languages_from_one_encoding() -> None:
    decoder = _BatchDecoder(
        ("Sperrmüll abholen", -0.2), ("Müll abholen", -0.4), languages=[GERMAN, ENGLISH]
    )
    found = _batch_engine(decoder, []).transcribe_batch([SPEECH, SPEECH], detect=True)
    assert [t.languages for t in found] == [
        (("de", 0.9), ("en", 0.05)),
        (("en", 0.7), ("de", 0.2)),
    ]
    assert [t.text for t in found] == ["Sperrmüll abholen", "Müll abholen"]
    assert decoder.batches == [2] and decoder.languages == []


def test_a_batch_without_detection_carries_no_languages_and_detects_none() -> None:
    decoder = _BatchDecoder(("Sperrmüll abholen", -0.2), ("Müll", -0.4), languages=[GERMAN])
    found = _batch_engine(decoder, []).transcribe_batch([SPEECH, SPEECH])
    assert [t.languages for t in found] == [(), ()] and decoder.languages == [GERMAN]


@pytest.mark.parametrize("detect", [True, False])
def test_utterances_of_different_windows_are_recognised_one_by_one(detect: bool) -> None:
    decoder = _BatchDecoder(
        ("Sperrmüll abholen", -0.2), ("Müll abholen", -0.4), languages=[GERMAN, ENGLISH]
    )
    longer = AudioFrame.silence(2.0, 16000)  # a 5 s window against SPEECH's 4 s
    found = _batch_engine(decoder, []).transcribe_batch([SPEECH, longer], detect=detect)
    assert [t.text for t in found] == ["Sperrmüll abholen", "Müll abholen"]
    assert decoder.batches == [1, 1] and decoder.encoded == [(80, 400), (80, 500)]
    german, english = (("de", 0.9), ("en", 0.05)), (("en", 0.7), ("de", 0.2))
    assert [t.languages for t in found] == ([german, english] if detect else [(), ()])


def test_an_empty_member_makes_the_batch_one_by_one_and_stays_an_empty_turn() -> None:
    decoder = _BatchDecoder(("Sperrmüll abholen", -0.2), languages=[])
    found = _batch_engine(decoder, []).transcribe_batch([AudioFrame.silence(0.0, 16000), SPEECH])
    assert found == [Transcript("", 0.0), Transcript("Sperrmüll abholen", confidence(-0.2))]
    assert decoder.batches == [1]


def test_a_batch_member_whose_retry_loops_too_is_collapsed_with_confidence_zero() -> None:
    decoder = _Decoder(("Sperrmüll abholen", -0.2), LOOP, ("abholen Müll Müll Müll", -0.2))
    heard = _engine(decoder, prompt=False).transcribe_batch([SPEECH, SPEECH])
    assert heard == [
        Transcript("Sperrmüll abholen", confidence(-0.2)),
        Transcript("abholen Müll", 0.0),
    ]
    assert decoder.batches == [2, 1]


def test_a_retry_that_loops_too_is_collapsed_with_confidence_zero() -> None:
    decoder = _Decoder(LOOP, ("abholen Müll Müll Müll", -0.2))
    assert _engine(decoder, prompt=True).transcribe(SPEECH) == Transcript("abholen Müll", 0.0)


def test_a_clean_decode_is_not_decoded_again() -> None:
    decoder = _Decoder(("Sperrmüll abholen", -0.2), ("Müll", -0.1))
    heard = _engine(decoder, prompt=True).transcribe(SPEECH)
    assert heard == Transcript("Sperrmüll abholen", confidence(-0.2))
    assert len(decoder.calls) == 1


def test_a_sentence_decoded_twice_is_kept_once_with_its_confidence_and_not_decoded_again() -> None:
    # faster-whisper base heard Pico's "Es brennt in unserer Wohnung!" at 8 kHz this way
    # (CTranslate2 on AVX2): the words are right, the second copy is the decoder's
    decoder = _Decoder(("Es brennt in unserer Wohnung, Es brennt in unserer Wohnung", -0.2))
    heard = _engine(decoder, prompt=True).transcribe(SPEECH)
    assert heard == Transcript("Es brennt in unserer Wohnung", confidence(-0.2))
    assert len(decoder.calls) == 1


def test_a_low_log_prob_after_the_retry_keeps_its_low_confidence() -> None:
    decoder = _Decoder(("Sperrmüll abholen", -1.6), ("Sperrmüll", -1.2))
    heard = _engine(decoder, prompt=True).transcribe(SPEECH)
    assert heard == Transcript("Sperrmüll", confidence(-1.2)) != Transcript("Sperrmüll", 0.0)
    assert 0 < heard.confidence < 0.37  # below the guard, the session's limit decides


# 24 tokens: all a decoder may write for one second of audio (12 and 12 per second)
LONGEST = (
    "Ich möchte einen Termin beim Bürgeramt am Montag um neun Uhr bitte und danach noch "
    "Sperrmüll abholen Es brennt in unserer Wohnung Müll Wohnung,"
)


@pytest.mark.parametrize("prompt", [True, False])
def test_a_decode_that_reaches_the_length_limit_is_decoded_again(prompt: bool) -> None:
    assert len(LONGEST.split()) == 24
    decoder = _Decoder((LONGEST, -0.1), ("Sperrmüll abholen", -0.4))
    heard = _engine(decoder, prompt=prompt).transcribe(SPEECH)
    assert heard == Transcript("Sperrmüll abholen", confidence(-0.4))
    (first, plain), (second, retry) = decoder.calls
    # CTranslate2 lets the decoder write min(max_length // 2, max_length - prompt + 1)
    assert plain["max_length"] == retry["max_length"] == 48 == 2 * 24
    assert len(first) <= 2 and len(second) == 1
    assert (retry["repetition_penalty"], retry["no_repeat_ngram_size"]) == (1.3, 3)


def test_a_decode_that_ends_one_token_before_the_limit_is_kept() -> None:
    shorter = LONGEST.rsplit(" ", 1)[0]
    decoder = _Decoder((shorter, -0.1))
    heard = _engine(decoder, prompt=False).transcribe(SPEECH)
    assert heard == Transcript(shorter, confidence(-0.1))
    assert len(decoder.calls) == 1


def test_a_retry_that_runs_away_too_has_confidence_zero() -> None:
    decoder = _Decoder((LONGEST, -0.1), (LONGEST, -0.1))
    assert _engine(decoder, prompt=False).transcribe(SPEECH) == Transcript(LONGEST, 0.0)


def test_a_subword_loop_is_decoded_again_and_collapsed_when_it_stays() -> None:
    decoder = _Decoder(("Siewennnnnnnnnnn", -0.1), ("abholen Siewennnnnnnnnnn", -0.2))
    heard = _engine(decoder, prompt=True).transcribe(SPEECH)
    assert heard == Transcript("abholen Siewen", 0.0)
    assert len(decoder.calls) == 2


def test_nothing_decoded_is_an_empty_turn_without_confidence() -> None:
    decoder = _Decoder(("", -0.5))
    assert _engine(decoder, prompt=True).transcribe(SPEECH) == Transcript("", 0.0)
    assert len(decoder.calls) == 1  # silence is no runaway


@pytest.mark.parametrize(
    ("prompt", "seconds", "max_length", "writes"),
    [
        (4, 3.0, 96, 48),
        (4, 0.0, 24, 12),
        (1, 1.0, 48, 24),
        (161, 3.0, 208, 48),  # the focused prompt
        (161, 30.0, 448, 224),
        (4, 30.0, 448, 224),
        (400, 10.0, 448, 49),  # a prompt too long leaves less
    ],
)
def test_the_decoder_may_write_twelve_tokens_and_twelve_a_second(
    prompt: int, seconds: float, max_length: int, writes: int
) -> None:
    assert _decode_limit([0] * prompt, seconds) == (max_length, writes)
    assert min(max_length // 2, max_length - prompt + 1) == writes  # CTranslate2's rule


class _Detector:
    """CTranslate2's language detection on whatever encoder output it gets."""

    def __init__(self) -> None:
        self.encoded: list[np.ndarray] = []

    def detect_language(self, encoded: np.ndarray) -> list[list[tuple[str, float]]]:
        self.encoded.append(encoded)
        return [[("<|en|>", 0.7), ("<|de|>", 0.2)]]


def test_language_is_detected_on_the_short_window_not_on_30_s() -> None:
    detector = _Detector()
    engine = _engine(_Decoder(), prompt=False)
    engine._model.model = detector  # type: ignore[attr-defined]
    engine._model.detect_language = None  # type: ignore[attr-defined]  # no 30 s path
    assert engine.language_probabilities(SPEECH) == [("en", 0.7), ("de", 0.2)]
    (encoded,) = detector.encoded
    assert encoded.shape == (80, 400)  # 1 s of speech: a 4 s window, not 3000 frames
    assert engine.language_probabilities(AudioFrame.silence(0.0, 16000)) == []


def test_language_of_a_turn_longer_than_the_short_context_uses_whisper_s_own_detection() -> None:
    engine = _engine(_Decoder(), prompt=False)
    seen: list[int] = []

    def detect_language(*, audio: np.ndarray) -> tuple[str, float, list[tuple[str, float]]]:
        seen.append(len(audio))
        return "de", 0.9, [("de", 0.9), ("en", 0.05)]

    engine._model.model = _Detector()  # type: ignore[attr-defined]
    engine._model.detect_language = detect_language  # type: ignore[attr-defined]
    long = AudioFrame.silence(25.02, 16000)
    assert engine.language_probabilities(long) == [("de", 0.9), ("en", 0.05)]
    assert seen == [long.num_samples]
    assert engine._model.model.encoded == []  # type: ignore[attr-defined]


def test_a_first_turn_is_encoded_once_for_its_language_and_its_words() -> None:
    decoder = _Decoder(("Sperrmüll abholen", -0.2), ("Müll", -0.2))
    engine = _engine(decoder, prompt=False)
    encodes: list[int] = []

    def encode(features: np.ndarray) -> np.ndarray:
        encodes.append(features.shape[-1])
        return features

    engine._model.encode = encode  # type: ignore[attr-defined]
    detector = _Detector()
    decoder.detect_language = detector.detect_language  # type: ignore[attr-defined]
    speech = AudioFrame.from_samples(np.full(16000, 900, dtype=np.int16), 16000)
    engine.language_probabilities(speech)
    assert engine.transcribe(speech).text == "Sperrmüll abholen"
    assert encodes == [400]  # the detection's encoding served the transcription
    other = AudioFrame.from_samples(np.full(16000, 800, dtype=np.int16), 16000)
    assert engine.transcribe(other).text == "Müll"
    assert encodes == [400, 400]  # other audio of the same length: encoded anew


DRIFT = ("Das ist mein Part秀, Müll abholen", -0.3)


def test_a_decode_in_another_script_is_retried_without_that_script_s_tokens() -> None:
    decoder = _Decoder(DRIFT, ("Das ist mein Pass, Müll abholen", -0.4))
    heard = _engine(decoder, prompt=False).transcribe(SPEECH)
    assert heard == Transcript("Das ist mein Pass, Müll abholen", confidence(-0.4))
    (_, plain), (_, retry) = decoder.calls
    assert plain["suppress_tokens"] == [-1]  # the first decode is as before
    assert retry["suppress_tokens"] == [-1, *FOREIGN]
    assert (retry["repetition_penalty"], retry["no_repeat_ngram_size"]) == (1.3, 3)


def test_a_retry_that_still_holds_another_script_is_re_asked_without_those_letters() -> None:
    decoder = _Decoder(DRIFT, ("Das ist mein 秀 Pass,", -0.2))  # partial-byte tokens can
    heard = _engine(decoder, prompt=False).transcribe(SPEECH)
    assert heard == Transcript("Das ist mein Pass,", 0.0)


def test_a_batch_member_in_another_script_is_retried_alone_without_that_script() -> None:
    decoder = _Decoder(("Müll abholen", -0.2), DRIFT, ("Sperrmüll abholen", -0.4))
    heard = _engine(decoder, prompt=True).transcribe_batch([SPEECH, SPEECH])
    assert heard == [
        Transcript("Müll abholen", confidence(-0.2)),
        Transcript("Sperrmüll abholen", confidence(-0.4)),
    ]
    assert decoder.batches == [2, 1]
    assert decoder.calls[1][1]["suppress_tokens"] == [-1, *FOREIGN]


def test_a_language_not_written_in_latin_letters_keeps_its_script() -> None:
    decoder = _Decoder(DRIFT)
    heard = _engine(decoder, prompt=False, latin=False).transcribe(SPEECH)
    assert heard == Transcript("Das ist mein Part秀, Müll abholen", confidence(-0.3))
    assert len(decoder.calls) == 1  # no guard tripped, no retry


def test_a_low_probability_retry_that_drifts_into_another_script_is_re_asked() -> None:
    unsure = ("Das ist mein Pass, Müll abholen", -1.5)  # below the log-probability limit
    decoder = _Decoder(unsure, DRIFT)
    heard = _engine(decoder, prompt=True).transcribe(SPEECH)
    assert heard == Transcript("Das ist mein Part, Müll abholen", 0.0)
    assert decoder.calls[1][1]["suppress_tokens"] == [-1]  # not the script guard's retry


def test_the_other_script_tokens_are_the_text_tokens_with_such_letters() -> None:
    vocabulary = ["Pass", " Straße", "秀", "\ufffd", " мир", "µ", "<|endoftext|>", "秀秀"]
    tokenizer = SimpleNamespace(eot=6, decode=lambda ids: "".join(vocabulary[i] for i in ids))
    assert other_script_tokens(tokenizer) == [2, 4]  # none from eot on


class _WindowedModel:
    """Stands in for faster-whisper's `WhisperModel.transcribe` (Whisper's 30 s window)."""

    def __init__(self, *results: tuple[str, float]) -> None:
        self.results = list(results)
        self.calls: list[dict[str, object]] = []

    def transcribe(self, samples: object, **options: object) -> tuple[list[object], None]:
        self.calls.append(options)
        segments = []
        for text, avg_logprob, tokens in self.results.pop(0):
            segments.append(
                SimpleNamespace(text=f" {text}", tokens=[1] * tokens, avg_logprob=avg_logprob)
            )
        return segments, None


def _windowed_engine(
    *results: list[tuple[str, float, int]],
) -> tuple[WhisperTranscriber, _WindowedModel]:
    engine = _engine(_Decoder(), prompt=True)
    engine._short_context = False  # type: ignore[attr-defined]
    engine._language = "de"  # type: ignore[attr-defined]
    model = _WindowedModel(*results)
    engine._model = model  # type: ignore[attr-defined]
    return engine, model


def test_the_30_s_window_retries_a_drift_into_another_script_without_its_tokens() -> None:
    engine, model = _windowed_engine([(*DRIFT, 4)], [("Das ist mein Pass, Müll abholen", -0.4, 4)])
    heard = engine.transcribe(SPEECH)
    assert heard == Transcript("Das ist mein Pass, Müll abholen", confidence(-0.4))
    plain, retry = model.calls
    assert (plain["initial_prompt"], plain["suppress_tokens"]) == ("Sperrmüll", [-1])
    assert (retry["initial_prompt"], retry["suppress_tokens"]) == (None, [-1, *FOREIGN])
    assert (retry["repetition_penalty"], retry["no_repeat_ngram_size"]) == (1.3, 3)
    assert (plain["repetition_penalty"], plain["no_repeat_ngram_size"]) == (1.0, 0)
    assert plain["language"] == "de" and plain["condition_on_previous_text"] is False
    assert (plain["without_timestamps"], plain["vad_filter"]) == (True, False)
    assert (plain["compression_ratio_threshold"], plain["log_prob_threshold"]) == (2.4, -1.0)


def test_the_30_s_window_joins_segments_weighting_each_by_its_tokens() -> None:
    engine, model = _windowed_engine(
        [("Ich möchte", -0.2, 3), ("", -3.0, 0), ("einen Termin.", -0.6, 1)]
    )
    heard = engine.transcribe(SPEECH)
    # (-0.2 * 3 - 3.0 * 1 - 0.6 * 1) / 5: an empty segment counts as one token
    assert heard == Transcript("Ich möchte einen Termin.", confidence(-4.2 / 5))
    assert len(model.calls) == 1  # -0.84 is above the limit: no retry


def test_a_decode_s_end_token_is_not_read_as_text() -> None:
    result = _Result("Sperrmüll abholen", -0.2)
    result.sequences_ids[0].append(EOT)
    decoder = _Decoder()
    decoder.results = [result]
    assert _engine(decoder, prompt=False).transcribe(SPEECH) == Transcript(
        "Sperrmüll abholen", confidence(-0.2)
    )


def test_a_retry_that_loops_with_a_cut_off_copy_keeps_one_whole_copy() -> None:
    cut_off = ("Kreis 4, Kreis 4, Kreis 4, Kre", -0.3)  # recorded: the last copy cut off
    heard = _engine(_Decoder(cut_off, cut_off), prompt=False).transcribe(SPEECH)
    assert heard == Transcript("Kreis 4", 0.0)
