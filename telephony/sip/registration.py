"""Optional registration with a PBX or trunk (RFC 3261 10): REGISTER with digest
authentication, refreshed before expiry, retried with exponential back-off on failure."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import secrets
from dataclasses import dataclass
from typing import Protocol

from telephony.sip import digest
from telephony.sip.message import Headers, NameAddr, Request, Response, SipParseError, SipUri
from telephony.sip.transaction import Peer

logger = logging.getLogger(__name__)


class RegistrationState(enum.Enum):
    DISABLED = "disabled"
    REGISTERING = "registering"
    REGISTERED = "registered"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class RegistrationConfig:
    """Registrar URI (e.g. "sip:pbx.example.org;transport=tcp"), account, requested expiry."""

    registrar: str
    user: str
    password: str
    expires: int = 600
    retry_min_s: float = 5.0
    retry_max_s: float = 300.0

    def __post_init__(self) -> None:
        SipUri.parse(self.registrar)
        if not 60 <= self.expires <= 86400 or not 0 < self.retry_min_s <= self.retry_max_s:
            raise ValueError("registration expires must be 60..86400 s, retries positive")


class _Agent(Protocol):
    async def resolve(self, uri: SipUri, transport: str) -> Peer: ...
    async def transact(self, request: Request, peer: Peer) -> Response | None: ...
    def via(self, transport: str) -> str: ...
    def contact(self, transport: str) -> str: ...


class Registrar:
    """Keeps one binding registered; `state` shows how it goes."""

    def __init__(self, agent: _Agent, config: RegistrationConfig) -> None:
        self.agent = agent
        self.config = config
        self.state = RegistrationState.REGISTERING
        self.expires_in: int | None = None
        self._call_id = secrets.token_hex(12)
        self._tag = secrets.token_hex(6)
        self._cseq = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.state is RegistrationState.REGISTERED:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.register_once(0), 2.0)
        self.state = RegistrationState.DISABLED

    async def _run(self) -> None:
        delay = self.config.retry_min_s
        while True:
            try:
                granted = await self.register_once(self.config.expires)
            except Exception as error:  # noqa: BLE001 - DNS, digest, transport: retry later
                logger.warning("registration failed: %s", type(error).__name__)
                granted = None
            if granted:
                self.state = RegistrationState.REGISTERED
                self.expires_in = granted
                delay = self.config.retry_min_s
                await asyncio.sleep(max(1.0, min(granted / 2, granted - 30)))
            else:
                self.state = RegistrationState.FAILED
                await asyncio.sleep(delay)
                delay = min(2 * delay, self.config.retry_max_s)

    async def register_once(self, expires: int) -> int | None:
        """One REGISTER (answering a digest challenge once); the granted expiry or None."""
        registrar = SipUri.parse(self.config.registrar)
        peer = await self.agent.resolve(registrar, "udp")
        uri = SipUri(host=registrar.host, port=registrar.port, params=registrar.params)
        authorization: tuple[str, str] | None = None
        for _ in range(2):
            request = self._request(uri, peer, expires, authorization)
            response = await self.agent.transact(request, peer)
            if response is None:
                return None
            if response.status in (401, 407) and authorization is None:
                header = "www-authenticate" if response.status == 401 else "proxy-authenticate"
                name = "Authorization" if response.status == 401 else "Proxy-Authorization"
                value = digest.authorization(
                    response.headers.get(header) or "",
                    "REGISTER",
                    str(uri),
                    self.config.user,
                    self.config.password,
                    1,
                )
                authorization = (name, value)
                continue
            if not 200 <= response.status < 300:
                logger.warning("registration refused: %d", response.status)
                return None
            return self._granted(response, expires)
        return None

    def _request(
        self, uri: SipUri, peer: Peer, expires: int, authorization: tuple[str, str] | None
    ) -> Request:
        self._cseq += 1
        aor = f"<sip:{self.config.user}@{uri.host}>"
        headers = Headers()
        headers.add("Via", self.agent.via(peer.transport))
        headers.add("Max-Forwards", "70")
        headers.add("From", f"{aor};tag={self._tag}")
        headers.add("To", aor)
        headers.add("Call-ID", self._call_id)
        headers.add("CSeq", f"{self._cseq} REGISTER")
        headers.add("Contact", self.agent.contact(peer.transport))
        headers.add("Expires", str(expires))
        if authorization is not None:
            headers.add(*authorization)
        return Request("REGISTER", uri, headers)

    def _granted(self, response: Response, requested: int) -> int:
        for contact in response.headers.get_all("contact"):
            with contextlib.suppress(SipParseError):
                value = NameAddr.parse(contact).param("expires")
                if value and value.isdigit():
                    return int(value)
        expires = response.headers.get("expires") or ""
        return int(expires) if expires.strip().isdigit() else requested
