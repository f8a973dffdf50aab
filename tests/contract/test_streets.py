"""Street names as citizens type them: exact, spelling variants, typos; the nearest names."""

from __future__ import annotations

import pytest

from contract.streets import (
    MAX_WORDS,
    TYPO_RATIO,
    find_street,
    looks_like_street,
    nearest_streets,
    place,
)

STREETS = (
    "Hauptstraße",
    "Bergstraße",
    "Lindenallee",
    "Birkenweg",
    "Am Wertstoffhof",
    "Rosenweg",
    "Gartenstraße",
    "Eichenstraße",
)


@pytest.mark.parametrize(
    ("text", "street"),
    [
        ("Hauptstraße", "Hauptstraße"),
        ("Hauptstrasse", "Hauptstraße"),
        ("Berg str", "Bergstraße"),
        ("berg-str. 5", "Bergstraße"),
        ("In der Lindenallee ist eine Laterne kaputt", "Lindenallee"),
        ("Am Wertstoffhof 3", "Am Wertstoffhof"),
        ("Haupstraße 5", "Hauptstraße"),  # one letter missing
        ("In der Lindenalle", "Lindenallee"),
        ("Birkenwg", "Birkenweg"),
        ("Elefantenstraße", None),
        ("Zauberallee", None),
        ("Rosenstraße", None),  # a different street, not a typo of Rosenweg
        ("", None),
        (None, None),
        ("12345", None),
    ],
)
def test_find_street(text: str | None, street: str | None) -> None:
    assert find_street(text, STREETS) == street


def test_the_longest_exact_name_wins_over_a_shorter_one() -> None:
    assert find_street("Hauptstraße 1", ("Haupt", "Hauptstraße")) == "Hauptstraße"
    assert find_street("Haupt", ("Haupt", "Hauptstraße")) == "Haupt"


def test_the_best_typo_match_wins() -> None:
    # "Bergstrase" is one letter off Bergstraße and further off Burgstraße
    assert find_street("Bergstrase", ("Burgstraße", "Bergstraße")) == "Bergstraße"
    assert find_street("Burgstrase", ("Bergstraße", "Burgstraße")) == "Burgstraße"


def test_a_typo_exactly_at_the_threshold_counts() -> None:
    # 17 of 20 characters alike: ratio 2 * 17 / 40 = 0.85 exactly
    assert find_street("abcdefghijklmnopqxyz", ("abcdefghijklmnopqrst",)) == "abcdefghijklmnopqrst"
    assert find_street("Hauptstrase", ()) is None


def test_the_typo_threshold_holds_at_its_limit() -> None:
    # 10 of 12 characters alike: ratio 0.833 < TYPO_RATIO; 11 of 12: 0.917 >= TYPO_RATIO
    assert TYPO_RATIO == 0.85
    assert find_street("abcdefghijxx", ("abcdefghijkl",)) is None
    assert find_street("abcdefghijkx", ("abcdefghijkl",)) == "abcdefghijkl"


def test_a_street_spans_at_most_three_words() -> None:
    assert MAX_WORDS == 3
    # only all four words together come close enough to "Aa Bb Cc Dddddddd"
    assert find_street("aa bb cc dddddddx", ("Aa Bb Cc Dddddddd",)) is None
    assert find_street("bb cc dddddddx", ("Bb Cc Dddddddd",)) == "Bb Cc Dddddddd"


def test_nearest_streets() -> None:
    assert nearest_streets("Elefantenstraße", STREETS) == ["Gartenstraße", "Eichenstraße"]
    assert nearest_streets("Birkenstraße", STREETS, count=1) == ["Birkenweg"]
    assert nearest_streets("Hauptstrase 3", STREETS, count=3)[0] == "Hauptstraße"
    assert len(nearest_streets("x", STREETS, count=3)) == 3
    assert nearest_streets("", STREETS, count=1) == ["Am Wertstoffhof"]  # ties: by name
    with pytest.raises(ValueError, match="at least 1"):
        nearest_streets("x", STREETS, count=0)


@pytest.mark.parametrize(
    ("text", "street"),
    [
        ("Elefantenstraße 3", True),
        ("Berg str", True),
        ("Zauberallee", True),
        ("Kirchgasse", True),
        ("am Spielplatz hinter der Schule", False),
        ("auf dem Gehweg vor der Schule", False),
        ("hinter dem Bahnhof", False),
        ("der Radweg am Fluss", False),
        ("Gehweg in der Zauberallee", True),
        ("str", False),
    ],
)
def test_looks_like_street(text: str, street: bool) -> None:
    assert looks_like_street(text) is street


@pytest.mark.parametrize(
    ("street", "text", "sentence", "written"),
    [
        ("Hauptstraße", "Hauptstrasse 12", False, "Hauptstraße 12"),
        ("Hauptstraße", "Hauptstrasse 12a", False, "Hauptstraße 12a"),
        ("Hauptstraße", "Hauptstrasse 12 a", False, "Hauptstraße 12 a"),
        ("Bergstraße", "Berg str", False, "Bergstraße"),
        ("Lindenallee", "Ecke Lindenallee und Birkenweg", False, "Ecke Lindenallee und Birkenweg"),
        ("Lindenallee", "vor der Lindenallee 5", False, "Lindenallee 5"),  # three words
        ("Lindenallee", "gleich vor der Lindenallee", False, "gleich vor der Lindenallee"),
        ("Lindenallee", "In der Lindenallee ist eine Laterne kaputt", True, "Lindenallee"),
        ("Hauptstraße", "Schlagloch in der Hauptstrasse 12", True, "Hauptstraße 12"),
        ("Hauptstraße", "Hauptstraße 12345", False, "Hauptstraße"),  # no house number
    ],
)
def test_place(street: str, text: str, sentence: bool, written: str) -> None:
    assert place(street, text, sentence=sentence) == written


def test_place_takes_an_answer_by_default() -> None:
    assert (
        place("Lindenallee", "Ecke Lindenallee und Birkenweg") == "Ecke Lindenallee und Birkenweg"
    )
