"""Spoken forms the voice channel needs: digits read back one by one, consent answers."""

from __future__ import annotations

import re
from enum import Enum

from contract.german import spell_digits

_NUMBER = re.compile(r"\d(?:[\d /-]*\d)?")


def readback(transcript: str, *, min_digits: int = 3) -> str | None:
    """A confirmation of the numbers the caller said, digit by digit, or None."""
    numbers = [m.group() for m in _NUMBER.finditer(transcript)]
    numbers = [n for n in numbers if sum(c.isdigit() for c in n) >= min_digits]
    if not numbers:
        return None
    return "Ich habe verstanden: " + ", ".join(spell_digits(n) for n in numbers) + "."


class Consent(Enum):
    GRANTED = "granted"
    DENIED = "denied"
    UNCLEAR = "unclear"


# German, and English for calls in English (docs/languages.md)
_YES = re.compile(
    r"\b(ja|jawohl|einverstanden|gerne|gern|okay|ok|natürlich|yes|yeah|yep|sure)\b", re.I
)
_NO = re.compile(r"\b(nein|nee|nicht|keine?|lieber nicht|no|nope|not|don't)\b", re.I)


_WITHDRAW = re.compile(
    r"\b(aufnahme|aufzeichnung|mitschnitt)\b.{0,20}?\b(stopp(en)?|beenden|aus|abbrechen|"
    r"löschen)\b|\bnicht (mehr )?(aufnehmen|aufzeichnen)\b|\bstop (the )?recording\b",
    re.I,
)


def parse_withdrawal(text: str) -> bool:
    """Whether the caller withdraws consent to the recording ("Aufnahme stoppen",
    "Aufzeichnung beenden", "bitte nicht mehr aufnehmen", "stop recording")."""
    return bool(_WITHDRAW.search(text))


def parse_consent(answer: str) -> Consent:
    """The caller's answer to the recording question: DTMF "1"/"2" or spoken yes/no."""
    answer = answer.strip()
    if answer == "1":
        return Consent.GRANTED
    if answer == "2":
        return Consent.DENIED
    no, yes = bool(_NO.search(answer)), bool(_YES.search(answer))
    if no:
        return Consent.DENIED  # "ja, aber lieber nicht" must never count as consent
    return Consent.GRANTED if yes else Consent.UNCLEAR
