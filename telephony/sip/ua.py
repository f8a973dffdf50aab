"""The SIP user agent: inbound calls for the application, outbound test calls, REFER, REGISTER.

`UserAgent` drives the sans-I/O transaction layer and dialogs from the asyncio transports and
one timer task. Each inbound INVITE that passes the checks (source allow-list, digest auth,
Request-URI user allow-list, validation, call limit, SDP body) becomes a `SipCall` handed to
`on_call` in a task the UA owns. Caller numbers are logged masked only.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import ipaddress
import logging
import secrets
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

from telephony.capacity import CallCapacity
from telephony.networks import in_networks, is_loopback, parse_networks
from telephony.sip import digest, validate
from telephony.sip.dialog import (
    Dialog,
    DialogKey,
    Dialogs,
    parse_session_expires,
    request_key,
    session_timer,
)
from telephony.sip.message import (
    Headers,
    Request,
    Response,
    SipParseError,
    SipUri,
    make_response,
    parse,
)
from telephony.sip.policy import Accept, Challenge, InboundPolicy, PolicyConfig, Reject
from telephony.sip.registration import Registrar, RegistrationConfig, RegistrationState
from telephony.sip.sipcall import SDP, SipCall, SipCallError, mask_number
from telephony.sip.transaction import (
    AckReceived,
    Cancelled,
    ClientTransaction,
    Output,
    Peer,
    RequestReceived,
    ResponseReceived,
    Send,
    ServerTransaction,
    StrayResponse,
    TimedOut,
    Timers,
    TransactionError,
    TransactionLayer,
    new_branch,
)
from telephony.sip.transport import SipTransport, mark_received

logger = logging.getLogger(__name__)

ALLOWED_METHODS = frozenset(
    {"INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "NOTIFY", "UPDATE", "INFO"}
)
SUPPORTED = frozenset({"timer", "norefersub"})
DTMF_RELAY = "application/dtmf-relay"
CONTENT_TYPES = frozenset({SDP, "message/sipfrag", DTMF_RELAY})
DRAIN_RETRY_AFTER_S = 30  # what a draining gateway asks callers and proxies to wait

__all__ = [
    "RegistrationConfig",
    "RegistrationState",
    "SipCall",
    "SipCallError",
    "SipConfig",
    "UserAgent",
    "mask_number",
]


@dataclass(frozen=True, slots=True)
class SipConfig:
    """Signalling options; every limit is bounded. Port 0 picks a free port (tests)."""

    host: str = "127.0.0.1"
    port: int = 5060
    transports: tuple[str, ...] = ("udp", "tcp")
    public_host: str | None = None
    allowed_users: frozenset[str] | None = None
    trusted_sources: tuple[str, ...] = ()
    auth_realm: str = "rathausbot"
    auth_users: Mapping[str, str] = field(default_factory=dict)
    max_calls: int = 20
    max_call_s: float = 1800.0
    max_ring_s: float = 120.0  # an inbound call the app leaves unanswered gets 480 after this
    rate_per_source: float = 50.0
    rate_burst: int = 100
    max_message_bytes: int = 65535
    registration: RegistrationConfig | None = None
    timers: Timers = Timers()
    refer_timeout_s: float = 32.0
    min_se: int = 90  # smallest session timer interval accepted (RFC 4028 Min-SE); else 422
    max_calls_per_source: int = 4  # concurrent calls of one untrusted source address
    max_auth_failures: int = 5  # failed digest attempts in 10 minutes before a lockout
    auth_lockout_s: float = 900.0
    max_transactions: int = 2000
    max_transactions_per_source: int = 200
    reserved_transactions: int = 200  # only trusted sources may take the last ones
    max_connections: int = 512
    max_connections_per_host: int = 32
    tcp_idle_s: float = 900.0
    tcp_first_message_s: float = 10.0  # a connection must have sent a whole message by then
    user: str = "rathausbot"

    def __post_init__(self) -> None:
        if not self.transports or not set(self.transports) <= {"udp", "tcp"}:
            raise ValueError("transports must be a non-empty subset of udp, tcp")
        if self.max_calls < 0 or min(self.max_call_s, self.max_ring_s) <= 0:
            raise ValueError("max_calls, max_call_s and max_ring_s must be positive")
        if self.min_se < 1:
            raise ValueError("min_se must be positive")
        if self.max_message_bytes < 1024:
            raise ValueError("max_message_bytes must be at least 1024")
        if min(self.max_transactions, self.max_connections) < 1 or self.tcp_idle_s <= 0:
            raise ValueError("max_transactions, max_connections and tcp_idle_s must be positive")
        if min(self.max_connections_per_host, self.max_transactions_per_source) < 1:
            raise ValueError("max_connections_per_host and max_transactions_per_source >= 1")
        if not 0 <= self.reserved_transactions < self.max_transactions:
            raise ValueError("reserved_transactions must be in [0, max_transactions)")
        if self.tcp_first_message_s <= 0:
            raise ValueError("tcp_first_message_s must be positive")
        parse_networks(self.trusted_sources)
        if self.host in ("0.0.0.0", "::", "") and not self.public_host:
            raise ValueError("binding to all interfaces needs public_host (the address peers use)")
        if not self.trusted_sources and not self.auth_users and not is_loopback(self.host):
            raise ValueError(
                f"SIP on {self.host or 'all interfaces'} with neither trusted sources nor "
                "credentials would refuse every caller: set trusted_sources or auth_users"
            )

    def policy(self) -> PolicyConfig:
        """The inbound call policy these settings make."""
        return PolicyConfig(
            trusted=parse_networks(self.trusted_sources),
            auth_users=self.auth_users,
            realm=self.auth_realm,
            allowed_users=self.allowed_users,
            max_calls=self.max_calls,
            max_calls_per_source=self.max_calls_per_source,
            max_auth_failures=self.max_auth_failures,
            lockout_s=self.auth_lockout_s,
            rate_per_source=self.rate_per_source,
            rate_burst=self.rate_burst,
        )


class UserAgent:
    """SIP UA on UDP and TCP: answers OPTIONS, hands checked inbound INVITEs to `on_call`,
    places test calls with `invite()`, registers when configured. Use `start()`/`stop()` or
    `async with`."""

    def __init__(
        self,
        config: SipConfig,
        on_call: Callable[[SipCall], Awaitable[None]],
        *,
        capacity: CallCapacity | None = None,
    ) -> None:
        """`capacity`: the call count shared with browser calls (else `config.max_calls`)."""
        self.config = config
        self.on_call = on_call
        self._layer = TransactionLayer(
            config.timers,
            max_transactions=config.max_transactions,
            max_per_source=config.max_transactions_per_source,
            reserved=config.reserved_transactions,
        )
        self._dialogs = Dialogs(max_dialogs=max(2 * config.max_calls, 16))
        self._calls: dict[DialogKey, SipCall] = {}
        self._early: dict[ServerTransaction, SipCall] = {}
        self._waiters: dict[ClientTransaction, asyncio.Queue[Response | None]] = {}
        self.policy = InboundPolicy(config.policy(), capacity=capacity)
        self._tag_key = secrets.token_bytes(16)
        self._transport = SipTransport(
            self._on_data,
            max_message_bytes=config.max_message_bytes,
            max_connections=config.max_connections,
            max_connections_per_host=config.max_connections_per_host,
            idle_timeout_s=config.tcp_idle_s,
            first_message_s=config.tcp_first_message_s,
            on_unreachable=self._on_unreachable,
        )
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._timer_task: asyncio.Task[None] | None = None
        self._registrar: Registrar | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._draining = False

    # --- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        config = self.config
        await self._transport.start(config.host, config.port, config.transports)
        self._timer_task = self._loop.create_task(self._timer_loop())
        if config.registration is not None:
            self._registrar = Registrar(self, config.registration)
            self._registrar.start()
        logger.info("SIP listening on %s", self.addresses)
        logger.info("%s", self.policy.describe())

    def drain(self) -> None:
        """Takes no new calls: OPTIONS and new INVITEs get `503` with `Retry-After`, so a SIP
        proxy's probe takes this gateway out; calls in progress go on."""
        self._draining = True

    @property
    def draining(self) -> bool:
        return self._draining

    async def stop(self) -> None:
        """BYE to live calls, end the rest, cancel owned tasks, close the transports."""
        if self._registrar is not None:
            await self._registrar.stop()
        for call in list(self._calls.values()):
            await call.bye()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._timer_task is not None:
            self._timer_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer_task
            self._timer_task = None
        await self._transport.close()

    async def __aenter__(self) -> UserAgent:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def addresses(self) -> dict[str, tuple[str, int]]:
        return dict(self._transport.addresses)

    @property
    def registration_state(self) -> RegistrationState:
        return RegistrationState.DISABLED if self._registrar is None else self._registrar.state

    def stats(self) -> dict[str, int]:
        """Live calls, dialogs, transactions, call tasks, TCP connections, rate-limited sources."""
        return {
            "calls": len(self._calls),
            "dialogs": len(self._dialogs),
            "transactions": len(self._layer),
            "tasks": len(self._tasks),
            "connections": self._transport.connection_count,
            "rate_sources": self.policy.tracked_sources,
        }

    # --- addressing -----------------------------------------------------------------

    @property
    def public_host(self) -> str:
        """The address written into Via and Contact (IPv6 in brackets)."""
        host = self.config.public_host or self.config.host
        return f"[{host}]" if ":" in host and not host.startswith("[") else host

    def _port(self, transport: str) -> int:
        addresses = self._transport.addresses
        return (addresses.get(transport) or next(iter(addresses.values())))[1]

    def contact(self, transport: str) -> str:
        suffix = ";transport=tcp" if transport == "tcp" else ""
        return f"<sip:{self.config.user}@{self.public_host}:{self._port(transport)}{suffix}>"

    def via(self, transport: str) -> str:
        host, port = self.public_host, self._port(transport)
        return f"SIP/2.0/{transport.upper()} {host}:{port};branch={new_branch()};rport"

    def common_headers(self, transport: str) -> list[tuple[str, str]]:
        return [
            ("Allow", ", ".join(sorted(ALLOWED_METHODS))),
            ("Supported", ", ".join(sorted(SUPPORTED))),
            ("User-Agent", "rathausbot"),
        ]

    async def resolve(self, uri: SipUri, transport: str) -> Peer:
        """The peer for a SIP URI (transport parameter wins; A record lookup for names)."""
        transport = (uri.param("transport") or transport).lower()
        if transport not in self._transport.addresses:
            raise SipCallError(503, f"transport {transport} not enabled")
        host = uri.host.strip("[]")
        try:
            ipaddress.ip_address(host)
        except ValueError:
            assert self._loop is not None
            infos = await self._loop.getaddrinfo(host, None)
            host = str(infos[0][4][0])
        return Peer(transport, host, uri.port or 5060)

    def _dialog_peer(self, call: SipCall) -> Peer:
        """Where in-dialog requests go: the connection the dialog came on while it is open
        (TCP), else the first route or the remote target (IP literals; else the source)."""
        if call.peer.reliable and self._transport.connected(call.peer):
            return call.peer
        hop = call.dialog.next_hop()
        if isinstance(hop, SipUri):
            try:
                host = str(ipaddress.ip_address(hop.host.strip("[]")))
            except ValueError:
                return call.peer
            if host != call.peer.host and not in_networks(host, self.policy.config.trusted):
                return call.peer  # a Contact must not make us send to other hosts
            default = "tcp" if call.peer.reliable else "udp"
            transport = (hop.param("transport") or default).lower()
            if transport in self._transport.addresses:
                return Peer(transport, host, hop.port or 5060)
        return call.peer

    # --- sending --------------------------------------------------------------------

    def _now(self) -> float:
        assert self._loop is not None
        return self._loop.time()

    def respond(self, tx: ServerTransaction, response: Response) -> bool:
        """Answers through `tx`; False when the transaction is already over (e.g. CANCEL)."""
        try:
            self._emit(self._layer.respond(tx, response, self._now()))
        except TransactionError:
            return False
        return True

    def send_request(self, request: Request, peer: Peer) -> asyncio.Queue[Response | None]:
        """Starts a client transaction; the queue yields its responses, None on timeout."""
        tx, out = self._layer.send_request(request, peer, self._now())
        queue: asyncio.Queue[Response | None] = asyncio.Queue()
        self._waiters[tx] = queue
        self._emit(out)
        return queue

    async def transact(self, request: Request, peer: Peer) -> Response | None:
        """Sends `request`; its final response, None on timeout or when the layer is full."""
        try:
            queue = self.send_request(request, peer)
        except TransactionError:
            return None
        while True:
            response = await queue.get()
            if response is None or response.status >= 200:
                return response

    async def request_in_dialog(
        self, call: SipCall, method: str, extra: list[tuple[str, str]], body: bytes = b""
    ) -> Response | None:
        peer = self._dialog_peer(call)
        request = call.dialog.request(method, self.via(peer.transport), extra=extra, body=body)
        return await self.transact(request, peer)

    def send_bye(self, call: SipCall) -> None:
        peer = self._dialog_peer(call)
        with contextlib.suppress(TransactionError):
            self.send_request(call.dialog.request("BYE", self.via(peer.transport)), peer)

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Runs `coroutine` as a task the UA owns (cancelled by `stop()`)."""
        assert self._loop is not None
        task = self._loop.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def forget(self, call: SipCall) -> None:
        if self._calls.pop(call.dialog.key, None) is not None:
            self.policy.call_ended(call.peer.host if call.invite_tx is not None else None)
        if call.invite_tx is not None:
            self._early.pop(call.invite_tx, None)
        self._dialogs.remove(call.dialog)

    def _emit(self, outputs: list[Output]) -> None:
        for output in outputs:
            try:
                self._dispatch(output)
            except Exception as error:  # noqa: BLE001 - one bad message must not stop the rest
                logger.error("SIP event dropped: %s", type(error).__name__)
        self._wake.set()

    def _dispatch(self, output: Output) -> None:
        match output:
            case Send(message, peer):
                self._transport.send(message, peer)
            case RequestReceived(tx, request):
                self._on_request(tx, request)
            case AckReceived(request, _):
                call = self._calls.get(request_key(request))
                if call is not None:
                    call.ack_received()
            case Cancelled(tx):
                call = self._early.get(tx)
                if call is not None:
                    call.mark_ended("cancel")
            case ResponseReceived(tx, response):
                waiter = self._waiters.get(tx)
                if waiter is not None:
                    waiter.put_nowait(response)
                    if response.status >= 200:
                        del self._waiters[tx]
                elif tx.is_invite and response.status < 300:
                    self._reack(response)
            case StrayResponse(response, _):
                if response.cseq[1] == "INVITE" and 200 <= response.status < 300:
                    self._reack(response)
            case TimedOut(tx, transport_error):
                if isinstance(tx, ClientTransaction):
                    waiter = self._waiters.pop(tx, None)
                    if waiter is not None and transport_error:
                        waiter.put_nowait(make_response(tx.request, 503))
                    elif waiter is not None:
                        waiter.put_nowait(None)
                else:
                    call = self._early.get(tx)
                    if call is not None:
                        call.ack_timed_out()

    def _reack(self, response: Response) -> None:
        key = (response.call_id, response.from_.tag or "", response.to.tag or "")
        call = self._calls.get(key)
        if call is not None and call.dialog.extra.get("ack_branch"):
            self._send_ack(call, response.cseq[0], call.dialog.extra["ack_branch"])

    def _send_ack(self, call: SipCall, cseq: int, branch: str) -> None:
        peer = self._dialog_peer(call)
        via = f"SIP/2.0/{peer.transport.upper()} {self.public_host}:{self._port(peer.transport)}"
        ack = call.dialog.request("ACK", f"{via};branch={branch};rport", cseq=cseq)
        self._transport.send(ack, peer)

    async def _timer_loop(self) -> None:
        """Fires transaction timers when due; woken early whenever the layer changed."""
        while True:
            self._wake.clear()
            deadline = self._layer.next_timeout()
            timeout = None if deadline is None else max(0.0, deadline - self._now())
            # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancel that
            # arrives as the event is set, and stop() would wait for this task forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
            try:
                self._emit(self._layer.on_timer(self._now()))
            except Exception as error:  # noqa: BLE001 - retransmissions must go on
                logger.error("SIP timer step failed: %s", type(error).__name__)

    # --- receiving ------------------------------------------------------------------

    def _on_unreachable(self, peer: Peer) -> None:
        self._emit(self._layer.transport_failed(peer))

    def _on_data(self, data: bytes, peer: Peer) -> None:
        now = self._now()
        if not self.policy.admit(peer, now):
            return
        try:
            message = parse(data, max_bytes=self.config.max_message_bytes, stream=peer.reliable)
            if isinstance(message, Request):
                mark_received(message.headers, peer)
        except SipParseError as error:
            response = validate.error_response(error)
            if response is not None:
                self._transport.send(response, peer, route=False)
            return
        privileged = False
        if isinstance(message, Request) and not self._layer.knows(message):
            stateless = self._stateless(message, peer, now)
            if stateless is not None:
                self._transport.send(stateless, peer)
                return
            privileged = self.policy.trusted(peer.host)
        self._emit(self._layer.receive(message, peer, now, privileged=privileged))

    def _stateless(self, request: Request, peer: Peer, now: float) -> Response | None:
        """The answer to a new request that needs no transaction (RFC 3261 8.2.7): errors,
        OPTIONS, requests for unknown dialogs, and INVITEs the policy challenges or refuses.
        None: the request gets a transaction (an accepted INVITE, an in-dialog request, a
        CANCEL, an ACK). Only what may become a call can fill the transaction table."""
        if request.method == "ACK":
            return None
        rejection = validate.screen(
            request, supported=SUPPORTED, methods=ALLOWED_METHODS, content_types=CONTENT_TYPES
        )
        if rejection is not None:
            return rejection
        if request.method == "CANCEL":
            return self._reply(request, 481)
        if request.to.tag:
            if request_key(request) in self._calls:
                return None
            return self._reply(request, 481)
        if self._draining and request.method in {"OPTIONS", "INVITE"}:
            return self._reply(request, 503, ("Retry-After", str(DRAIN_RETRY_AFTER_S)))
        match request.method:
            case "OPTIONS":
                return self._reply(
                    request, 200, ("Accept", SDP), *self.common_headers(peer.transport)
                )
            case "INVITE":
                match self.policy.decide(request, peer, now):
                    case Accept():
                        return None
                    case Challenge(header):
                        return self._reply(request, 401, ("WWW-Authenticate", header))
                    case Reject(status, headers):
                        return self._reply(request, status, *headers)
            case "BYE" | "NOTIFY" | "UPDATE" | "INFO":
                return self._reply(request, 481)
        return self._reply(request, 405, ("Allow", ", ".join(sorted(ALLOWED_METHODS))))

    def _reply(self, request: Request, status: int, *extra: tuple[str, str]) -> Response:
        """A stateless response; its To tag is derived from the request, so a retransmission
        gets the same one (RFC 3261 8.2.7)."""
        tag = request.to.tag
        if not tag:
            seed = f"{request.call_id}|{request.from_.tag}|{request.top_via.branch}".encode()
            tag = hmac.new(self._tag_key, seed, hashlib.sha256).hexdigest()[:12]
        return make_response(request, status, to_tag=tag, extra=list(extra))

    def _answer(self, tx: ServerTransaction, status: int, *extra: tuple[str, str]) -> None:
        tag = tx.request.to.tag or secrets.token_hex(6)
        self.respond(tx, make_response(tx.request, status, to_tag=tag, extra=list(extra)))

    def _on_request(self, tx: ServerTransaction, request: Request) -> None:
        """A request that passed `_stateless`: in-dialog, or an INVITE the policy accepted."""
        if request.to.tag:
            self._in_dialog(tx, request)
        elif request.method == "INVITE":
            self._new_call(tx, request)
        else:  # not reached: _stateless answers every other request itself
            self._answer(tx, 500)

    def _in_dialog(self, tx: ServerTransaction, request: Request) -> None:
        call = self._calls.get(request_key(request))
        if call is None:
            self._answer(tx, 481)
            return
        problem = call.dialog.accept_request(request)
        if problem is not None:
            self._answer(tx, problem)
            return
        match request.method:
            case "BYE":
                self._answer(tx, 200)
                call.mark_ended("bye")
            case "INVITE" | "UPDATE":
                self._reoffer(tx, request, call)
            case "NOTIFY":
                self._answer(tx, 200)
                if (request.headers.get("event") or "").split(";")[0].strip().lower() == "refer":
                    call.notify_received(request)
            case "INFO":
                self._answer(tx, 200)
                content_type = (request.headers.get("content-type") or "").split(";")[0]
                if content_type.strip().lower() == DTMF_RELAY:
                    call.info_received(request.body)
            case _:
                self._answer(tx, 200)

    def _reoffer(self, tx: ServerTransaction, request: Request, call: SipCall) -> None:
        if not call.answered:  # an offer while ours is pending (RFC 3261 14.2)
            self._answer(tx, 491)
            return
        timer = session_timer(request, min_se=self.config.min_se)
        if timer.reject_422:
            self._answer(tx, 422, *timer.headers)
            return
        offer = request.body
        answer: bytes | None = call.local_sdp
        if offer and offer != call.remote_sdp:
            answer = None
            if call.on_reoffer is not None:
                try:
                    answer = call.on_reoffer(offer)
                except Exception as error:  # noqa: BLE001 - the app's bug must not kill the UA
                    logger.error("on_reoffer failed: %s", type(error).__name__)
            if answer is None:
                self._answer(tx, 488)
                return
            call.offer_answered(offer, answer)
        if request.method == "UPDATE" and not offer:
            answer = b""
        extra = [
            ("Contact", self.contact(tx.peer.transport)),
            *self.common_headers(tx.peer.transport),
            *timer.headers,
        ]
        if answer:
            extra.append(("Content-Type", SDP))
        response = make_response(request, 200, extra=extra, body=answer or b"")
        if self.respond(tx, response):
            call.start_session_timer(timer.interval, we_refresh=timer.we_refresh)

    def _new_call(self, tx: ServerTransaction, request: Request) -> None:
        """An INVITE the policy accepted (trusted or authenticated, body and limits checked)."""
        config = self.config
        user = request.uri.user if isinstance(request.uri, SipUri) else None
        timer = session_timer(request, min_se=self.config.min_se)
        if timer.reject_422:
            self._answer(tx, 422, *timer.headers)
            return
        dialog = Dialog.as_uas(request, secrets.token_hex(6), self.contact(tx.peer.transport))
        if not self._dialogs.add(dialog):
            self._answer(tx, 503, ("Retry-After", "30"))
            return
        from_uri = request.from_.uri
        call = SipCall(
            self,
            dialog,
            remote_uri=str(from_uri),
            caller_id=from_uri.user if isinstance(from_uri, SipUri) else None,
            remote_sdp=request.body,
            source=tx.peer,
            invite_tx=tx,
        )
        call.dialed = user
        call.start_ring_limit(config.max_ring_s)
        self._early[tx] = call
        self._calls[dialog.key] = call
        self.policy.call_started(tx.peer.host)
        logger.info("call %s from %s", call.call_id[:8], call.masked_caller)
        self.spawn(self._run_call(call))

    async def _run_call(self, call: SipCall) -> None:
        failed = False
        try:
            await self.on_call(call)
        except Exception as error:  # noqa: BLE001 - the app's bug must not kill the UA
            failed = True
            logger.error("on_call failed: %s", type(error).__name__)
        finally:
            if not call.is_ended:
                if call.answered:
                    await call.bye()
                else:
                    await call.reject(500 if failed else 480, "")

    # --- outbound -------------------------------------------------------------------

    async def invite(
        self, uri: str, sdp: bytes, *, transport: str = "udp", timeout_s: float = 32.0
    ) -> SipCall:
        """UAC: INVITE `uri` with `sdp`; returns the answered call; SipCallError on failure."""
        try:
            target = SipUri.parse(uri)
        except SipParseError as error:
            raise SipCallError(416, "bad URI") from error
        peer = await self.resolve(target, transport)
        headers = Headers()
        headers.add("Via", self.via(peer.transport))
        headers.add("Max-Forwards", "70")
        headers.add(
            "From", f"<sip:{self.config.user}@{self.public_host}>;tag={secrets.token_hex(6)}"
        )
        headers.add("To", f"<{target}>")
        headers.add("Call-ID", f"{secrets.token_hex(12)}@{self.public_host}")
        headers.add("CSeq", "1 INVITE")
        headers.add("Contact", self.contact(peer.transport))
        for name, value in self.common_headers(peer.transport):
            headers.add(name, value)
        headers.add("Content-Type", SDP)
        request = Request("INVITE", target, headers, sdp)
        try:
            return await asyncio.wait_for(self._invite(request, peer), timeout_s)
        except TimeoutError:
            raise SipCallError(408, "no answer") from None

    async def _invite(self, request: Request, peer: Peer) -> SipCall:
        registration = self.config.registration
        for attempt in range(2):
            try:
                queue = self.send_request(request, peer)
            except TransactionError as error:
                raise SipCallError(503, "busy") from error
            provisional = False
            try:
                response = await queue.get()
                while response is not None and response.status < 200:
                    provisional = True
                    response = await queue.get()
            except asyncio.CancelledError:
                if provisional:  # RFC 3261 9.1: no CANCEL before a provisional response
                    self._cancel(request, peer)
                raise
            if response is None:
                raise SipCallError(408, "no response")
            if response.status in (401, 407) and attempt == 0 and registration is not None:
                try:
                    request = self._with_auth(request, response, registration)
                except digest.DigestError as error:
                    raise SipCallError(response.status, "unanswerable challenge") from error
                continue
            if response.status >= 300:
                raise SipCallError(response.status, response.reason)
            dialog = Dialog.as_uac(request, response, self.contact(peer.transport))
            dialog.extra["ack_branch"] = new_branch()
            call = SipCall(
                self,
                dialog,
                remote_uri=str(request.uri),
                caller_id=None,
                remote_sdp=response.body,
                source=peer,
                local_sdp=request.body,
            )
            self._calls[dialog.key] = call
            self.policy.call_started(None)
            self._dialogs.add(dialog)
            self._send_ack(call, request.cseq[0], dialog.extra["ack_branch"])
            call.start_duration_limit()
            expires = parse_session_expires(response.headers.get("session-expires"))
            if expires is not None:  # the callee's choice; refresher absent means us (UAC)
                call.start_session_timer(expires[0], we_refresh=expires[1] != "uas")
            return call
        raise SipCallError(401, "authentication failed")

    def _with_auth(
        self, request: Request, challenge: Response, registration: RegistrationConfig
    ) -> Request:
        header = "www-authenticate" if challenge.status == 401 else "proxy-authenticate"
        answer = "Authorization" if challenge.status == 401 else "Proxy-Authorization"
        headers = request.headers.copy()
        number = request.cseq[0] + 1
        value = digest.authorization(
            challenge.headers.get(header) or "",
            request.method,
            str(request.uri),
            registration.user,
            registration.password,
            1,
        )
        headers.set(answer, value)
        headers.set("CSeq", f"{number} {request.method}")
        headers.set("Via", self.via(request.top_via.transport.lower()))
        return Request(request.method, request.uri, headers, request.body)

    def _cancel(self, invite: Request, peer: Peer) -> None:
        """CANCEL for our pending INVITE (RFC 3261 9.1): same Via branch, no To tag."""
        headers = Headers()
        headers.add("Via", invite.headers.get_all("via")[0])
        for name in ("From", "To", "Call-ID"):
            headers.add(name, invite.headers.get(name) or "")
        headers.add("Max-Forwards", "70")
        headers.add("CSeq", f"{invite.cseq[0]} CANCEL")
        with contextlib.suppress(TransactionError):
            self.send_request(Request("CANCEL", invite.uri, headers), peer)
