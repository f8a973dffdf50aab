"""WebRTC signalling for browser calls: offer/answer over HTTP, hang-up, ICE servers.

`POST /webrtc/offer` takes `{"sdp", "type": "offer", "session_token"}` (the chat session
the call belongs to, so its turns join that transcript) and answers `{"sdp", "type",
"call_id"}`; `DELETE /webrtc/{call_id}` (or `POST /webrtc/{call_id}/hangup`, what
`navigator.sendBeacon` can send) ends a call; `GET /webrtc/ice-servers` gives STUN and TURN
servers, TURN with coturn's time-limited `use-auth-secret` credentials. The same Origin
allow-list as the chat applies, and a rate per client address. Errors are JSON
`{"error": code, "message": German text}`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from channels.limits import TokenBucket, origin_allowed
from channels.sessions import TokenStore

log = logging.getLogger(__name__)

MAX_TOKEN_CHARS = 128
MAX_BODY_BYTES = 64 * 1024  # the JSON around the SDP; the SDP itself has its own limit


class SignalError(StrEnum):
    BAD_JSON = "bad_json"
    BAD_REQUEST = "bad_request"
    TOO_LARGE = "too_large"
    ORIGIN_FORBIDDEN = "origin_forbidden"
    UNKNOWN_SESSION = "unknown_session"
    RATE_LIMITED = "rate_limited"
    TOO_MANY_CALLS = "too_many_calls"
    BUSY = "busy"
    UNAVAILABLE = "unavailable"
    BAD_OFFER = "bad_offer"
    UNKNOWN_CALL = "unknown_call"

    @property
    def status(self) -> int:
        return _STATUS[self]

    @property
    def text(self) -> str:
        return _TEXT[self]


_STATUS = {
    SignalError.BAD_JSON: 400,
    SignalError.BAD_REQUEST: 400,
    SignalError.TOO_LARGE: 413,
    SignalError.ORIGIN_FORBIDDEN: 403,
    SignalError.UNKNOWN_SESSION: 403,
    SignalError.RATE_LIMITED: 429,
    SignalError.TOO_MANY_CALLS: 429,
    SignalError.BUSY: 503,
    SignalError.UNAVAILABLE: 503,
    SignalError.BAD_OFFER: 400,
    SignalError.UNKNOWN_CALL: 404,
}
_TEXT = {
    SignalError.BAD_JSON: "Die Anfrage ist ungültig.",
    SignalError.BAD_REQUEST: "Die Anfrage ist unvollständig oder ungültig.",
    SignalError.TOO_LARGE: "Die Anfrage ist zu groß.",
    SignalError.ORIGIN_FORBIDDEN: "Von dieser Seite aus sind keine Anrufe möglich.",
    SignalError.UNKNOWN_SESSION: "Ihre Chat-Sitzung ist abgelaufen. Bitte laden Sie die Seite neu.",
    SignalError.RATE_LIMITED: "Zu viele Anrufversuche. Bitte warten Sie einen Moment.",
    SignalError.TOO_MANY_CALLS: "Von Ihrem Anschluss laufen bereits Anrufe. Bitte beenden "
    "Sie zuerst einen davon.",
    SignalError.BUSY: "Alle Leitungen sind gerade belegt. Bitte versuchen Sie es in "
    "einigen Minuten noch einmal oder schreiben Sie uns im Chat.",
    SignalError.UNAVAILABLE: "Anrufe sind gerade nicht möglich. Bitte schreiben Sie uns im Chat.",
    SignalError.BAD_OFFER: "Ihr Browser hat eine Verbindung angeboten, die wir nicht "
    "annehmen können.",
    SignalError.UNKNOWN_CALL: "Dieser Anruf ist nicht (mehr) bekannt.",
}


Handler = Callable[[Request], Awaitable[Response]]


class SignalRefused(Exception):
    def __init__(self, error: SignalError) -> None:
        super().__init__(error.value)
        self.error = error


@dataclass(frozen=True, slots=True)
class Offer:
    sdp: str
    session_token: str


def parse_offer(body: bytes, *, max_sdp_bytes: int) -> Offer:
    """The offer request's JSON; raises SignalRefused (BAD_JSON, BAD_REQUEST, TOO_LARGE)."""
    if len(body) > MAX_BODY_BYTES:
        raise SignalRefused(SignalError.TOO_LARGE)
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise SignalRefused(SignalError.BAD_JSON) from None
    if not isinstance(data, dict):
        raise SignalRefused(SignalError.BAD_REQUEST)
    sdp, kind, token = data.get("sdp"), data.get("type"), data.get("session_token")
    if not isinstance(sdp, str) or not isinstance(token, str) or kind != "offer":
        raise SignalRefused(SignalError.BAD_REQUEST)
    if len(sdp.encode("utf-8")) > max_sdp_bytes:
        raise SignalRefused(SignalError.TOO_LARGE)
    if not sdp.startswith("v=0") or "\nm=audio " not in sdp.replace("\r\n", "\n"):
        raise SignalRefused(SignalError.BAD_OFFER)
    if not 1 <= len(token) <= MAX_TOKEN_CHARS:
        raise SignalRefused(SignalError.UNKNOWN_SESSION)
    return Offer(sdp, token)


@dataclass(frozen=True, slots=True)
class TurnCredentials:
    username: str
    password: str


def turn_credentials(secret: bytes, *, now: float, ttl_s: int, tag: str) -> TurnCredentials:
    """coturn's `use-auth-secret` (TURN REST API) credentials: the username is
    "expiry:tag", the password base64(HMAC-SHA1(secret, username))."""
    username = f"{int(now) + ttl_s}:{tag}"
    digest = hmac.new(secret, username.encode("utf-8"), hashlib.sha1).digest()
    return TurnCredentials(username, base64.b64encode(digest).decode("ascii"))


@dataclass(frozen=True, slots=True, kw_only=True)
class IceConfig:
    """STUN and TURN servers for browsers; TURN only with its shared secret."""

    stun_urls: tuple[str, ...] = ()
    turn_urls: tuple[str, ...] = ()
    turn_secret: bytes | None = None
    turn_ttl_s: int = 3600

    def __post_init__(self) -> None:
        if not 60 <= self.turn_ttl_s <= 86_400:
            raise ValueError("turn_ttl_s must be in [60, 86400]")
        for url in self.stun_urls:
            if not url.startswith(("stun:", "stuns:")):
                raise ValueError(f"{url!r} is not a stun: URL")
        for url in self.turn_urls:
            if not url.startswith(("turn:", "turns:")):
                raise ValueError(f"{url!r} is not a turn: URL")

    def servers(self, *, now: float, tag: str) -> list[dict[str, object]]:
        """RTCIceServer dictionaries as a browser's RTCPeerConnection takes them."""
        servers: list[dict[str, object]] = []
        if self.stun_urls:
            servers.append({"urls": list(self.stun_urls)})
        if self.turn_urls and self.turn_secret is not None:
            creds = turn_credentials(self.turn_secret, now=now, ttl_s=self.turn_ttl_s, tag=tag)
            servers.append(
                {
                    "urls": list(self.turn_urls),
                    "username": creds.username,
                    "credential": creds.password,
                }
            )
        return servers


@dataclass(frozen=True, slots=True)
class CallAnswer:
    sdp: str
    type: str
    call_id: str


class CallDesk(Protocol):
    """What signalling needs from the gateway's browser calls (telephony.webrtc)."""

    async def offer(self, sdp: str, *, session_id: str, address: str) -> CallAnswer:
        """Raises SignalRefused (BUSY, TOO_MANY_CALLS, BAD_OFFER)."""
        ...

    def hangup(self, call_id: str) -> bool: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class SignallingLimits:
    allowed_origins: frozenset[str] = frozenset()
    offers_per_minute: float = 6.0  # per client address, on average
    offer_burst: int = 10
    max_addresses: int = 10_000  # rate buckets kept; the least recently seen is dropped
    max_sdp_bytes: int = 16 * 1024

    def __post_init__(self) -> None:
        checks = {
            "offers_per_minute": 0 < self.offers_per_minute <= 100_000,
            "offer_burst": 1 <= self.offer_burst <= 100_000,
            "max_addresses": 1 <= self.max_addresses <= 10_000_000,
            "max_sdp_bytes": 1024 <= self.max_sdp_bytes <= MAX_BODY_BYTES - 1024,
        }
        wrong = [name for name, ok in checks.items() if not ok]
        if wrong:
            raise ValueError(f"signalling limits out of range: {', '.join(wrong)}")


class Signalling:
    """The `/webrtc/` routes. `desk` is None until the voice engines are loaded (503)."""

    def __init__(
        self,
        *,
        tokens: TokenStore,
        ice: IceConfig,
        limits: SignallingLimits = SignallingLimits(),
        desk: CallDesk | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._tokens = tokens
        self._ice = ice
        self.limits = limits
        self.desk = desk
        self._clock = clock
        self._wall = wall_clock
        self._buckets: dict[str, TokenBucket] = {}
        self.draining = False  # set by the drain on SIGTERM: new offers get 503

    def drain(self) -> None:
        """Refuses new calls from now on; running calls and their hang-ups go on."""
        self.draining = True

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/webrtc/offer", self._cors(self.offer), methods=["POST", "OPTIONS"]),
            Route("/webrtc/ice-servers", self._cors(self.ice_servers), methods=["GET", "OPTIONS"]),
            Route("/webrtc/{call_id}", self._cors(self.hangup), methods=["DELETE", "OPTIONS"]),
            Route("/webrtc/{call_id}/hangup", self._cors(self.hangup), methods=["POST"]),
        ]

    def _cors(self, handler: Handler) -> Handler:
        """Lets a widget on an allowed origin call these routes (preflight included); a
        refused Origin gets no CORS headers, so its page cannot read any answer."""

        async def endpoint(request: Request) -> Response:
            origin = request.headers.get("origin")
            allowed = origin is not None and self._origin_ok(request)
            if request.method == "OPTIONS":
                response = Response(status_code=204 if allowed else 403)
                if allowed:
                    response.headers["access-control-allow-methods"] = "GET, POST, DELETE"
                    response.headers["access-control-allow-headers"] = "content-type"
                    response.headers["access-control-max-age"] = "600"
            else:
                response = await handler(request)
            if allowed and origin is not None:
                response.headers["access-control-allow-origin"] = origin
                response.headers["vary"] = "Origin"
            return response

        return endpoint

    @property
    def addresses(self) -> int:
        return len(self._buckets)

    async def offer(self, request: Request) -> Response:
        try:
            address = self._admit(request)
            body = await _read_body(request, MAX_BODY_BYTES)
            offer = parse_offer(body, max_sdp_bytes=self.limits.max_sdp_bytes)
            desk = self.desk
            if desk is None or self.draining:
                raise SignalRefused(SignalError.UNAVAILABLE)
            session_id = await self._tokens.resolve(offer.session_token)
            if session_id is None:
                raise SignalRefused(SignalError.UNKNOWN_SESSION)
            answer = await desk.offer(offer.sdp, session_id=session_id, address=address)
        except SignalRefused as refused:
            return _refusal(refused.error)
        body_out = {"sdp": answer.sdp, "type": answer.type, "call_id": answer.call_id}
        return JSONResponse(body_out, headers={"Cache-Control": "no-store"})

    async def hangup(self, request: Request) -> Response:
        if not self._origin_ok(request):
            return _refusal(SignalError.ORIGIN_FORBIDDEN)
        call_id = request.path_params["call_id"]
        desk = self.desk
        if desk is None or len(call_id) > MAX_TOKEN_CHARS or not desk.hangup(call_id):
            return _refusal(SignalError.UNKNOWN_CALL)
        return Response(status_code=204)

    async def ice_servers(self, request: Request) -> Response:
        try:
            self._admit(request)
        except SignalRefused as refused:
            return _refusal(refused.error)
        servers = self._ice.servers(now=self._wall(), tag=f"rb{secrets.token_hex(4)}")
        return JSONResponse({"iceServers": servers}, headers={"Cache-Control": "no-store"})

    def _origin_ok(self, request: Request) -> bool:
        return origin_allowed(
            request.headers.get("origin"),
            host=request.headers.get("host"),
            allowed=self.limits.allowed_origins,
        )

    def _admit(self, request: Request) -> str:
        """The client address, after the Origin check and its rate."""
        if not self._origin_ok(request):
            log.info("signalling refused: origin %.80s", request.headers.get("origin"))
            raise SignalRefused(SignalError.ORIGIN_FORBIDDEN)
        address = request.client.host if request.client else "?"
        bucket = self._buckets.pop(address, None)
        if bucket is None:
            if len(self._buckets) >= self.limits.max_addresses:
                del self._buckets[next(iter(self._buckets))]  # least recently seen
            bucket = TokenBucket(
                rate_per_minute=self.limits.offers_per_minute,
                burst=self.limits.offer_burst,
                clock=self._clock,
            )
        self._buckets[address] = bucket
        if not bucket.take():
            raise SignalRefused(SignalError.RATE_LIMITED)
        return address


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise SignalRefused(SignalError.TOO_LARGE)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise SignalRefused(SignalError.TOO_LARGE)
    return bytes(body)


def _refusal(error: SignalError) -> JSONResponse:
    headers = {"Cache-Control": "no-store"}
    if error is SignalError.BUSY:
        headers["Retry-After"] = "30"
    return JSONResponse(
        {"error": error.value, "message": error.text}, status_code=error.status, headers=headers
    )
