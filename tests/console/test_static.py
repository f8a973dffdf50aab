"""The console's static assets: htmx vendored unchanged from the pinned npm package, and no
inline script or handler in any template (the CSP forbids them)."""

from __future__ import annotations

import json
import re
from pathlib import Path

CONSOLE = Path(__file__).resolve().parents[2] / "console"
REPO = CONSOLE.parent


def test_vendored_htmx_is_the_pinned_npm_file() -> None:
    pinned = json.loads((REPO / "package.json").read_text())["devDependencies"]["htmx.org"]
    vendored = (CONSOLE / "static" / "htmx.min.js").read_text()
    header, body = vendored.split("\n", 1)
    assert f"htmx {pinned} " in header and "Zero-Clause BSD" in header
    source = REPO / "node_modules" / "htmx.org" / "dist" / "htmx.min.js"
    assert source.exists(), "run `make setup-test` (npm ci installs htmx.org)"
    assert body == source.read_text()
    assert (CONSOLE / "static" / "htmx.LICENSE").read_text().startswith("Zero-Clause BSD")


def test_templates_have_no_inline_script_or_handlers() -> None:
    for template in (CONSOLE / "templates").glob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template.name
        assert not re.search(r"\son[a-z]+\s*=", text), template.name
        assert "style=" not in text and "|safe" not in text.replace(" ", ""), template.name
        assert "hx-on" not in text, template.name
