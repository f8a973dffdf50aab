"""The English and Leichte Sprache wording of services and offices (translations.yml)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from contract.knowledge import KnowledgeError
from contract.translations import TRANSLATIONS_FILE, Translations, parse_translations
from tests.intents.test_town import KNOWLEDGE, load_shipped_town

TOWN = load_shipped_town()
SERVICES = [s.id for s in TOWN.services]
DEPARTMENTS = [d.id for d in TOWN.directory.departments]


def shipped_document() -> Any:
    return yaml.safe_load((Path(KNOWLEDGE) / TRANSLATIONS_FILE).read_text(encoding="utf-8"))


def shipped_translations() -> Translations:
    return parse_translations(
        shipped_document(), source=TRANSLATIONS_FILE, services=SERVICES, departments=DEPARTMENTS
    )


def test_every_service_and_office_has_english_and_einfach_wording() -> None:
    words = shipped_translations()
    assert set(words.services) == set(SERVICES)
    assert set(words.departments) == set(DEPARTMENTS)
    assert words.services["personalausweis"].en.name == "ID card"
    assert words.departments["buergerbuero"].einfach == "Bürger-Büro"
    assert all(s.en.summary and s.einfach for s in words.services.values())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["services"].pop("reisepass"), "missing 'reisepass'"),
        (lambda d: d["services"].update(raumschiff=d["services"]["reisepass"]), "unknown"),
        (lambda d: d["departments"].pop("bauamt"), "missing 'bauamt'"),
        (lambda d: d["services"]["reisepass"]["en"].pop("fee"), "en.fee"),
        (lambda d: d["services"]["reisepass"]["einfach"].update(summary=" "), "einfach.summary"),
        (lambda d: d["services"]["reisepass"]["en"].update(colour="red"), "unknown field"),
        (lambda d: d["services"]["reisepass"]["en"].update(documents="Pass"), "documents"),
        (lambda d: d["departments"].update(bauamt="Bau-Amt"), "expected a mapping"),
        (lambda d: d.update(version=2), "version"),
    ],
)
def test_mistakes_in_the_file_are_named(change: Callable[[Any], Any], message: str) -> None:
    document = shipped_document()
    change(document)
    with pytest.raises(KnowledgeError, match=message):
        parse_translations(
            document, source=TRANSLATIONS_FILE, services=SERVICES, departments=DEPARTMENTS
        )
