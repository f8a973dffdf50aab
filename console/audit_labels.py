"""German words for the audit log page: the actions and the `name=count` details that the
purge and the erasure write. The log itself keeps the English codes (hashed, exported)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from console.audit import AuditAction
from rathausbot.citizen import KeyKind
from rathausbot.privacy_report import COUNT_LABELS
from rathausbot.purge import FLAGGED, TTL_REPAIRED, WEBHOOK_ENTRIES
from rathausbot.retention import DataType

ACTION_LABELS: Mapping[AuditAction, str] = MappingProxyType(
    {
        AuditAction.LOGIN: "Anmeldung",
        AuditAction.LOGIN_FAILED: "Anmeldung fehlgeschlagen",
        AuditAction.LOGOUT: "Abmeldung",
        AuditAction.PASSWORD_CHANGED: "Passwort geändert",
        AuditAction.VIEW_TRANSCRIPT: "Gesprächsverlauf angesehen",
        AuditAction.VIEW_RECORDING: "Aufzeichnung angehört",
        AuditAction.CLAIM: "Vorgang übernommen",
        AuditAction.REASSIGN: "Vorgang neu zugewiesen",
        AuditAction.STATUS: "Status geändert",
        AuditAction.NOTE: "Notiz",
        AuditAction.CALLBACK_ATTEMPT: "Rückrufversuch",
        AuditAction.CLOSURE: "Abschluss versandt",
        AuditAction.TAKEOVER: "Chat übernommen",
        AuditAction.HANDBACK: "Chat an den Assistenten zurückgegeben",
        AuditAction.CHAT_CLOSED: "Chat beendet",
        AuditAction.AVAILABILITY: "Erreichbarkeit geändert",
        AuditAction.SNIPPET: "Textbaustein geändert",
        AuditAction.USER_ADDED: "Benutzer angelegt",
        AuditAction.USER_DISABLED: "Benutzer gesperrt",
        AuditAction.USER_ENABLED: "Benutzer entsperrt",
        AuditAction.USER_PASSWORD_RESET: "Passwort zurückgesetzt",
        AuditAction.USER_2FA_RESET: "Zweiter Faktor zurückgesetzt",
        AuditAction.PURGE: "Löschlauf nach Aufbewahrungsfrist",
        AuditAction.CASE_FLAGGED: "Vorgang ohne Bearbeitung der Teamleitung vorgelegt",
        AuditAction.PRIVACY_SEARCH: "Datenschutz: Suche",
        AuditAction.PRIVACY_EXPORT: "Datenschutz: Auskunft (Art. 15)",
        AuditAction.ERASURE: "Datenschutz: Löschung (Art. 17)",
        AuditAction.LEGAL_HOLD: "Sperre gegen Löschung",
        AuditAction.USER_DEPARTMENTS: "Fachbereiche eines Benutzers geändert",
        AuditAction.MISS_TRIAGE: "„Nicht verstanden“ bearbeitet",
    }
)

_DETAIL_WORDS: Mapping[str, str] = MappingProxyType(
    {
        **{t.value: t.label for t in DataType},
        **COUNT_LABELS,
        **{k.value: k.label for k in KeyKind},
        WEBHOOK_ENTRIES: "Einträge in Webhook-Warteschlangen",
        FLAGGED: "der Teamleitung vorgelegte Vorgänge",
        TTL_REPAIRED: "Ablaufzeiten nachgetragen",
        "key": "Suchschlüssel",
        "held": "gesperrte Vorgänge (nicht gelöscht)",
        "on": "gesetzt",
        "off": "aufgehoben",
        "locked": "Konto vorübergehend gesperrt",
        "password": "falsches Passwort",
        "code": "falscher Code",
        "added": "hinzugefügt",
        "removed": "entfernt",
    }
)


def action_label(action: AuditAction) -> str:
    return ACTION_LABELS[action]


def detail_text(detail: str) -> str:
    """`name=value` pairs and single codes in German ("Vorgänge: 2"); other words unchanged."""
    words = []
    for word in detail.split():
        name, sep, value = word.partition("=")
        if sep:
            words.append(f"{_DETAIL_WORDS.get(name, name)}: {_DETAIL_WORDS.get(value, value)}")
        else:
            words.append(_DETAIL_WORDS.get(word, word))
    return "; ".join(words) if any("=" in w for w in detail.split()) else " ".join(words)
