"""The closures page ("Schließungen"): team leads and admins list, set and lift ad-hoc
closures. Thin routes over ClosureStore; the store validates and audits."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.templating import Jinja2Templates

from console.audit import AuditError
from console.closures import BERLIN, ClosureRejected, ClosureStore
from console.roles import Role
from console.web import PREFIX, Guard, Staff, guarded
from contract.closures import MAX_NOTE_CHARS

CLOSURE_ROLES = frozenset({Role.TEAM_LEAD, Role.ADMIN})
PAGE = f"{PREFIX}/schliessungen"
# datetime-local sends "YYYY-MM-DDTHH:MM" (seconds only when a step asks for them).
LOCAL_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?")
CLOSURE_ID = re.compile(r"[0-9a-f]{12}")
DONE = {
    "gesetzt": "Die Schließung ist eingetragen.",
    "aufgehoben": "Die Schließung ist aufgehoben.",
}
BAD_MOMENT = "Bitte geben Sie Beginn und Ende jeweils mit Datum und Uhrzeit an."
AUDIT_DOWN = "Das Protokoll ist nicht erreichbar; es wurde nichts geändert."


def local_moment(value: str) -> datetime | None:
    """A naive datetime from a datetime-local field; None when it is not one."""
    if not LOCAL_MOMENT.fullmatch(value):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def local_text(moment: datetime) -> str:
    """A moment as Berlin wall time, e.g. "01.12.2026 12:00"."""
    return moment.astimezone(BERLIN).strftime("%d.%m.%Y %H:%M")


class ClosurePages:
    def __init__(
        self,
        *,
        guard: Guard,
        closures: ClosureStore,
        views: Jinja2Templates,
        department_names: Mapping[str, str],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._guard = guard
        self._closures = closures
        self._views = views
        self._clock = clock
        self._names = dict(department_names)

    def routes(self) -> list[BaseRoute]:
        g = self._guard
        return [
            Route("/schliessungen", guarded(g, CLOSURE_ROLES, self.page), methods=["GET"]),
            Route("/schliessungen", guarded(g, CLOSURE_ROLES, self.add), methods=["POST"]),
            Route(
                "/schliessungen/{closure_id}/aufheben",
                guarded(g, CLOSURE_ROLES, self.remove),
                methods=["POST"],
            ),
        ]

    def _offices(self) -> list[tuple[str, str]]:
        ids = self._closures.offices
        return sorted(((i, self._names.get(i, i)) for i in ids), key=lambda item: item[1])

    async def _render(
        self,
        request: Request,
        staff: Staff,
        *,
        notice: str = "",
        error: str = "",
        form: Mapping[str, str] | None = None,
        status: int = 200,
    ) -> Response:
        now = datetime.fromtimestamp(self._clock(), BERLIN)
        current = [c for c in await self._closures.all() if c.ends > now]
        context: dict[str, Any] = {
            "staff": staff,
            "csrf": staff.session.csrf,
            "closures": current,
            "now": now,
            "names": self._names,
            "offices": self._offices(),
            "notice": notice,
            "error": error,
            "form": form or {},
            "max_note": MAX_NOTE_CHARS,
            "local": local_text,
        }
        return self._views.TemplateResponse(request, "closures.html", context, status_code=status)

    async def page(self, request: Request, staff: Staff) -> Response:
        notice = DONE.get(request.query_params.get("ok", ""), "")
        return await self._render(request, staff, notice=notice)

    async def add(self, request: Request, staff: Staff) -> Response:
        form = await self._guard.check_post(request, staff)
        kept = {k: form.get(k, "")[:400] for k in ("office", "starts", "ends", "note")}
        starts, ends = local_moment(kept["starts"]), local_moment(kept["ends"])
        if starts is None or ends is None:
            return await self._render(request, staff, error=BAD_MOMENT, form=kept, status=400)
        try:
            await self._closures.set(
                office=kept["office"],
                starts=starts,
                ends=ends,
                note=form.get("note", ""),
                actor=staff.name,
            )
        except ClosureRejected as rejected:
            return await self._render(request, staff, error=str(rejected), form=kept, status=400)
        except AuditError:
            return await self._render(request, staff, error=AUDIT_DOWN, form=kept, status=503)
        return RedirectResponse(f"{PAGE}?ok=gesetzt", status_code=303)

    async def remove(self, request: Request, staff: Staff) -> Response:
        await self._guard.check_post(request, staff)
        closure_id = request.path_params["closure_id"]
        if not CLOSURE_ID.fullmatch(closure_id):
            return PlainTextResponse("Diese Schließung gibt es nicht.", status_code=404)
        try:
            removed = await self._closures.remove(closure_id, actor=staff.name)
        except AuditError:
            return await self._render(request, staff, error=AUDIT_DOWN, status=503)
        if not removed:
            return PlainTextResponse("Diese Schließung gibt es nicht.", status_code=404)
        return RedirectResponse(f"{PAGE}?ok=aufgehoben", status_code=303)
