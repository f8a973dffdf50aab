"""Inbox and case pages: each route reads the request, calls Inbox or Workbench, renders."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from sse_starlette import EventSourceResponse
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.templating import Jinja2Templates

from console.accounts import Accounts
from console.audit import AuditAction, AuditLog
from console.events import EventHub, EventKind
from console.inbox import TOPICS, Filters, Inbox, InboxItem, ItemKind
from console.live_chat import LiveChatPages
from console.roles import Role
from console.web import PREFIX, Forbidden, Guard, Staff, guarded
from console.work import AttemptOutcome, Workbench, WorkRefused, WorkStatus, valid_item_id
from rathausbot.retention import DAY_S, FLAG_GRACE_DAYS
from telephony.staff_hours import BERLIN

CASE_ROLES = frozenset({Role.CLERK, Role.TEAM_LEAD})
LEAD_ROLES = frozenset({Role.TEAM_LEAD})
ADMIN_ROLES = frozenset({Role.ADMIN})
ROLE_LABELS = {"user": "Bürger/in", "bot": "Assistent", "system": "System", "staff": "Personal"}


def berlin(ts: float | None, fmt: str = "%d.%m.%Y %H:%M") -> str:
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, BERLIN).strftime(fmt)


def duration(seconds: float) -> str:
    minutes = max(0, int(seconds // 60))
    if minutes < 60:
        return f"{minutes} Min."
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} Std. {minutes} Min."
    return f"{hours // 24} Tage"


def team_totals(items: list[InboxItem]) -> dict[str, dict[str, int]]:
    """Open items by status and by owner ("niemand" for unclaimed), for team leads."""
    by_status = Counter(item.work.status.value for item in items)
    by_owner = Counter(item.work.owner or "niemand" for item in items)
    return {
        "status": {s.value: by_status[s.value] for s in WorkStatus if s is not WorkStatus.DONE},
        "owner": dict(sorted(by_owner.items())),
    }


def flagged_for_lead(items: list[InboxItem]) -> list[tuple[InboxItem, float]]:
    """Open cases the purge job flagged as inactive, with when they will be closed and
    purged unless someone works on them; oldest flag first."""
    flagged = [(item, item.flagged_at) for item in items if item.flagged_at is not None]
    return [
        (item, at + FLAG_GRACE_DAYS * DAY_S) for item, at in sorted(flagged, key=lambda f: f[1])
    ]


class RecordingLinks:
    """Short-lived signed links to a recording file (HMAC over name and expiry)."""

    def __init__(
        self,
        key: bytes,
        directory: Path,
        *,
        ttl_s: int = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if len(key) < 16 or not 10 <= ttl_s <= 3600:
            raise ValueError("key of 16+ bytes, ttl_s 10..3600")
        self._key = key
        self._directory = directory
        self._ttl_s = ttl_s
        self._clock = clock

    def _sign(self, item_id: str, name: str, expires: int) -> str:
        message = f"{item_id}\n{name}\n{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def link(self, item_id: str, name: str) -> str:
        expires = int(self._clock()) + self._ttl_s
        return (
            f"{PREFIX}/case/{item_id}/recording?exp={expires}"
            f"&sig={self._sign(item_id, name, expires)}"
        )

    def check(self, item_id: str, name: str, expires: str, signature: str) -> Path | None:
        """The file, when the link is genuine, unexpired and the file exists."""
        if not expires.isdigit() or int(expires) < self._clock():
            return None
        if not hmac.compare_digest(self._sign(item_id, name, int(expires)), signature):
            return None
        path = self._directory / Path(name).name
        return path if path.is_file() else None


class CasePages:
    def __init__(
        self,
        *,
        guard: Guard,
        inbox: Inbox,
        work: Workbench,
        chat: LiveChatPages | None = None,
        accounts: Accounts,
        audit: AuditLog,
        hub: EventHub,
        recordings: RecordingLinks,
        views: Jinja2Templates,
        department_names: Mapping[str, str],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._guard = guard
        self._inbox = inbox
        self._chat = chat
        self._work = work
        self._accounts = accounts
        self._audit = audit
        self._hub = hub
        self._recordings = recordings
        self._views = views
        self._clock = clock
        views.env.filters["berlin"] = berlin
        views.env.filters["duration"] = duration
        self._departments = dict(department_names)
        views.env.filters["department"] = lambda dep: self._departments.get(dep, dep) or "–"

    def routes(self) -> list[BaseRoute]:
        g = self._guard

        def page(roles: frozenset[Role], handler: Any, method: str = "GET") -> Any:
            return guarded(g, roles, handler), [method]

        table = [
            ("/inbox", CASE_ROLES, self.inbox_page, "GET"),
            ("/inbox/rows", CASE_ROLES, self.inbox_rows, "GET"),
            ("/events", CASE_ROLES, self.events, "GET"),
            ("/case/{item_id}", CASE_ROLES, self.case_page, "GET"),
            ("/case/{item_id}/print", CASE_ROLES, self.case_print, "GET"),
            ("/case/{item_id}/recording", CASE_ROLES, self.recording, "GET"),
            ("/case/{item_id}/claim", CASE_ROLES, self.claim, "POST"),
            ("/case/{item_id}/status", CASE_ROLES, self.status, "POST"),
            ("/case/{item_id}/note", CASE_ROLES, self.note, "POST"),
            ("/case/{item_id}/attempt", CASE_ROLES, self.attempt, "POST"),
            ("/case/{item_id}/reassign", LEAD_ROLES, self.reassign, "POST"),
            ("/users", ADMIN_ROLES, self.users, "GET"),
        ]
        routes: list[BaseRoute] = []
        for path, roles, handler, method in table:
            endpoint, methods = page(roles, handler, method)
            routes.append(Route(path, endpoint, methods=methods))
        return routes

    def _filters(self, request: Request, staff: Staff) -> Filters:
        q = request.query_params
        kind = next((k for k in ItemKind if k.value == q.get("kanal")), None)
        status = next((s for s in WorkStatus if s.value == q.get("status")), None)
        return Filters(
            department=q.get("abteilung", "")[:40],
            kind=kind,
            status=status,
            mine=staff.name if q.get("meine") == "1" else "",
            query=q.get("suche", "")[:40],
        )

    def _context(self, staff: Staff, **more: Any) -> dict[str, Any]:
        return {
            "staff": staff,
            "csrf": staff.session.csrf,
            "now": self._clock(),
            "statuses": list(WorkStatus),
            "kinds": list(ItemKind),
            "is_lead": staff.account.role is Role.TEAM_LEAD,
            "topics": TOPICS,
            "departments": sorted(self._departments.items(), key=lambda item: item[1]),
            **more,
        }

    async def inbox_page(self, request: Request, staff: Staff) -> Response:
        filters = self._filters(request, staff)
        items = await self._inbox.items(filters)
        totals: dict[str, dict[str, int]] = {}
        flagged: list[tuple[InboxItem, float]] = []
        if staff.account.role is Role.TEAM_LEAD:
            everything = await self._inbox.items(Filters())
            totals = team_totals(everything)
            flagged = flagged_for_lead(everything)
        context = self._context(
            staff,
            items=items,
            filters=filters,
            query=request.url.query,
            totals=totals,
            flagged=flagged,
        )
        context.update(await self._chat_context(staff, items))
        context["notice"] = request.query_params.get("hinweis", "")[:200]
        return self._views.TemplateResponse(request, "inbox.html", context)

    async def _chat_context(self, staff: Staff, items: list[InboxItem]) -> dict[str, Any]:
        if self._chat is None:
            return {"waiting": {}}
        return await self._chat.inbox_context(staff, items)

    async def inbox_rows(self, request: Request, staff: Staff) -> Response:
        items = await self._inbox.items(self._filters(request, staff))
        context = self._context(staff, items=items)
        context.update(await self._chat_context(staff, items))
        return self._views.TemplateResponse(request, "_rows.html", context)

    async def events(self, request: Request, staff: Staff) -> Response:
        if self._hub.full:
            return PlainTextResponse("Zu viele offene Ansichten.", status_code=503)

        async def stream() -> AsyncIterator[dict[str, str]]:
            async with self._hub.listen() as queue:
                yield {"event": "ready", "data": "1"}
                while True:
                    event = await queue.get()
                    if await self._guard.staff(request) is None:
                        return  # logged out or revoked meanwhile
                    name = "opened" if event.kind is EventKind.OPENED else "changed"
                    yield {"event": name, "data": json.dumps({"id": event.item_id})}

        return EventSourceResponse(stream(), ping=15, headers={"cache-control": "no-store"})

    async def _detail_or_404(self, item_id: str) -> Any:
        if not valid_item_id(item_id):
            return None
        return await self._inbox.detail(item_id)

    async def case_page(
        self, request: Request, staff: Staff, *, template: str = "case.html"
    ) -> Response:
        item_id = request.path_params["item_id"]
        detail = await self._detail_or_404(item_id)
        if detail is None:
            return PlainTextResponse("Diesen Vorgang gibt es nicht.", status_code=404)
        await self._audit.append(staff.name, AuditAction.VIEW_TRANSCRIPT, item_id)
        others = await self._work.viewing(item_id, staff.name)
        recording = ""
        if detail.recording:
            recording = self._recordings.link(item_id, detail.recording)
        context = self._context(
            staff,
            detail=detail,
            item=detail.item,
            others=others,
            notes=await self._work.notes(item_id),
            attempts=await self._work.attempts(item_id),
            outcomes=list(AttemptOutcome),
            role_labels=ROLE_LABELS,
            recording=recording,
            notice=request.query_params.get("hinweis", "")[:200],
            users=await self._accounts.names() if staff.account.role is Role.TEAM_LEAD else [],
        )
        live = {"live": False}
        if self._chat is not None and template == "case.html":
            live = await self._chat.case_context(staff, detail.item)
        context.update(live)
        return self._views.TemplateResponse(request, template, context)

    async def case_print(self, request: Request, staff: Staff) -> Response:
        return await self.case_page(request, staff, template="print.html")

    async def recording(self, request: Request, staff: Staff) -> Response:
        item_id = request.path_params["item_id"]
        detail = await self._detail_or_404(item_id)
        q = request.query_params
        path = None
        if detail is not None and detail.recording:
            path = self._recordings.check(
                item_id, detail.recording, q.get("exp", ""), q.get("sig", "")
            )
        if path is None:
            return PlainTextResponse("Der Link ist abgelaufen oder ungültig.", status_code=403)
        await self._audit.append(staff.name, AuditAction.VIEW_RECORDING, item_id)
        return FileResponse(path, media_type="audio/wav", headers={"cache-control": "no-store"})

    def _back(self, item_id: str, notice: str = "") -> Response:
        from urllib.parse import quote

        suffix = f"?hinweis={quote(notice)}" if notice else ""
        return RedirectResponse(f"{PREFIX}/case/{item_id}{suffix}", status_code=303)

    async def _post(self, request: Request, staff: Staff) -> tuple[str, dict[str, str]]:
        form = await self._guard.check_post(request, staff)
        item_id = request.path_params["item_id"]
        if not valid_item_id(item_id) or await self._inbox.item(item_id) is None:
            raise Forbidden(404)
        return item_id, form

    async def claim(self, request: Request, staff: Staff) -> Response:
        item_id, _ = await self._post(request, staff)
        won, owner = await self._work.claim(item_id, staff.name)
        if won:
            return self._back(item_id, "Sie haben den Vorgang übernommen.")
        return self._back(item_id, f"Bereits übernommen von {owner}.")

    async def status(self, request: Request, staff: Staff) -> Response:
        item_id, form = await self._post(request, staff)
        status = next((s for s in WorkStatus if s.value == form.get("status")), None)
        if status is None:
            return PlainTextResponse("Unbekannter Status.", status_code=400)
        item = await self._inbox.item(item_id)
        owner = item is not None and item.work.owner == staff.name
        if status is WorkStatus.DONE and self._chat is not None and item is not None and owner:
            await self._chat.before_done(item, staff)
        try:
            await self._work.set_status(item_id, status, user=staff.name)
        except WorkRefused as refused:
            return self._back(item_id, refused.refusal.value)
        return self._back(item_id, f"Status: {status.value}")

    async def note(self, request: Request, staff: Staff) -> Response:
        item_id, form = await self._post(request, staff)
        try:
            await self._work.add_note(item_id, form.get("text", ""), user=staff.name)
        except WorkRefused as refused:
            return self._back(item_id, refused.refusal.value)
        return self._back(item_id, "Notiz gespeichert.")

    async def attempt(self, request: Request, staff: Staff) -> Response:
        item_id, form = await self._post(request, staff)
        outcome = next((o for o in AttemptOutcome if o.value == form.get("outcome")), None)
        if outcome is None:
            return PlainTextResponse("Unbekanntes Ergebnis.", status_code=400)
        try:
            await self._work.record_attempt(item_id, outcome, user=staff.name)
        except WorkRefused as refused:
            return self._back(item_id, refused.refusal.value)
        return self._back(item_id, f"Rückrufversuch: {outcome.value}")

    async def reassign(self, request: Request, staff: Staff) -> Response:
        item_id, form = await self._post(request, staff)
        target = form.get("user", "")
        account = await self._accounts.get(target)
        if account is None or account.disabled:
            return self._back(item_id, "Diese Person gibt es nicht.")
        await self._work.reassign(item_id, target, by=staff.name)
        return self._back(item_id, f"Zugewiesen an {target}.")

    async def users(self, request: Request, staff: Staff) -> Response:
        accounts = [await self._accounts.get(name) for name in await self._accounts.names()]
        return self._views.TemplateResponse(
            request, "users.html", self._context(staff, accounts=[a for a in accounts if a])
        )
