from __future__ import annotations

import pytest

from contract.german import spell_digits
from voice.speech import Consent, parse_consent, parse_withdrawal, readback


def test_digits_are_spelled_one_by_one() -> None:
    assert spell_digits("0112") == "null eins eins zwei"
    assert (
        spell_digits("01234 567-100") == "null eins zwei drei vier fünf sechs sieben eins null null"
    )


def test_readback_confirms_numbers_only() -> None:
    assert (
        readback("Meine Nummer ist 0176 123")
        == "Ich habe verstanden: null eins sieben sechs eins zwei drei."
    )
    assert readback("Ich brauche einen Termin") is None
    assert readback("am 3. Mai") is None  # short numbers are not read back


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("1", Consent.GRANTED),
        ("2", Consent.DENIED),
        (" 1 ", Consent.GRANTED),  # a key with stray spaces is still the key
        ("Ja, gerne.", Consent.GRANTED),
        ("Nein danke", Consent.DENIED),
        ("Ja, aber lieber nicht", Consent.DENIED),
        ("Wie bitte?", Consent.UNCLEAR),
    ],
)
def test_consent_answers(answer: str, expected: Consent) -> None:
    assert parse_consent(answer) is expected


@pytest.mark.parametrize(
    "text",
    [
        "Aufnahme stoppen",
        "aufnahme stopp",
        "Bitte die Aufzeichnung beenden",
        "Mitschnitt abbrechen",
        "Aufnahme aus",
        "die Aufzeichnung bitte löschen",
        "Bitte nicht aufnehmen",
        "nicht mehr aufzeichnen",
    ],
)
def test_withdrawal_is_heard(text: str) -> None:
    assert parse_withdrawal(text)


@pytest.mark.parametrize(
    "text",
    [
        "Ich möchte einen Termin",
        "stoppen",
        "Die Aufnahme war gut",
        "Aufnahmeantrag beenden",
        "Die Aufnahme ist für den Ausweis und ich will das Verfahren dann beenden",
        "",
    ],
)
def test_other_words_are_no_withdrawal(text: str) -> None:
    assert not parse_withdrawal(text)
