"""Read-back of dates, street names and numbers, in formal German."""

from __future__ import annotations

import datetime
import shutil
from pathlib import Path

import pytest

from contract.german import ordinal_nominative as ordinal
from contract.knowledge import KnowledgeError
from voice.readback import ReadBack, Streets, spoken_date

KNOWLEDGE = Path(__file__).resolve().parents[2] / "intents" / "knowledge"
TODAY = datetime.date(2026, 11, 22)  # a Sunday


def read_back(text: str) -> str | None:
    return ReadBack(streets=Streets.from_knowledge(KNOWLEDGE), today=lambda: TODAY)(text)


def test_ordinals_and_spoken_dates() -> None:
    assert [ordinal(d) for d in (1, 3, 7, 11, 20, 21, 30, 31)] == [
        "erste",
        "dritte",
        "siebte",
        "elfte",
        "zwanzigste",
        "einundzwanzigste",
        "dreißigste",
        "einunddreißigste",
    ]
    assert spoken_date(datetime.date(2026, 12, 1)) == "Dienstag, der erste Dezember"
    with pytest.raises(ValueError):
        ordinal(32)


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("Am 3. Dezember bitte", "Ich habe verstanden: Donnerstag, der dritte Dezember."),
        ("am dritten Dezember", "Ich habe verstanden: Donnerstag, der dritte Dezember."),
        ("Geht der 1.12.?", "Ich habe verstanden: Dienstag, der erste Dezember."),
        # a date already past this year is next year's
        ("am 5. Januar", "Ich habe verstanden: Dienstag, der fünfte Januar."),
        ("am 22. November 2027", "Ich habe verstanden: Montag, der zweiundzwanzigste November."),
    ],
)
def test_dates_are_read_back_with_their_weekday(said: str, expected: str) -> None:
    assert read_back(said) == expected


def test_impossible_dates_and_plain_words_are_not_read_back() -> None:
    assert read_back("am 31. Februar") is None
    assert read_back("Ich möchte einen Termin im Dezember") is None
    assert read_back("Wie hoch ist die Hundesteuer?") is None


@pytest.mark.parametrize(
    ("said", "street"),
    [
        ("In der Bergstraße ist ein Schlagloch", "Bergstraße"),
        ("In der Berg Straße ist ein Schlagloch", "Bergstraße"),
        ("Bergstrasse 12, da ist eine Laterne kaputt", "Bergstraße 12"),
        ("Wann wird in der Goethe-Str. 4 abgeholt?", "Goethestraße 4"),
        ("Ich wohne im Birkenweck", "Birkenweg"),  # a near miss of Whisper's
        ("am Rathausplatz 1", "Rathausplatz 1"),
    ],
)
def test_street_names_from_the_towns_knowledge_are_read_back(said: str, street: str) -> None:
    assert read_back(said) == f"Ich habe verstanden: {street}."


def test_unknown_streets_are_not_guessed() -> None:
    assert read_back("In der Beethovenstraße brennt es") is None
    assert "Bergstraße" in Streets.from_knowledge(KNOWLEDGE).names


def test_street_date_and_number_together_in_the_order_said() -> None:
    assert read_back("Bergstraße 5, am 3. Dezember, meine Nummer ist 0176 123") == (
        "Ich habe verstanden: Bergstraße 5, Donnerstag, der dritte Dezember, "
        "null eins sieben sechs eins zwei drei."
    )


def test_invalid_knowledge_stops_with_the_strict_loaders_error(tmp_path: Path) -> None:
    shutil.copytree(KNOWLEDGE, tmp_path, dirs_exist_ok=True)
    (tmp_path / "waste.yml").write_text("streets: [unclosed", encoding="utf-8")
    with pytest.raises(KnowledgeError, match="waste.yml: invalid YAML"):
        Streets.from_knowledge(tmp_path)
