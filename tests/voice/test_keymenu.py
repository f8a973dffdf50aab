from __future__ import annotations

from contract.conversation import Button
from voice.keymenu import (
    MAX_CHOICES,
    REASK,
    REASK_EN,
    STAFF_KEY,
    STAFF_PAYLOAD,
    STOP_PAYLOAD,
    TOPICS,
    TOPICS_EN,
    KeyMenu,
    key_menu,
    topic_names,
)

YES_NO = (Button("Ja", "/affirm"), Button("Nein", "/deny"))
STOP = Button("Abbrechen", "/stop")
PERSON = Button("Mit einem Menschen sprechen", "/human_handoff")


def test_wire_constants() -> None:
    assert (STAFF_KEY, STAFF_PAYLOAD, STOP_PAYLOAD, MAX_CHOICES) == (
        "0",
        "/human_handoff",
        "/stop",
        9,
    )


def test_topics_read_as_the_issue_words_them() -> None:
    menu = key_menu(TOPICS)
    assert menu is not None
    assert menu.prompt() == (
        "Drücken Sie 1 für Termine, 2 für Ausweis und Pass, 3 für Ummeldung, "
        "4 für Müll und Sperrmüll, 5 für Öffnungszeiten, 6 für Schäden melden, "
        "oder 0 für eine Mitarbeiterin."
    )


def test_one_choice_reads_with_the_person() -> None:
    assert KeyMenu((Button("Ja", "/affirm"),)).prompt() == (
        "Drücken Sie 1 für Ja, oder 0 für eine Mitarbeiterin."
    )


def test_keys_pick_choices_in_order_and_zero_a_person() -> None:
    menu = key_menu((*YES_NO, PERSON, STOP))
    assert menu == KeyMenu(YES_NO)
    assert [menu.pick(k) for k in "1230"] == ["/affirm", "/deny", None, "/human_handoff"]


def test_keys_that_pick_nothing() -> None:
    menu = KeyMenu(YES_NO)
    for key in ("#", "*", "", "12", "a", "١"):
        assert menu.pick(key) is None, key


def test_last_choice_at_n_and_nothing_at_n_plus_one() -> None:
    buttons = tuple(Button(str(i), f"/p{i}") for i in range(1, 12))
    menu = key_menu(buttons)
    assert menu is not None and len(menu.choices) == MAX_CHOICES
    assert menu.pick("9") == "/p9"
    assert key_menu(buttons[:8]) == KeyMenu(buttons[:8])
    assert KeyMenu(buttons[:8]).pick("8") == "/p8"
    assert KeyMenu(buttons[:8]).pick("9") is None


def test_no_menu_without_real_choices() -> None:
    assert key_menu(()) is None
    assert key_menu((STOP, PERSON)) is None


def test_reask_names_the_topics() -> None:
    assert topic_names() == (
        "Termine, Ausweis und Pass, Ummeldung, Müll und Sperrmüll, Öffnungszeiten "
        "oder Schäden melden"
    )
    expected = "Entschuldigung, die Verbindung ist schlecht. Worum geht es: " + topic_names() + "?"
    assert expected == REASK


def test_an_english_call_hears_the_same_keys_in_english() -> None:
    assert [b.payload for b in TOPICS_EN] == [b.payload for b in TOPICS]
    assert KeyMenu(TOPICS_EN).prompt(english=True) == (
        "Press 1 for appointments, 2 for ID cards and passports, 3 for registering an "
        "address, 4 for waste and bulky waste, 5 for opening hours, 6 for reporting damage, "
        "or 0 for a member of staff."
    )
    assert KeyMenu((Button("Yes", "/affirm"),)).prompt(english=True) == (
        "Press 1 for Yes, or 0 for a member of staff."
    )
    assert topic_names(english=True) == (
        "appointments, ID cards and passports, registering an address, waste and bulky "
        "waste, opening hours or reporting damage"
    )
    assert (
        "Sorry, the line is bad. What is it about: " + topic_names(english=True) + "?"
    ) == REASK_EN
