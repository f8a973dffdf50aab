"""The town's knowledge (``intents/knowledge/*.yml``): offices, hours, services, waste calendar.

Loaded and validated strictly (the action server at its start, the gateway for street names,
vocabulary and holidays); every mistake is a KnowledgeError naming its file and field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import Enum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from contract.calendar import STATES, holiday_name
from contract.german import name_key
from contract.knowledge import Department, Directory, KnowledgeError, load_directory
from contract.streets import find_street, nearest_streets

WEEKDAY_KEYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_INTERVAL_RE = re.compile(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)\Z")
_ID_RE = re.compile(r"[a-z][a-z0-9_]*\Z")


@dataclass(frozen=True, slots=True)
class Interval:
    start: time
    end: time


@dataclass(frozen=True, slots=True)
class Office:
    """Opening hours and appointment capacity of one department."""

    department: Department
    hours: tuple[tuple[Interval, ...], ...]  # indexed by weekday (0 = Monday)
    closures: Mapping[date, str]
    slot_minutes: int | None
    capacity: int

    @property
    def bookable(self) -> bool:
        return self.slot_minutes is not None


class AppointmentNeed(str, Enum):
    """Whether a citizen needs an appointment for a service."""

    REQUIRED = "required"
    RECOMMENDED = "recommended"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Service:
    id: str
    intent: str | None
    name: str
    office: str
    summary: str
    documents: tuple[str, ...]
    fee: str
    processing_time: str
    bookable: bool
    synonyms: tuple[str, ...]
    online_url: str | None = None  # None: no online application
    appointment: AppointmentNeed = AppointmentNeed.NONE
    express: str | None = None
    children: str | None = None
    age_limits: str | None = None
    next_steps: str | None = None


@dataclass(frozen=True, slots=True)
class Collection:
    weekday: int
    every_weeks: int
    first: date


@dataclass(frozen=True, slots=True)
class WasteType:
    id: str
    name: str
    synonyms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DayStatus:
    """Whether an office is open on a day, and why not."""

    intervals: tuple[Interval, ...]
    closed_because: str | None  # holiday or closure name; None when merely not an office day


@dataclass(frozen=True, slots=True)
class Town:
    name: str
    state: str
    timezone: ZoneInfo
    booking_days: int
    directory: Directory
    offices: Mapping[str, Office]
    services: tuple[Service, ...]
    waste_types: tuple[WasteType, ...]
    districts: Mapping[str, Mapping[str, Collection]]
    streets: Mapping[str, str]

    def now(self) -> datetime:
        return datetime.now(self.timezone)

    def holiday(self, day: date) -> str | None:
        """German name of the state's public holiday on ``day``, if it is one."""
        return holiday_name(day, self.state)

    def day_status(self, office: Office, day: date) -> DayStatus:
        holiday = self.holiday(day)
        if holiday:
            return DayStatus((), holiday)
        if day in office.closures:
            return DayStatus((), office.closures[day])
        return DayStatus(office.hours[day.weekday()], None)

    def office(self, name: str | None) -> Office:
        """The office named by id, name or synonym; the default department's when unknown."""
        return self.offices[self.directory.resolve(name).id]

    def service(self, name: str | None) -> Service | None:
        """The service whose id, name, intent or synonym matches ``name``."""
        if not name:
            return None
        key = name_key(name)
        for service in self.services:
            if key in {name_key(n) for n in (service.id, service.name, *service.synonyms)}:
                return service
        # "mein Ausweis ist weg" -> a name inside the text; the longest such name wins
        # ("Gewerbeanmeldung" is the business, not the "Anmeldung" of an address)
        inside = [
            (len(name_key(n)), service)
            for service in self.services
            for n in (service.name, *service.synonyms)
            if len(n) > 3 and name_key(n) in key
        ]
        return max(inside, key=lambda found: found[0])[1] if inside else None

    def service_for_intent(self, intent: str) -> Service | None:
        return next((s for s in self.services if s.intent == intent), None)

    def waste_type(self, name: str | None) -> WasteType | None:
        if not name:
            return None
        key = name_key(name)
        for waste in self.waste_types:
            if key in {name_key(n) for n in (waste.id, waste.name, *waste.synonyms)}:
                return waste
        return None

    def street(self, text: str | None) -> str | None:
        """The town's street named in ``text`` ("hauptstr", "Haupt Straße 5", "Hauptstrase")."""
        return find_street(text, self.streets)

    def nearest_streets(self, text: str, *, count: int = 2) -> list[str]:
        """The town's ``count`` street names most like ``text`` (for "did you mean")."""
        return nearest_streets(text, self.streets, count=count)

    def next_collections(self, street: str, after: date) -> list[tuple[WasteType, date]]:
        """Next collection day of each waste type for ``street``, on or after ``after``."""
        district = self.districts[self.streets[street]]
        result = []
        for waste in self.waste_types:
            rule = district.get(waste.id)
            if rule is not None:
                result.append((waste, self._next_collection(rule, after)))
        return sorted(result, key=lambda item: item[1])

    def _next_collection(self, rule: Collection, after: date) -> date:
        period = 7 * rule.every_weeks
        # Look back one period too: a holiday may have moved the last one onto or past `after`.
        offset = (after - rule.first).days
        start = rule.first + timedelta(days=max(0, offset // period - 1) * period)
        day = start
        while True:
            actual = day
            while self.holiday(actual) or actual.weekday() == 6:
                actual += timedelta(days=1)
            if actual >= after:
                return actual
            day += timedelta(days=period)

    def slots(self, office: Office, day: date) -> list[time]:
        """Appointment start times of ``office`` on ``day`` (capacity not yet applied)."""
        if office.slot_minutes is None:
            return []
        step = timedelta(minutes=office.slot_minutes)
        result = []
        for interval in self.day_status(office, day).intervals:
            at = datetime.combine(day, interval.start)
            end = datetime.combine(day, interval.end)
            while at + step <= end:
                result.append(at.time())
                at += step
        return result

    def bookable_days(self, office: Office, today: date) -> Iterator[date]:
        """Days from tomorrow within the booking horizon on which ``office`` has slots."""
        for offset in range(1, self.booking_days + 1):
            day = today + timedelta(days=offset)
            if self.slots(office, day):
                yield day


# --- loading ----------------------------------------------------------------------------


def _read(directory: Path, name: str) -> tuple[dict[str, Any], str]:
    path = directory / name
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise KnowledgeError(f"{path}: cannot read knowledge file: {error}") from error
    except yaml.YAMLError as error:
        raise KnowledgeError(f"{path}: invalid YAML: {error}") from error
    if not isinstance(document, dict):
        raise KnowledgeError(f"{path}: expected a mapping at top level")
    if document.get("version") != 1:
        raise KnowledgeError(f"{path}: version: expected 1, got {document.get('version')!r}")
    return document, str(path)


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise KnowledgeError(f"{where}: expected a non-empty string, got {value!r}")
    return value.strip()


def _texts(value: object, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise KnowledgeError(f"{where}: expected a list of strings, got {value!r}")
    return tuple(_text(item, f"{where}[{i}]") for i, item in enumerate(value))


def _mapping(value: object, where: str) -> dict[Any, Any]:
    if not isinstance(value, dict) or not value:
        raise KnowledgeError(f"{where}: expected a non-empty mapping, got {value!r}")
    return value


def _int(value: object, where: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise KnowledgeError(f"{where}: expected a whole number {low}..{high}, got {value!r}")
    return value


def _date(value: object, where: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    raise KnowledgeError(f"{where}: expected a date YYYY-MM-DD, got {value!r}")


def _weekday(value: object, where: str) -> int:
    if value not in WEEKDAY_KEYS:
        raise KnowledgeError(f"{where}: expected one of {list(WEEKDAY_KEYS)}, got {value!r}")
    return WEEKDAY_KEYS.index(str(value))


def _only(entry: dict[Any, Any], allowed: tuple[str, ...], where: str) -> None:
    unknown = sorted(set(map(str, entry)) - set(allowed))
    if unknown:
        raise KnowledgeError(f"{where}: unknown field(s) {unknown}; allowed: {list(allowed)}")


def _parse_office(department: Department, entry: object, where: str) -> Office:
    entry = _mapping(entry, where)
    _only(entry, ("hours", "closures", "appointments"), where)
    hours_doc = _mapping(entry.get("hours"), f"{where}.hours")
    for day in hours_doc:
        _weekday(day, f"{where}.hours")
    hours: list[tuple[Interval, ...]] = []
    for day in WEEKDAY_KEYS:
        intervals: list[Interval] = []
        for i, text in enumerate(_texts(hours_doc.get(day), f"{where}.hours.{day}")):
            match = _INTERVAL_RE.match(text)
            start = time(int(match[1]), int(match[2])) if match else None
            end = time(int(match[3]), int(match[4])) if match else None
            if start is None or end is None or start >= end:
                raise KnowledgeError(
                    f"{where}.hours.{day}[{i}]: expected HH:MM-HH:MM with start before end, "
                    f"got {text!r}"
                )
            if intervals and intervals[-1].end > start:
                raise KnowledgeError(f"{where}.hours.{day}[{i}]: overlaps or is out of order")
            intervals.append(Interval(start, end))
        hours.append(tuple(intervals))
    closures: dict[date, str] = {}
    closures_doc = entry.get("closures") or []
    if not isinstance(closures_doc, list):
        raise KnowledgeError(f"{where}.closures: expected a list")
    for i, closure in enumerate(closures_doc):
        closure = _mapping(closure, f"{where}.closures[{i}]")
        _only(closure, ("date", "reason"), f"{where}.closures[{i}]")
        closures[_date(closure.get("date"), f"{where}.closures[{i}].date")] = _text(
            closure.get("reason"), f"{where}.closures[{i}].reason"
        )
    slot_minutes, capacity = None, 0
    if "appointments" in entry:
        appointments = _mapping(entry["appointments"], f"{where}.appointments")
        _only(appointments, ("slot_minutes", "capacity"), f"{where}.appointments")
        slot_minutes = _int(
            appointments.get("slot_minutes"), f"{where}.appointments.slot_minutes", 5, 240
        )
        capacity = _int(appointments.get("capacity"), f"{where}.appointments.capacity", 1, 50)
    return Office(department, tuple(hours), closures, slot_minutes, capacity)


def _parse_service(entry: object, where: str, offices: Mapping[str, Office]) -> Service:
    fields = (
        "id",
        "intent",
        "name",
        "office",
        "summary",
        "documents",
        "fee",
        "processing_time",
        "bookable",
        "synonyms",
        *_OPTIONAL_TEXTS,
        "online",
        "online_url",
        "appointment",
    )
    entry = _mapping(entry, where)
    _only(entry, fields, where)
    service_id = _text(entry.get("id"), f"{where}.id")
    if not _ID_RE.match(service_id):
        raise KnowledgeError(f"{where}.id: {service_id!r} must match [a-z][a-z0-9_]*")
    office = _text(entry.get("office"), f"{where}.office")
    if office not in offices:
        raise KnowledgeError(f"{where}.office: {office!r} is not one of {sorted(offices)}")
    bookable = entry.get("bookable", False)
    if not isinstance(bookable, bool):
        raise KnowledgeError(f"{where}.bookable: expected true or false, got {bookable!r}")
    if bookable and not offices[office].bookable:
        raise KnowledgeError(
            f"{where}.bookable: office {office!r} has no appointments in offices.yml"
        )
    intent = entry.get("intent")
    online = entry.get("online", False)
    if not isinstance(online, bool):
        raise KnowledgeError(f"{where}.online: expected true or false, got {online!r}")
    online_url = entry.get("online_url")
    if online != (online_url is not None):
        raise KnowledgeError(f"{where}.online_url: required exactly when online is true")
    if online_url is not None and not str(online_url).startswith("https://"):
        raise KnowledgeError(f"{where}.online_url: {online_url!r} must start with https://")
    need = entry.get("appointment", AppointmentNeed.NONE.value)
    if need not in {n.value for n in AppointmentNeed}:
        allowed = [n.value for n in AppointmentNeed]
        raise KnowledgeError(f"{where}.appointment: expected one of {allowed}, got {need!r}")
    if need == AppointmentNeed.REQUIRED.value and not bookable:
        raise KnowledgeError(f"{where}.appointment: required, but the service is not bookable")
    optional = {
        field: _text(entry[field], f"{where}.{field}") if field in entry else None
        for field in _OPTIONAL_TEXTS
    }
    return Service(
        id=service_id,
        intent=_text(intent, f"{where}.intent") if intent is not None else None,
        name=_text(entry.get("name"), f"{where}.name"),
        office=office,
        summary=_text(entry.get("summary"), f"{where}.summary"),
        documents=_texts(entry.get("documents"), f"{where}.documents"),
        fee=_text(entry.get("fee"), f"{where}.fee"),
        processing_time=_text(entry.get("processing_time"), f"{where}.processing_time"),
        bookable=bookable,
        synonyms=_texts(entry.get("synonyms"), f"{where}.synonyms"),
        online_url=str(online_url) if online_url is not None else None,
        appointment=AppointmentNeed(need),
        express=optional["express"],
        children=optional["children"],
        age_limits=optional["age_limits"],
        next_steps=optional["next_steps"],
    )


_OPTIONAL_TEXTS = ("express", "children", "age_limits", "next_steps")


def _unique(names: Callable[[], Iterator[tuple[str, str]]], source: str) -> None:
    seen: dict[str, str] = {}
    for owner, name in names():
        if seen.setdefault(name_key(name), owner) != owner:
            raise KnowledgeError(
                f"{source}: {name!r} names both {seen[name_key(name)]!r} and {owner!r}"
            )


def load_town(directory: Path) -> Town:
    """Read and validate all knowledge files in ``directory``; raise KnowledgeError if invalid."""
    departments = load_directory(directory)
    town_doc, town_src = _read(directory, "town.yml")
    _only(town_doc, ("version", "name", "state", "timezone", "booking_days"), town_src)
    state = town_doc.get("state")
    if state not in STATES:
        raise KnowledgeError(f"{town_src}: state: expected one of {list(STATES)}, got {state!r}")
    try:
        zone = ZoneInfo(_text(town_doc.get("timezone"), f"{town_src}: timezone"))
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise KnowledgeError(f"{town_src}: timezone: unknown time zone ({error})") from error

    offices_doc, offices_src = _read(directory, "offices.yml")
    _only(offices_doc, ("version", "offices"), offices_src)
    offices_map = _mapping(offices_doc.get("offices"), f"{offices_src}: offices")
    by_id = {d.id: d for d in departments.departments}
    offices: dict[str, Office] = {}
    for office_id, entry in offices_map.items():
        if office_id not in by_id:
            raise KnowledgeError(
                f"{offices_src}: offices.{office_id}: not a department of departments.yml"
            )
        offices[office_id] = _parse_office(
            by_id[office_id], entry, f"{offices_src}: offices.{office_id}"
        )
    missing = sorted(set(by_id) - set(offices))
    if missing:
        raise KnowledgeError(f"{offices_src}: offices: no opening hours for {missing}")

    services_doc, services_src = _read(directory, "services.yml")
    _only(services_doc, ("version", "services"), services_src)
    entries = services_doc.get("services")
    if not isinstance(entries, list) or not entries:
        raise KnowledgeError(f"{services_src}: services: expected a non-empty list")
    services = tuple(
        _parse_service(e, f"{services_src}: services[{i}]", offices) for i, e in enumerate(entries)
    )
    _unique(
        lambda: ((s.id, n) for s in services for n in (s.id, s.name, *s.synonyms)), services_src
    )
    intents = [s.intent for s in services if s.intent]
    if len(intents) != len(set(intents)):
        raise KnowledgeError(f"{services_src}: an intent is answered by two services")

    waste_doc, waste_src = _read(directory, "waste.yml")
    _only(waste_doc, ("version", "types", "districts", "streets"), waste_src)
    waste_types = []
    for type_id, entry in _mapping(waste_doc.get("types"), f"{waste_src}: types").items():
        where = f"{waste_src}: types.{type_id}"
        entry = _mapping(entry, where)
        _only(entry, ("name", "synonyms"), where)
        waste_types.append(
            WasteType(
                str(type_id),
                _text(entry.get("name"), f"{where}.name"),
                _texts(entry.get("synonyms"), f"{where}.synonyms"),
            )
        )
    _unique(
        lambda: ((w.id, n) for w in waste_types for n in (w.id, w.name, *w.synonyms)), waste_src
    )
    districts: dict[str, dict[str, Collection]] = {}
    for district, rules in _mapping(waste_doc.get("districts"), f"{waste_src}: districts").items():
        districts[str(district)] = {}
        for type_id, rule in _mapping(rules, f"{waste_src}: districts.{district}").items():
            where = f"{waste_src}: districts.{district}.{type_id}"
            if type_id not in {w.id for w in waste_types}:
                raise KnowledgeError(f"{where}: unknown waste type (see types)")
            rule = _mapping(rule, where)
            _only(rule, ("weekday", "every_weeks", "first"), where)
            weekday = _weekday(rule.get("weekday"), f"{where}.weekday")
            first = _date(rule.get("first"), f"{where}.first")
            if first.weekday() != weekday:
                raise KnowledgeError(f"{where}.first: {first} is not a {WEEKDAY_KEYS[weekday]}")
            every = _int(rule.get("every_weeks"), f"{where}.every_weeks", 1, 8)
            districts[str(district)][str(type_id)] = Collection(weekday, every, first)
    streets: dict[str, str] = {}
    for street, district in _mapping(waste_doc.get("streets"), f"{waste_src}: streets").items():
        if district not in districts:
            raise KnowledgeError(f"{waste_src}: streets.{street}: unknown district {district!r}")
        streets[_text(street, f"{waste_src}: streets")] = str(district)

    return Town(
        name=_text(town_doc.get("name"), f"{town_src}: name"),
        state=str(state),
        timezone=zone,
        booking_days=_int(town_doc.get("booking_days"), f"{town_src}: booking_days", 1, 365),
        directory=departments,
        offices=offices,
        services=services,
        waste_types=tuple(waste_types),
        districts=districts,
        streets=streets,
    )
