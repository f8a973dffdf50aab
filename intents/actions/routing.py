"""Which department the current request belongs to (handoffs, "who is responsible").

The current request decides, not whatever an earlier answer left in a slot: a department
the citizen names now, then the form in progress, then the service of the latest intent,
then the topic under discussion, then the town's default department.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from contract.german import name_key
from contract.knowledge import Department
from contract.town import Town

if TYPE_CHECKING:
    from rasa_sdk import Tracker

# Intents that are no service of their own but belong to one department.
INTENT_DEPARTMENTS = {
    "waste_collection": "abfallwirtschaft",
    "report_damage": "bauamt",
}
# Forms: the booking goes to the office of its service; the others to a fixed department.
LOOP_INTENTS = {
    "cancel_form": "cancel_appointment",
    "damage_form": "report_damage",
    "waste_form": "waste_collection",
}


@dataclass(frozen=True, slots=True)
class Request:
    """What the routing looks at, taken from the tracker by the caller."""

    named: str | None  # a department entity in the latest message
    intent: str | None  # the latest message's intent
    active_loop: str | None
    service: str | None  # the booking form's service slot
    topic: str | None  # service or department id of the topic under discussion


def _named(town: Town, name: str | None) -> Department | None:
    if not name:
        return None
    key = name_key(name)
    for department in town.directory.departments:
        if key in {name_key(n) for n in (department.id, department.name, *department.synonyms)}:
            return department
    return None


def _by_intent(town: Town, intent: str | None) -> Department | None:
    if not intent:
        return None
    if intent in INTENT_DEPARTMENTS:
        return town.offices[INTENT_DEPARTMENTS[intent]].department
    service = town.service_for_intent(intent)
    return town.offices[service.office].department if service else None


def topic_department(town: Town, topic: str | None) -> Department | None:
    """The department of a topic slot's value (a service id or a department id)."""
    service = town.service(topic)
    if service is not None:
        return town.offices[service.office].department
    if topic and topic in town.offices:
        return town.offices[topic].department
    return None


def department_for(town: Town, request: Request) -> Department:
    """The department that the current request belongs to (see the module docstring)."""
    named = _named(town, request.named)
    if named is not None:
        return named
    if request.active_loop == "booking_form":
        booked = town.service(request.service)
        return town.offices[booked.office].department if booked else town.directory.default
    if request.active_loop in LOOP_INTENTS:
        by_loop = _by_intent(town, LOOP_INTENTS[request.active_loop])
        return by_loop or town.directory.default
    if request.active_loop:
        return topic_department(town, request.topic) or town.directory.default
    return (
        _by_intent(town, request.intent)
        or topic_department(town, request.topic)
        or town.directory.default
    )


def current_request(tracker: Tracker) -> Request:
    """The routing's view of ``tracker``."""
    named = next(tracker.get_latest_entity_values("department"), None)
    loop = tracker.active_loop.get("name") if tracker.active_loop else None
    service, topic = tracker.get_slot("service"), tracker.get_slot("topic")
    return Request(
        named=named if isinstance(named, str) else None,
        intent=tracker.latest_message.get("intent", {}).get("name"),
        active_loop=loop if isinstance(loop, str) else None,
        service=service if isinstance(service, str) else None,
        topic=topic if isinstance(topic, str) else None,
    )
