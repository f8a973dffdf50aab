"""Canned replies ("Textbausteine") per department, kept by team leads. A text may hold the
placeholders `{vorgang}` (the case id) and `{name}` (the clerk's display name); `fill`
replaces exactly these and leaves every other brace as written."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import cast

from redis.asyncio import Redis

MAX_SNIPPETS = 50  # per department
MAX_TITLE_CHARS = 80
MAX_TEXT_CHARS = 1000
PLACEHOLDERS = ("vorgang", "name")
GENERAL = "allgemein"  # snippets for every department


def snippets_key(department: str) -> str:
    return f"rb:console:snippets:{department}"


class SnippetRefused(ValueError):
    """German text for the team lead."""


@dataclass(frozen=True, slots=True)
class Snippet:
    id: str
    title: str
    text: str

    def fill(self, *, case_id: str, name: str) -> str:
        values = {"vorgang": case_id, "name": name}
        text = self.text
        for key in PLACEHOLDERS:
            text = text.replace("{" + key + "}", values[key])
        return text


class Snippets:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def of(self, department: str) -> list[Snippet]:
        raw = cast(list[str], await self._redis.lrange(snippets_key(department), 0, -1))
        return [Snippet(d["id"], d["title"], d["text"]) for d in map(json.loads, raw)]

    async def for_case(self, department: str) -> list[Snippet]:
        """The department's snippets, then the general ones."""
        own = await self.of(department) if department and department != GENERAL else []
        return own + await self.of(GENERAL)

    async def add(self, department: str, title: str, text: str) -> Snippet:
        title, text = title.strip(), text.strip()
        if not title or not text:
            raise SnippetRefused("Bitte geben Sie Titel und Text ein.")
        if len(title) > MAX_TITLE_CHARS or len(text) > MAX_TEXT_CHARS:
            raise SnippetRefused(
                f"Titel höchstens {MAX_TITLE_CHARS}, Text höchstens {MAX_TEXT_CHARS} Zeichen."
            )
        if await self._redis.llen(snippets_key(department)) >= MAX_SNIPPETS:
            raise SnippetRefused(f"Höchstens {MAX_SNIPPETS} Textbausteine je Abteilung.")
        snippet = Snippet(secrets.token_hex(6), title, text)
        entry = {"id": snippet.id, "title": title, "text": text}
        await self._redis.rpush(snippets_key(department), json.dumps(entry))
        return snippet

    async def remove(self, department: str, snippet_id: str) -> bool:
        for snippet in await self.of(department):
            if snippet.id == snippet_id:
                entry = {"id": snippet.id, "title": snippet.title, "text": snippet.text}
                return bool(await self._redis.lrem(snippets_key(department), 1, json.dumps(entry)))
        return False
