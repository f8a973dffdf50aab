"""asyncio SIP transports: one UDP endpoint and one TCP server on the same address and port,
plus outbound TCP connections for requests to TCP peers. They only move bytes; every received
message goes to one callback, whose exceptions are caught and logged (no message content) so
nothing a peer sends can stop the transport. Responses are routed per RFC 3261 18.2.2 and
RFC 3581 (rport).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import traceback
from collections.abc import Callable

from telephony.sip.framing import FramingError, StreamFramer
from telephony.sip.message import MAX_MESSAGE_BYTES, Headers, Message, Response, Via, split_list
from telephony.sip.transaction import Peer

logger = logging.getLogger(__name__)

OnMessage = Callable[[bytes, Peer], None]


def _log_dropped(error: BaseException) -> None:
    # The exception text may quote the message (numbers, names): log only type and place.
    frames = traceback.extract_tb(error.__traceback__)
    where = f"{frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else "?"
    logger.error("SIP message dropped: %s at %s", type(error).__name__, where)


def mark_received(headers: Headers, source: Peer) -> None:
    """RFC 3261 18.2.1 / RFC 3581: adds received (and the rport value) to the top Via."""
    for index, (name, value) in enumerate(headers.fields):
        if name.strip().lower() not in ("via", "v"):
            continue
        parts = split_list(value)
        via = Via.parse(parts[0])
        params: dict[str, str | None] = {}
        if via.host != source.host or via.rport is not None:
            params["received"] = source.host
        if via.rport is not None:
            params["rport"] = str(source.port)
        if params:
            parts[0] = str(via.with_params(**params))
            headers.fields[index] = (name, ", ".join(parts))
        return


def response_destination(via: Via, source: Peer) -> Peer:
    """Where a response goes (RFC 3261 18.2.2, RFC 3581 4): over a reliable transport the
    connection it came on; over UDP the rport/received address, else the Via sent-by."""
    if source.reliable:
        return source
    host = via.received or via.host
    if via.rport:
        return Peer("udp", host, int(via.rport)) if via.rport.isdigit() else source
    return Peer("udp", host, via.port or 5060)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, owner: SipTransport) -> None:
        self.owner = owner

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if not data.strip():
            return  # keep-alive
        self.owner.deliver(data, Peer("udp", str(addr[0]), int(addr[1])))


class _Tcp(asyncio.Protocol):
    def __init__(self, owner: SipTransport, outbound_peer: Peer | None = None) -> None:
        self.owner = owner
        self.framer = StreamFramer(max_message_bytes=owner.max_message_bytes)
        self.transport: asyncio.Transport | None = None
        self.peer = outbound_peer
        self.loop = asyncio.get_running_loop()
        self.last_activity = self.loop.time()
        self.idle_handle: asyncio.TimerHandle | None = None
        # An inbound connection must send a whole message soon; ours are trusted to.
        self.proven = outbound_peer is not None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        first = self.owner.idle_timeout_s
        if not self.proven:
            first = min(first, self.owner.first_message_s)
        self.idle_handle = self.loop.call_later(first, self._check_idle)
        if self.peer is None:
            host, port = transport.get_extra_info("peername")[:2]
            self.peer = Peer("tcp", str(host), int(port))
        if not self.owner.register(self.peer, self):
            transport.close()

    def _check_idle(self) -> None:
        if not self.proven:
            logger.info("SIP over TCP: no complete message in time, closing the connection")
            self.close()
            return
        idle = self.loop.time() - self.last_activity
        if idle >= self.owner.idle_timeout_s:
            self.close()
        else:
            remaining = self.owner.idle_timeout_s - idle
            self.idle_handle = self.loop.call_later(remaining, self._check_idle)

    def data_received(self, data: bytes) -> None:
        assert self.peer is not None
        self.last_activity = self.loop.time()
        try:
            messages = self.framer.feed(data)
        except FramingError:
            logger.warning("SIP over TCP: framing lost, closing the connection")
            self.close()
            return
        if messages and not self.proven:
            self.proven = True
            if self.idle_handle is not None:
                self.idle_handle.cancel()
            self.idle_handle = self.loop.call_later(self.owner.idle_timeout_s, self._check_idle)
        for message in messages:
            self.owner.deliver(message, self.peer)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.idle_handle is not None:
            self.idle_handle.cancel()
        if self.peer is not None:
            self.owner.unregister(self.peer, self)

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class SipTransport:
    """UDP + TCP on one address; `send()` never blocks (TCP connects run as owned tasks)."""

    def __init__(
        self,
        on_message: OnMessage,
        *,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        max_connections: int = 512,
        max_connections_per_host: int = 32,
        idle_timeout_s: float = 900.0,
        first_message_s: float = 10.0,
        on_unreachable: Callable[[Peer], None] | None = None,
    ) -> None:
        """`max_connections` bounds TCP connections (in and out), `max_connections_per_host`
        those of one remote address; an inbound one that has not sent a whole message within
        `first_message_s`, or receives nothing for `idle_timeout_s` (CRLF keep-alives
        count), is closed."""
        self.on_message = on_message
        self.max_message_bytes = max_message_bytes
        self.max_connections = max_connections
        self.max_connections_per_host = max_connections_per_host
        self.idle_timeout_s = idle_timeout_s
        self.first_message_s = first_message_s
        self.on_unreachable = on_unreachable
        self.addresses: dict[str, tuple[str, int]] = {}
        self._udp: asyncio.DatagramTransport | None = None
        self._server: asyncio.Server | None = None
        self._connections: dict[Peer, _Tcp] = {}
        self._per_host: dict[str, int] = {}
        self._connecting: dict[Peer, list[bytes]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, host: str, port: int, transports: tuple[str, ...]) -> None:
        loop = asyncio.get_running_loop()
        for attempt in range(20):
            try:
                await self._bind(loop, host, port, transports)
                return
            except OSError:
                await self.close()
                if port != 0 or attempt == 19:
                    raise

    async def _bind(
        self, loop: asyncio.AbstractEventLoop, host: str, port: int, transports: tuple[str, ...]
    ) -> None:
        if "udp" in transports:
            udp, _ = await loop.create_datagram_endpoint(
                lambda: _Udp(self), local_addr=(host, port)
            )
            self._udp = udp
            sockname = udp.get_extra_info("sockname")
            self.addresses["udp"] = (str(sockname[0]), int(sockname[1]))
            port = int(sockname[1])
        if "tcp" in transports:
            self._server = await loop.create_server(
                lambda: _Tcp(self), host, port, reuse_address=True
            )
            sockname = self._server.sockets[0].getsockname()
            self.addresses["tcp"] = (str(sockname[0]), int(sockname[1]))

    def deliver(self, data: bytes, peer: Peer) -> None:
        try:
            self.on_message(data, peer)
        except Exception as error:  # noqa: BLE001 - nothing a peer sends may stop the transport
            _log_dropped(error)

    def register(self, peer: Peer, connection: _Tcp) -> bool:
        if peer not in self._connections:
            if self._per_host.get(peer.host, 0) >= self.max_connections_per_host:
                logger.warning(
                    "SIP over TCP: %s has %d connections, refusing another",
                    peer.host,
                    self.max_connections_per_host,
                )
                return False
            if len(self._connections) >= self.max_connections:
                logger.warning("SIP over TCP: connection limit reached, refusing a connection")
                return False
            self._per_host[peer.host] = self._per_host.get(peer.host, 0) + 1
        else:
            self._connections[peer].close()  # a reused address and port: the old one is dead
        self._connections[peer] = connection
        return True

    def unregister(self, peer: Peer, connection: _Tcp) -> None:
        if self._connections.get(peer) is connection:
            del self._connections[peer]
            left = self._per_host.get(peer.host, 0) - 1
            if left > 0:
                self._per_host[peer.host] = left
            else:
                self._per_host.pop(peer.host, None)

    def connected(self, peer: Peer) -> bool:
        return peer in self._connections

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    def send(self, message: Message, peer: Peer, *, route: bool = True) -> None:
        """Sends a request to `peer`, or a response per its Via (`peer`: the request's source;
        `route=False` sends it straight back there, e.g. for errors about unreadable Vias)."""
        if isinstance(message, Response) and route:
            try:
                via = message.top_via
            except ValueError:
                return
            peer = response_destination(via, peer)
            if peer.reliable and peer not in self._connections:
                # The connection is gone: open one to the Via sent-by (RFC 3261 18.2.2).
                peer = Peer(peer.transport, via.received or via.host, via.port or 5060)
        if not _is_ip(peer.host):
            logger.warning("SIP message to a host name dropped (resolve before sending)")
            return
        data = bytes(message)
        if peer.transport == "udp":
            if self._udp is not None and not self._udp.is_closing():
                self._udp.sendto(data, (peer.host, peer.port))
            return
        connection = self._connections.get(peer)
        if connection is not None:
            connection.write(data)
        elif peer in self._connecting:
            if len(self._connecting[peer]) < 64:
                self._connecting[peer].append(data)
        elif len(self._connecting) < self.max_connections:
            self._connecting[peer] = [data]
            task = asyncio.get_running_loop().create_task(self._connect(peer))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _connect(self, peer: Peer) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, protocol = await asyncio.wait_for(
                loop.create_connection(lambda: _Tcp(self, peer), peer.host, peer.port), 10.0
            )
        except (OSError, TimeoutError):
            logger.warning("SIP over TCP: could not connect to a peer")
            self._connecting.pop(peer, None)
            if self.on_unreachable is not None:
                try:
                    self.on_unreachable(peer)
                except Exception as error:  # noqa: BLE001 - keep the transport alive
                    _log_dropped(error)
            return
        for data in self._connecting.pop(peer, []):
            protocol.write(data)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        for connection in list(self._connections.values()):
            connection.close()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None
        self._connections.clear()
        self._per_host.clear()
        self._connecting.clear()
