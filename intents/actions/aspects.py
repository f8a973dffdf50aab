"""What a question about a service asks for ("Was kostet das?" -> the fee), and the answer
that leads with it. Pure functions, no Rasa imports."""

from __future__ import annotations

import re
from enum import Enum

from contract.knowledge import Department
from contract.town import AppointmentNeed, Service


class Aspect(Enum):
    FEE = "fee"
    DURATION = "duration"
    DOCUMENTS = "documents"
    LOCATION = "location"
    APPOINTMENT = "appointment"
    ONLINE = "online"
    CHILDREN = "children"
    EXPRESS = "express"
    AGE = "age"


# Checked in this order: the first that matches wins ("Kinderreisepass online" is online).
_PATTERNS = (
    (Aspect.ONLINE, r"online|internet|digital|im netz|per mail|von zu hause"),
    (Aspect.EXPRESS, r"express|schnell|eilig|sofort|dringend"),
    (Aspect.CHILDREN, r"kind|baby|säugling|tochter|sohn|minderjährig"),
    (Aspect.AGE, r"\balt\b|alter|jahre|volljährig|ab wann"),
    (Aspect.FEE, r"kost|gebühr|preis|teuer|bezahl|zahlen|euro|geld"),
    (Aspect.DURATION, r"dauer|lange|wann (ist|bekomm|krieg)|fertig|bearbeitungszeit"),
    (Aspect.DOCUMENTS, r"mitbring|unterlagen|dokument|brauch ich|benötig|nachweis|foto"),
    (Aspect.APPOINTMENT, r"termin"),
    (Aspect.LOCATION, r"\bwo\b|adresse|wohin|zuständig|hingehen"),
)


def aspect_of(text: str) -> Aspect | None:
    """The one thing ``text`` asks about, or None for a general question."""
    lowered = text.casefold()
    for aspect, pattern in _PATTERNS:
        if re.search(pattern, lowered):
            return aspect
    return None


def lead(service: Service, office: Department, aspect: Aspect) -> str:
    """The sentence that answers ``aspect`` of ``service`` first (German, formal)."""
    match aspect:
        case Aspect.FEE:
            return f"Gebühr für {service.name}: {service.fee}."
        case Aspect.DURATION:
            return f"Bearbeitungszeit für {service.name}: {service.processing_time}."
        case Aspect.DOCUMENTS:
            if not service.documents:
                return f"Für {service.name} brauchen Sie keine Unterlagen."
            return f"Für {service.name} bringen Sie bitte mit: {', '.join(service.documents)}."
        case Aspect.LOCATION:
            return f"Zuständig ist {office.article} {office.name}, {office.address}."
        case Aspect.APPOINTMENT:
            return _appointment(service)
        case Aspect.ONLINE:
            if service.online_url:
                return f"Ja, {service.name} können Sie online erledigen: {service.online_url}"
            return f"Nein, {service.name} geht leider nicht online; bitte kommen Sie persönlich."
        case Aspect.CHILDREN:
            return service.children or f"Für Kinder gilt bei {service.name} nichts Besonderes."
        case Aspect.EXPRESS:
            return service.express or f"Eine Expressbearbeitung gibt es für {service.name} nicht."
        case Aspect.AGE:
            return service.age_limits or f"Für {service.name} gibt es keine Altersgrenze."


def _appointment(service: Service) -> str:
    match service.appointment:
        case AppointmentNeed.REQUIRED:
            return f"Ja, für {service.name} brauchen Sie einen Termin."
        case AppointmentNeed.RECOMMENDED:
            return f"Für {service.name} empfehlen wir einen Termin; es geht aber auch ohne."
        case AppointmentNeed.NONE:
            return f"Nein, für {service.name} brauchen Sie keinen Termin."
