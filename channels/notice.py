"""The privacy notice (`/datenschutz.html`), rendered from the configured retention so that
what it promises is what the purge job does."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

TEMPLATES = Path(__file__).resolve().parent / "templates"


@dataclass(frozen=True, slots=True)
class NoticeFacts:
    """What the notice states; `rows` are (German label, days) for each data type."""

    town: str = "Musterstadt"
    rows: tuple[tuple[str, int], ...] = ()
    conversation_days: int = 30
    closed_case_days: int = 90
    token_minutes: int = 30
    recording_enabled: bool = False


class PrivacyNotice:
    """Renders the notice once; `endpoint` serves it."""

    def __init__(self, facts: NoticeFacts = NoticeFacts()) -> None:
        env = Environment(
            loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"])
        )
        self.html = env.get_template("datenschutz.html").render(facts=facts)

    async def endpoint(self, _: Request) -> HTMLResponse:
        return HTMLResponse(self.html)
