"""The web chat endpoint `/ws/chat`: one WebSocket per browser tab, speaking
`channels.protocol`, answered by the shared `DialogueCore`.

Each connection has two tasks in one TaskGroup: a receiver that parses frames and runs
turns one after another, and a sender that writes queued frames in order (replies to this
tab and lines mirrored from the session's other tabs). All session state is in Redis.
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from redis import exceptions as redis_errors
from starlette.websockets import WebSocket, WebSocketDisconnect

from channels.admission import SessionAdmission
from channels.fanout import Fanout
from channels.limits import ChatLimits, TokenBucket, origin_allowed
from channels.protocol import (
    Ack,
    AskHuman,
    BotLine,
    Choose,
    CitizenTyping,
    ClientMessage,
    CloseCode,
    Ended,
    EndSession,
    Error,
    ErrorCode,
    HandoffState,
    HandoffStatus,
    Hello,
    KeyPress,
    Line,
    Ping,
    Pong,
    ProtocolError,
    SendText,
    ServerMessage,
    StaffLine,
    Typing,
    UserLine,
    Welcome,
    adapt,
    encode_server,
    parse_client,
)
from channels.sessions import TokenStore
from contract.conversation import Marker
from contract.language import Register
from dialogue.core import DialogueCore, MessageTooLong
from dialogue.live import LiveFeed
from dialogue.messages import BotReply, Button, Channel, Handoff, Link, Role, UserTurn
from dialogue.records import TranscriptRecord
from dialogue.store import ConversationStore, StoreFull

log = logging.getLogger(__name__)

HUMAN_PAYLOAD = "/human_handoff"  # the Rasa intent behind "Mit einem Menschen sprechen"
HUMAN_TITLE = "Mit einem Menschen sprechen"
ENDED_PREFIX = encode_server(Ended())[:-1]  # '{"type": "ended"', with or without a text
TYPING_EVERY_S = 1.0  # the citizen's typing reaches the clerk at most this often
_REDIS_ERRORS = (redis_errors.RedisError, OSError)


def reply_lines(
    text: str,
    buttons: Iterable[Button],
    links: Iterable[Link],
    handoff: Handoff | None,
    *,
    at: float | None = None,
) -> list[Line]:
    """The protocol lines of one bot reply (a bubble, then the handoff status if any)."""
    lines: list[Line] = []
    buttons_out = tuple(buttons)
    links_out = tuple(links)
    if text or buttons_out or links_out:
        lines.append(BotLine(text, buttons_out, links_out, at))
    if handoff is not None:
        lines.append(HandoffStatus(HandoffState.REQUESTED, handoff.case_id, at))
    return lines


def replies_to_lines(replies: Iterable[BotReply]) -> list[Line]:
    return [line for r in replies for line in reply_lines(r.text, r.buttons, r.links, r.handoff)]


def history_lines(records: Iterable[TranscriptRecord]) -> tuple[Line, ...]:
    """The transcript as the widget shows it, each line with its time: a quick reply appears
    as the title it was offered under (the latest offer wins); asking for a person always
    as HUMAN_TITLE; a clerk's lines with their name, takeovers as handoff states."""
    lines: list[Line] = []
    offered: dict[str, str] = {HUMAN_PAYLOAD: HUMAN_TITLE}
    for record in records:
        match record.role:
            case Role.USER:
                lines.append(UserLine(offered.get(record.text, record.text), record.ts))
            case Role.STAFF:
                lines.append(StaffLine(record.text, record.name or "", record.ts))
            case Role.SYSTEM if record.marker is Marker.TAKEN:
                name = record.name or ""
                lines.append(HandoffStatus(HandoffState.TAKEN, None, record.ts, name))
            case Role.SYSTEM if record.marker is Marker.RETURNED:
                lines.append(HandoffStatus(HandoffState.RETURNED, None, record.ts))
            case Role.SYSTEM if record.marker is Marker.CLOSED:  # goodbye, then the assistant
                lines.append(BotLine(record.text, at=record.ts))
                lines.append(HandoffStatus(HandoffState.RETURNED, None, record.ts))
            case Role.BOT | Role.SYSTEM:
                lines += reply_lines(
                    record.text, record.buttons, record.links, record.handoff, at=record.ts
                )
                offered.update({b.payload: b.title for b in record.buttons})
                offered[HUMAN_PAYLOAD] = HUMAN_TITLE  # one name for "a person, please"
    return tuple(lines)


@dataclass(frozen=True, slots=True)
class _Close:
    """Sender instruction: close the socket (code None: it is closed already)."""

    code: int | None


@dataclass(slots=True)
class _Session:
    token: str
    session_id: str
    bucket: TokenBucket
    touched: float


@dataclass(frozen=True, slots=True)
class EndTexts:
    """What "Gespräch beenden und löschen" tells the citizen afterwards, with the retention
    in days (built from the settings in the composition root)."""

    closed_case_days: int = 90
    booking_days: int = 30
    ticket_days: int = 180
    callback_days: int = 30

    @property
    def records(self) -> str:
        return (
            "Termine, Schadensmeldungen und Rückrufwünsche, die Sie angelegt haben, bleiben "
            f"bestehen: Termine bis {self.booking_days} Tage nach dem Termin, Meldungen "
            f"{self.ticket_days} Tage, Rückrufwünsche {self.callback_days} Tage."
        )

    @property
    def deleted(self) -> str:
        return (
            "Das Gespräch wurde beendet. Der Verlauf ist gelöscht, in diesem Fenster und auf "
            f"unserem Server. {self.records} Sie können jederzeit ein neues Gespräch beginnen."
        )

    @property
    def kept(self) -> str:
        return (
            "Das Gespräch wurde beendet und aus diesem Fenster gelöscht. Auf unserem Server "
            "bleibt der Verlauf bei Ihrem Vorgang, bis die Mitarbeiterinnen und Mitarbeiter ihn "
            f"abgeschlossen haben, und wird {self.closed_case_days} Tage danach gelöscht. "
            f"{self.records}"
        )


class ChatEndpoint:
    """The `/ws/chat` handler; built once in the composition root."""

    def __init__(
        self,
        *,
        core: DialogueCore,
        store: ConversationStore,
        tokens: TokenStore,
        fanout: Fanout,
        limits: ChatLimits,
        admission: SessionAdmission,
        end_texts: EndTexts = EndTexts(),
        live: LiveFeed | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`live` carries the citizen's typing to a clerk who took the chat over."""
        self.core = core
        self.end_texts = end_texts
        self.live = live
        self.admission = admission
        self.store = store
        self.tokens = tokens
        self.fanout = fanout
        self.limits = limits
        self.clock = clock
        self._per_ip: Counter[str] = Counter()
        self._buckets: dict[str, tuple[TokenBucket, int]] = {}
        self.keypad: Callable[[str, str], bool] | None = None
        """Hands a keypad key to the session's browser call (set once calls can run)."""

    @property
    def connections(self) -> int:
        return sum(self._per_ip.values())

    async def handle(self, ws: WebSocket) -> None:
        origin = ws.headers.get("origin")
        if not origin_allowed(
            origin, host=ws.headers.get("host"), allowed=self.limits.allowed_origins
        ):
            log.info("chat connection refused: origin %.80s is not allowed", origin)
            await _refuse(ws, ErrorCode.ORIGIN_FORBIDDEN)
            return
        ip = ws.client.host if ws.client else "?"
        if self._per_ip[ip] >= self.limits.max_connections_per_ip:
            log.info("chat connection refused: too many connections from one address")
            await _refuse(ws, ErrorCode.TOO_MANY_CONNECTIONS)
            return
        self._per_ip[ip] += 1
        try:
            await ws.accept()
            await _Connection(self, ws, ip).run()
        finally:
            self._per_ip[ip] -= 1
            if not self._per_ip[ip]:
                del self._per_ip[ip]

    def bucket(self, session_id: str) -> TokenBucket:
        """The session's rate limit, shared by its tabs on this gateway."""
        bucket, users = self._buckets.get(session_id, (None, 0))
        if bucket is None:
            bucket = TokenBucket(
                rate_per_minute=self.limits.rate_per_minute,
                burst=self.limits.rate_burst,
                clock=self.clock,
            )
        self._buckets[session_id] = (bucket, users + 1)
        return bucket

    def release_bucket(self, session_id: str) -> None:
        bucket, users = self._buckets[session_id]
        if users <= 1:
            del self._buckets[session_id]
        else:
            self._buckets[session_id] = (bucket, users - 1)


async def _refuse(ws: WebSocket, code: ErrorCode) -> None:
    """Tells a browser why (an HTTP 403 would be invisible to the page), then closes."""
    await ws.accept()
    await ws.send_text(encode_server(Error.of(ProtocolError(code))))
    await ws.close(code=CloseCode.POLICY)


class _Connection:
    def __init__(self, endpoint: ChatEndpoint, ws: WebSocket, address: str) -> None:
        self._ep = endpoint
        self._ws = ws
        self._address = address
        self._conn_id = secrets.token_hex(8)
        self._queue: asyncio.Queue[str | _Close] = asyncio.Queue()
        self._overflowed = False
        self._session: _Session | None = None
        self._version = 1  # until the hello says otherwise
        self._typed_at = -math.inf

    async def run(self) -> None:
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._send_loop(), name="chat-send")
                close = await self._receive_loop()
                self._queue.put_nowait(_Close(close))
        finally:
            if self._session is not None:
                self._ep.fanout.unregister(self._session.session_id, self._conn_id)
                self._ep.release_bucket(self._session.session_id)

    # --- output ---

    def send(self, *messages: ServerMessage) -> None:
        for message in messages:
            self.deliver(encode_server(message))

    def deliver(self, frame: str) -> None:
        """Queues a frame for this tab (in the tab's protocol version); a tab that does not
        read is closed (it resumes)."""
        if self._overflowed:
            return
        try:
            frame = adapt(frame, self._version)
        except ProtocolError as exc:  # never from our own frames; one bad frame is dropped
            log.warning("chat frame not adapted for an old widget: %s", exc.code.value)
            return
        if self._queue.qsize() >= self._ep.limits.send_queue:
            self._overflowed = True
            log.warning("chat connection closed: the browser does not read its frames")
            self._queue.put_nowait(_Close(1013))
            return
        self._queue.put_nowait(frame)

    async def _send_loop(self) -> None:
        try:
            while True:
                item = await self._queue.get()
                match item:
                    case str() as frame:
                        await self._ws.send_text(frame)
                        if frame.startswith(ENDED_PREFIX):
                            await self._ws.close(code=CloseCode.ENDED)
                            return
                    case _Close(code):
                        if code is not None:
                            await self._ws.close(code=code)
                        return
        except (WebSocketDisconnect, RuntimeError, OSError):
            return  # the browser went away; the receiver sees the disconnect

    async def _publish(self, *messages: ServerMessage) -> None:
        if self._session is not None:
            frames = [encode_server(m) for m in messages]
            await self._ep.fanout.publish(self._session.session_id, self._conn_id, *frames)

    # --- input ---

    async def _receive_loop(self) -> int | None:
        """Runs until the browser leaves (None) or the socket must close (its code)."""
        limits = self._ep.limits
        while True:
            try:
                async with asyncio.timeout(limits.idle_timeout_s):
                    message = await self._ws.receive()
            except TimeoutError:
                return CloseCode.IDLE
            if message["type"] == "websocket.disconnect":
                return None
            frame = message.get("text")
            if frame is None:
                frame = message.get("bytes") or b""
            try:
                parsed = parse_client(frame, max_bytes=limits.max_frame_bytes)
            except ProtocolError as exc:
                log.info("chat frame refused: %s", exc.code.value)
                self.send(Error.of(exc))
                if exc.code.closes:
                    return CloseCode.POLICY
                continue
            try:
                close = await self._dispatch(parsed)
            except _REDIS_ERRORS as exc:
                log.warning("chat: Redis unavailable (%s)", type(exc).__name__)
                self.send(Error.of(ProtocolError(ErrorCode.UNAVAILABLE), _message_id(parsed)))
                close = 1011 if self._session is None else None
            if close is not None:
                return close

    async def _dispatch(self, parsed: ClientMessage) -> int | None:
        session = self._session
        match parsed:
            case Ping():
                self.send(Pong())
            case Hello(token, version, register):
                if session is not None:
                    self.send(Error.of(ProtocolError(ErrorCode.BAD_FRAME, "hello twice")))
                else:
                    self._version = version
                    return await self._hello(token, register)
            case _ if session is None:
                self.send(Error.of(ProtocolError(ErrorCode.NOT_READY), _message_id(parsed)))
            case SendText(id, text):
                await self._turn(session, id, text, shown=text)
            case Choose(id, payload, title):
                await self._turn(session, id, payload, shown=title or payload)
            case AskHuman(id):
                await self._turn(session, id, HUMAN_PAYLOAD, shown=HUMAN_TITLE)
            case EndSession():
                await self._end(session)
                return CloseCode.ENDED
            case CitizenTyping(on):
                await self._typing(session, on)
            case KeyPress(key):
                keypad = self._ep.keypad
                if keypad is None or not keypad(session.session_id, key):
                    self.send(Error.of(ProtocolError(ErrorCode.NOT_READY, "no call running")))
        return None

    async def _typing(self, session: _Session, on: bool) -> None:
        """Passes the citizen's typing on, at most every TYPING_EVERY_S (stops always)."""
        now = self._ep.clock()
        if self._ep.live is None or (on and now - self._typed_at < TYPING_EVERY_S):
            return
        self._typed_at = now if on else -math.inf
        await self._ep.live.typing(session.session_id, on)

    async def _hello(self, token: str | None, register: Register | None = None) -> int | None:
        ep = self._ep
        session_id = await ep.tokens.resolve(token) if token else None
        if token is not None and session_id is not None:
            history = history_lines(await ep.store.transcript(session_id))
            self._bind(token, session_id, touched=ep.clock())
            self.send(Welcome(token=token, resumed=True, history=history))
            log.info("chat session resumed (%d lines)", len(history))
            return None
        refusal = await ep.admission.admit(self._address)
        if refusal is not None:
            log.info("chat session refused: %s", refusal.value)
            self.send(Error.of(ProtocolError(refusal)))
            return CloseCode.POLICY
        token, session_id = await ep.tokens.create()
        self._bind(token, session_id, touched=-math.inf)  # the first turn refreshes the token
        self.send(Welcome(token=token, resumed=False), Typing(True))
        try:
            replies = await ep.core.greet(session_id, Channel.WEBCHAT, register=register)
        except BaseException:
            self.send(Typing(False))
            raise
        self.send(*replies_to_lines(replies), Typing(False))
        await ep.admission.expire_unanswered(session_id, token, greeting_lines=len(replies))
        log.info("chat session started")
        return None

    def _bind(self, token: str, session_id: str, *, touched: float) -> None:
        self._session = _Session(token, session_id, self._ep.bucket(session_id), touched)
        self._ep.fanout.register(session_id, self._conn_id, self.deliver)

    async def _turn(self, session: _Session, id: str, text: str, *, shown: str) -> None:
        if not session.bucket.take():
            log.info("chat message refused: rate limit")
            self.send(Error.of(ProtocolError(ErrorCode.RATE_LIMITED), id))
            return
        if not text.strip():
            self.send(Error.of(ProtocolError(ErrorCode.BAD_FRAME, "empty text"), id))
            return
        self.send(Typing(True))
        try:
            replies = await self._ep.core.handle(
                UserTurn(session.session_id, Channel.WEBCHAT, text)
            )
        except MessageTooLong:
            self.send(Typing(False), Error.of(ProtocolError(ErrorCode.MESSAGE_TOO_LONG), id))
            return
        except StoreFull:
            self.send(Typing(False), Error.of(ProtocolError(ErrorCode.UNAVAILABLE), id))
            return
        lines = replies_to_lines(replies)
        self.send(Ack(id), *lines, Typing(False))
        await self._publish(UserLine(shown), *lines)
        now = self._ep.clock()
        # refresh the token's idle expiry, at most ten times per expiry period
        if now - session.touched >= self._ep.limits.session_idle_s / 10:
            session.touched = now
            await self._ep.tokens.touch(session.token)

    async def _end(self, session: _Session) -> None:
        deleted = await self._ep.store.delete_conversation(session.session_id)
        await self._ep.tokens.forget(session.token)
        ended = Ended(self._ep.end_texts.deleted if deleted else self._ep.end_texts.kept)
        await self._publish(ended)
        self.send(ended)
        log.info(
            "chat session ended by the citizen (%s)", "deleted" if deleted else "kept for its case"
        )


def _message_id(parsed: object) -> str | None:
    match parsed:
        case SendText(id) | Choose(id) | AskHuman(id):
            return id
    return None
