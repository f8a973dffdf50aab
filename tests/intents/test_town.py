"""The town's knowledge files: loading, validation with clear errors, and what they compute."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from contract.knowledge import KnowledgeError
from contract.town import Town, load_town
from intents.actions.speech import (
    date_spoken,
    parse_date,
    parse_phone,
    parse_reference,
    parse_time,
    reference_spoken,
    time_spoken,
)

KNOWLEDGE = Path(__file__).resolve().parents[2] / "intents" / "knowledge"


def load_shipped_town() -> Town:
    return load_town(KNOWLEDGE)


def test_the_shipped_town_loads() -> None:
    town = load_shipped_town()
    assert town.name == "Musterstadt"
    assert set(town.offices) == {d.id for d in town.directory.departments}
    assert town.service_for_intent("id_card") is not None
    assert town.service("Perso") == town.service_for_intent("id_card")
    assert town.street("hauptstr. 5") == "Hauptstraße"
    assert town.street("Haupt Straße") == "Hauptstraße"
    assert town.street("Zauberallee") is None
    assert town.waste_type("braune Tonne") is not None


def test_every_service_intent_of_the_catalogue_has_an_answer() -> None:
    town = load_shipped_town()
    for intent in (
        "id_card",
        "passport",
        "document_pickup",
        "register_residence",
        "deregister_residence",
        "certificate_of_conduct",
        "civil_status_certificate",
        "marriage",
        "vehicle_registration",
        "parking_permit",
        "bulky_waste",
        "dog_tax",
        "business_registration",
        "lost_and_found",
        "building_permit",
        "childcare",
        "housing_benefit",
        "property_tax",
    ):
        assert town.service_for_intent(intent) is not None, intent


def test_public_holidays_and_closures_close_the_office() -> None:
    town = load_shipped_town()
    office = town.offices["buergerbuero"]
    christmas = town.day_status(office, date(2026, 12, 25))
    assert christmas.closed_because == "Erster Weihnachtstag" and not christmas.intervals
    assert town.day_status(office, date(2026, 11, 1)).closed_because == "Allerheiligen"  # NW
    assert town.day_status(office, date(2026, 12, 24)).closed_because == "Heiligabend"
    tuesday = town.day_status(office, date(2026, 11, 24))
    assert tuesday.closed_because is None and len(tuesday.intervals) == 2
    assert town.slots(office, date(2026, 12, 25)) == []
    assert town.slots(office, date(2026, 11, 25)) == [
        time(8, 0),
        time(8, 30),
        time(9, 0),
        time(9, 30),
        time(10, 0),
        time(10, 30),
        time(11, 0),
        time(11, 30),
    ]


def test_waste_collection_moves_off_a_holiday() -> None:
    town = load_shipped_town()
    # District "sued": Restmüll every second Tuesday from 2026-01-06 (50 weeks later: 12-22).
    dates = {w.id: d for w, d in town.next_collections("Bergstraße", date(2026, 12, 14))}
    assert dates["restmuell"] == date(2026, 12, 22)
    # District "nord": Restmüll every second Monday from 2026-01-05, so 2026-05-25
    # (Whit Monday, a holiday) moves to Tuesday 2026-05-26.
    dates = {w.id: d for w, d in town.next_collections("Lindenallee", date(2026, 5, 23))}
    assert dates["restmuell"] == date(2026, 5, 26)


def _broken(tmp_path: Path, name: str, change: Callable[[dict[str, Any]], None]) -> Path:
    for source in KNOWLEDGE.glob("*.yml"):
        shutil.copy(source, tmp_path / source.name)
    document = yaml.safe_load((tmp_path / name).read_text(encoding="utf-8"))
    change(document)
    (tmp_path / name).write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("name", "change", "message"),
    [
        ("town.yml", lambda d: d.update(state="XX"), "state"),
        ("town.yml", lambda d: d.update(timezone="Mars/Olympus"), "time zone"),
        (
            "offices.yml",
            lambda d: d["offices"]["bauamt"]["hours"].update(tuesday=["12:00-08:00"]),
            r"offices\.bauamt\.hours\.tuesday\[0\]",
        ),
        (
            "offices.yml",
            lambda d: d["offices"]["bauamt"]["hours"].update(funday=["08:00-09:00"]),
            "monday",
        ),
        ("offices.yml", lambda d: d["offices"].pop("jugendamt"), "no opening hours"),
        (
            "offices.yml",
            lambda d: d["offices"]["bauamt"].update(
                appointments={"slot_minutes": 0, "capacity": 1}
            ),
            "slot_minutes",
        ),
        ("services.yml", lambda d: d["services"][0].update(office="nowhere"), "office"),
        ("services.yml", lambda d: d["services"][0].update(colour="blue"), "unknown field"),
        ("services.yml", lambda d: d["services"][1].update(intent="id_card"), "two services"),
        ("services.yml", lambda d: d["services"][9].update(bookable=True), "no appointments"),
        ("waste.yml", lambda d: d["streets"].update(Neuweg="west"), "unknown district"),
        (
            "waste.yml",
            lambda d: d["districts"]["nord"]["bio"].update(first=date(2026, 1, 13)),
            "not a monday",
        ),
    ],
)
def test_mistakes_in_the_files_are_named(
    tmp_path: Path, name: str, change: Callable[[dict[str, Any]], None], message: str
) -> None:
    with pytest.raises(KnowledgeError, match=message) as raised:
        load_town(_broken(tmp_path, name, change))
    assert name in str(raised.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    shutil.copy(KNOWLEDGE / "departments.yml", tmp_path / "departments.yml")
    with pytest.raises(KnowledgeError, match="town.yml: cannot read"):
        load_town(tmp_path)


TODAY = date(2026, 11, 21)  # a Saturday


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("morgen", date(2026, 11, 22)),
        ("übermorgen bitte", date(2026, 11, 23)),
        ("am Dienstag", date(2026, 11, 24)),
        ("nächsten samstag", date(2026, 11, 28)),
        ("24.11.", date(2026, 11, 24)),
        ("am 3.1.", date(2027, 1, 3)),
        ("den 3 dezember", date(2026, 12, 3)),
        ("24.11.2026", date(2026, 11, 24)),
        ("irgendwann", None),
        ("31.2.", None),
        ("21", date(2026, 11, 21)),  # a day number typed on the keys: today counts
        ("20", date(2026, 12, 20)),
        ("1", date(2026, 12, 1)),
        ("31", date(2026, 12, 31)),  # November has no 31st
        ("0", None),
        ("32", None),
        ("123", None),
        ("den achten Dezember", date(2026, 12, 8)),  # the bot's own hint
        ("am achten Dezember", date(2026, 12, 8)),
        ("der dritte Dezember", date(2026, 12, 3)),
        ("Donnerstag, den dritten Dezember", date(2026, 12, 3)),  # not the next Thursday
        ("am ersten Januar", date(2027, 1, 1)),
        ("am einunddreißigsten Dezember 2027", date(2027, 12, 31)),
        ("am zwanzigsten November", date(2027, 11, 20)),  # past: next year
        ("den einundzwanzigsten", date(2026, 11, 21)),  # an ordinal alone: today counts
        ("den zwanzigsten", date(2026, 12, 20)),
        ("am ersten", date(2026, 12, 1)),
        ("den einunddreißigsten", date(2026, 12, 31)),  # November has no 31st
        ("einunddreißigsten", date(2026, 12, 31)),  # without "den"
        ("am einunddreißigsten November", None),
        ("den zweiunddreißigsten", None),
        ("den nullten", None),
        ("den ersten freien Termin", None),  # an ordinal, but no date
    ],
)
def test_dates_as_citizens_say_them(text: str, expected: date | None) -> None:
    assert parse_date(text, TODAY) == expected


def test_every_date_the_bot_speaks_parses_back() -> None:
    for ahead in range(365):  # a year without a year: every day of a month, each month
        day = TODAY + timedelta(days=ahead)
        assert parse_date(date_spoken(day), TODAY) == day, date_spoken(day)


def test_typed_day_numbers_skip_short_months_and_roll_into_the_next_year() -> None:
    assert parse_date("30", date(2027, 1, 31)) == date(2027, 3, 30)
    assert parse_date("31", date(2027, 1, 31)) == date(2027, 1, 31)
    assert parse_date("5", date(2026, 12, 20)) == date(2027, 1, 5)
    assert parse_date("31", date(2026, 12, 31)) == date(2026, 12, 31)
    assert parse_date("31", date(2027, 4, 1)) == date(2027, 5, 31)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10:30", time(10, 30)),
        ("um zehn uhr", time(10, 0)),
        ("halb elf", time(10, 30)),
        ("14 Uhr 30", time(14, 30)),
        ("08:00", time(8, 0)),
        ("9", time(9, 0)),
        ("keine Ahnung", None),
        ("25:00", None),
        ("1430", time(14, 30)),  # typed on the keys
        ("930", time(9, 30)),
        ("2359", time(23, 59)),
        ("2400", None),
        ("1260", None),
        ("14300", None),
    ],
)
def test_times_as_citizens_say_them(text: str, expected: time | None) -> None:
    assert parse_time(text) == expected


def test_phone_numbers_and_references_typed_or_spoken() -> None:
    assert parse_phone("meine Nummer ist 0171 / 234 56-78") == "01712345678"
    assert parse_phone("null drei null eins zwei drei vier fünf") == "03012345"
    assert parse_phone("+49 30 1234567") == "+49301234567"
    assert parse_phone("weiß ich nicht") is None
    assert parse_phone("123") is None
    assert parse_reference("b k 7 q x 2 m", "B") == "B-K7QX2M"
    assert parse_reference("Meine Nummer: B-K7QX2M.", "B") == "B-K7QX2M"
    assert parse_reference("B-K7QX2", "B") is None
    assert reference_spoken("B-K7QX2M") == "B, K, sieben, Ku, Ix, zwei, M"


def test_dates_and_times_are_spoken_in_words() -> None:
    assert date_spoken(date(2026, 11, 23)) == "Montag, den dreiundzwanzigsten November"
    assert date_spoken(date(2026, 12, 1)) == "Dienstag, den ersten Dezember"
    assert time_spoken(time(10, 30)) == "zehn Uhr dreißig"
    assert time_spoken(time(13, 0)) == "dreizehn Uhr"
    assert time_spoken(time(1, 5)) == "ein Uhr fünf"
