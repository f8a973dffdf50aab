"""The console's HTTP side, mounted at /console/: login (password, then TOTP), logout, own
password change, and the guard every other page goes through (session, role, CSRF, Origin).
The inbox and case pages are in `console.pages`."""

from __future__ import annotations

import asyncio
import base64
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import segno
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from console.accounts import (
    NAME_PATTERN,
    Account,
    AccountError,
    Accounts,
    Enrolment,
    check_password_rules,
)
from console.audit import AuditAction, AuditLog
from console.login import LoginFlow, Notice, PendingLogins, Phase
from console.roles import Role
from console.sessions import LoginThrottle, SessionStore, StaffSession

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
PREFIX = "/console"
LOGIN_COOKIE = "rb_console_login"
SESSION_COOKIE_TLS = "__Host-rb_console"
SESSION_COOKIE_PLAIN = "rb_console"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
NO_STORE = {"cache-control": "no-store"}
AUTOMATIC_PATHS = ("/inbox/rows", "/events", "/live")


@dataclass(frozen=True, slots=True)
class Staff:
    """The signed-in user of a request."""

    session: StaffSession
    account: Account

    @property
    def name(self) -> str:
        return self.account.name


class Forbidden(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def home(role: Role) -> str:
    """The page a user starts on: the privacy officer's pages for `datenschutz` and the
    "Nicht verstanden" inbox for `redaktion` (neither has the case inbox), else the inbox."""
    if role is Role.EDITOR:
        return f"{PREFIX}/nicht-verstanden"
    return f"{PREFIX}/datenschutz" if role is Role.PRIVACY else f"{PREFIX}/inbox"


def templates() -> Jinja2Templates:
    """Jinja2 with autoescape on (Starlette's default for .html)."""
    return Jinja2Templates(directory=HERE / "templates")


def qr_data_uri(uri: str) -> str:
    svg = segno.make(uri, error="m").svg_inline(scale=5, dark="#000", light="#fff")
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


class Guard:
    """Finds the signed-in user and enforces role, CSRF and Origin."""

    def __init__(self, accounts: Accounts, sessions: SessionStore) -> None:
        self._accounts = accounts
        self._sessions = sessions

    @staticmethod
    def cookie_name(request: Request) -> str:
        return SESSION_COOKIE_TLS if request.url.scheme == "https" else SESSION_COOKIE_PLAIN

    async def staff(self, request: Request) -> Staff | None:
        token = request.cookies.get(self.cookie_name(request))
        # The live inbox reloads its rows by itself: that is no activity of the user.
        touch = not request.url.path.endswith(AUTOMATIC_PATHS)
        session = await self._sessions.get(token, touch=touch)
        if session is None:
            return None
        account = await self._accounts.get(session.user)
        if account is None or account.disabled:
            await self._sessions.revoke(session.token)
            return None
        return Staff(session, account)

    @staticmethod
    def same_origin(request: Request) -> bool:
        """Origin (or, without it, Referer) names this server."""
        own = f"{request.url.scheme}://{request.url.netloc}"
        origin = request.headers.get("origin")
        if origin is not None:
            return origin == own
        referer = request.headers.get("referer", "")
        return referer == own or referer.startswith(own + "/")

    async def check_post(self, request: Request, staff: Staff) -> dict[str, str]:
        """The form of a state-changing request; Forbidden(403) without a valid CSRF token
        or from another origin."""
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        given = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD, "")
        if not self.same_origin(request) or not hmac.compare_digest(
            given.encode(), staff.session.csrf.encode()
        ):
            raise Forbidden(403)
        return form


Handler = Callable[[Request, Staff], Awaitable[Response]]


def guarded(guard: Guard, roles: frozenset[Role] | None, handler: Handler) -> Any:
    """A route endpoint: unauthenticated GETs are redirected to the login, other requests
    get 401; a user without one of `roles` gets 403 (None: any role)."""

    async def endpoint(request: Request) -> Response:
        staff = await guard.staff(request)
        if staff is None:
            if request.method == "GET" and "hx-request" not in request.headers:
                return RedirectResponse(f"{PREFIX}/login", status_code=303, headers=NO_STORE)
            return PlainTextResponse("Bitte melden Sie sich an.", status_code=401)
        if roles is not None and staff.account.role not in roles:
            return PlainTextResponse("Keine Berechtigung.", status_code=403)
        try:
            response = await handler(request, staff)
        except Forbidden as denied:
            return PlainTextResponse(
                "Die Anfrage wurde abgelehnt (Sicherheitsprüfung).", status_code=denied.status
            )
        response.headers.setdefault("cache-control", "no-store")
        return response

    return endpoint


class LoginPages:
    """Step one (Benutzername, Passwort), step two (Sicherheitscode) or enrolment, logout,
    password change."""

    def __init__(
        self,
        *,
        accounts: Accounts,
        sessions: SessionStore,
        throttle: LoginThrottle,
        pending: PendingLogins,
        audit: AuditLog,
        guard: Guard,
        views: Jinja2Templates,
        second_factor: bool,
    ) -> None:
        self._accounts = accounts
        self._sessions = sessions
        self._throttle = throttle
        self._pending = pending
        self._audit = audit
        self._guard = guard
        self._views = views
        self._second_factor = second_factor

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/", self.root),
            Route("/login", self.login_form, methods=["GET"]),
            Route("/login", self.login_password, methods=["POST"]),
            Route("/login/code", self.login_code, methods=["POST"]),
            Route("/logout", guarded(self._guard, None, self.logout), methods=["POST"]),
            Route("/password", guarded(self._guard, None, self.password_form), methods=["GET"]),
            Route("/password", guarded(self._guard, None, self.password_change), methods=["POST"]),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="console-static"),
        ]

    async def root(self, request: Request) -> Response:
        staff = await self._guard.staff(request)
        target = home(staff.account.role) if staff else f"{PREFIX}/login"
        return RedirectResponse(target, status_code=303, headers=NO_STORE)

    def _page(
        self, request: Request, flow: LoginFlow, notice: Notice, *, status: int = 200, **more: Any
    ) -> Response:
        csrf = self._login_cookie(request, LOGIN_COOKIE + "_csrf") or secrets.token_urlsafe(24)
        context = {
            "phase": flow.phase.value,
            "notice": notice.text,
            "csrf": csrf,
            **more,
        }
        response = self._views.TemplateResponse(
            request, "login.html", context, status_code=status, headers=NO_STORE
        )
        self._set_cookie(request, response, LOGIN_COOKIE + "_csrf", csrf, max_age=3600)
        return response

    def _set_cookie(
        self, request: Request, response: Response, name: str, value: str, *, max_age: int | None
    ) -> None:
        tls = request.url.scheme == "https"
        response.set_cookie(
            ("__Host-" + name) if tls and name != SESSION_COOKIE_TLS else name,
            value,
            max_age=max_age,
            path="/",
            secure=tls,
            httponly=True,
            samesite="lax",
        )

    def _login_cookie(self, request: Request, name: str) -> str | None:
        prefix = "__Host-" if request.url.scheme == "https" else ""
        return request.cookies.get(prefix + name)

    async def login_form(self, request: Request) -> Response:
        staff = await self._guard.staff(request)
        if staff:
            return RedirectResponse(home(staff.account.role), status_code=303, headers=NO_STORE)
        pending = await self._pending.load(self._login_cookie(request, LOGIN_COOKIE))
        if pending is None:
            return self._page(request, LoginFlow(), Notice.NONE)
        flow, enrolment = pending
        return self._page(request, flow, Notice.NONE, **self._enrol_context(enrolment))

    def _enrol_context(self, enrolment: Enrolment | None) -> dict[str, Any]:
        if enrolment is None:
            return {}
        return {
            "qr": qr_data_uri(enrolment.uri),
            "secret": enrolment.secret,
            "recovery_codes": enrolment.recovery_codes,
        }

    async def _login_form(self, request: Request) -> dict[str, str] | None:
        """The posted form when its CSRF token matches the login cookie and the origin is ours."""
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        cookie = self._login_cookie(request, LOGIN_COOKIE + "_csrf") or ""
        given = form.get(CSRF_FIELD, "")
        if not cookie or not Guard.same_origin(request):
            return None
        if not hmac.compare_digest(cookie.encode(), given.encode()):
            return None
        return form

    async def login_password(self, request: Request) -> Response:
        form = await self._login_form(request)
        if form is None:
            return PlainTextResponse("Die Anfrage wurde abgelehnt.", status_code=403)
        name = form.get("username", "").strip().lower()
        if not NAME_PATTERN.match(name):
            name = "-"  # one throttle bucket for names no account can have
        password = form.get("password", "")
        address = request.client.host if request.client else "?"
        verdict = await self._throttle.verdict(name, address)
        if verdict.delay_s:
            await asyncio.sleep(verdict.delay_s)
        ok = False
        if not verdict.locked:
            ok = await self._accounts.check_password(name, password)
        account = await self._accounts.get(name) if ok else None
        flow, notice = LoginFlow().password_checked(
            name,
            ok=ok and account is not None,
            locked=verdict.locked,
            enrolled=account is not None and account.enrolled,
            second_factor=self._second_factor,
        )
        if flow.phase is Phase.PASSWORD:
            if verdict.locked:
                log.warning("console login locked out for an account from one address")
                await self._audit.append(name or "-", AuditAction.LOGIN_FAILED, detail="locked")
                return self._page(request, flow, notice, status=429)
            failures = await self._throttle.failed(name, address)
            await self._audit.append(name or "-", AuditAction.LOGIN_FAILED, detail="password")
            log.info("console login failed (%d in a row from this address)", failures)
            return self._page(request, flow, notice, status=401)
        if flow.phase is Phase.DONE:
            return await self._signed_in(request, name)
        enrolment = self._accounts.new_enrolment(name) if flow.phase is Phase.ENROL else None
        token = await self._pending.save(flow, enrolment)
        response = self._page(request, flow, notice, **self._enrol_context(enrolment))
        self._set_cookie(request, response, LOGIN_COOKIE, token, max_age=300)
        return response

    async def login_code(self, request: Request) -> Response:
        form = await self._login_form(request)
        if form is None:
            return PlainTextResponse("Die Anfrage wurde abgelehnt.", status_code=403)
        token = self._login_cookie(request, LOGIN_COOKIE) or ""
        pending = await self._pending.load(token)
        if pending is None or pending[0].phase not in (Phase.SECOND_FACTOR, Phase.ENROL):
            return self._page(request, LoginFlow(), Notice.RESTART, status=401)
        flow, enrolment = pending
        code = form.get("code", "")[:32]
        if flow.phase is Phase.ENROL and enrolment is not None:
            ok = await self._accounts.enrol(flow.user, enrolment, code.strip())
        else:
            ok = await self._accounts.check_second_factor(flow.user, code)
        flow, notice = flow.code_checked(ok=ok)
        if flow.phase is Phase.DONE:
            await self._pending.drop(token)
            return await self._signed_in(request, flow.user)
        await self._audit.append(flow.user or "-", AuditAction.LOGIN_FAILED, detail="code")
        if flow.phase is Phase.PASSWORD:
            await self._pending.drop(token)
            return self._page(request, flow, notice, status=401)
        await self._pending.save(flow, enrolment, token)
        return self._page(request, flow, notice, status=401, **self._enrol_context(enrolment))

    async def _signed_in(self, request: Request, name: str) -> Response:
        address = request.client.host if request.client else "?"
        await self._throttle.succeeded(name, address)
        session = await self._sessions.create(name)
        await self._audit.append(name, AuditAction.LOGIN)
        account = await self._accounts.get(name)
        target = home(account.role) if account else f"{PREFIX}/inbox"
        response = RedirectResponse(target, status_code=303, headers=NO_STORE)
        self._set_cookie(request, response, Guard.cookie_name(request), session.token, max_age=None)
        response.delete_cookie(LOGIN_COOKIE, path="/")
        return response

    async def logout(self, request: Request, staff: Staff) -> Response:
        await self._guard.check_post(request, staff)
        await self._sessions.revoke(staff.session.token)
        await self._audit.append(staff.name, AuditAction.LOGOUT)
        response = RedirectResponse(f"{PREFIX}/login", status_code=303, headers=NO_STORE)
        response.delete_cookie(Guard.cookie_name(request), path="/")
        return response

    async def password_form(self, request: Request, staff: Staff) -> Response:
        return self._views.TemplateResponse(
            request, "password.html", {"staff": staff, "notice": "", "csrf": staff.session.csrf}
        )

    async def password_change(self, request: Request, staff: Staff) -> Response:
        form = await self._guard.check_post(request, staff)
        notice = ""
        if not await self._accounts.check_password(staff.name, form.get("current", "")):
            notice = "Das bisherige Passwort ist falsch."
        elif form.get("new", "") != form.get("repeat", ""):
            notice = "Die beiden neuen Passwörter stimmen nicht überein."
        else:
            try:
                check_password_rules(form.get("new", ""))
            except AccountError:
                notice = "Das neue Passwort muss mindestens 12 Zeichen lang sein."
        if notice:
            return self._views.TemplateResponse(
                request,
                "password.html",
                {"staff": staff, "notice": notice, "csrf": staff.session.csrf},
                status_code=400,
            )
        await self._accounts.set_password(staff.name, form["new"])
        await self._sessions.revoke_user(staff.name)  # every other device signs in again
        await self._audit.append(staff.name, AuditAction.PASSWORD_CHANGED, staff.name)
        response = RedirectResponse(f"{PREFIX}/login", status_code=303, headers=NO_STORE)
        response.delete_cookie(Guard.cookie_name(request), path="/")
        return response
