"""Security headers of the gateway's HTTP responses, over a real uvicorn server."""

from __future__ import annotations

import httpx

from rathausbot.headers import PAGE_CSP, WIDGET_CSP
from tests.channels.conftest import ServeChat


async def test_every_response_carries_the_security_headers(serve_chat: ServeChat) -> None:
    async with serve_chat() as server, httpx.AsyncClient(base_url=server.http_url) as http:
        for path in ("/", "/datenschutz.html", "/demo.css", "/healthz", "/nope", "/widget/x.js"):
            response = await http.get(path)
            assert response.headers["x-content-type-options"] == "nosniff", path
            assert response.headers["referrer-policy"] == "no-referrer", path
            assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
            assert "server" not in response.headers, path  # no "uvicorn" banner


async def test_the_demo_page_and_the_widget_have_their_own_policies(
    serve_chat: ServeChat,
) -> None:
    async with serve_chat() as server, httpx.AsyncClient(base_url=server.http_url) as http:
        page = await http.get("/")
        assert page.headers["content-security-policy"] == PAGE_CSP
        assert "script-src 'self';" in PAGE_CSP and "unsafe-inline" not in PAGE_CSP
        assert page.headers["cross-origin-resource-policy"] == "same-origin"
        assert page.headers["x-frame-options"] == "DENY"
        for asset in ("/widget/widget.js", "/widget/widget.css"):
            response = await http.get(asset)
            assert response.status_code == 200
            assert response.headers["content-security-policy"] == WIDGET_CSP
            # other sites' pages load the widget: its assets may be fetched cross-origin
            assert response.headers["cross-origin-resource-policy"] == "cross-origin"
