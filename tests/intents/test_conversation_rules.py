"""The pure parts of conversation quality: what a question asks for, when a citizen leaves a
form, which department a request belongs to, and the knowledge fields behind the answers."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from contract.knowledge import KnowledgeError
from contract.town import AppointmentNeed, Service, load_town
from intents.actions.aspects import Aspect, aspect_of, lead
from intents.actions.phrases import (
    asks_about_topic,
    asks_whether_needed,
    has_spoken,
    is_person_request,
    states_booking,
    voice_disclosed,
    wants_to_stop,
)
from intents.actions.routing import Request, current_request, department_for, topic_department
from intents.actions.speech import parse_reference
from tests.intents.test_town import KNOWLEDGE, load_shipped_town

TOWN = load_shipped_town()


@pytest.mark.parametrize(
    ("text", "aspect"),
    [
        ("Was kostet das?", Aspect.FEE),
        ("Wie teuer ist ein Pass", Aspect.FEE),
        ("Und wie lange dauert das?", Aspect.DURATION),
        ("Wann ist der fertig?", Aspect.DURATION),
        ("Was muss ich mitbringen?", Aspect.DOCUMENTS),
        ("welche unterlagen", Aspect.DOCUMENTS),
        ("Wo ist das?", Aspect.LOCATION),
        ("Brauche ich einen Termin?", Aspect.APPOINTMENT),
        ("Geht das online?", Aspect.ONLINE),
        ("Kann ich den Ausweis auch online beantragen?", Aspect.ONLINE),
        ("Und für Kinder?", Aspect.CHILDREN),
        ("Gibt es das als Express?", Aspect.EXPRESS),
        ("Ab welchem Alter?", Aspect.AGE),
        ("Ich brauche einen neuen Personalausweis", None),
        ("Reisepass", None),
        ("Kinderreisepass online beantragen", Aspect.ONLINE),  # the first in order wins
        ("Was kostet ein Termin", Aspect.FEE),
        ("Woher bekomme ich den", None),  # "wo" as a word only
    ],
)
def test_aspect_of(text: str, aspect: Aspect | None) -> None:
    assert aspect_of(text) is aspect


def service(**changes: Any) -> Service:
    base = TOWN.service_for_intent("id_card")
    assert base is not None
    fields = {f: getattr(base, f) for f in base.__slots__}  # type: ignore[attr-defined]
    return Service(**(fields | changes))


OFFICE = TOWN.offices["buergerbuero"].department


@pytest.mark.parametrize(
    ("changes", "aspect", "sentence"),
    [
        ({}, Aspect.FEE, "Gebühr für Personalausweis: 37,00 Euro ab 24 Jahren"),
        ({}, Aspect.DURATION, "Bearbeitungszeit für Personalausweis: etwa drei"),
        ({}, Aspect.DOCUMENTS, "Für Personalausweis bringen Sie bitte mit: bisheriger"),
        ({"documents": ()}, Aspect.DOCUMENTS, "Für Personalausweis brauchen Sie keine"),
        ({}, Aspect.LOCATION, "Zuständig ist das Bürgerbüro, Rathausplatz 1"),
        ({}, Aspect.APPOINTMENT, "Ja, für Personalausweis brauchen Sie einen Termin."),
        ({"appointment": AppointmentNeed.RECOMMENDED}, Aspect.APPOINTMENT, "Für Personalaus"),
        ({"appointment": AppointmentNeed.NONE}, Aspect.APPOINTMENT, "Nein, für Personalaus"),
        ({}, Aspect.ONLINE, "Nein, Personalausweis geht leider nicht online"),
        ({"online_url": "https://x.example"}, Aspect.ONLINE, "Ja, Personalausweis können"),
        ({}, Aspect.CHILDREN, "Kinder unter 16 Jahren"),
        ({"children": None}, Aspect.CHILDREN, "Für Kinder gilt bei Personalausweis nichts"),
        ({}, Aspect.EXPRESS, "Einen Expressausweis gibt es nicht"),
        ({"express": None}, Aspect.EXPRESS, "Eine Expressbearbeitung gibt es für"),
        ({}, Aspect.AGE, "Ab 16 Jahren ist ein Personalausweis Pflicht"),
        ({"age_limits": None}, Aspect.AGE, "Für Personalausweis gibt es keine Altersgrenze."),
    ],
)
def test_the_answer_leads_with_what_was_asked(
    changes: dict[str, Any], aspect: Aspect, sentence: str
) -> None:
    assert lead(service(**changes), OFFICE, aspect).startswith(sentence)


def test_an_online_answer_carries_the_link() -> None:
    answer = lead(service(online_url="https://x.example/a"), OFFICE, Aspect.ONLINE)
    assert answer.endswith("https://x.example/a")


@pytest.mark.parametrize(
    "text",
    [
        "abbrechen",
        "Abbrechen bitte",
        "stopp",
        "Stop",
        "doch nicht",
        "Ich möchte keinen Termin absagen",
        "Stopp, ich möchte doch nichts absagen",
        "ich möchte keine Meldung machen",
        "vergiss es",
        "lassen wir das",
        "das möchte ich doch nicht",
        "bitte nicht mehr absagen",
        "ich will doch nichts buchen",
    ],
)
def test_ways_to_leave_a_form(text: str) -> None:
    assert wants_to_stop(text)


@pytest.mark.parametrize(
    "text",
    [
        "ja",
        "nein",
        "keine",
        "Bürgerbüro",
        "Die Lampe leuchtet nicht mehr",
        "nächsten Dienstag",
        "Da liegt halt Müll",
        "Stopschild umgefahren",
        "Ich möchte meinen Termin absagen",
    ],
)
def test_answers_that_do_not_leave_a_form(text: str) -> None:
    assert not wants_to_stop(text)


@pytest.mark.parametrize(
    ("text", "person"),
    [
        ("Mit einem Menschen sprechen", True),
        ("Mitarbeiter bitte", True),
        ("Verbinden Sie mich mit dem Standesamt", True),
        ("Ich will mit jemandem vom Bauamt reden", True),
        ("Bürgerbüro", False),
        ("Standesamt bitte", False),
        ("das Ordnungsamt", False),
    ],
)
def test_a_person_is_asked_for_not_a_department_named(text: str, person: bool) -> None:
    assert is_person_request(text) is person


@pytest.mark.parametrize(
    ("events", "spoken"),
    [
        ([], False),
        ([{"event": "user"}], False),
        ([{"event": "bot"}, {"event": "user"}], True),
        ([{"event": "user"}, {"event": "bot"}, {"event": "user"}], True),
        ([{"event": "action"}, {"event": "user"}, {"event": "bot"}], False),
        ([{"event": "bot"}], True),
    ],
)
def test_has_spoken(events: list[dict[str, object]], spoken: bool) -> None:
    assert has_spoken(events) is spoken


def test_a_call_joining_a_chat_session_still_hears_the_spoken_disclosure() -> None:
    voice = "Guten Tag, hier ist ..."
    chat = [{"event": "bot", "text": "Guten Tag! Ich bin der digitale Assistent ..."}]
    assert has_spoken(chat) and not voice_disclosed(chat, voice)
    spoken = [*chat, {"event": "user", "text": "/greet"}, {"event": "bot", "text": voice}]
    assert voice_disclosed(spoken, voice)
    assert not voice_disclosed([{"event": "user", "text": voice}], voice)


def request(**changes: Any) -> Request:
    base: dict[str, Any] = {
        "named": None,
        "intent": None,
        "active_loop": None,
        "service": None,
        "topic": None,
    }
    return Request(**(base | changes))


@pytest.mark.parametrize(
    ("changes", "department"),
    [
        ({}, "buergerbuero"),
        ({"named": "Standesamt", "topic": "ordnung"}, "standesamt"),
        ({"named": "standes amt"}, "standesamt"),
        ({"named": "Bürgeramt", "topic": "ordnung"}, "buergerbuero"),
        ({"named": "Elefantenamt", "topic": "ordnung"}, "ordnungsamt"),
        ({"intent": "public_order"}, "ordnungsamt"),
        ({"intent": "trees_green_spaces"}, "gruenflaechenamt"),
        ({"intent": "street_cleaning"}, "abfallwirtschaft"),
        ({"intent": "waste_collection", "topic": "standesamt"}, "abfallwirtschaft"),
        ({"intent": "marriage", "topic": "ordnung"}, "standesamt"),
        ({"intent": "human_handoff", "topic": "eheschliessung"}, "standesamt"),
        ({"intent": "human_handoff", "topic": "standesamt"}, "standesamt"),
        ({"intent": "human_handoff", "topic": "nothing"}, "buergerbuero"),
        ({"active_loop": "cancel_form", "topic": "standesamt"}, "buergerbuero"),
        ({"active_loop": "damage_form", "topic": "standesamt"}, "bauamt"),
        ({"active_loop": "waste_form", "topic": "standesamt"}, "abfallwirtschaft"),
        ({"active_loop": "booking_form", "service": "kfz_zulassung"}, "zulassungsstelle"),
        ({"active_loop": "booking_form", "topic": "standesamt"}, "buergerbuero"),
        ({"active_loop": "callback_form", "topic": "wohngeld"}, "sozialamt"),
        ({"active_loop": "callback_form"}, "buergerbuero"),
        ({"active_loop": "cancel_form", "intent": "marriage"}, "buergerbuero"),
    ],
)
def test_the_department_of_the_current_request(changes: dict[str, Any], department: str) -> None:
    assert department_for(TOWN, request(**changes)).id == department


def test_topic_department() -> None:
    assert topic_department(TOWN, "personalausweis") == TOWN.offices["buergerbuero"].department
    assert topic_department(TOWN, "jugendamt") == TOWN.offices["jugendamt"].department
    assert topic_department(TOWN, None) is None
    assert topic_department(TOWN, "") is None
    assert topic_department(TOWN, "mond") is None


def test_every_service_intent_names_a_real_intent_and_damage_has_next_steps() -> None:
    report = TOWN.service_for_intent("report_damage")
    assert report is not None and report.next_steps and "zwei Wochen" in report.next_steps
    for intent in ("public_order", "trees_green_spaces", "street_cleaning"):
        found = TOWN.service_for_intent(intent)
        assert found is not None and found.summary and found.next_steps
    ordnung = TOWN.service_for_intent("public_order")
    assert ordnung is not None and ordnung.office == "ordnungsamt"


def _broken(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    shutil.copytree(KNOWLEDGE, tmp_path, dirs_exist_ok=True)
    path = tmp_path / "services.yml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(document["services"][0])
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.update(online="ja"), r"online: expected true or false"),
        (lambda s: s.update(online=True), r"online_url: required exactly when online"),
        (lambda s: s.update(online_url="https://x.example"), r"online_url: required exactly"),
        (
            lambda s: s.update(online=True, online_url="http://x.example"),
            r"online_url: 'http://x.example' must start with https://",
        ),
        (lambda s: s.update(appointment="maybe"), r"appointment: expected one of"),
        (
            lambda s: s.update(bookable=False, appointment="required"),
            r"appointment: required, but the service is not bookable",
        ),
        (lambda s: s.update(express=""), r"express: expected a non-empty string"),
        (lambda s: s.update(children=3), r"children: expected a non-empty string"),
        (lambda s: s.update(age_limits=None), r"age_limits: expected a non-empty string"),
        (lambda s: s.update(next_steps=[]), r"next_steps: expected a non-empty string"),
        (lambda s: s.update(colour="blau"), r"unknown field"),
    ],
)
def test_mistakes_in_the_new_knowledge_fields_are_named(
    tmp_path: Path, change: Callable[[dict[str, Any]], None], message: str
) -> None:
    with pytest.raises(KnowledgeError, match=message):
        load_town(_broken(tmp_path, change))


def test_the_new_fields_load_and_default(tmp_path: Path) -> None:
    def plain(entry: dict[str, Any]) -> None:
        for field in ("online", "appointment", "express", "children", "age_limits"):
            entry.pop(field, None)

    loaded = load_town(_broken(tmp_path, plain)).service_for_intent("id_card")
    assert loaded is not None and loaded.online_url is None and loaded.express is None
    assert loaded.appointment is AppointmentNeed.NONE
    ok = TOWN.service_for_intent("id_card")
    assert ok is not None and ok.appointment is AppointmentNeed.REQUIRED and ok.online_url is None
    dog = TOWN.service_for_intent("dog_tax")
    assert dog is not None and dog.online_url == "https://www.musterstadt.example/hundesteuer"


@pytest.mark.parametrize(
    ("text", "reference"),
    [
        ("Ich möchte meinen Termin B-NGJZV5 absagen", "B-NGJZV5"),
        ("mein termin b ngjzv5 bitte absagen", "B-NGJZV5"),
        ("BNGJZV5", "B-NGJZV5"),
        ("mein termin bngjzv5 bitte absagen", "B-NGJZV5"),  # joined, inside a sentence
        ("Termin B-NGJZV5 und BNGJZV6", "B-NGJZV5"),  # the one with a hyphen first
        ("b k 7 q x 2 m", "B-K7QX2M"),
        ("Buchung B-ZZZZZZ", "B-ZZZZZZ"),  # "Buchung" is a word, not a reference
        ("Bitte B-ZZZZZZ absagen", "B-ZZZZZZ"),
        ("Termin absagen", None),
        ("B-NGJZV", None),  # five characters
        ("B-NGJZV55", None),  # seven characters
        ("B-NGJZV1", None),  # 1 is not in the alphabet
    ],
)
def test_references_inside_sentences(text: str, reference: str | None) -> None:
    assert parse_reference(text, "B") == reference


@pytest.mark.parametrize(
    ("text", "service"),
    [
        ("Ich brauche einen Termin für die Anmeldung", "anmeldung"),
        ("Ich brauche eine Gewerbeanmeldung", "gewerbe"),
        ("Termin für die Anmeldung der Eheschließung", "eheschliessung"),
        ("mein Ausweis ist weg", "personalausweis"),
        ("Ich möchte heiraten", "eheschliessung"),
        ("Ich habe eine Frage", None),
        ("Pass", "reisepass"),
    ],
)
def test_the_longest_service_name_in_a_text_wins(text: str, service: str | None) -> None:
    found = TOWN.service(text)
    assert (found.id if found else None) == service


class FakeTracker:
    """What current_request reads of a rasa_sdk Tracker."""

    def __init__(
        self,
        *,
        entities: dict[str, str],
        loop: str | None,
        slots: dict[str, object],
        intent: str | None,
    ) -> None:
        self.entities = entities
        self.active_loop = {"name": loop} if loop else {}
        self.slots = slots
        self.latest_message: dict[str, Any] = {"intent": {"name": intent}} if intent else {}

    def get_latest_entity_values(self, name: str) -> Any:
        return iter([self.entities[name]] if name in self.entities else [])

    def get_slot(self, name: str) -> object:
        return self.slots.get(name)


def test_current_request_reads_the_tracker() -> None:
    tracker = FakeTracker(
        entities={"department": "standesamt"},
        loop="booking_form",
        slots={"service": "reisepass", "topic": "gruen"},
        intent="human_handoff",
    )
    assert current_request(tracker) == Request(  # type: ignore[arg-type]
        named="standesamt",
        intent="human_handoff",
        active_loop="booking_form",
        service="reisepass",
        topic="gruen",
    )
    empty = FakeTracker(entities={}, loop=None, slots={"service": 3, "topic": 4}, intent=None)
    assert current_request(empty) == request()  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("Brauche ich einen Termin?", True),
        ("brauche ich dafür einen Termin", True),
        ("Muss ich einen Termin machen?", True),
        ("Und muss man vorher einen Termin vereinbaren?", True),
        ("Brauchen wir einen Termin?", True),
        ("Benötige ich einen Termin", True),
        ("Ich brauche einen Termin", False),
        ("Ich muss einen Termin machen", False),
        ("Kann ich einen Termin machen?", False),
        ("Termin brauche ich", False),
        ("Wir brauchen einen Termin für die Hochzeit", False),
    ],
)
def test_a_question_whether_something_is_needed(text: str, question: bool) -> None:
    assert asks_whether_needed(text) is question


@pytest.mark.parametrize(
    ("text", "intent", "requested", "topic_is_service", "follow_up"),
    [
        ("Brauche ich einen Termin?", "book_appointment", None, True, True),
        ("Muss ich einen Termin machen?", "book_appointment", None, True, True),
        ("Ich brauche einen Termin", "book_appointment", None, True, False),  # a statement books
        ("Kann ich einen Termin machen?", "book_appointment", None, True, False),
        ("Brauche ich einen Termin?", "book_appointment", None, False, False),  # no service
        ("Brauche ich einen Termin?", "book_appointment", "person_name", True, False),  # in form
        ("Brauche ich einen Termin?", "follow_up", None, True, False),  # the NLU got it anyway
        ("Muss ich?", "book_appointment", None, True, False),  # no aspect
    ],
)
def test_a_question_about_the_topic_does_not_start_the_booking(
    text: str, intent: str, requested: str | None, topic_is_service: bool, follow_up: bool
) -> None:
    found = asks_about_topic(
        text, intent=intent, requested=requested, topic_is_service=topic_is_service
    )
    assert found is follow_up


@pytest.mark.parametrize(
    ("text", "statement"),
    [
        ("Ich brauche einen Termin", True),
        ("ich brauch nen termin", True),
        ("Gut, ich möchte einen Termin machen", True),
        ("wir hätten gern einen Termin", True),
        ("Brauche ich einen Termin?", False),
        ("Ich brauche keinen Termin", False),
        ("Ich brauche einen Reisepass", False),
        ("Was kostet das?", False),
    ],
)
def test_a_statement_that_an_appointment_is_wanted(text: str, statement: bool) -> None:
    assert states_booking(text) is statement
