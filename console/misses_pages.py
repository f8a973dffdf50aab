"""The "Nicht verstanden" inbox (`/console/nicht-verstanden`, roles `teamleitung` and
`redaktion`): redacted messages the assistant did not understand, grouped by similarity,
with Rasa's best guess. Actions per group: propose an example for an intent (review file,
never the live model), done, not a municipal topic. Every action is audited first; a
failing audit log stops it."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.templating import Jinja2Templates

from console.audit import AuditAction, AuditError, AuditLog
from console.nlu_review import ExampleRefused, ReviewFile, check_example
from console.pages import berlin
from console.roles import Role
from console.web import PREFIX, Guard, Staff, guarded
from dialogue.misses import MissLog, MissStatus, group, valid_miss_id

MISS_ROLES = frozenset({Role.TEAM_LEAD, Role.EDITOR})
PAGE = f"{PREFIX}/nicht-verstanden"
MAX_IDS = 50
SHOWN_GROUPS = 100
AUDIT_DOWN = "Das Protokoll ist nicht erreichbar; es wurde nichts geändert."


class Triage(StrEnum):
    EXAMPLE = "beispiel"
    DONE = "erledigt"
    NOT_MUNICIPAL = "kein_thema"

    @property
    def status(self) -> MissStatus:
        return {
            Triage.EXAMPLE: MissStatus.EXAMPLE,
            Triage.DONE: MissStatus.DONE,
        }.get(self, MissStatus.NOT_MUNICIPAL)


class MissPages:
    def __init__(
        self,
        *,
        guard: Guard,
        misses: MissLog,
        review: ReviewFile,
        intents: Iterable[str],
        audit: AuditLog,
        views: Jinja2Templates,
    ) -> None:
        self._guard = guard
        self._misses = misses
        self._review = review
        self._intents = sorted(set(intents))
        self._audit = audit
        self._views = views
        views.env.filters["berlin"] = berlin

    def routes(self) -> list[BaseRoute]:
        g, roles = self._guard, MISS_ROLES
        return [
            Route("/nicht-verstanden", guarded(g, roles, self.page), methods=["GET"]),
            Route("/nicht-verstanden", guarded(g, roles, self.act), methods=["POST"]),
        ]

    async def _render(
        self, request: Request, staff: Staff, status: int = 200, **context: object
    ) -> Response:
        items = await self._misses.items()
        groups = group(items)[:SHOWN_GROUPS]
        base = {
            "staff": staff,
            "csrf": staff.session.csrf,
            "groups": groups,
            "total": len(items),
            "intents": self._intents,
            "review_path": "intents/data/review/proposed_nlu.yml",
        }
        return self._views.TemplateResponse(
            request, "nicht_verstanden.html", {**base, **context}, status_code=status
        )

    async def page(self, request: Request, staff: Staff) -> Response:
        notice = {"beispiel": "Beispiel vorgeschlagen.", "ok": "Erledigt."}.get(
            request.query_params.get("fertig", ""), ""
        )
        return await self._render(request, staff, notice=notice)

    async def act(self, request: Request, staff: Staff) -> Response:
        form = await self._guard.check_post(request, staff)
        raw_ids = [v for v in (await request.form()).getlist("id") if isinstance(v, str)]
        ids = [i for i in raw_ids[:MAX_IDS] if valid_miss_id(i)]
        try:
            action = Triage(form.get("action", ""))
        except ValueError:
            return PlainTextResponse("Unbekannte Aktion.", status_code=400)
        if not ids:
            return PlainTextResponse("Keine Nachricht gewählt.", status_code=400)
        intent = form.get("intent", "")
        detail = action.value
        if action is Triage.EXAMPLE:
            try:
                if intent not in self._intents:
                    raise ExampleRefused("Diesen Intent gibt es nicht.")
                check_example(form.get("text", "")[:1000])
            except ExampleRefused as refused:
                return await self._render(request, staff, 400, error=str(refused))
            detail = f"{action.value}:{intent}"
        try:
            await self._audit.append(staff.name, AuditAction.MISS_TRIAGE, ids[0], detail)
        except AuditError:
            return await self._render(request, staff, 503, error=AUDIT_DOWN)
        if action is Triage.EXAMPLE:
            try:
                self._review.propose(intent, form.get("text", "")[:1000])
            except ExampleRefused as refused:
                return await self._render(request, staff, 400, error=str(refused))
        for miss_id in ids:
            await self._misses.set_status(miss_id, action.status)
        done = "beispiel" if action is Triage.EXAMPLE else "ok"
        return RedirectResponse(f"{PAGE}?fertig={done}", status_code=303)
