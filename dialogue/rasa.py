"""Async client for the Rasa server's channel webhooks (`intents/connectors.py`)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Protocol

import httpx

from contract.payloads import HandoffRequest, Hangup, Links, Payload, PayloadError, decode
from dialogue.messages import (
    BotReply,
    Button,
    Channel,
    EngineAnswer,
    Handoff,
    Understanding,
)

log = logging.getLogger(__name__)


class EngineUnavailable(Exception):
    """The dialogue engine could not answer this turn (down, slow or broken)."""


class EngineUnreachable(EngineUnavailable):
    """The request never reached the engine (no connection), so another may take it."""


class EngineBusy(EngineUnavailable):
    """Every request slot to the engine stayed taken for the whole turn timeout; the
    request was never sent (the server is up, so no failover: see `RasaClient`)."""


_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout)


class DialogueEngine(Protocol):
    """What the dialogue core needs from Rasa; `tests/fakes.py` has the fake."""

    async def send(self, session_id: str, channel: Channel, text: str) -> EngineAnswer:
        """Answer one user message; raises EngineUnavailable."""
        ...

    async def aclose(self) -> None: ...


class RasaApi(DialogueEngine, Protocol):
    """A dialogue engine with Rasa's tracker API (what the takeover uses): `RasaClient` for
    one server, `dialogue.pinning.PinnedRasa` for several."""

    async def append_events(self, session_id: str, events: list[dict[str, object]]) -> bool: ...

    async def execute(self, session_id: str, action: str) -> tuple[BotReply, ...]: ...


MAX_IN_FLIGHT = 8  # requests one gateway has open at one Rasa server


class RasaClient:
    """Talks to `POST /webhooks/{channel}/webhook` of a Rasa server.

    No retries: a message Rasa may already have processed must not be sent twice.

    At most `max_in_flight` requests are open at once; the others wait here, in order, within
    the turn's `timeout_s`. Rasa works through one conversation turn after another, so more open
    requests would not answer sooner: they would fill its listen backlog (Sanic: 100), and a
    burst of new chats (300 greetings at once) then met refused connections and lost turns.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str,
        timeout_s: float = 10.0,
        connect_timeout_s: float = 2.0,
        max_in_flight: int = MAX_IN_FLIGHT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not 0 < timeout_s <= 120:
            raise ValueError("timeout_s must be in (0, 120]")
        if not 1 <= max_in_flight <= 64:
            raise ValueError("max_in_flight must be in [1, 64]")
        self._token = token
        self._timeout_s = timeout_s
        self._slots = asyncio.Semaphore(max_in_flight)
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}"},  # the channels refuse calls without
            timeout=httpx.Timeout(timeout_s, connect=min(connect_timeout_s, timeout_s)),
            limits=httpx.Limits(max_connections=max_in_flight),
            transport=transport,
        )

    async def _post(
        self, path: str, payload: object, params: dict[str, str] | None = None
    ) -> dict[str, object]:
        """POSTs `payload` and returns the JSON object Rasa answered; EngineUnavailable (or
        one of its kinds) for anything else. Waiting for a slot and Rasa's answer together
        take at most `timeout_s`."""
        deadline = asyncio.get_running_loop().time() + self._timeout_s
        try:
            async with asyncio.timeout_at(deadline):
                await self._slots.acquire()
        except TimeoutError as exc:
            raise EngineBusy(f"Rasa busy: no request slot free in {self._timeout_s:g} s") from exc
        try:
            async with asyncio.timeout_at(deadline):
                response = await self._http.post(path, json=payload, params=params)
        except _NOT_SENT as exc:
            raise EngineUnreachable(f"Rasa unreachable: {type(exc).__name__}") from exc
        except httpx.HTTPError as exc:
            raise EngineUnavailable(f"Rasa unreachable: {type(exc).__name__}") from exc
        except TimeoutError as exc:
            raise EngineUnavailable(f"Rasa did not answer in {self._timeout_s:g} s") from exc
        finally:
            self._slots.release()
        if response.status_code != 200:
            raise EngineUnavailable(f"Rasa answered HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError as exc:
            raise EngineUnavailable("Rasa answered with invalid JSON") from exc
        if not isinstance(body, dict):
            raise EngineUnavailable("Rasa answered without an object")
        return body

    async def send(self, session_id: str, channel: Channel, text: str) -> EngineAnswer:
        body = await self._post(
            f"/webhooks/{channel.value}/webhook", {"sender": session_id, "message": text}
        )
        messages = body.get("messages")
        if not isinstance(messages, list):
            raise EngineUnavailable("Rasa answered without a message list")
        return EngineAnswer(
            replies=parse_messages(messages),
            understanding=_parse_nlu(body.get("nlu")),
        )

    async def append_events(self, session_id: str, events: list[dict[str, object]]) -> bool:
        """Appends events to the conversation's tracker (Rasa's HTTP API, with the token);
        returns whether the conversation is paused afterwards. Raises EngineUnavailable."""
        body = await self._call(
            f"/conversations/{session_id}/tracker/events",
            events,
            {"include_events": "NONE"},
        )
        return body.get("paused") is True

    async def execute(self, session_id: str, action: str) -> tuple[BotReply, ...]:
        """Runs one action (a response) in the conversation and returns what it said."""
        body = await self._call(
            f"/conversations/{session_id}/execute",
            {"name": action},
            {"output_channel": "collector", "include_events": "NONE"},
        )
        messages = body.get("messages")
        return parse_messages(messages) if isinstance(messages, list) else ()

    async def _call(self, path: str, payload: object, params: dict[str, str]) -> dict[str, object]:
        return await self._post(path, payload, {**params, "token": self._token})

    async def aclose(self) -> None:
        await self._http.aclose()


def parse_messages(messages: list[object]) -> tuple[BotReply, ...]:
    """Turns Rasa collector messages into replies.

    A custom payload (`links`, `handoff`, `hangup`) that follows a text belongs to that
    text's reply, since Rasa emits a response's text and custom payload as two messages.
    """
    replies: list[BotReply] = []
    for message in messages:
        if not isinstance(message, dict):
            continue
        text = message.get("text")
        if isinstance(text, str) and text:
            replies.append(BotReply(text=text, buttons=_buttons(message.get("buttons"))))
        if "custom" in message:
            try:
                payloads = decode(message["custom"])
            except PayloadError as exc:
                log.warning("skipping a Rasa message: %s", exc)
                continue
            base = replies.pop() if replies else BotReply()
            replies.append(_apply_custom(base, payloads))
    return tuple(replies)


def _buttons(raw: object) -> tuple[Button, ...]:
    if not isinstance(raw, list):
        return ()
    return tuple(
        Button(title=str(b["title"]), payload=str(b["payload"]))
        for b in raw
        if isinstance(b, dict) and "title" in b and "payload" in b
    )


def _apply_custom(reply: BotReply, payloads: tuple[Payload, ...]) -> BotReply:
    for payload in payloads:
        match payload:
            case Links(items):
                reply = replace(reply, links=reply.links + items)
            case HandoffRequest(reason, department, register):
                reply = replace(reply, handoff=Handoff(reason.value, department, register=register))
            case Hangup():
                reply = replace(reply, hangup=True)
    return reply


MAX_NAMES = 10
MAX_NAME_CHARS = 64


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _parse_nlu(raw: object) -> Understanding:
    if not isinstance(raw, dict):
        return Understanding()
    intent = raw.get("intent")
    guess = raw.get("guess")
    names = raw.get("names")
    return Understanding(
        intent=intent if isinstance(intent, str) else None,
        confidence=_number(raw.get("confidence")),
        guess=guess if isinstance(guess, str) else None,
        guess_confidence=_number(raw.get("guess_confidence")),
        names=tuple(
            n[:MAX_NAME_CHARS]
            for n in (names if isinstance(names, list) else [])
            if isinstance(n, str)
        )[:MAX_NAMES],
    )
