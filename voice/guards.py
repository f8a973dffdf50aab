"""Hallucination and repetition guards for a decoded utterance: pure functions, no engine.

Whisper on a bad line tends to loop ("Müll, Müll, Müll, Müll") or to invent fluent text
from noise. Checks catch that: the text's zlib compression ratio (a loop compresses
well), the decoder's average log-probability per token, the longest run of one
repeated word n-gram, and letters of another script in a language written in Latin
letters (a German decode in noise that drifts into "Part秀"). The recogniser retries
without its vocabulary prompt (and, for such a language, without other scripts' tokens)
when a guard trips, and reports confidence 0 when the retry trips too. A whole sentence said twice
("Es brennt in unserer Wohnung, Es brennt in unserer Wohnung") is a decoder artefact too,
but its words were heard: it is cut to one copy and keeps its confidence.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum

from contract.german import DIGIT_WORDS

_PUNCTUATION = ",.;:!?\"'()"
# Whisper languages written in Latin letters: a transcript in one of them holds no letter
# of another script (Cyrillic, Arabic, CJK, ...).
LATIN_SCRIPT_LANGUAGES = frozenset(
    {"de", "en", "fr", "es", "it", "nl", "pl", "pt", "tr", "ro", "cs", "hr", "sq", "sv", "da"}
)
# letters outside the Latin script that Latin text uses
_LATIN_TEXT_LETTERS = frozenset("µªº")


class Verdict(Enum):
    """Why a transcript is not to be trusted; OK when no guard tripped."""

    OK = "ok"
    REPETITION = "repetition"
    COMPRESSION = "compression"
    LOW_LOG_PROB = "low_log_prob"
    RUNAWAY = "runaway"  # the decoder stopped at its length limit, not at the text's end
    SCRIPT = "script"  # letters of another script in a language written in Latin letters


@dataclass(frozen=True, slots=True, kw_only=True)
class GuardLimits:
    """A transcript trips a guard when its compression ratio is above
    `max_compression_ratio`, its average token log-probability below `min_avg_logprob`,
    or one n-gram (up to `max_ngram` words) follows itself more than `max_repeats` times,
    or a unit of up to `max_char_unit` characters follows itself more than
    `max_char_repeats` times (`max_digit_repeats` for a unit of digits: "1000000", a
    phone number's "0 0 0 0 0 0" are no loop)."""

    max_compression_ratio: float = 2.4
    min_avg_logprob: float = -1.0
    max_repeats: int = 2
    max_ngram: int = 4
    min_duplicate_words: int = 4
    max_char_unit: int = 6
    max_char_repeats: int = 4
    max_digit_repeats: int = 8

    def __post_init__(self) -> None:
        if not 1.0 <= self.max_compression_ratio <= 10.0:
            raise ValueError("max_compression_ratio must be in [1, 10]")
        if not -10.0 <= self.min_avg_logprob <= 0.0:
            raise ValueError("min_avg_logprob must be in [-10, 0]")
        if not 1 <= self.max_repeats <= 20:
            raise ValueError("max_repeats must be in [1, 20]")
        if not 1 <= self.max_ngram <= 8:
            raise ValueError("max_ngram must be in [1, 8]")
        if not 2 <= self.min_duplicate_words <= 50:
            raise ValueError("min_duplicate_words must be in [2, 50]")
        if not 1 <= self.max_char_unit <= 16:
            raise ValueError("max_char_unit must be in [1, 16]")
        if not 2 <= self.max_char_repeats <= self.max_digit_repeats <= 50:
            raise ValueError("max_char_repeats and max_digit_repeats must be in [2, 50], in order")


def compression_ratio(text: str) -> float:
    """UTF-8 length over zlib-compressed length, as Whisper computes it; 0 for no text."""
    raw = text.encode("utf-8")
    if not raw:
        return 0.0
    return len(raw) / len(zlib.compress(raw))


def _words(text: str) -> list[str]:
    return [w for w in (w.strip(_PUNCTUATION).lower() for w in text.split()) if w]


def _is_number(gram: list[str]) -> bool:
    return all(w.isdigit() or w in DIGIT_WORDS for w in gram)


def longest_run(text: str, *, max_ngram: int) -> int:
    """How many times in a row one n-gram of 1..`max_ngram` words occurs back to back
    ("Müll, Müll, Müll" -> 3). N-grams of digits alone are skipped: "null null null"
    may be part of a phone number."""
    words = _words(text)
    best = 1 if words else 0
    for n in range(1, max_ngram + 1):
        for start in range(len(words) - n + 1):
            gram = words[start : start + n]
            if _is_number(gram):
                continue
            run = 1
            at = start + n
            while words[at : at + n] == gram:
                run += 1
                at += n
            best = max(best, run)
    return best


def _collapse(text: str, *, shortest: int, longest: int, max_repeats: int) -> str:
    """The text with every run of one n-gram (`shortest`..`longest` words, not digits alone)
    longer than `max_repeats` cut to a single copy, shortest n-grams first, again until none
    is left; punctuation and case do not hide a copy."""
    words = text.split()
    keys = [w.strip(_PUNCTUATION).lower() for w in words]
    out: list[str] = []
    at = 0
    changed = False
    while at < len(words):
        for n in range(shortest, min(longest, len(words) - at) + 1):
            gram = keys[at : at + n]
            if not all(gram) or _is_number(gram):
                continue
            run = 1
            while keys[at + run * n : at + (run + 1) * n] == gram:
                run += 1
            if run > max_repeats:
                out += words[at : at + n]
                at += run * n
                changed = True
                break
        else:
            out.append(words[at])
            at += 1
    if not changed:
        return text
    joined = " ".join(out).rstrip(",; ")
    return _collapse(joined, shortest=shortest, longest=longest, max_repeats=max_repeats)


def collapse_runs(text: str, *, max_repeats: int, max_ngram: int) -> str:
    """The text with every run of one n-gram (1..`max_ngram` words) longer than
    `max_repeats` cut to a single copy, anywhere in the text ("Sperrmüll, Müll, Müll, Müll"
    -> "Sperrmüll, Müll"); shorter runs and digit runs stay. Afterwards `longest_run` is at
    most `max_repeats` on what was collapsed. Pure."""
    return _collapse(text, shortest=1, longest=max_ngram, max_repeats=max_repeats)


def collapse_duplicates(text: str, *, min_words: int) -> str:
    """The text with every span of at least `min_words` words that directly follows itself
    cut to one copy, until none is left ("Es brennt in unserer Wohnung, Es brennt in
    unserer Wohnung" -> "Es brennt in unserer Wohnung"); punctuation and case do not hide a
    copy, spans of digits alone stay (a phone number may repeat a block). Pure."""
    return _collapse(text, shortest=min_words, longest=len(text.split()), max_repeats=1)


@functools.cache
def _char_runs(max_unit: int, repeats: int) -> re.Pattern[str]:
    """Any unit of 1..`max_unit` characters followed by at least `repeats` copies of itself,
    case ignored (the shortest such unit at each place)."""
    return re.compile(rf"(.{{1,{max_unit}}}?)\1{{{repeats},}}", re.IGNORECASE | re.DOTALL)


def _char_limit(unit: str, limits: GuardLimits) -> int | None:
    """How many times `unit` may follow itself: `max_char_repeats` when it holds a letter,
    `max_digit_repeats` for digits (with separators), None (any) for spaces and punctuation."""
    if any(c.isalpha() for c in unit):
        return limits.max_char_repeats
    if any(c.isdigit() for c in unit):
        return limits.max_digit_repeats
    return None


def _char_loops(text: str, limits: GuardLimits) -> Iterator[tuple[int, int, str]]:
    """(start, end, unit) of each run of one unit past its limit, left to right, each run
    once; a run within a run of a shorter unit is the shorter one's."""
    pattern = _char_runs(limits.max_char_unit, limits.max_char_repeats)
    at = 0
    while at < len(text):
        match = pattern.match(text, at)
        if match is None:
            at += 1
            continue
        unit = match.group(1)
        limit = _char_limit(unit, limits)
        if limit is not None and len(match.group(0)) // len(unit) > limit:
            yield at, match.end(), unit
            at = match.end()
        else:  # the run's last copy may begin another unit's run (at least 3 copies: ahead)
            at = match.end() - len(unit)


def longest_char_loop(text: str, limits: GuardLimits) -> int:
    """The most copies in a row of one unit of 1..`max_char_unit` characters beyond what its
    kind allows ("US-R-R-R-R-R" -> 5, "R-" five times); 0 when no unit runs past its limit."""
    return max(
        ((end - start) // len(unit) for start, end, unit in _char_loops(text, limits)), default=0
    )


def collapse_char_loops(text: str, limits: GuardLimits) -> str:
    """The text with every unit that runs past its limit (`longest_char_loop`) cut to one
    copy ("Siewennnnnnn" -> "Siewen", "US-R-R-R-R-R-R" -> "US-R"); shorter runs stay. Pure."""
    out: list[str] = []
    kept = 0
    for start, end, unit in _char_loops(text, limits):
        out += [text[kept:start], text[start : start + len(unit)]]
        kept = end
    return "".join(out) + text[kept:]


def loops(text: str, limits: GuardLimits) -> bool:
    """Whether the text still holds a loop: an n-gram run beyond the limits, a unit of
    characters run past its limit, or a span of `min_duplicate_words` or more words said
    twice in a row."""
    if longest_run(text, max_ngram=limits.max_ngram) > limits.max_repeats:
        return True
    if longest_char_loop(text, limits):
        return True
    return collapse_duplicates(text, min_words=limits.min_duplicate_words) != text


def is_foreign_letter(char: str) -> bool:
    """Whether `char` is a letter of a script other than Latin (µ, ª and º count as Latin)."""
    if not unicodedata.category(char).startswith("L") or char in _LATIN_TEXT_LETTERS:
        return False
    return not unicodedata.name(char, "").startswith("LATIN ")


def foreign_letters(text: str) -> bool:
    """Whether the text holds a letter of a script other than Latin."""
    return any(is_foreign_letter(c) for c in text)


def without_foreign_letters(text: str) -> str:
    """The text without letters of other scripts, and without the spaces that leaves."""
    return " ".join("".join(c for c in text if not is_foreign_letter(c)).split())


def judge(
    text: str,
    avg_logprob: float,
    limits: GuardLimits,
    *,
    ended: bool = True,
    latin: bool = False,
) -> Verdict:
    """The first guard the transcript trips (runaway, repetition, compression, script,
    log-probability), or OK. `ended`: the decoder ended the text itself, before its length
    limit. `latin`: the language is written in Latin letters, so a letter of another script
    is a hallucination. Empty text is OK: silence is no hallucination."""
    if not text.strip():
        return Verdict.OK
    if not ended:
        return Verdict.RUNAWAY
    if longest_run(text, max_ngram=limits.max_ngram) > limits.max_repeats:
        return Verdict.REPETITION
    if longest_char_loop(text, limits):
        return Verdict.REPETITION
    if compression_ratio(text) > limits.max_compression_ratio:
        return Verdict.COMPRESSION
    if latin and foreign_letters(text):
        return Verdict.SCRIPT
    if avg_logprob < limits.min_avg_logprob:
        return Verdict.LOW_LOG_PROB
    return Verdict.OK


def confidence(avg_logprob: float) -> float:
    """exp(average log-probability) clamped to [0, 1] and rounded to three places."""
    return round(min(1.0, max(0.0, math.exp(avg_logprob))), 3)
