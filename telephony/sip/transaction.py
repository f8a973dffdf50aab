"""SIP transactions (RFC 3261 section 17, RFC 6026), sans-I/O with explicit time.

`TransactionLayer.receive()` takes a parsed message and the time; `respond()`/`send_request()`
come from the transaction user (TU). Each call returns `Output`s: `Send` (bytes to put on the
wire) and events for the TU. `next_timeout()` says when `on_timer(now)` is due. Finished
transactions are removed; the table is bounded.
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass, field

from telephony.sip.message import (
    Headers,
    Message,
    Request,
    Response,
    SipParseError,
    canonical_name,
    make_response,
)

MAGIC_COOKIE = "z9hG4bK"


@dataclass(frozen=True, slots=True)
class Peer:
    """Where a message came from or goes to: transport ("udp"/"tcp"), IP address, port."""

    transport: str
    host: str
    port: int

    @property
    def reliable(self) -> bool:
        return self.transport != "udp"


@dataclass(frozen=True, slots=True)
class Timers:
    """RFC 3261 timer values in seconds (17.1.1.1); tests shorten them."""

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0
    d: float = 32.0

    @property
    def b(self) -> float:
        return 64 * self.t1


def new_branch() -> str:
    return MAGIC_COOKIE + secrets.token_hex(8)


class State(enum.Enum):
    TRYING = "trying"
    CALLING = "calling"
    PROCEEDING = "proceeding"
    COMPLETED = "completed"
    ACCEPTED = "accepted"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


# --- outputs ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Send:
    """Put `message` on the wire towards `peer` (responses: the request's source; the
    transport applies RFC 3261 18.2.2 routing)."""

    message: Message
    peer: Peer


@dataclass(frozen=True, slots=True)
class RequestReceived:
    """A new request for the TU; answer it with `TransactionLayer.respond(tx, ...)`."""

    tx: ServerTransaction
    request: Request


@dataclass(frozen=True, slots=True)
class AckReceived:
    """An ACK for a 2xx (its own transaction per RFC 3261 17), or for a non-2xx of `tx`."""

    request: Request
    peer: Peer


@dataclass(frozen=True, slots=True)
class Cancelled:
    """A CANCEL matched INVITE server transaction `tx`; the layer already sent 200 and 487."""

    tx: ServerTransaction


@dataclass(frozen=True, slots=True)
class ResponseReceived:
    tx: ClientTransaction
    response: Response


@dataclass(frozen=True, slots=True)
class StrayResponse:
    """A response no transaction matched (e.g. a retransmitted 2xx to INVITE: re-send ACK)."""

    response: Response
    peer: Peer


@dataclass(frozen=True, slots=True)
class TimedOut:
    """Client: timer B/F (no final response), or `transport_error` (the peer could not be
    reached; RFC 3261 8.1.3.1 treats it as 503). Server: timer H (no ACK) or a TU that never
    answered a non-INVITE request."""

    tx: ClientTransaction | ServerTransaction
    transport_error: bool = False


Output = (
    Send | RequestReceived | AckReceived | Cancelled | ResponseReceived | StrayResponse | TimedOut
)


# --- keys ---------------------------------------------------------------------------


def server_key(request: Request) -> tuple[str, ...]:
    """RFC 3261 17.2.3: branch + sent-by + method (ACK matches INVITE); RFC 2543 fallback."""
    via = request.top_via
    method = "INVITE" if request.method == "ACK" else request.method
    sent_by = f"{via.host}:{via.port or ''}"
    branch = via.branch or ""
    if branch.startswith(MAGIC_COOKIE):
        return (branch, sent_by, method)
    to_tag = "" if method == "INVITE" else request.to.tag or ""
    return (
        "2543",
        str(request.uri),
        to_tag,
        request.from_.tag or "",
        request.call_id,
        str(request.cseq[0]),
        sent_by,
        method,
    )


def client_key(branch: str, method: str) -> tuple[str, str]:
    return (branch, "INVITE" if method == "ACK" else method)


def ack_dialog_key(message: Message) -> tuple[str, str, int]:
    """(Call-ID, From tag, CSeq number): how an ACK for a 2xx finds its INVITE."""
    return (message.call_id, message.from_.tag or "", message.cseq[0])


# --- transactions -------------------------------------------------------------------


@dataclass(eq=False)
class _Base:
    peer: Peer
    timers: Timers
    state: State
    request: Request
    deadlines: dict[str, float] = field(default_factory=dict)
    out: list[Output] = field(default_factory=list)

    def next_timeout(self) -> float | None:
        return min(self.deadlines.values(), default=None)

    @property
    def terminated(self) -> bool:
        return self.state is State.TERMINATED

    def _terminate(self) -> None:
        self.state = State.TERMINATED
        self.deadlines.clear()

    def _send(self, message: Message) -> None:
        self.out.append(Send(message, self.peer))


@dataclass(eq=False)
class ServerTransaction(_Base):
    """INVITE or non-INVITE server transaction (RFC 3261 17.2, 2xx retransmission of 13.3.1.4)."""

    key: tuple[str, ...] = ()
    last_response: Response | None = None
    interval: float = 0.0
    ack_key: tuple[str, str, int] | None = None

    @property
    def is_invite(self) -> bool:
        return self.request.method == "INVITE"

    def start(self, now: float) -> None:
        if self.is_invite:
            self._send(make_response(self.request, 100))
        else:
            # A TU that never answers must not keep the transaction forever.
            self.deadlines["tu"] = now + self.timers.b

    def on_request(self, request: Request, now: float) -> None:
        """A retransmission of the request (or the ACK of a non-2xx final)."""
        if request.method == "ACK":
            if self.state is State.COMPLETED:
                self.state = State.CONFIRMED
                self.deadlines = {"I": now + (0.0 if self.peer.reliable else self.timers.t4)}
            return
        if self.state in (State.PROCEEDING, State.COMPLETED) and self.last_response is not None:
            self._send(self.last_response)
        elif self.is_invite and self.state is State.PROCEEDING:
            self._send(make_response(self.request, 100))

    def on_ack_2xx(self) -> None:
        if self.state is State.ACCEPTED:
            self._terminate()

    def respond(self, response: Response, now: float) -> None:
        if self.state not in (State.TRYING, State.PROCEEDING):
            raise TransactionError(f"cannot respond in state {self.state.value}")
        self.last_response = response
        self._send(response)
        self.deadlines.pop("tu", None)
        if response.status < 200:
            self.state = State.PROCEEDING
            return
        t1, reliable = self.timers.t1, self.peer.reliable
        if not self.is_invite:
            self.state = State.COMPLETED
            self.deadlines = {"J": now + (0.0 if reliable else 64 * t1)}
        elif response.status < 300:
            # RFC 6026 Accepted: the 2xx is retransmitted (any transport) until the ACK.
            self.state = State.ACCEPTED
            self.interval = t1
            self.deadlines = {"G": now + t1, "H": now + 64 * t1}
        else:
            self.state = State.COMPLETED
            self.interval = t1
            self.deadlines = {"H": now + 64 * t1}
            if not reliable:
                self.deadlines["G"] = now + t1

    def on_timer(self, now: float) -> None:
        for name, deadline in sorted(self.deadlines.items(), key=lambda item: item[1]):
            if deadline > now or self.terminated or name not in self.deadlines:
                continue
            if name == "G" and self.last_response is not None:
                self._send(self.last_response)
                self.interval = min(2 * self.interval, self.timers.t2)
                self.deadlines["G"] = now + self.interval
            elif name in ("H", "tu"):
                self._terminate()
                self.out.append(TimedOut(self))
            else:  # I, J
                self._terminate()


@dataclass(eq=False)
class ClientTransaction(_Base):
    """INVITE or non-INVITE client transaction (RFC 3261 17.1, RFC 6026 Accepted state)."""

    key: tuple[str, str] = ("", "")
    interval: float = 0.0
    ack: Request | None = None

    @property
    def is_invite(self) -> bool:
        return self.request.method == "INVITE"

    def start(self, now: float) -> None:
        self._send(self.request)
        t1 = self.timers.t1
        self.interval = t1
        retransmit, timeout = ("A", "B") if self.is_invite else ("E", "F")
        self.deadlines = {timeout: now + 64 * t1}
        if not self.peer.reliable:
            self.deadlines[retransmit] = now + t1

    def on_response(self, response: Response, now: float) -> None:
        status = response.status
        if self.state is State.COMPLETED:
            if self.ack is not None:  # retransmitted non-2xx final: ACK again
                self._send(self.ack)
            return
        if self.state is State.ACCEPTED:
            if 200 <= status < 300:
                self.out.append(ResponseReceived(self, response))
            return
        if status < 200:
            self.state = State.PROCEEDING
            if self.is_invite:
                self.deadlines.pop("A", None)
            self.out.append(ResponseReceived(self, response))
            return
        self.out.append(ResponseReceived(self, response))
        reliable = self.peer.reliable
        if self.is_invite and status < 300:
            self.state = State.ACCEPTED
            self.deadlines = {"M": now + 64 * self.timers.t1}
        elif self.is_invite:
            self.ack = make_ack(self.request, response)
            self._send(self.ack)
            self.state = State.COMPLETED
            self.deadlines = {"D": now + (0.0 if reliable else self.timers.d)}
        else:
            self.state = State.COMPLETED
            self.deadlines = {"K": now + (0.0 if reliable else self.timers.t4)}

    def on_timer(self, now: float) -> None:
        for name, deadline in sorted(self.deadlines.items(), key=lambda item: item[1]):
            if deadline > now or self.terminated or name not in self.deadlines:
                continue
            if name == "A" or name == "E":
                self._send(self.request)
                self.interval = 2 * self.interval
                if not self.is_invite:  # timer E: capped at T2, T2 once Proceeding
                    self.interval = min(self.interval, self.timers.t2)
                    if self.state is State.PROCEEDING:
                        self.interval = self.timers.t2
                self.deadlines[name] = now + self.interval
            elif name in ("B", "F"):
                self._terminate()
                self.out.append(TimedOut(self))
            else:  # D, K, M
                self._terminate()


def make_ack(invite: Request, response: Response) -> Request:
    """The ACK for a non-2xx final response (RFC 3261 17.1.1.3): same branch and route."""
    headers = Headers()
    headers.add("Via", invite.headers.get_all("via")[0])
    for name in ("max-forwards", "from"):
        value = invite.headers.get(name)
        if value is not None:
            headers.add(name.title(), value)
    headers.add("To", response.headers.get("to") or "")
    headers.add("Call-ID", invite.call_id)
    headers.add("CSeq", f"{invite.cseq[0]} ACK")
    for name, value in invite.headers:
        if canonical_name(name) == "route":
            headers.add(name, value)
    return Request("ACK", invite.uri, headers)


class TransactionError(RuntimeError):
    """A TU call the transaction cannot honour (bad state, table full)."""


# --- the layer ----------------------------------------------------------------------


class TransactionLayer:
    """All transactions of one UA, keyed per RFC 3261 17.1.3/17.2.3; bounded in number."""

    def __init__(
        self,
        timers: Timers = Timers(),
        *,
        max_transactions: int = 2000,
        max_per_source: int | None = None,
        reserved: int = 0,
    ) -> None:
        """At most `max_transactions` in all; server transactions of one source address at
        most `max_per_source`; the last `reserved` places only for privileged requests
        (trusted sources), so a flood from others cannot keep the PBX's calls out."""
        per_source = max_transactions if max_per_source is None else max_per_source
        if min(max_transactions, per_source) < 1 or not 0 <= reserved < max_transactions:
            raise ValueError("max_transactions and max_per_source >= 1, 0 <= reserved < max")
        self.timers = timers
        self.max_transactions = max_transactions
        self.max_per_source = per_source
        self.reserved = reserved
        self._server: dict[tuple[str, ...], ServerTransaction] = {}
        self._client: dict[tuple[str, str], ClientTransaction] = {}
        self._accepted: dict[tuple[str, str, int], ServerTransaction] = {}
        self._per_source: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._server) + len(self._client)

    def receive(
        self, message: Message, peer: Peer, now: float, *, privileged: bool = False
    ) -> list[Output]:
        if isinstance(message, Response):
            return self._receive_response(message, peer, now)
        return self._receive_request(message, peer, now, privileged)

    def knows(self, request: Request) -> bool:
        """Whether `request` belongs to a server transaction already here (a retransmission,
        or a CANCEL for a pending INVITE)."""
        key = server_key(request)
        if key in self._server:
            return True
        return request.method == "CANCEL" and (*key[:-1], "INVITE") in self._server

    def source_count(self, host: str) -> int:
        return self._per_source.get(host, 0)

    def _full(self, peer: Peer, privileged: bool) -> bool:
        if len(self) >= self.max_transactions:
            return True
        if privileged:
            return False
        return (
            len(self) >= self.max_transactions - self.reserved
            or self._per_source.get(peer.host, 0) >= self.max_per_source
        )

    def _receive_request(
        self, request: Request, peer: Peer, now: float, privileged: bool
    ) -> list[Output]:
        key = server_key(request)
        tx = self._server.get(key)
        if request.method == "ACK":
            if tx is not None and tx.state is not State.ACCEPTED:
                tx.on_request(request, now)
                return self._drain(tx)
            accepted = self._accepted.get(ack_dialog_key(request))
            if accepted is not None:
                accepted.on_ack_2xx()
                self._drain(accepted)
            return [AckReceived(request, peer)]
        if tx is not None:
            tx.on_request(request, now)
            return self._drain(tx)
        if self._full(peer, privileged):
            return [Send(make_response(request, 503, extra=[("Retry-After", "5")]), peer)]
        tx = ServerTransaction(peer, self.timers, State.TRYING, request, key=key)
        if tx.is_invite:
            tx.state = State.PROCEEDING
        self._server[key] = tx
        self._per_source[peer.host] = self._per_source.get(peer.host, 0) + 1
        tx.start(now)
        if request.method == "CANCEL":
            return self._drain(tx) + self._cancel(tx, now)
        return [*self._drain(tx), RequestReceived(tx, request)]

    def _cancel(self, cancel_tx: ServerTransaction, now: float) -> list[Output]:
        invite_key = (*cancel_tx.key[:-1], "INVITE")
        invite_tx = self._server.get(invite_key)
        if invite_tx is None:
            cancel_tx.respond(make_response(cancel_tx.request, 481), now)
            return self._drain(cancel_tx)
        to_tag = _to_tag(invite_tx) or secrets.token_hex(6)
        cancel_tx.respond(make_response(cancel_tx.request, 200, to_tag=to_tag), now)
        out = self._drain(cancel_tx)
        if invite_tx.state is State.PROCEEDING:
            invite_tx.respond(make_response(invite_tx.request, 487, to_tag=to_tag), now)
            out += self._drain(invite_tx)
            out.append(Cancelled(invite_tx))
        return out

    def _receive_response(self, response: Response, peer: Peer, now: float) -> list[Output]:
        try:
            branch = response.top_via.branch or ""
            method = response.cseq[1]
        except SipParseError:
            return []
        tx = self._client.get(client_key(branch, method))
        if tx is None:
            return [StrayResponse(response, peer)]
        tx.on_response(response, now)
        return self._drain(tx)

    def respond(self, tx: ServerTransaction, response: Response, now: float) -> list[Output]:
        """The TU's response to the request of `tx`; raises TransactionError when too late."""
        tx.respond(response, now)
        if tx.state is State.ACCEPTED:
            tx.ack_key = ack_dialog_key(tx.request)
            self._accepted[tx.ack_key] = tx
        return self._drain(tx)

    def send_request(
        self, request: Request, peer: Peer, now: float
    ) -> tuple[ClientTransaction, list[Output]]:
        """Starts a client transaction for `request` (its top Via carries a fresh branch)."""
        if len(self) >= self.max_transactions:
            raise TransactionError("too many transactions")
        key = client_key(request.top_via.branch or "", request.method)
        if key in self._client:
            raise TransactionError("branch already in use")
        state = State.CALLING if request.method == "INVITE" else State.TRYING
        tx = ClientTransaction(peer, self.timers, state, request, key=key)
        self._client[key] = tx
        tx.start(now)
        return tx, self._drain(tx)

    def transport_failed(self, peer: Peer) -> list[Output]:
        """Ends the pending client transactions towards `peer` (a TCP connect failed)."""
        out: list[Output] = []
        for tx in list(self._client.values()):
            if tx.peer == peer and tx.state in (State.CALLING, State.TRYING, State.PROCEEDING):
                tx._terminate()
                out += [*self._drain(tx), TimedOut(tx, transport_error=True)]
        return out

    def next_timeout(self) -> float | None:
        deadlines = [
            t
            for tx in (*self._server.values(), *self._client.values())
            if (t := tx.next_timeout()) is not None
        ]
        return min(deadlines, default=None)

    def on_timer(self, now: float) -> list[Output]:
        out: list[Output] = []
        txs: list[ServerTransaction | ClientTransaction] = [*self._server.values()]
        txs += self._client.values()
        for tx in txs:
            due = tx.next_timeout()
            if due is not None and due <= now:
                tx.on_timer(now)
                out += self._drain(tx)
        return out

    def _drain(self, tx: ServerTransaction | ClientTransaction) -> list[Output]:
        out, tx.out = tx.out, []
        if tx.terminated:
            if isinstance(tx, ServerTransaction):
                if self._server.pop(tx.key, None) is tx:
                    left = self._per_source.get(tx.peer.host, 0) - 1
                    if left > 0:
                        self._per_source[tx.peer.host] = left
                    else:
                        self._per_source.pop(tx.peer.host, None)
                if tx.ack_key is not None and self._accepted.get(tx.ack_key) is tx:
                    del self._accepted[tx.ack_key]
            else:
                self._client.pop(tx.key, None)
        return out


def _to_tag(tx: ServerTransaction) -> str | None:
    if tx.last_response is not None:
        return tx.last_response.to.tag
    return None
