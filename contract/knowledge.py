"""Department knowledge of the town (``intents/knowledge/departments.yml``), loaded and
validated strictly: every mistake is a KnowledgeError naming its file and field."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from contract import env
from contract.german import DIGIT_WORDS, name_key

DEPARTMENTS_FILE = "departments.yml"
DEFAULT_KNOWLEDGE_DIR = Path(__file__).resolve().parent.parent / "intents" / "knowledge"

_ID_RE = re.compile(r"[a-z][a-z0-9_]*\Z")
_PHONE_RE = re.compile(r"\+?[0-9][0-9 /-]*[0-9]\Z")
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+\Z")
_ACCUSATIVE_ARTICLE = {"der": "den", "die": "die", "das": "das"}
_FIELDS = ("id", "name", "article", "phone", "email", "address", "url", "synonyms")


class KnowledgeError(ValueError):
    """The knowledge file is missing or does not match the documented schema."""


@dataclass(frozen=True, slots=True)
class Department:
    """One municipal department a conversation can be handed over to."""

    id: str
    name: str
    article: str
    phone: str
    email: str
    address: str
    url: str
    synonyms: tuple[str, ...]

    @property
    def name_accusative(self) -> str:
        """Name with its accusative article, e.g. ``das Standesamt``, ``den Fachdienst``."""
        return f"{_ACCUSATIVE_ARTICLE[self.article]} {self.name}"

    @property
    def phone_spoken(self) -> str:
        """Phone number for speech output: digit by digit, groups separated by commas."""
        return spoken_phone_number(self.phone)


@dataclass(frozen=True, slots=True)
class Directory:
    """All departments plus the default one; resolves names and synonyms to departments."""

    departments: tuple[Department, ...]
    default: Department

    def resolve(self, value: str | None) -> Department:
        """Department whose id, name or synonym matches ``value`` (see name_key), else default."""
        if value:
            key = name_key(value)
            for department in self.departments:
                names = (department.id, department.name, *department.synonyms)
                if key in (name_key(name) for name in names):
                    return department
        return self.default


def spoken_phone_number(phone: str) -> str:
    """``"+49 1234 567-100"`` -> ``"plus vier neun, eins zwei drei vier, ..."``."""
    groups = [group for group in re.split(r"[ /-]+", phone.strip()) if group]
    spoken = []
    for group in groups:
        words = ["plus"] if group.startswith("+") else []
        words.extend(DIGIT_WORDS[int(char)] for char in group.lstrip("+"))
        spoken.append(" ".join(words))
    return ", ".join(spoken)


def knowledge_dir() -> Path:
    """Directory named by ``$RATHAUSBOT_KNOWLEDGE_DIR``, else ``intents/knowledge``."""
    configured = os.environ.get(env.KNOWLEDGE_DIR)
    return Path(configured) if configured else DEFAULT_KNOWLEDGE_DIR


def load_directory(directory: Path) -> Directory:
    """Read and validate ``departments.yml`` in ``directory``; raise KnowledgeError if invalid."""
    path = directory / DEPARTMENTS_FILE
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise KnowledgeError(f"{path}: cannot read knowledge file: {error}") from error
    except yaml.YAMLError as error:
        raise KnowledgeError(f"{path}: invalid YAML: {error}") from error
    return parse_directory(document, source=str(path))


def parse_directory(document: object, *, source: str) -> Directory:
    """Validate the parsed YAML document of ``departments.yml``."""
    if not isinstance(document, dict):
        raise KnowledgeError(f"{source}: expected a mapping at top level")
    if document.get("version") != 1:
        raise KnowledgeError(f"{source}: version: expected 1, got {document.get('version')!r}")
    entries = document.get("departments")
    if not isinstance(entries, list) or not entries:
        raise KnowledgeError(f"{source}: departments: expected a non-empty list")

    departments = tuple(
        _parse_department(entry, where=f"{source}: departments[{index}]")
        for index, entry in enumerate(entries)
    )
    seen: dict[str, str] = {}
    for department in departments:
        for name in (department.id, department.name, *department.synonyms):
            key = name_key(name)
            owner = seen.setdefault(key, department.id)
            if owner != department.id:
                raise KnowledgeError(
                    f"{source}: {name!r} names both {owner!r} and {department.id!r}"
                )

    default_id = document.get("default_department")
    by_id = {department.id: department for department in departments}
    if not isinstance(default_id, str) or default_id not in by_id:
        raise KnowledgeError(
            f"{source}: default_department: {default_id!r} is not one of {sorted(by_id)}"
        )
    return Directory(departments=departments, default=by_id[default_id])


def _parse_department(entry: object, *, where: str) -> Department:
    if not isinstance(entry, dict):
        raise KnowledgeError(f"{where}: expected a mapping")
    unknown = sorted(set(entry) - set(_FIELDS))
    if unknown:
        raise KnowledgeError(f"{where}: unknown field(s) {unknown}; allowed: {list(_FIELDS)}")

    def text(field: str) -> str:
        value = entry.get(field)
        if not isinstance(value, str) or not value.strip():
            raise KnowledgeError(f"{where}.{field}: expected a non-empty string, got {value!r}")
        return value.strip()

    department_id = text("id")
    if not _ID_RE.match(department_id):
        raise KnowledgeError(f"{where}.id: {department_id!r} must match [a-z][a-z0-9_]*")
    article = text("article")
    if article not in _ACCUSATIVE_ARTICLE:
        raise KnowledgeError(f"{where}.article: expected der, die or das, got {article!r}")
    phone = text("phone")
    if not _PHONE_RE.match(phone):
        raise KnowledgeError(f"{where}.phone: {phone!r} may hold digits, spaces, +, -, / only")
    email = text("email")
    if not _EMAIL_RE.match(email):
        raise KnowledgeError(f"{where}.email: {email!r} is not an e-mail address")
    url = text("url")
    if not url.startswith("https://"):
        raise KnowledgeError(f"{where}.url: {url!r} must start with https://")

    synonyms = entry.get("synonyms", [])
    if not isinstance(synonyms, list) or not all(
        isinstance(item, str) and item.strip() for item in synonyms
    ):
        raise KnowledgeError(f"{where}.synonyms: expected a list of non-empty strings")

    return Department(
        id=department_id,
        name=text("name"),
        article=article,
        phone=phone,
        email=email,
        address=text("address"),
        url=url,
        synonyms=tuple(item.strip() for item in synonyms),
    )
