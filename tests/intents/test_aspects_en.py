"""English follow-up questions about one aspect of a service (intents/actions/aspects.py):
what they ask for, and the English sentence that leads the answer."""

from __future__ import annotations

from typing import Any

import pytest

from contract.town import AppointmentNeed, Service
from intents.actions.aspects import Aspect, aspect_of, lead_en
from tests.intents.test_town import load_shipped_town
from tests.intents.test_translations import shipped_translations

TOWN = load_shipped_town()
WORDS = shipped_translations()


@pytest.mark.parametrize(
    ("text", "aspect"),
    [
        ("How much does it cost?", Aspect.FEE),
        ("what is the fee", Aspect.FEE),
        ("How long does it take?", Aspect.DURATION),
        ("when will it be ready", Aspect.DURATION),
        ("What do I need to bring?", Aspect.DOCUMENTS),
        ("which documents", Aspect.DOCUMENTS),
        ("Where is that?", Aspect.LOCATION),
        ("Do I need an appointment?", Aspect.APPOINTMENT),
        ("Can I do it online?", Aspect.ONLINE),
        ("And for children?", Aspect.CHILDREN),
        ("Is there an express service?", Aspect.EXPRESS),
        ("From what age?", Aspect.AGE),
        ("I need a new ID card", None),
        ("passport", None),
        ("Was kostet das?", Aspect.FEE),  # German questions still count
    ],
)
def test_english_questions_ask_for_an_aspect(text: str, aspect: Aspect | None) -> None:
    assert aspect_of(text, english=True) is aspect


def test_english_words_count_only_in_an_english_conversation() -> None:
    assert aspect_of("How much does it cost?") is None
    assert aspect_of("Das ist fast fertig", english=False) is Aspect.DURATION
    assert aspect_of("is it fast", english=True) is Aspect.EXPRESS


def service(**changes: Any) -> Service:
    base = TOWN.service_for_intent("id_card")
    assert base is not None
    fields = {f: getattr(base, f) for f in base.__slots__}  # type: ignore[attr-defined]
    return Service(**(fields | changes))


def english(aspect: Aspect, **changes: Any) -> str | None:
    words = WORDS.services["personalausweis"].en
    return lead_en(service(**changes), words, "Citizens' Office", "Rathausplatz 1", aspect)


@pytest.mark.parametrize(
    ("changes", "aspect", "sentence"),
    [
        ({}, Aspect.FEE, "Fee for ID card: "),
        ({}, Aspect.DURATION, "Processing time for ID card: "),
        ({}, Aspect.DOCUMENTS, "For ID card, please bring: "),
        ({"appointment": AppointmentNeed.REQUIRED}, Aspect.APPOINTMENT, "Yes, you need"),
        ({"appointment": AppointmentNeed.RECOMMENDED}, Aspect.APPOINTMENT, "We recommend"),
        ({"appointment": AppointmentNeed.NONE}, Aspect.APPOINTMENT, "No, you do not need"),
        ({}, Aspect.LOCATION, "The Citizens' Office is responsible, Rathausplatz 1."),
        ({"online_url": None}, Aspect.ONLINE, "No, ID card is not possible online"),
        ({"online_url": "https://x.example/a"}, Aspect.ONLINE, "Yes, you can do ID card"),
    ],
)
def test_the_english_answer_leads_with_what_was_asked(
    changes: dict[str, Any], aspect: Aspect, sentence: str
) -> None:
    answer = english(aspect, **changes)
    assert answer is not None and answer.startswith(sentence), answer


def test_an_english_online_answer_carries_the_link() -> None:
    answer = english(Aspect.ONLINE, online_url="https://x.example/a")
    assert answer is not None and answer.endswith("https://x.example/a")


@pytest.mark.parametrize("aspect", [Aspect.CHILDREN, Aspect.EXPRESS, Aspect.AGE])
def test_aspects_with_german_knowledge_only_give_the_whole_answer(aspect: Aspect) -> None:
    assert english(aspect) is None
