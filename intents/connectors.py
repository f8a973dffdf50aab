"""Rasa input channels ``webchat`` and ``voice`` for the rathausbot gateway.

Rasa's REST webhook names its output channel "collector", so ``channel:`` response variants
never apply. These channels answer under their own name, so Rasa picks the ``webchat`` or
``voice`` variant, and report the intent Rasa parsed for the message.

Registered in credentials.yml as ``intents.connectors.WebchatInput`` /
``intents.connectors.VoiceInput`` (key ``token``: the shared token, required; optional key:
``max_message_chars``).

Request:  ``POST /webhooks/<name>/webhook`` with ``Authorization: Bearer <token>``
          ``{"sender": str, "message": str, "metadata": {...} (optional)}``
Response: 200 ``{"messages": [<Rasa collector message>, ...],
          "nlu": {"intent": str | null, "confidence": float | null, "guess": str | null,
          "guess_confidence": float | null, "names": [str, ...]}}`` (`nlu_of`);
          401 without the token, 400 ``{"error": str}`` on invalid input, 503 when no
          model is loaded,
          500 when handling the message failed.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from contract.stats import MISS_INTENTS
from intents import action_results

logger = logging.getLogger(__name__)

# Rasa imports this module for credentials.yml in every `rasa run` of this project: the
# place to compile its check of action server responses once (intents/action_results.py).
action_results.install()

DEFAULT_MAX_MESSAGE_CHARS = 4000
MAX_SENDER_CHARS = 256
MIN_TOKEN_CHARS = 16
_MAX_MESSAGE_CHARS_LIMIT = 100_000


class InvalidRequest(ValueError):
    """The request body does not follow the channel's JSON format."""


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """A validated user message from the gateway."""

    sender: str
    text: str
    metadata: dict[str, Any] | None


def parse_request_body(body: bytes, *, max_message_chars: int) -> IncomingMessage:
    """Validate a webhook body; raise InvalidRequest with a reason a client can act on."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidRequest(f"body is not valid JSON: {error}") from error
    if not isinstance(document, dict):
        raise InvalidRequest("body must be a JSON object")

    sender = document.get("sender")
    if not isinstance(sender, str) or not sender.strip():
        raise InvalidRequest("'sender' must be a non-empty string")
    if len(sender) > MAX_SENDER_CHARS:
        raise InvalidRequest(f"'sender' is longer than {MAX_SENDER_CHARS} characters")

    text = document.get("message")
    if not isinstance(text, str) or not text.strip():
        raise InvalidRequest("'message' must be a non-empty string")
    if len(text) > max_message_chars:
        raise InvalidRequest(f"'message' is longer than {max_message_chars} characters")

    metadata = document.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise InvalidRequest("'metadata' must be a JSON object if given")
    return IncomingMessage(sender=sender, text=text, metadata=metadata)


class _NamedCollectingOutputChannel(CollectingOutputChannel):
    """Collects bot messages; ``name()`` is the channel name Rasa matches ``channel:`` against."""

    channel_name: ClassVar[str]

    @classmethod
    def name(cls) -> str:
        return cls.channel_name


class WebchatOutput(_NamedCollectingOutputChannel):
    channel_name = "webchat"


class VoiceOutput(_NamedCollectingOutputChannel):
    channel_name = "voice"


class _CollectingJsonInput(InputChannel):
    """Webhook answering with all bot messages of the turn plus the parsed intent."""

    output_channel_class: ClassVar[type[_NamedCollectingOutputChannel]]

    def __init__(self, *, token: str, max_message_chars: int = DEFAULT_MAX_MESSAGE_CHARS) -> None:
        if len(token) < MIN_TOKEN_CHARS:
            raise ValueError(f"the token must have at least {MIN_TOKEN_CHARS} characters")
        if not 1 <= max_message_chars <= _MAX_MESSAGE_CHARS_LIMIT:
            raise ValueError(
                f"max_message_chars must be in 1..{_MAX_MESSAGE_CHARS_LIMIT}, "
                f"got {max_message_chars}"
            )
        self.max_message_chars = max_message_chars
        self._authorization = f"Bearer {token}".encode()

    def authorised(self, authorization: str | None) -> bool:
        """Whether the request's Authorization header carries the shared token."""
        given = (authorization or "").encode()
        return hmac.compare_digest(given, self._authorization)

    @classmethod
    def name(cls) -> str:
        return cls.output_channel_class.channel_name

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        options = dict(credentials or {})
        max_message_chars = options.pop("max_message_chars", DEFAULT_MAX_MESSAGE_CHARS)
        token = options.pop("token", None)
        if not isinstance(token, str) or not token:
            raise ValueError(f"{cls.__name__}: the credentials need the shared `token`")
        if options:
            raise ValueError(f"{cls.__name__}: unknown credentials keys {sorted(options)}")
        if not isinstance(max_message_chars, int) or isinstance(max_message_chars, bool):
            raise ValueError(f"{cls.__name__}: max_message_chars must be an integer")
        return cls(token=token, max_message_chars=max_message_chars)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        hook = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @hook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not self.authorised(request.headers.get("authorization")):
                logger.info("%s: webhook call without the shared token refused", self.name())
                return response.json({"error": "unauthorised"}, status=401)
            try:
                incoming = parse_request_body(
                    request.body, max_message_chars=self.max_message_chars
                )
            except InvalidRequest as error:
                return response.json({"error": str(error)}, status=400)

            processor = request.app.ctx.agent.processor
            if processor is None:
                return response.json({"error": "no model loaded"}, status=503)

            collector = self.output_channel_class()
            message = UserMessage(
                incoming.text,
                collector,
                incoming.sender,
                input_channel=self.name(),
                metadata=incoming.metadata,
            )
            try:
                # Parse once here and hand the result to Rasa: the processor uses
                # UserMessage.parse_data instead of parsing again, so reporting the
                # intent costs nothing (no second parse, no tracker store read). This
                # is what /model/parse does; only NLU components that read the tracker
                # would notice (the pipeline in config.yml has none).
                message.parse_data = await processor.parse_message(message)
                await on_new_message(message)
            except Exception:
                logger.exception("%s: handling message of %r failed", self.name(), incoming.sender)
                return response.json({"error": "internal error"}, status=500)

            return response.json(
                {"messages": collector.messages, "nlu": nlu_of(message.parse_data)}
            )

        return hook


NAME_ENTITIES = frozenset({"person", "name", "PER"})
"""Entity types whose values are people's names (masked in the "Nicht verstanden" inbox)."""


def nlu_of(parse_data: dict[str, Any]) -> dict[str, Any]:
    """What the gateway learns of a parse: the intent and confidence, the best guess other
    than the miss intents (from the ranking), and the values of name entities."""
    intent = parse_data.get("intent") or {}
    guess = next(
        (
            r
            for r in parse_data.get("intent_ranking") or []
            if isinstance(r, dict) and r.get("name") not in MISS_INTENTS
        ),
        {},
    )
    names = [
        e.get("value")
        for e in parse_data.get("entities") or []
        if isinstance(e, dict)
        and e.get("entity") in NAME_ENTITIES
        and isinstance(e.get("value"), str)
    ]
    return {
        "intent": intent.get("name"),
        "confidence": intent.get("confidence"),
        "guess": guess.get("name"),
        "guess_confidence": guess.get("confidence"),
        "names": names[:10],
    }


class WebchatInput(_CollectingJsonInput):
    """``/webhooks/webchat/webhook``: responses use ``channel: webchat`` variants."""

    output_channel_class = WebchatOutput


class VoiceInput(_CollectingJsonInput):
    """``/webhooks/voice/webhook``: responses use ``channel: voice`` variants."""

    output_channel_class = VoiceOutput
