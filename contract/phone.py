"""Which telephone numbers staff may be asked to call back.

A caller's number (SIP From) can be forged, and a typed one can be anything: a callback to
a premium-rate or foreign number would cost the town money. By default only German
landline and mobile numbers are allowed; an operator may add E.164 prefixes
(`callback_allowed_prefixes`, e.g. "+43" for Austria). Special services (0180, 0137, 0700,
0800, 0900, 118xx, 012, 019, 031, 032) stay refused unless a prefix names them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

MIN_NATIONAL_DIGITS = 5  # the shortest German geographic number, area code included
MAX_E164_DIGITS = 15

NUMBER_NOT_ALLOWED_TEXT = (
    "An diese Nummer können wir leider nicht zurückrufen. Bitte nennen Sie eine deutsche "
    "Festnetz- oder Mobilfunknummer."
)
NUMBER_NOT_ALLOWED_TEXT_EN = (
    "Sorry, we cannot call this number back. Please give us a German landline or mobile number."
)

# Prefixes of the German numbering plan after +49 that are neither landline nor mobile.
_SPECIAL = ("1", "31", "32", "700", "800", "900")
_MOBILE = ("15", "16", "17")


class NumberKind(str, Enum):
    LANDLINE = "landline"
    MOBILE = "mobile"
    SPECIAL = "special"  # service, premium-rate, directory, personal and other non-geographic
    FOREIGN = "foreign"


def to_e164(number: str) -> str | None:
    """ "+49 30 1234567", "0049301234567", "030 1234567" -> "+49301234567"; a foreign
    "+43..." or "0043..." -> "+43..."; None without a country or area code, or when it is
    not a plausible number."""
    digits = re.sub(r"[\s/().-]", "", number.strip())
    if digits.startswith("+"):
        body = digits[1:]
    elif digits.startswith("00"):
        body = digits[2:]
    elif digits.startswith("0"):
        body = "49" + digits[1:]
    else:
        return None
    if not body.isdigit() or body.startswith("0") or not 7 <= len(body) <= MAX_E164_DIGITS:
        return None
    return "+" + body


def kind(e164: str) -> NumberKind:
    """What an E.164 number (as `to_e164` makes it) is in the German numbering plan."""
    if not e164.startswith("+49"):
        return NumberKind.FOREIGN
    national = e164[3:]
    if national.startswith(_MOBILE):
        return NumberKind.MOBILE
    if national.startswith(_SPECIAL):
        return NumberKind.SPECIAL
    return NumberKind.LANDLINE


@dataclass(frozen=True)
class CallbackPolicy:
    """German landline and mobile numbers, plus the E.164 `extra_prefixes` configured."""

    extra_prefixes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for prefix in self.extra_prefixes:
            if not re.fullmatch(r"\+[1-9]\d{0,14}", prefix):
                raise ValueError(f"{prefix!r} is not an E.164 prefix such as +43")

    @classmethod
    def parse(cls, text: str | None) -> CallbackPolicy:
        """From a comma-separated list ("+43, +4132"), as the environment carries it."""
        items = [item.strip() for item in (text or "").split(",")]
        return cls(tuple(item for item in items if item))

    def allows(self, number: str) -> bool:
        """Whether a callback may go to `number` (any spelling `to_e164` accepts)."""
        e164 = to_e164(number)
        if e164 is None:
            return False
        if any(e164.startswith(prefix) for prefix in self.extra_prefixes):
            return True
        found = kind(e164)
        if found is NumberKind.MOBILE:  # 10 or 11 digits; 9 taken too, as a caller may drop one
            return 9 <= len(e164) - 3 <= 11
        if found is NumberKind.LANDLINE:
            return MIN_NATIONAL_DIGITS <= len(e164) - 3 <= 11
        return False
