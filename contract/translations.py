"""English and Leichte Sprache wording of the services and offices
(``intents/knowledge/translations.yml``), loaded strictly: every service and office of the
town needs both, and every mistake is a KnowledgeError naming the file and field."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from contract.knowledge import KnowledgeError

TRANSLATIONS_FILE = "translations.yml"


@dataclass(frozen=True, slots=True)
class ServiceEnglish:
    name: str
    summary: str
    documents: tuple[str, ...]
    fee: str
    processing_time: str


@dataclass(frozen=True, slots=True)
class ServiceWording:
    """A service in English and in Leichte Sprache (one self-contained text)."""

    en: ServiceEnglish
    einfach: str


@dataclass(frozen=True, slots=True)
class OfficeWording:
    en: str
    einfach: str


@dataclass(frozen=True, slots=True)
class Translations:
    services: Mapping[str, ServiceWording]
    departments: Mapping[str, OfficeWording]

    def einfach_texts(self) -> list[str]:
        """Every Leichte Sprache text of the file (for the readability check)."""
        return [s.einfach for s in self.services.values()]


def _mapping(value: object, where: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise KnowledgeError(f"{where}: expected a mapping, got {type(value).__name__}")
    return value


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise KnowledgeError(f"{where}: expected a non-empty text")
    return value.strip()


def _only(entry: Mapping[str, object], fields: Iterable[str], where: str) -> None:
    unknown = sorted(set(entry) - set(fields))
    if unknown:
        raise KnowledgeError(f"{where}: unknown field {unknown[0]!r}")


def _service(entry: object, where: str) -> ServiceWording:
    entry = _mapping(entry, where)
    _only(entry, ("en", "einfach"), where)
    en = _mapping(entry.get("en"), f"{where}.en")
    _only(en, ("name", "summary", "documents", "fee", "processing_time"), f"{where}.en")
    documents = en.get("documents", [])
    if not isinstance(documents, list):
        raise KnowledgeError(f"{where}.en.documents: expected a list")
    einfach = _mapping(entry.get("einfach"), f"{where}.einfach")
    _only(einfach, ("summary",), f"{where}.einfach")
    return ServiceWording(
        en=ServiceEnglish(
            name=_text(en.get("name"), f"{where}.en.name"),
            summary=_text(en.get("summary"), f"{where}.en.summary"),
            documents=tuple(
                _text(d, f"{where}.en.documents[{i}]") for i, d in enumerate(documents)
            ),
            fee=_text(en.get("fee"), f"{where}.en.fee"),
            processing_time=_text(en.get("processing_time"), f"{where}.en.processing_time"),
        ),
        einfach=_text(einfach.get("summary"), f"{where}.einfach.summary"),
    )


def _office(entry: object, where: str) -> OfficeWording:
    entry = _mapping(entry, where)
    _only(entry, ("en", "einfach"), where)
    return OfficeWording(
        en=_text(entry.get("en"), f"{where}.en"),
        einfach=_text(entry.get("einfach"), f"{where}.einfach"),
    )


def parse_translations(
    document: object, *, source: str, services: Iterable[str], departments: Iterable[str]
) -> Translations:
    """Validate the file's content against the town's service and department ids."""
    root = _mapping(document, source)
    _only(root, ("version", "services", "departments"), source)
    if root.get("version") != 1:
        raise KnowledgeError(f"{source}.version: expected 1")
    raw_services = _mapping(root.get("services"), f"{source}.services")
    raw_departments = _mapping(root.get("departments"), f"{source}.departments")
    for kind, wanted, given in (
        ("services", set(services), set(raw_services)),
        ("departments", set(departments), set(raw_departments)),
    ):
        if wanted - given:
            raise KnowledgeError(f"{source}.{kind}: missing {sorted(wanted - given)[0]!r}")
        if given - wanted:
            raise KnowledgeError(f"{source}.{kind}: unknown {sorted(given - wanted)[0]!r}")
    return Translations(
        services={k: _service(v, f"{source}.services.{k}") for k, v in raw_services.items()},
        departments={
            k: _office(v, f"{source}.departments.{k}") for k, v in raw_departments.items()
        },
    )


def load_translations(
    directory: Path, *, services: Iterable[str], departments: Iterable[str]
) -> Translations:
    """Read and validate ``translations.yml`` in ``directory``; raise KnowledgeError."""
    path = directory / TRANSLATIONS_FILE
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise KnowledgeError(f"{path}: cannot read knowledge file: {error}") from error
    except yaml.YAMLError as error:
        raise KnowledgeError(f"{path}: invalid YAML: {error}") from error
    return parse_translations(
        document, source=str(path), services=services, departments=departments
    )
