"""What a question about a service asks for ("Was kostet das?" -> the fee), and the answer
that leads with it, in German or English ("How much is it?"). Pure functions, no Rasa
imports."""

from __future__ import annotations

import re
from enum import Enum

from contract.knowledge import Department
from contract.town import AppointmentNeed, Service
from contract.translations import ServiceEnglish


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
_PATTERNS: tuple[tuple[Aspect, str], ...] = (
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


# English questions, checked after the German ones and only in an English conversation
# (German "fast" is "almost", not "quick").
_PATTERNS_EN: tuple[tuple[Aspect, str], ...] = (
    (Aspect.ONLINE, r"online|internet|website|by e-?mail|from home"),
    (Aspect.EXPRESS, r"express|\bfast\b|quick|urgent|\brush\b"),
    (Aspect.CHILDREN, r"\bchild|\bkids?\b|\bbaby|\bson\b|\bdaughter|\bminors?\b"),
    (Aspect.AGE, r"\bage\b|how old|\bold\b|years"),
    (Aspect.FEE, r"\bcosts?\b|\bfees?\b|price|expensive|\bpay\b|how much"),
    (Aspect.DURATION, r"how long|\btakes?\b|\bready\b|processing time|when (do|will|can) i get"),
    (Aspect.DOCUMENTS, r"\bbring\b|documents|papers|\bphoto|what do i need"),
    (Aspect.APPOINTMENT, r"appointment"),
    (Aspect.LOCATION, r"\bwhere\b|address|which office|responsible"),
)


def aspect_of(text: str, *, english: bool = False) -> Aspect | None:
    """The one thing ``text`` asks about, or None for a general question; ``english``:
    English questions as well."""
    lowered = text.casefold()
    patterns = _PATTERNS + _PATTERNS_EN if english else _PATTERNS
    for aspect, pattern in patterns:
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


def lead_en(
    service: Service, words: ServiceEnglish, office: str, address: str, aspect: Aspect
) -> str | None:
    """The English sentence that answers ``aspect`` first (``words``: the service in English,
    ``office``: the office's English name); None where the knowledge has German text only
    (children, express, age limits): then the whole English answer is given."""
    match aspect:
        case Aspect.FEE:
            return f"Fee for {words.name}: {words.fee}."
        case Aspect.DURATION:
            return f"Processing time for {words.name}: {words.processing_time}."
        case Aspect.DOCUMENTS:
            if not words.documents:
                return f"You do not need any documents for {words.name}."
            return f"For {words.name}, please bring: {', '.join(words.documents)}."
        case Aspect.LOCATION:
            return f"The {office} is responsible, {address}."
        case Aspect.APPOINTMENT:
            match service.appointment:
                case AppointmentNeed.REQUIRED:
                    return f"Yes, you need an appointment for {words.name}."
                case AppointmentNeed.RECOMMENDED:
                    return (
                        f"We recommend an appointment for {words.name}, but you can also "
                        "come without one."
                    )
                case AppointmentNeed.NONE:
                    return f"No, you do not need an appointment for {words.name}."
        case Aspect.ONLINE:
            if service.online_url:
                return f"Yes, you can do {words.name} online: {service.online_url}"
            return f"No, {words.name} is not possible online; please come in person."
    return None
