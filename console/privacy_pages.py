"""The privacy officer's pages (role `datenschutz`): find one citizen's data, export it
(Art. 15) or erase it (Art. 17), legal hold; retention (read-only); the audit log with its
chain check; the Art. 30 records of processing.

Search keys travel only in POST bodies, never in URLs (which access logs keep). Erasure
needs a second POST with the typed confirmation word. Every search, export and erasure is
audited by CitizenData; a failing audit log stops the action.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.templating import Jinja2Templates

from console.audit import AuditAction, AuditError, AuditLog
from console.audit_labels import ACTION_LABELS, detail_text
from console.pages import berlin
from console.roles import Role
from console.web import PREFIX, Guard, Staff, guarded
from rathausbot.citizen import CitizenData, KeyKind, KeyRefused, Lookup
from rathausbot.privacy_report import COUNT_LABELS, moment, report_context
from rathausbot.retention import DataType, Retention

PRIVACY_ROLES = frozenset({Role.PRIVACY})
PAGE = f"{PREFIX}/datenschutz"
CONFIRM_WORD = "LÖSCHEN"
CASE_ID = re.compile(r"C-\d{8}-[A-Z2-9]{6}")
AUDIT_PAGE_SIZE = 200
AUDIT_DOWN = "Das Protokoll ist nicht erreichbar; es wurde nichts gesucht oder geändert."


@dataclass(frozen=True, slots=True)
class ProcessingFacts:
    """What the Art. 30 record states, taken from the configuration."""

    town: str
    recording_enabled: bool
    webhooks: tuple[str, ...]  # record kinds (plural) that go to the office's webhooks
    mail_enabled: bool
    external_redis: bool
    second_factor: bool


class PrivacyPages:
    def __init__(
        self,
        *,
        guard: Guard,
        citizens: CitizenData,
        audit: AuditLog,
        retention: Retention,
        facts: ProcessingFacts,
        views: Jinja2Templates,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._guard = guard
        self._citizens = citizens
        self._audit = audit
        self._retention = retention
        self._facts = facts
        self._views = views
        self._clock = clock
        views.env.filters["moment"] = moment
        views.env.filters["berlin"] = berlin

    def routes(self) -> list[BaseRoute]:
        g, roles = self._guard, PRIVACY_ROLES
        return [
            Route("/datenschutz", guarded(g, roles, self.page), methods=["GET"]),
            Route("/datenschutz/suche", guarded(g, roles, self.search), methods=["POST"]),
            Route("/datenschutz/export", guarded(g, roles, self.export), methods=["POST"]),
            Route("/datenschutz/loeschen", guarded(g, roles, self.erase), methods=["POST"]),
            Route("/datenschutz/sperre", guarded(g, roles, self.hold), methods=["POST"]),
            Route("/datenschutz/aufbewahrung", guarded(g, roles, self.retention), methods=["GET"]),
            Route("/datenschutz/protokoll", guarded(g, roles, self.audit_log), methods=["GET"]),
            Route("/datenschutz/verzeichnis", guarded(g, roles, self.processing), methods=["GET"]),
        ]

    def _render(
        self, request: Request, staff: Staff, name: str, status: int = 200, **context: Any
    ) -> Response:
        base = {"staff": staff, "csrf": staff.session.csrf, "kinds": list(KeyKind)}
        return self._views.TemplateResponse(request, name, {**base, **context}, status_code=status)

    async def page(self, request: Request, staff: Staff) -> Response:
        return self._render(request, staff, "privacy.html")

    @staticmethod
    def _lookup(form: Mapping[str, str]) -> Lookup:
        try:
            kind = KeyKind(form.get("kind", ""))
        except ValueError:
            raise KeyRefused("Bitte wählen Sie, wonach gesucht wird.") from None
        return Lookup.parse(kind, form.get("q", "")[:400])

    async def search(self, request: Request, staff: Staff) -> Response:
        form = await self._guard.check_post(request, staff)
        form_kept = {"kind": form.get("kind", ""), "q": form.get("q", "")[:200]}
        try:
            lookup = self._lookup(form)
            findings = await self._citizens.search(lookup, actor=staff.name)
        except KeyRefused as refused:
            return self._render(
                request, staff, "privacy.html", 400, error=str(refused), form=form_kept
            )
        except AuditError:
            return self._render(request, staff, "privacy.html", 503, error=AUDIT_DOWN)
        return self._render(
            request,
            staff,
            "privacy.html",
            form=form_kept,
            findings=findings,
            counts=findings.counts(),
            count_labels=COUNT_LABELS,
            confirm_word=CONFIRM_WORD,
        )

    async def export(self, request: Request, staff: Staff) -> Response:
        form = await self._guard.check_post(request, staff)
        try:
            document = await self._citizens.export(self._lookup(form), actor=staff.name)
        except KeyRefused as refused:
            return PlainTextResponse(str(refused), status_code=400)
        except AuditError:
            return PlainTextResponse(AUDIT_DOWN, status_code=503)
        if form.get("format") == "html":
            return self._views.TemplateResponse(
                request, "privacy_report.html", report_context(document)
            )
        body = json.dumps(document, ensure_ascii=False, indent=2)
        return Response(
            body,
            media_type="application/json",
            headers={"content-disposition": 'attachment; filename="auskunft.json"'},
        )

    async def erase(self, request: Request, staff: Staff) -> Response:
        form = await self._guard.check_post(request, staff)
        try:
            lookup = self._lookup(form)
        except KeyRefused as refused:
            return self._render(request, staff, "privacy.html", 400, error=str(refused))
        if form.get("confirm", "").strip() != CONFIRM_WORD:
            error = f"Zum Löschen geben Sie bitte {CONFIRM_WORD} ein; es wurde nichts gelöscht."
            return self._render(request, staff, "privacy.html", 400, error=error)
        try:
            findings = await self._citizens.find(lookup)
            counts = await self._citizens.erase(findings, actor=staff.name)
        except AuditError:
            return self._render(request, staff, "privacy.html", 503, error=AUDIT_DOWN)
        return self._render(
            request, staff, "privacy.html", erased=counts, count_labels=COUNT_LABELS
        )

    async def hold(self, request: Request, staff: Staff) -> Response:
        form = await self._guard.check_post(request, staff)
        case_id = form.get("case", "").strip().upper()
        if not CASE_ID.fullmatch(case_id):
            return PlainTextResponse("Diesen Vorgang gibt es nicht.", status_code=404)
        try:
            found = await self._citizens.set_hold(case_id, form.get("on") == "1", actor=staff.name)
        except AuditError:
            return PlainTextResponse(AUDIT_DOWN, status_code=503)
        if not found:
            return PlainTextResponse("Diesen Vorgang gibt es nicht.", status_code=404)
        return self._render(request, staff, "privacy.html", hold=(case_id, form.get("on") == "1"))

    async def retention(self, request: Request, staff: Staff) -> Response:
        rows = [(t.label, t.value, self._retention.days[t]) for t in DataType]
        return self._render(request, staff, "privacy_retention.html", rows=rows)

    async def audit_log(self, request: Request, staff: Staff) -> Response:
        params = request.query_params
        action = params.get("action", "")
        actor = params.get("actor", "").strip()[:64]
        target = params.get("target", "").strip()[:64]
        entries = await self._audit.entries(count=AUDIT_PAGE_SIZE * 5)
        shown = [
            e
            for e in entries
            if (not action or e.action.value == action)
            and (not actor or e.actor == actor)
            and (not target or e.target == target)
        ][:AUDIT_PAGE_SIZE]
        check = await self._audit.check()
        return self._render(
            request,
            staff,
            "privacy_audit.html",
            entries=shown,
            check=check,
            actions=[(a.value, ACTION_LABELS[a]) for a in AuditAction],
            action_labels=ACTION_LABELS,
            detail_text=detail_text,
            filters={"action": action, "actor": actor, "target": target},
        )

    async def processing(self, request: Request, staff: Staff) -> Response:
        rows = [(t.label, self._retention.days[t]) for t in DataType]
        name = "privacy_processing.html"
        printable = request.query_params.get("druck") == "1"
        return self._render(request, staff, name, facts=self._facts, rows=rows, printable=printable)
