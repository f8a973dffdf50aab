"""The voice session's own prompts, read from `prompts.toml` beside this module: German at
the top level, English in its `[en]` table."""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from pathlib import Path

PROMPTS_FILE = Path(__file__).with_name("prompts.toml")


@dataclass(frozen=True, slots=True, kw_only=True)
class Prompts:
    """Every text the session says on its own; `{number}` and `{digits}` are filled in."""

    reprompt: str
    silence_goodbye: str
    consent_version: str
    consent: str
    withdrawn: str
    transfer_failed: str
    staff_away: str
    callback_own_number: str
    callback_type_number: str
    callback_declined: str
    callback_confirmed: str
    typed_digits: str
    apology: str
    disclosure: str

    def fixed(self) -> tuple[str, ...]:
        """Prompts without placeholders, to synthesise once at start-up (the apology is
        among them, so it can be played when the speech engine fails)."""
        texts = (getattr(self, f.name) for f in dataclasses.fields(self))
        return tuple(t for t in texts if "{" not in t and t != self.consent_version)


LANGUAGE_TABLES = ("en",)
"""The tables of prompts in other languages than German."""


def load_prompts(path: Path = PROMPTS_FILE, *, language: str | None = None) -> Prompts:
    """Reads the German prompts, or those of the table ``language`` ("en"); a missing,
    unknown or empty entry is a ValueError naming it."""
    with path.open("rb") as file:
        data = tomllib.load(file)
    if language is not None:
        if language not in LANGUAGE_TABLES:
            raise ValueError(f"no prompts for the language {language!r}")
        table = data.get(language)
        if not isinstance(table, dict):
            raise ValueError(f"{path.name}: missing table [{language}]")
        data = table
    else:
        data = {k: v for k, v in data.items() if k not in LANGUAGE_TABLES}
    names = {f.name for f in dataclasses.fields(Prompts)}
    if unknown := sorted(set(data) - names):
        raise ValueError(f"{path.name}: unknown prompts {', '.join(unknown)}")
    if missing := sorted(n for n in names if not isinstance(data.get(n), str) or not data[n]):
        raise ValueError(f"{path.name}: missing or empty prompts {', '.join(missing)}")
    return Prompts(**data)


PROMPTS = load_prompts()
PROMPTS_EN = load_prompts(language="en")
