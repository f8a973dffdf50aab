"""The gateway's HTTP server (Starlette): health, the web chat (WebSocket, widget assets,
demo page); signalling and console later."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from channels.webchat import ChatEndpoint
from rathausbot.health import HealthMonitor, HealthStatus

STATIC = Path(__file__).resolve().parent.parent / "channels" / "static"


def create_app(*, health: HealthMonitor, chat: ChatEndpoint | None = None) -> Starlette:
    async def healthz(_: Request) -> JSONResponse:
        report = await health.check()
        code = 200 if report.status is HealthStatus.READY else 503
        return JSONResponse(
            report.to_json(), status_code=code, headers={"Cache-Control": "no-store"}
        )

    async def index(_: Request) -> PlainTextResponse:
        return PlainTextResponse(
            "rathausbot läuft. Status: /healthz\nrathausbot is running. Health: /healthz\n"
        )

    routes: list[BaseRoute] = [Route("/healthz", healthz)]
    if chat is None:
        routes.append(Route("/", index))
    else:
        routes += [
            WebSocketRoute("/ws/chat", chat.handle),
            Mount("/widget", StaticFiles(directory=STATIC / "widget"), name="widget"),
            # the Musterstadt demo website with the widget on it
            Mount("/", StaticFiles(directory=STATIC / "demo", html=True), name="demo"),
        ]
    return Starlette(routes=routes)
