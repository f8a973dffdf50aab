"""Speech synthesis: the `Synthesizer` protocol, the Piper engine and the Pico fallback."""

from __future__ import annotations

import collections
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from voice.audio import AudioFrame

log = logging.getLogger(__name__)

DEFAULT_VOICE = "de_DE-thorsten-medium"
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=[A-ZÄÖÜ0-9\"„])")
_VOICE_NAME = re.compile(r"^[a-z]{2,3}_[A-Z]{2}-[A-Za-z0-9_]+-(x_low|low|medium|high)$")


class Synthesizer(Protocol):
    """Turns text into audio, one frame per unit of `speech_units(text)` (sentences, the
    first one maybe cut in two), so playback can start early. Blocking; call it from a
    worker thread."""

    @property
    def sample_rate(self) -> int: ...

    def synthesize(self, text: str) -> Iterator[AudioFrame]: ...


_ABBREVIATIONS = frozenset({"nr", "str", "bzw", "ca", "dr", "hr", "fr", "st", "tel", "vgl"})


def split_sentences(text: str) -> list[str]:
    """Sentences of a reply, in order; "z. B.", "Nr." and ordinals ("3. Mai") stay joined."""
    sentences: list[str] = []
    for piece in _SENTENCE_END.split(" ".join(text.split())):
        if sentences and _continues(sentences[-1]):
            sentences[-1] += " " + piece
        elif piece.strip():
            sentences.append(piece)
    return sentences


# Words before which a long first sentence may be cut when it has no comma.
_CLAUSE_STARTS = frozenset(
    {"und", "oder", "aber", "bis", "für", "mit", "um", "am", "im", "in", "an", "bei"}
    | {"nach", "von", "vom", "zum", "zur", "wenn", "dass", "weil", "ob"}
)
FIRST_UNIT_WORDS = 6


def speech_units(text: str, *, first_words: int = FIRST_UNIT_WORDS) -> list[str]:
    """What is synthesised in one piece: the sentences of `text`, with a first sentence
    longer than `first_words` words cut once, at its first comma or else before a
    conjunction or preposition, so the first audio is ready sooner."""
    units = split_sentences(text)
    if units:
        units[:1] = _split_first(units[0], first_words)
    return units


def _split_first(sentence: str, first_words: int) -> list[str]:
    words = sentence.split()
    if len(words) <= first_words:
        return [sentence]
    cuts = [i + 1 for i in range(2, len(words) - 3) if words[i].endswith(",")]
    cuts += [i for i in range(3, len(words) - 2) if words[i].lower() in _CLAUSE_STARTS]
    if not cuts:
        return [sentence]
    cut = cuts[0]
    return [" ".join(words[:cut]), " ".join(words[cut:])]


def _continues(sentence: str) -> bool:
    if not sentence.endswith("."):
        return False
    last = sentence[:-1].rsplit(" ", 1)[-1]
    return len(last) == 1 or last.isdigit() or last.lower() in _ABBREVIATIONS


class PiperSynthesizer:
    """Piper voice (ONNX) from a model path; its `.onnx.json` config lies beside it.
    `warm`: one short synthesis at load, so the first caller does not pay onnxruntime's
    slow first run; `first_words`: see `speech_units` (a large value: no cut);
    `length_scale`: above 1 speaks more slowly (Leichte Sprache), None: the voice's pace."""

    def __init__(
        self,
        model_path: Path,
        *,
        use_cuda: bool = False,
        warm: bool = True,
        first_words: int = FIRST_UNIT_WORDS,
        length_scale: float | None = None,
    ) -> None:
        from piper import PiperVoice, SynthesisConfig

        if length_scale is not None and not 0.5 <= length_scale <= 2.0:
            raise ValueError("length_scale must be in [0.5, 2.0] (1.0: the voice's own pace)")
        self._config = SynthesisConfig(length_scale=length_scale)

        config = Path(f"{model_path}.json")
        if not model_path.is_file() or not config.is_file():
            raise FileNotFoundError(f"Piper voice {model_path} (and {config.name}) not found")
        self._voice = PiperVoice.load(model_path, config_path=config, use_cuda=use_cuda)
        self._lock = threading.Lock()  # one onnxruntime session, one synthesis at a time
        self._first_words = first_words
        if warm:
            for _ in self.synthesize("Guten Tag, hier ist die Stadtverwaltung."):
                pass

    @property
    def sample_rate(self) -> int:
        return int(self._voice.config.sample_rate)

    def synthesize(self, text: str) -> Iterator[AudioFrame]:
        for sentence in speech_units(text, first_words=self._first_words):
            with self._lock:
                chunks = list(self._voice.synthesize(sentence, syn_config=self._config))
            pcm = b"".join(chunk.audio_int16_bytes for chunk in chunks)
            if pcm:
                yield AudioFrame(pcm, self.sample_rate)


class PicoSynthesizer:
    """SVOX Pico (py-nanotts): intelligible German without a Piper voice; 16 kHz."""

    def __init__(self, *, language: str = "de-DE") -> None:
        from py_nanotts import NanoTTS

        self._tts = NanoTTS()
        self._language = language
        self._lock = threading.Lock()

    @property
    def sample_rate(self) -> int:
        return 16000

    def synthesize(self, text: str) -> Iterator[AudioFrame]:
        for sentence in speech_units(text):
            with self._lock:
                pcm = self._tts.speak(sentence, voice=self._language)
            pcm = pcm[: len(pcm) - len(pcm) % 2]
            if pcm:
                yield AudioFrame(pcm, self.sample_rate)


@dataclass(frozen=True, slots=True)
class CacheStats:
    hits: int
    misses: int
    bytes: int


class CachingSynthesizer:
    """Keeps the audio of recently spoken sentences (replies are templates, so they repeat).

    Bounded by `max_bytes`; least recently used sentences are dropped first.
    """

    def __init__(self, engine: Synthesizer, *, max_bytes: int = 64 << 20) -> None:
        if not 0 < max_bytes <= 4 << 30:
            raise ValueError("max_bytes must be in (0, 4 GiB]")
        self._engine = engine
        self._max_bytes = max_bytes
        self._entries: collections.OrderedDict[str, AudioFrame] = collections.OrderedDict()
        self._bytes = 0
        self._hits = 0
        self._misses = 0
        self._lock = threading.Lock()

    @property
    def sample_rate(self) -> int:
        return self._engine.sample_rate

    @property
    def stats(self) -> CacheStats:
        return CacheStats(self._hits, self._misses, self._bytes)

    def synthesize(self, text: str) -> Iterator[AudioFrame]:
        for unit in speech_units(text):
            with self._lock:
                cached = self._entries.get(unit)
                if cached is not None:
                    self._entries.move_to_end(unit)
                    self._hits += 1
            if cached is not None:
                yield cached
                continue
            frames: list[AudioFrame] = []
            for frame in self._engine.synthesize(unit):
                frames.append(frame)
                yield frame
            if frames:
                self._store(unit, AudioFrame(b"".join(f.pcm for f in frames), self.sample_rate))

    def prefill(self, texts: Iterable[str]) -> None:
        """Synthesises fixed prompts (reprompt, goodbye, ...) into the cache ahead of use."""
        for text in texts:
            for _ in self.synthesize(text):
                pass

    def _store(self, sentence: str, frame: AudioFrame) -> None:
        with self._lock:
            self._misses += 1
            if len(frame.pcm) > self._max_bytes or sentence in self._entries:
                return
            self._entries[sentence] = frame
            self._bytes += len(frame.pcm)
            while self._bytes > self._max_bytes:
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= len(dropped.pcm)


class VoiceNotInstalled(LookupError):
    """No Piper voice of that name is installed."""


def validate_voice_name(name: str) -> str:
    if not _VOICE_NAME.match(name):
        raise ValueError(
            f"{name!r} is not a Piper voice name like {DEFAULT_VOICE!r} "
            "(language_REGION-name-quality)"
        )
    return name


def find_voice(name_or_path: str, voices_dir: Path) -> Path:
    """The `.onnx` file of a voice: a path to one, or a name installed under `voices_dir`."""
    path = Path(name_or_path).expanduser()
    if path.suffix == ".onnx":
        if path.is_file():
            return path
        raise VoiceNotInstalled(f"Piper voice file {path} not found")
    candidate = voices_dir / f"{validate_voice_name(name_or_path)}.onnx"
    if candidate.is_file() and Path(f"{candidate}.json").is_file():
        return candidate
    raise VoiceNotInstalled(
        f"Piper voice {name_or_path!r} is not installed in {voices_dir}; "
        f"run `rathausbot voices install {name_or_path}`"
    )


def make_synthesizer(
    voice: str, voices_dir: Path, *, use_cuda: bool = False, warn: Callable[[str], None]
) -> Synthesizer:
    """Piper with the configured voice when installed; otherwise German Pico, with `warn`."""
    try:
        return PiperSynthesizer(find_voice(voice, voices_dir), use_cuda=use_cuda)
    except VoiceNotInstalled as exc:
        warn(f"{exc}. Speaking German with the Pico fallback voice (lower quality) instead.")
        return PicoSynthesizer()


Downloader = Callable[[str, Path], None]


def _piper_download(name: str, target: Path) -> None:
    from piper.download_voices import download_voice

    download_voice(name, target)


def install_voice(
    name: str,
    voices_dir: Path,
    *,
    download: Downloader | None = None,
    progress: Callable[[str], None],
) -> Path:
    """Fetches a Piper voice with piper's own downloader into `voices_dir` (needs the
    network); an incomplete download leaves nothing behind."""
    validate_voice_name(name)
    download = download or _piper_download
    voices_dir.mkdir(parents=True, exist_ok=True)
    model = voices_dir / f"{name}.onnx"
    if model.is_file() and Path(f"{model}.json").is_file():
        progress(f"Voice {name} is already installed: {model}")
        return model
    partial = voices_dir / f".{name}.partial"
    partial.mkdir(exist_ok=True)
    progress(f"Downloading Piper voice {name} into {voices_dir} (about 60 MB) ...")
    try:
        download(name, partial)
        for suffix in (".onnx", ".onnx.json"):
            source = partial / f"{name}{suffix}"
            if not source.is_file() or not source.stat().st_size:
                raise OSError(f"download of {source.name} is incomplete")
        os.replace(partial / f"{name}.onnx.json", voices_dir / f"{name}.onnx.json")
        os.replace(partial / f"{name}.onnx", model)
    finally:
        for leftover in partial.glob("*"):
            leftover.unlink()
        partial.rmdir()
    progress(f"Installed {model}")
    return model
