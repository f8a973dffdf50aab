"""The gateway's HTTP server (Starlette): health, the web chat (WebSocket, widget assets,
demo page), WebRTC signalling for browser calls, the staff console (built by
`console.mount`)."""

from __future__ import annotations

import hmac
import ipaddress
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp
from starlette.websockets import WebSocket

from channels.notice import PrivacyNotice
from channels.signalling import Signalling
from channels.webchat import ChatEndpoint
from rathausbot.headers import SecurityHeaders
from rathausbot.health import HealthMonitor, HealthStatus

STATIC = Path(__file__).resolve().parent.parent / "channels" / "static"
DRAINING_CLOSE_CODE = 1013  # "try again later": this gateway is stopping
_FORWARDING_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")


def may_see_details(request: Request, token: str | None) -> bool:
    """Health details (which part fails) go to direct loopback callers and to callers with
    the health token; never to a request a proxy forwarded without the token."""
    if token is not None:
        given = request.headers.get("authorization", "")
        if hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return True
    if any(name in request.headers for name in _FORWARDING_HEADERS):
        return False
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def create_app(
    *,
    health: HealthMonitor,
    chat: ChatEndpoint | None = None,
    health_token: str | None = None,
    console: Mount | None = None,
    notice: PrivacyNotice | None = None,
    signalling: Signalling | None = None,
) -> Starlette:
    async def healthz(request: Request) -> JSONResponse:
        report = await health.check()
        code = 200 if report.status is HealthStatus.READY else 503
        body = report.to_json() if may_see_details(request, health_token) else report.public()
        return JSONResponse(body, status_code=code, headers={"Cache-Control": "no-store"})

    async def index(_: Request) -> PlainTextResponse:
        return PlainTextResponse(
            "rathausbot läuft. Status: /healthz\nrathausbot is running. Health: /healthz\n"
        )

    async def chat_socket(ws: WebSocket) -> None:
        assert chat is not None
        if health.draining:  # the proxy sends the citizen's reconnect to another gateway
            await ws.close(code=DRAINING_CLOSE_CODE)
            return
        await chat.handle(ws)

    routes: list[BaseRoute] = [Route("/healthz", healthz)]
    if console is not None:
        routes += [Route("/console", _to_console), console]
    if chat is None:
        routes.append(Route("/", index))
    else:
        if signalling is not None:  # browser calls belong to chat sessions
            routes += signalling.routes()
        routes += [
            WebSocketRoute("/ws/chat", chat_socket),
            Mount("/widget", StaticFiles(directory=STATIC / "widget"), name="widget"),
            Route("/datenschutz.html", (notice or PrivacyNotice()).endpoint),
            # the Musterstadt demo website with the widget on it
            Mount("/", StaticFiles(directory=STATIC / "demo", html=True), name="demo"),
        ]
    return Starlette(routes=routes, middleware=[Middleware(SecurityHeaders)])


async def _to_console(_: Request) -> RedirectResponse:
    return RedirectResponse("/console/", status_code=308)


def server_config(
    app: ASGIApp,
    *,
    host: str,
    port: int,
    forwarded_allow_ips: tuple[str, ...] = (),
    graceful_s: float | None = None,
) -> uvicorn.Config:
    """uvicorn's settings for the gateway: no `server` banner, and proxy headers believed
    only from `forwarded_allow_ips` (none by default: a forged X-Forwarded-For is ignored).
    On shutdown, requests and chat turns in progress get `graceful_s` to finish."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        ws="websockets-sansio",  # uvicorn's non-deprecated websockets protocol
        ws_max_size=1 << 20,  # transport cap; the chat refuses frames over its own limit
        log_config=None,
        access_log=False,
        lifespan="off",
        server_header=False,
        proxy_headers=bool(forwarded_allow_ips),
        forwarded_allow_ips=list(forwarded_allow_ips) or None,
        timeout_graceful_shutdown=None if graceful_s is None else max(round(graceful_s), 1),
    )
