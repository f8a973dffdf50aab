"""The gateway's HTTP server (Starlette): health now; chat, signalling and console later."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from rathausbot.health import HealthMonitor, HealthStatus


def create_app(*, health: HealthMonitor) -> Starlette:
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

    return Starlette(routes=[Route("/healthz", healthz), Route("/", index)])
