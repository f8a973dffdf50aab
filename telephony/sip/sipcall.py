"""`SipCall`: one INVITE dialog as the application sees it (answer, reject, hang up, transfer).

Driven by `UserAgent` (telephony/sip/ua.py), which feeds it ACKs, CANCELs, BYEs and NOTIFYs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from telephony.sip.dialog import Dialog, session_timer
from telephony.sip.message import Request, SipParseError, make_response, parse_uri
from telephony.sip.transaction import Peer, ServerTransaction

if TYPE_CHECKING:
    from telephony.sip.ua import UserAgent

logger = logging.getLogger(__name__)

SDP = "application/sdp"
DTMF_DIGITS = "0123456789*#ABCD"


class SipCallError(Exception):
    """A call failed with SIP `status` (408 for timeouts and missing ACK)."""

    def __init__(self, status: int, reason: str = "") -> None:
        super().__init__(f"{status} {reason}".strip())
        self.status = status
        self.reason = reason


def mask_number(value: str | None) -> str:
    """A caller number for logs: "+4930123456" -> "+49…456"."""
    if not value:
        return "-"
    if len(value) <= 6:
        return "…" + value[-2:]
    return f"{value[:3]}…{value[-3:]}"


class SipCall:
    """One INVITE dialog given to the application (inbound or outbound)."""

    def __init__(
        self,
        ua: UserAgent,
        dialog: Dialog,
        *,
        remote_uri: str,
        caller_id: str | None,
        remote_sdp: bytes,
        source: Peer,
        invite_tx: ServerTransaction | None = None,
        local_sdp: bytes = b"",
    ) -> None:
        self._ua = ua
        self._dialog = dialog
        self.call_id = dialog.call_id
        self.remote_uri = remote_uri
        self.caller_id = caller_id
        self.dialed: str | None = None  # Request-URI user of an inbound call
        self.remote_sdp = remote_sdp
        self.source = (source.host, source.port)
        self._peer = source
        self._invite_tx = invite_tx
        self._answered = invite_tx is None
        self._local_sdp = local_sdp
        self._ended: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._ack: asyncio.Future[None] | None = None
        self._refer: asyncio.Future[bool] | None = None
        self._duration: asyncio.TimerHandle | None = None
        self._ring_limit: asyncio.TimerHandle | None = None
        self._session: asyncio.TimerHandle | None = None
        self.on_reoffer: Callable[[bytes], bytes | None] | None = None
        self.on_dtmf: Callable[[str], None] | None = None  # SIP INFO application/dtmf-relay

    @property
    def is_ended(self) -> bool:
        return self._ended.done()

    # --- what the user agent reads ----------------------------------------------------

    @property
    def dialog(self) -> Dialog:
        return self._dialog

    @property
    def peer(self) -> Peer:
        """Where the call's signalling came from (inbound) or went to (outbound)."""
        return self._peer

    @property
    def answered(self) -> bool:
        return self._answered

    @property
    def local_sdp(self) -> bytes:
        return self._local_sdp

    @property
    def invite_tx(self) -> ServerTransaction | None:
        return self._invite_tx

    def offer_answered(self, offer: bytes, answer: bytes) -> None:
        """Records a re-INVITE/UPDATE offer and our answer to it."""
        self.remote_sdp = offer
        self._local_sdp = answer

    @property
    def masked_caller(self) -> str:
        return mask_number(self.caller_id)

    async def ended(self) -> str:
        """Waits until the dialog ends: "bye", "cancel", "timeout", "local", "max_duration"."""
        return await asyncio.shield(self._ended)

    async def ringing(self) -> None:
        if self._invite_tx is None or self._answered or self.is_ended:
            return
        self._respond(180)

    async def accept(self, sdp: bytes) -> None:
        """200 OK with `sdp`, retransmitted until the ACK; SipCallError(408) without one."""
        if self.is_ended:
            raise SipCallError(487, "call ended")
        if self._answered or self._invite_tx is None:
            raise SipCallError(500, "already answered")
        self._answered = True
        if self._ring_limit is not None:
            self._ring_limit.cancel()
        self._local_sdp = sdp
        self._ack = asyncio.get_running_loop().create_future()
        timer = session_timer(self._invite_tx.request, min_se=self._ua.config.min_se)
        extra = [
            *self._ua.common_headers(self._peer.transport),
            ("Content-Type", SDP),
            *timer.headers,
        ]
        if not self._respond(200, extra=extra, body=sdp):
            raise SipCallError(487, "call ended")
        self._dialog.confirmed = True
        ack = self._ack
        waits: list[asyncio.Future[object]] = [ack, self._ended]  # type: ignore[list-item]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        acked = ack.done() and not ack.cancelled() and ack.exception() is None
        if not acked:
            if self.is_ended:  # BYE (or stop) before the ACK
                raise SipCallError(487, "call ended")
            self._ua.send_bye(self)  # timer H: RFC 3261 13.3.1.4 asks for a BYE
            self.mark_ended("timeout")
            raise SipCallError(408, "no ACK")
        self.start_duration_limit()
        self.start_session_timer(timer.interval, we_refresh=timer.we_refresh)
        logger.info("call %s answered (caller %s)", self.call_id[:8], self.masked_caller)

    async def reject(
        self, status: int, reason: str, headers: Mapping[str, str] | None = None
    ) -> None:
        if self._answered or self.is_ended:
            return
        if not 300 <= status <= 699:
            raise ValueError("reject needs a 3xx-6xx status")
        self._respond(status, reason, extra=list((headers or {}).items()))
        self.mark_ended("local")

    async def bye(self) -> None:
        """Ends the call from our side (idempotent): BYE when answered, else 480."""
        if self.is_ended:
            return
        if not self._answered:
            await self.reject(480, "Temporarily Unavailable")
            return
        self._ua.send_bye(self)
        self.mark_ended("local")

    async def refer(self, target: str) -> bool:
        """Blind transfer to `target` (a sip:/sips:/tel: URI); True when the NOTIFY progress
        reports a 2xx final. ValueError for a malformed target."""
        try:
            parse_uri(target)
        except SipParseError as error:
            raise ValueError("malformed transfer target") from error
        if not self._answered or self.is_ended or self._refer is not None:
            return False
        loop = asyncio.get_running_loop()
        self._refer = loop.create_future()
        deadline = loop.time() + self._ua.config.refer_timeout_s
        try:
            extra = [
                ("Refer-To", f"<{target}>"),
                ("Referred-By", self._ua.contact(self._peer.transport)),
            ]
            response = await self._ua.request_in_dialog(self, "REFER", extra)
            if response is None or not 200 <= response.status < 300:
                status = response.status if response else 408
                logger.info("call %s: REFER refused (%d)", self.call_id[:8], status)
                return False
            try:
                result = await asyncio.wait_for(
                    asyncio.shield(self._refer), max(0.0, deadline - loop.time())
                )
            except TimeoutError:
                result = False
            logger.info("call %s: transfer %s", self.call_id[:8], "done" if result else "failed")
            return result
        finally:
            self._refer = None

    # --- driven by the UA -----------------------------------------------------------

    def _respond(
        self,
        status: int,
        reason: str | None = None,
        *,
        extra: list[tuple[str, str]] | None = None,
        body: bytes = b"",
    ) -> bool:
        assert self._invite_tx is not None
        response = make_response(
            self._invite_tx.request,
            status,
            reason,
            to_tag=self._dialog.local_tag,
            extra=[("Contact", self._ua.contact(self._peer.transport))] + (extra or []),
            body=body,
        )
        return self._ua.respond(self._invite_tx, response)

    def ack_received(self) -> None:
        if self._ack is not None and not self._ack.done():
            self._ack.set_result(None)

    def ack_timed_out(self) -> None:
        if self._ack is not None and not self._ack.done():
            self._ack.set_exception(SipCallError(408, "no ACK"))
            self._ack.exception()  # accept() reads it; mark retrieved either way

    def notify_received(self, request: Request) -> None:
        if self._refer is None or self._refer.done():
            return
        first_line = request.body.split(b"\n", 1)[0].decode("utf-8", "replace").split()
        status = int(first_line[1]) if len(first_line) > 1 and first_line[1].isdigit() else 0
        state = (request.headers.get("subscription-state") or "").split(";")[0].strip().lower()
        if status >= 200:
            self._refer.set_result(status < 300)
        elif state == "terminated":
            self._refer.set_result(False)

    def info_received(self, body: bytes) -> None:
        for line in body.decode("utf-8", "replace").splitlines():
            name, _, value = line.partition("=")
            digit = value.strip().upper()
            if name.strip().lower() == "signal" and len(digit) == 1 and digit in DTMF_DIGITS:
                if self.on_dtmf is not None:
                    self.on_dtmf(digit)
                return

    def start_ring_limit(self, seconds: float) -> None:
        """Answers 480 and ends the call when the app has not answered within `seconds`."""
        self._ring_limit = asyncio.get_running_loop().call_later(seconds, self._unanswered)

    def _unanswered(self) -> None:
        if not self._answered and not self.is_ended:
            logger.info("call %s: not answered in time", self.call_id[:8])
            self._respond(480, "Temporarily Unavailable")
            self.mark_ended("timeout")

    def start_session_timer(self, interval: int | None, *, we_refresh: bool) -> None:
        """RFC 4028: we refresh (UPDATE) at half the interval, or, when the peer refreshes,
        end the call if no refresh came in time. Restarted by every refresh."""
        if self._session is not None:
            self._session.cancel()
            self._session = None
        if interval is None or self.is_ended:
            return
        loop = asyncio.get_running_loop()
        if we_refresh:
            self._session = loop.call_later(interval / 2, self._refresh, interval)
        else:
            self._session = loop.call_later(interval - min(32, interval / 3), self._expired)

    def _refresh(self, interval: int) -> None:
        self._ua.spawn(self._send_refresh(interval))

    async def _send_refresh(self, interval: int) -> None:
        role = "uas" if self._invite_tx is not None else "uac"  # we are the refresher
        extra = [("Session-Expires", f"{interval};refresher={role}"), ("Supported", "timer")]
        response = await self._ua.request_in_dialog(self, "UPDATE", extra)
        if self.is_ended:
            return
        if response is None or response.status in (408, 481):
            logger.info("call %s: session refresh failed", self.call_id[:8])
            self._ua.send_bye(self)
            self.mark_ended("timeout")
        elif 200 <= response.status < 300:
            self.start_session_timer(interval, we_refresh=True)
        else:  # e.g. 405/501: the peer cannot be refreshed with UPDATE; the duration limit stays
            logger.info("call %s: session refresh refused (%d)", self.call_id[:8], response.status)

    def _expired(self) -> None:
        if not self.is_ended:
            logger.info("call %s: session expired without refresh", self.call_id[:8])
            self._ua.send_bye(self)
            self.mark_ended("timeout")

    def start_duration_limit(self) -> None:
        """Ends the call with BYE after the configured maximum duration."""
        if self._duration is None and not self.is_ended:
            self._duration = asyncio.get_running_loop().call_later(
                self._ua.config.max_call_s, self._max_duration
            )

    def _max_duration(self) -> None:
        if not self.is_ended:
            logger.info("call %s: maximum duration reached", self.call_id[:8])
            self._ua.send_bye(self)
            self.mark_ended("max_duration")

    def mark_ended(self, reason: str) -> None:
        if self.is_ended:
            return
        self._ended.set_result(reason)
        for handle in (self._duration, self._ring_limit, self._session):
            if handle is not None:
                handle.cancel()
        if self._refer is not None and not self._refer.done():
            self._refer.set_result(False)
        if self._ack is not None and not self._ack.done():
            self._ack.cancel()
        self._ua.forget(self)
        logger.info("call %s ended: %s", self.call_id[:8], reason)
