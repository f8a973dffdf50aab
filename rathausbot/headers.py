"""Security headers on every HTTP response of the gateway, as one ASGI middleware.

Two policies: the gateway's own pages (demo site, health, staff console) allow only
themselves (the console sends its referrer to itself, so that its forms carry their Origin);
the widget assets (`/widget/widget.js`, `widget.css`) are loaded by other sites' pages, so
they may be fetched cross-origin (a CSP on a script or stylesheet does not restrict the page
using it).
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

WIDGET_PREFIX = "/widget/"
CONSOLE_PREFIX = "/console"

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
WIDGET_CSP = "default-src 'none'; frame-ancestors 'none'"

COMMON = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


def security_headers(path: str) -> dict[str, str]:
    """The headers added to the response for `path`."""
    if path.startswith(WIDGET_PREFIX):
        return {
            **COMMON,
            "content-security-policy": WIDGET_CSP,
            "cross-origin-resource-policy": "cross-origin",
        }
    headers = {
        **COMMON,
        "content-security-policy": PAGE_CSP,
        "cross-origin-resource-policy": "same-origin",
    }
    if path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/"):
        # Browsers send `Origin: null` under no-referrer; the console's CSRF defence checks
        # the Origin of its own forms, and no URL of it leaves the site.
        headers["referrer-policy"] = "same-origin"
    return headers


class SecurityHeaders:
    """Adds `security_headers(path)` to every HTTP response (WebSockets pass unchanged)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = security_headers(scope.get("path", ""))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in extra.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
