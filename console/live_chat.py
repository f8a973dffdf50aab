"""The live chat on the case view: take over, answer, hand back, end; the clerk's own
availability; canned replies. Routes check role, CSRF (via the guard) and, for every
change, server-side that the clerk holds the conversation."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Mapping
from typing import Any
from urllib.parse import quote

from redis import exceptions as redis_errors
from redis.asyncio import Redis
from sse_starlette import EventSourceResponse
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.templating import Jinja2Templates

from channels.takeover import Availability, Takeover, TakeoverRefused
from console.audit import AuditAction, AuditLog
from console.inbox import Inbox, InboxItem, ItemKind
from console.roles import Role
from console.snippets import GENERAL, SnippetRefused, Snippets
from console.web import PREFIX, Forbidden, Guard, Staff, guarded
from console.work import Workbench, WorkRefused, WorkStatus, valid_item_id
from dialogue.live import live_channel

log = logging.getLogger(__name__)

CASE_ROLES = frozenset({Role.CLERK, Role.TEAM_LEAD})
LEAD_ROLES = frozenset({Role.TEAM_LEAD})
_UNREACHABLE = (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError)


def _see(path: str, notice: str = "") -> Response:
    suffix = f"?hinweis={quote(notice)}" if notice else ""
    return RedirectResponse(f"{PREFIX}{path}{suffix}", status_code=303)


class LiveChatPages:
    def __init__(
        self,
        *,
        guard: Guard,
        inbox: Inbox,
        work: Workbench,
        takeover: Takeover,
        snippets: Snippets,
        audit: AuditLog,
        redis: Redis,
        views: Jinja2Templates,
        department_names: Mapping[str, str],
        max_streams: int = 100,
    ) -> None:
        if not 1 <= max_streams <= 10_000:
            raise ValueError("max_streams 1..10000")
        self._guard = guard
        self._inbox = inbox
        self._work = work
        self._takeover = takeover
        self._snippets = snippets
        self._audit = audit
        self._redis = redis
        self._views = views
        self._departments = dict(department_names)
        self._max_streams = max_streams
        self._streams = 0

    def routes(self) -> list[BaseRoute]:
        g = self._guard
        table: list[tuple[str, frozenset[Role], Any, str]] = [
            ("/verfuegbarkeit", CASE_ROLES, self.availability, "POST"),
            ("/textbausteine", LEAD_ROLES, self.snippets_page, "GET"),
            ("/textbausteine", LEAD_ROLES, self.snippet_add, "POST"),
            ("/textbausteine/loeschen", LEAD_ROLES, self.snippet_remove, "POST"),
            ("/case/{item_id}/live", CASE_ROLES, self.live, "GET"),
            ("/case/{item_id}/takeover", CASE_ROLES, self.take_over, "POST"),
            ("/case/{item_id}/reply", CASE_ROLES, self.reply, "POST"),
            ("/case/{item_id}/typing", CASE_ROLES, self.typing, "POST"),
            ("/case/{item_id}/handback", CASE_ROLES, self.hand_back, "POST"),
            ("/case/{item_id}/end", CASE_ROLES, self.end, "POST"),
        ]
        return [Route(p, guarded(g, roles, h), methods=[m]) for p, roles, h, m in table]

    # --- for the inbox and case pages ---

    async def inbox_context(self, staff: Staff, items: list[InboxItem]) -> dict[str, Any]:
        """Which chats wait for a person (since when), and the clerk's own availability."""
        waiting: dict[str, float] = {}
        for item in items:
            if item.kind is ItemKind.CHAT:
                since = await self._takeover.waiting_since(item.item_id)
                if since is not None:
                    waiting[item.item_id] = since
        return {
            "waiting": waiting,
            "availability": await self._takeover.availability(staff.name),
            "availabilities": list(Availability),
        }

    async def case_context(self, staff: Staff, item: InboxItem) -> dict[str, Any]:
        if item.kind is not ItemKind.CHAT or not item.session_id:
            return {"live": False}
        holder = await self._takeover.holder(item.session_id)
        session = await self._redis.exists(f"rb:session:{item.session_id}")
        snippets = await self._snippets.for_case(item.department)
        name = staff.account.display_name
        return {
            "live": True,
            "holder": holder,
            "holds": holder is not None and holder.user == staff.name,
            "active": bool(session) and item.work.status is not WorkStatus.DONE,
            "waiting_since": await self._takeover.waiting_since(item.item_id),
            "snippets": [(s.title, s.fill(case_id=item.item_id, name=name)) for s in snippets],
        }

    async def before_done(self, item: InboxItem, staff: Staff) -> None:
        """A chat the clerk still holds is ended (goodbye, Rasa resumed) before its case is
        marked done, so the assistant is never left paused."""
        if item.kind is not ItemKind.CHAT or not item.session_id:
            return
        holder = await self._takeover.holder(item.session_id)
        if holder is not None and holder.user == staff.name:
            with contextlib.suppress(TakeoverRefused):
                await self._takeover.close(item.session_id, staff.name)
                await self._audit.append(staff.name, AuditAction.CHAT_CLOSED, item.item_id)

    # --- availability and snippets ---

    async def availability(self, request: Request, staff: Staff) -> Response:
        form = await self._guard.check_post(request, staff)
        mark = next((a for a in Availability if a.value == form.get("status")), None)
        if mark is None:
            return PlainTextResponse("Unbekannter Status.", status_code=400)
        await self._takeover.set_availability(staff.name, mark)
        await self._audit.append(staff.name, AuditAction.AVAILABILITY, staff.name, mark.value)
        return _see("/inbox", f"Ihr Status: {mark.value}")

    async def snippets_page(self, request: Request, staff: Staff) -> Response:
        keys = [GENERAL, *sorted(self._departments)]
        groups = [(key, await self._snippets.of(key)) for key in keys]
        context = {
            "staff": staff,
            "csrf": staff.session.csrf,
            "groups": groups,
            "notice": request.query_params.get("hinweis", "")[:200],
        }
        return self._views.TemplateResponse(request, "snippets.html", context)

    def _department(self, form: dict[str, str]) -> str:
        department = form.get("abteilung", "")
        if department != GENERAL and department not in self._departments:
            raise Forbidden(400)
        return department

    async def snippet_add(self, request: Request, staff: Staff) -> Response:
        form = await self._guard.check_post(request, staff)
        department = self._department(form)
        try:
            await self._snippets.add(department, form.get("titel", ""), form.get("text", ""))
        except SnippetRefused as refused:
            return _see("/textbausteine", str(refused))
        await self._audit.append(staff.name, AuditAction.SNIPPET, department, "added")
        return _see("/textbausteine", "Textbaustein gespeichert.")

    async def snippet_remove(self, request: Request, staff: Staff) -> Response:
        form = await self._guard.check_post(request, staff)
        department = self._department(form)
        if await self._snippets.remove(department, form.get("id", "")[:20]):
            await self._audit.append(staff.name, AuditAction.SNIPPET, department, "removed")
        return _see("/textbausteine", "Textbaustein gelöscht.")

    # --- the live conversation ---

    async def _chat_item(self, request: Request) -> InboxItem:
        item_id = request.path_params["item_id"]
        item = await self._inbox.item(item_id) if valid_item_id(item_id) else None
        if item is None or item.kind is not ItemKind.CHAT or not item.session_id:
            raise Forbidden(404)
        return item

    async def _post(self, request: Request, staff: Staff) -> tuple[InboxItem, dict[str, str]]:
        form = await self._guard.check_post(request, staff)
        return await self._chat_item(request), form

    @staticmethod
    def _answer(request: Request, item: InboxItem, notice: str, *, ok: bool = True) -> Response:
        """JSON for the case view's script (it sends `accept: application/json`), else
        back to the case page with the notice."""
        if "application/json" in request.headers.get("accept", ""):
            body = json.dumps({"ok": ok, "notice": notice}, ensure_ascii=False)
            return Response(body, status_code=200 if ok else 409, media_type="application/json")
        return _see(f"/case/{item.item_id}", notice)

    async def _step(
        self,
        request: Request,
        item: InboxItem,
        staff: Staff,
        step: Awaitable[object],
        action: AuditAction,
    ) -> Response | None:
        """Runs one takeover step: a refusal answers the clerk; success is audited and
        announced to the other consoles (None: go on)."""
        try:
            await step
        except TakeoverRefused as refused:
            return self._answer(request, item, refused.refusal.value, ok=False)
        await self._audit.append(staff.name, action, item.item_id)
        await self._work.announce(item.item_id)
        return None

    async def live(self, request: Request, staff: Staff) -> Response:
        item = await self._chat_item(request)
        if self._streams >= self._max_streams:
            return PlainTextResponse("Zu viele offene Ansichten.", status_code=503)
        channel = live_channel(item.session_id)

        async def stream() -> AsyncIterator[dict[str, str]]:
            self._streams += 1
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(channel)
                yield {"event": "ready", "data": "1"}
                while True:
                    message = await pubsub.get_message(timeout=15.0)
                    if await self._guard.staff(request) is None:
                        return  # logged out or revoked meanwhile
                    if message is None or message["type"] != "message":
                        continue
                    data = str(message["data"])
                    kind = "typing" if '"kind": "typing"' in data else "line"
                    yield {"event": kind, "data": data}
            finally:
                self._streams -= 1
                with contextlib.suppress(*_UNREACHABLE):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

        return EventSourceResponse(stream(), ping=15, headers={"cache-control": "no-store"})

    async def take_over(self, request: Request, staff: Staff) -> Response:
        item, _ = await self._post(request, staff)
        if not await self._redis.exists(f"rb:session:{item.session_id}"):
            return self._answer(request, item, "Das Gespräch ist nicht mehr aktiv.", ok=False)
        won, owner = await self._work.claim(item.item_id, staff.name)
        if not won and owner != staff.name:
            return self._answer(request, item, f"Bereits übernommen von {owner}.", ok=False)
        step = self._takeover.start(
            session_id=item.session_id,
            case_id=item.item_id,
            user=staff.name,
            name=staff.account.display_name,
            force=not won,  # the case is this clerk's (e.g. reassigned by a team lead)
        )
        refused = await self._step(request, item, staff, step, AuditAction.TAKEOVER)
        return refused or self._answer(
            request, item, "Sie schreiben jetzt mit der Bürgerin / dem Bürger."
        )

    async def reply(self, request: Request, staff: Staff) -> Response:
        item, form = await self._post(request, staff)
        try:
            await self._takeover.say(item.session_id, staff.name, form.get("text", ""))
        except TakeoverRefused as refused:
            return self._answer(request, item, refused.refusal.value, ok=False)
        return self._answer(request, item, "Gesendet.")

    async def typing(self, request: Request, staff: Staff) -> Response:
        item, form = await self._post(request, staff)
        with contextlib.suppress(TakeoverRefused):
            await self._takeover.typing(item.session_id, staff.name, form.get("on") == "1")
        return Response(status_code=204)

    async def hand_back(self, request: Request, staff: Staff) -> Response:
        item, _ = await self._post(request, staff)
        step = self._takeover.hand_back(item.session_id, staff.name)
        refused = await self._step(request, item, staff, step, AuditAction.HANDBACK)
        return refused or self._answer(request, item, "Der Assistent antwortet wieder.")

    async def end(self, request: Request, staff: Staff) -> Response:
        item, _ = await self._post(request, staff)
        step = self._takeover.close(item.session_id, staff.name)
        refused = await self._step(request, item, staff, step, AuditAction.CHAT_CLOSED)
        if refused is not None:
            return refused
        try:
            await self._work.set_status(item.item_id, WorkStatus.DONE, user=staff.name)
        except WorkRefused:  # a team lead gave the case to someone else meanwhile
            return self._answer(request, item, "Gespräch beendet; der Vorgang bleibt offen.")
        return self._answer(request, item, "Gespräch beendet; der Vorgang ist erledigt.")
