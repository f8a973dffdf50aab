"""The web chat wire protocol, versions 1 and 2, sans-I/O: JSON text frames in, messages out.

Version 2 adds the live takeover: staff lines (`staff`), the handoff states `taken` and
`returned` with the clerk's display name, typing with a name, and the citizen's `typing`.
A version 1 widget gets the same conversation through `adapt` (staff lines as bot lines).

`parse_client` / `encode_client` and `parse_server` / `encode_server` are exact inverses
(see tests/channels/test_protocol.py); `docs/webchat-protocol.md` describes the frames.
Parsing raises `ProtocolError` with a machine `code` and a German `text` for the widget.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any

from contract.language import Register
from dialogue.messages import Button, Link  # the wire shape is the dialogue's

VERSION = 2
VERSIONS = (1, 2)  # what a widget may say in its hello; the server answers in the same
MAX_NAME_CHARS = 80  # a clerk's display name on the wire
MAX_SERVER_FRAME_BYTES = 1 << 24  # a server frame read by test clients (a long history)
MAX_LINE_CHARS = 1 << 20  # a text in a server frame
MAX_ID_CHARS = 64
HELLO_LANGUAGES = ("de", "en")  # a hello's `language` preset
MAX_PAYLOAD_CHARS = 200
MAX_DEPTH = 8  # nesting of arrays/objects in a frame; version 1 needs 3 at most
MAX_INT_DIGITS = 20  # digits of an integer in a frame; version 1 needs 1


class ErrorCode(StrEnum):
    """Why a frame was refused; sent as `code` in error frames."""

    BAD_JSON = "bad_json"
    BAD_FRAME = "bad_frame"
    UNKNOWN_TYPE = "unknown_type"
    UNSUPPORTED_VERSION = "unsupported_version"
    FRAME_TOO_LARGE = "frame_too_large"
    MESSAGE_TOO_LONG = "message_too_long"
    RATE_LIMITED = "rate_limited"
    NOT_READY = "not_ready"
    ORIGIN_FORBIDDEN = "origin_forbidden"
    TOO_MANY_CONNECTIONS = "too_many_connections"
    UNAVAILABLE = "unavailable"
    FRAME_TOO_COMPLEX = "frame_too_complex"
    TOO_MANY_SESSIONS = "too_many_sessions"
    BUSY = "busy"

    @property
    def closes(self) -> bool:
        """Whether the server closes the socket (1008) after this error."""
        return self in _CLOSING


_CLOSING = frozenset(
    {
        ErrorCode.ORIGIN_FORBIDDEN,
        ErrorCode.TOO_MANY_CONNECTIONS,
        ErrorCode.FRAME_TOO_COMPLEX,
        ErrorCode.TOO_MANY_SESSIONS,
        ErrorCode.BUSY,
    }
)

ERROR_TEXT = {
    ErrorCode.BAD_JSON: "Die Nachricht konnte nicht gelesen werden.",
    ErrorCode.BAD_FRAME: "Die Nachricht hat ein ungültiges Format.",
    ErrorCode.UNKNOWN_TYPE: "Diese Art von Nachricht wird nicht unterstützt.",
    ErrorCode.UNSUPPORTED_VERSION: "Bitte laden Sie die Seite neu (veraltete Chat-Version).",
    ErrorCode.FRAME_TOO_LARGE: "Die Nachricht ist zu lang. Bitte kürzen Sie sie.",
    ErrorCode.MESSAGE_TOO_LONG: "Die Nachricht ist zu lang. Bitte kürzen Sie sie.",
    ErrorCode.RATE_LIMITED: "Sie senden sehr schnell. Bitte warten Sie einen Moment "
    "und senden Sie die Nachricht dann noch einmal.",
    ErrorCode.NOT_READY: "Die Verbindung wird noch aufgebaut. Bitte versuchen Sie es gleich "
    "noch einmal.",
    ErrorCode.ORIGIN_FORBIDDEN: "Der Chat ist auf dieser Website nicht freigeschaltet.",
    ErrorCode.TOO_MANY_CONNECTIONS: "Zu viele gleichzeitige Verbindungen. Bitte schließen Sie "
    "andere Chat-Fenster.",
    ErrorCode.UNAVAILABLE: "Der Chat ist gerade gestört. Ihre Nachricht wurde nicht "
    "angenommen. Bitte versuchen Sie es in wenigen Minuten noch einmal. Im Notfall wählen "
    "Sie bitte sofort 112 oder 110.",
    ErrorCode.FRAME_TOO_COMPLEX: "Die Nachricht hat ein ungültiges Format. Die Verbindung "
    "wurde beendet.",
    ErrorCode.TOO_MANY_SESSIONS: "Von Ihrem Anschluss wurden in kurzer Zeit zu viele Chats "
    "begonnen. Bitte warten Sie einige Minuten und laden Sie die Seite dann neu.",
    ErrorCode.BUSY: "Der Chat ist gerade ausgelastet und kann keine neuen Gespräche "
    "annehmen. Bitte versuchen Sie es später noch einmal. Im Notfall wählen Sie bitte sofort "
    "112 oder 110.",
}


class CloseCode(IntEnum):
    """WebSocket close codes the server uses besides the standard ones."""

    POLICY = 1008  # foreign Origin, too many connections or sessions, a hostile frame
    IDLE = 4000  # no frame for the idle timeout; the widget resumes when needed
    ENDED = 4001  # the conversation was ended and deleted


class ProtocolError(ValueError):
    """A frame that cannot be accepted; `code` for developers, `text` for the citizen."""

    def __init__(self, code: ErrorCode, detail: str = "") -> None:
        super().__init__(f"{code.value}: {detail}" if detail else code.value)
        self.code = code
        self.detail = detail

    @property
    def text(self) -> str:
        return ERROR_TEXT[self.code]


# --- client -> server ---


@dataclass(frozen=True, slots=True)
class Hello:
    """First frame: resume the session of `token`, or start one when None. `register`: the
    embedding page's preset (wire fields `language` "de"|"en" and `einfach` true), or None."""

    token: str | None = None
    version: int = VERSION
    register: Register | None = None


@dataclass(frozen=True, slots=True)
class SendText:
    id: str
    text: str


@dataclass(frozen=True, slots=True)
class Choose:
    """A quick reply was clicked: `payload` goes to the dialogue, `title` was shown."""

    id: str
    payload: str
    title: str


@dataclass(frozen=True, slots=True)
class AskHuman:
    """The "Mit einem Menschen sprechen" button."""

    id: str


@dataclass(frozen=True, slots=True)
class EndSession:
    """ "Gespräch beenden und löschen"."""


@dataclass(frozen=True, slots=True)
class Ping:
    pass


@dataclass(frozen=True, slots=True)
class CitizenTyping:
    """Version 2: the citizen is typing (on) or stopped; shown to a clerk who took over."""

    on: bool


@dataclass(frozen=True, slots=True)
class KeyPress:
    """A key of the widget's keypad during a browser call (WebRTC has no telephone-event)."""

    key: str


KEYPAD = "0123456789*#"

ClientMessage = Hello | SendText | Choose | AskHuman | EndSession | Ping | CitizenTyping | KeyPress

# --- server -> client ---


@dataclass(frozen=True, slots=True)
class UserLine:
    """Something the citizen said (history, or mirrored from another tab); `at` is the Unix
    time of a history line (live lines carry none: the widget shows when it received them)."""

    text: str
    at: float | None = None


@dataclass(frozen=True, slots=True)
class BotLine:
    text: str
    buttons: tuple[Button, ...] = ()
    links: tuple[Link, ...] = ()
    at: float | None = None


@dataclass(frozen=True, slots=True)
class StaffLine:
    """Version 2: what a clerk wrote; `name` is their display name."""

    text: str
    name: str
    at: float | None = None


class HandoffState(StrEnum):
    REQUESTED = "requested"
    TAKEN = "taken"  # version 2: a clerk (`name`) answers now
    RETURNED = "returned"  # version 2: the assistant answers again


@dataclass(frozen=True, slots=True)
class HandoffStatus:
    state: HandoffState
    case_id: str | None = None
    at: float | None = None
    name: str | None = None


Line = UserLine | BotLine | StaffLine | HandoffStatus


@dataclass(frozen=True, slots=True)
class Welcome:
    """Answer to Hello: the token to keep, and the conversation so far."""

    token: str
    resumed: bool
    history: tuple[Line, ...] = ()
    version: int = VERSION


@dataclass(frozen=True, slots=True)
class Ack:
    """The message `id` is in the transcript; the replies follow."""

    id: str


@dataclass(frozen=True, slots=True)
class Typing:
    """The assistant (name None) or a clerk (version 2: `name`) is typing."""

    on: bool
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Error:
    code: ErrorCode
    text: str
    id: str | None = None

    @classmethod
    def of(cls, exc: ProtocolError, id: str | None = None) -> Error:
        return cls(exc.code, exc.text, id)


@dataclass(frozen=True, slots=True)
class Ended:
    """The conversation ended; `text` says what was deleted and what is kept, for how long."""

    text: str = ""


@dataclass(frozen=True, slots=True)
class Pong:
    pass


ServerMessage = (
    Welcome | Ack | UserLine | BotLine | StaffLine | HandoffStatus | Typing | Error | Ended | Pong
)


# --- parsing helpers ---


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


def _nesting(text: str) -> int:
    """The deepest nesting of arrays and objects outside strings (no recursion)."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub("", text)):
        depth += 1 if match.group() in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _bounded_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise ProtocolError(ErrorCode.FRAME_TOO_COMPLEX, f"integer over {MAX_INT_DIGITS} digits")
    return int(digits)


def _load(frame: str | bytes, max_bytes: int) -> dict[str, Any]:
    size = len(frame.encode("utf-8")) if isinstance(frame, str) else len(frame)
    if size > max_bytes:
        raise ProtocolError(ErrorCode.FRAME_TOO_LARGE, f"{size} bytes, limit {max_bytes}")
    try:
        text = frame.decode("utf-8") if isinstance(frame, bytes) else frame
    except UnicodeDecodeError as exc:
        raise ProtocolError(ErrorCode.BAD_JSON, str(exc)) from None
    if _nesting(text) > MAX_DEPTH:
        raise ProtocolError(ErrorCode.FRAME_TOO_COMPLEX, f"nested deeper than {MAX_DEPTH}")
    try:
        data = json.loads(text, parse_int=_bounded_int)
    except json.JSONDecodeError as exc:
        raise ProtocolError(ErrorCode.BAD_JSON, str(exc)) from None
    except RecursionError:  # not reached after the nesting check; kept as a backstop
        raise ProtocolError(ErrorCode.FRAME_TOO_COMPLEX, "nested too deep") from None
    if not isinstance(data, dict):
        raise ProtocolError(ErrorCode.BAD_FRAME, "a frame is a JSON object")
    if not isinstance(data.get("type"), str):
        raise ProtocolError(ErrorCode.BAD_FRAME, "'type' must be a string")
    return data


def _str(data: dict[str, Any], name: str, *, limit: int, empty: bool = False) -> str:
    value = data.get(name)
    if not isinstance(value, str):
        raise ProtocolError(ErrorCode.BAD_FRAME, f"'{name}' must be a string")
    if len(value) > limit:
        raise ProtocolError(ErrorCode.BAD_FRAME, f"'{name}' longer than {limit}")
    if not empty and not value:
        raise ProtocolError(ErrorCode.BAD_FRAME, f"'{name}' must not be empty")
    return value


def _opt_str(data: dict[str, Any], name: str, *, limit: int) -> str | None:
    return None if data.get(name) is None else _str(data, name, limit=limit)


def _bool(data: dict[str, Any], name: str) -> bool:
    value = data.get(name)
    if not isinstance(value, bool):
        raise ProtocolError(ErrorCode.BAD_FRAME, f"'{name}' must be true or false")
    return value


def _register(data: dict[str, Any]) -> Register | None:
    """The hello's preset: `language` "de" or "en" (optional), `einfach` true (German only)."""
    language = data.get("language")
    if language is not None and language not in HELLO_LANGUAGES:
        raise ProtocolError(ErrorCode.BAD_FRAME, '\'language\' must be "de" or "en"')
    einfach = _bool(data, "einfach") if "einfach" in data else False
    if einfach:
        if language == Register.EN.value:
            raise ProtocolError(ErrorCode.BAD_FRAME, "'einfach' is for German only")
        return Register.EINFACH
    return Register(language) if language is not None else None


def _version(data: dict[str, Any]) -> int:
    version = data.get("v")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ProtocolError(ErrorCode.BAD_FRAME, "'v' must be an integer")
    if version not in VERSIONS:
        raise ProtocolError(ErrorCode.UNSUPPORTED_VERSION, f"version {version}, want {VERSION}")
    return version


def _objects(data: dict[str, Any], name: str) -> list[dict[str, Any]]:
    value = data.get(name, [])
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ProtocolError(ErrorCode.BAD_FRAME, f"'{name}' must be a list of objects")
    return value


# --- client frames ---


def parse_client(frame: str | bytes, *, max_bytes: int = 8192) -> ClientMessage:
    """One frame from the widget; raises ProtocolError."""
    data = _load(frame, max_bytes)
    text_limit = max_bytes  # a text cannot be longer than its frame anyway
    match data["type"]:
        case "hello":
            return Hello(
                token=_opt_str(data, "token", limit=128),
                version=_version(data),
                register=_register(data),
            )
        case "text":
            return SendText(
                id=_str(data, "id", limit=MAX_ID_CHARS),
                text=_str(data, "text", limit=text_limit, empty=True),
            )
        case "choice":
            return Choose(
                id=_str(data, "id", limit=MAX_ID_CHARS),
                payload=_str(data, "payload", limit=MAX_PAYLOAD_CHARS),
                title=_str(data, "title", limit=MAX_PAYLOAD_CHARS, empty=True),
            )
        case "human":
            return AskHuman(id=_str(data, "id", limit=MAX_ID_CHARS))
        case "end":
            return EndSession()
        case "ping":
            return Ping()
        case "typing":
            return CitizenTyping(_bool(data, "on"))
        case "key":
            key = _str(data, "key", limit=1)
            if key not in KEYPAD:
                raise ProtocolError(ErrorCode.BAD_FRAME, "'key' must be one of 0-9 * #")
            return KeyPress(key)
        case other:
            raise ProtocolError(ErrorCode.UNKNOWN_TYPE, f"unknown type {other[:40]!r}")


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def encode_client(message: ClientMessage) -> str:
    match message:
        case Hello(token, version, register):
            hello: dict[str, Any] = {"type": "hello", "v": version, "token": token}
            if register is Register.EINFACH:
                hello.update(language=Register.DE.value, einfach=True)
            elif register is not None:
                hello["language"] = register.value
            return _dump(hello)
        case SendText(id, text):
            return _dump({"type": "text", "id": id, "text": text})
        case Choose(id, payload, title):
            return _dump({"type": "choice", "id": id, "payload": payload, "title": title})
        case AskHuman(id):
            return _dump({"type": "human", "id": id})
        case EndSession():
            return _dump({"type": "end"})
        case Ping():
            return _dump({"type": "ping"})
        case CitizenTyping(on):
            return _dump({"type": "typing", "on": on})
        case KeyPress(key):
            return _dump({"type": "key", "key": key})


# --- server frames ---


def _line_fields(line: Line) -> dict[str, Any]:
    fields: dict[str, Any]
    match line:
        case UserLine(text):
            fields = {"type": "user", "text": text}
        case BotLine(text, buttons, links):
            fields = {
                "type": "bot",
                "text": text,
                "buttons": [{"title": b.title, "payload": b.payload} for b in buttons],
                "links": [{"title": link.title, "url": link.url} for link in links],
            }
        case StaffLine(text, name):
            fields = {"type": "staff", "text": text, "name": name}
        case HandoffStatus(state, case_id, _, name):
            fields = {"type": "handoff", "state": state.value, "case_id": case_id}
            if name is not None:
                fields["name"] = name
    if line.at is not None:
        fields["at"] = line.at
    return fields


def _opt_time(data: dict[str, Any]) -> float | None:
    value = data.get("at")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1e11:
        raise ProtocolError(ErrorCode.BAD_FRAME, "'at' must be a Unix time in seconds")
    return float(value)


def encode_server(message: ServerMessage) -> str:
    match message:
        case UserLine() | BotLine() | StaffLine() | HandoffStatus():
            return _dump(_line_fields(message))
        case Welcome(token, resumed, history, version):
            return _dump(
                {
                    "type": "welcome",
                    "v": version,
                    "token": token,
                    "resumed": resumed,
                    "history": [_line_fields(line) for line in history],
                }
            )
        case Ack(id):
            return _dump({"type": "ack", "id": id})
        case Typing(on, None):
            return _dump({"type": "typing", "on": on})
        case Typing(on, name):
            return _dump({"type": "typing", "on": on, "name": name})
        case Error(code, text, id):
            return _dump({"type": "error", "code": code.value, "text": text, "id": id})
        case Ended(text):
            return _dump({"type": "ended", "text": text} if text else {"type": "ended"})
        case Pong():
            return _dump({"type": "pong"})


def _parse_line(data: dict[str, Any]) -> Line:
    limit = MAX_LINE_CHARS
    match data.get("type"):
        case "user":
            return UserLine(_str(data, "text", limit=limit, empty=True), _opt_time(data))
        case "bot":
            buttons = tuple(
                Button(_str(b, "title", limit=limit), _str(b, "payload", limit=limit))
                for b in _objects(data, "buttons")
            )
            links = tuple(
                Link(_str(li, "title", limit=limit), _str(li, "url", limit=limit))
                for li in _objects(data, "links")
            )
            text = _str(data, "text", limit=limit, empty=True)
            return BotLine(text, buttons, links, _opt_time(data))
        case "staff":
            text = _str(data, "text", limit=limit, empty=True)
            return StaffLine(text, _str(data, "name", limit=MAX_NAME_CHARS), _opt_time(data))
        case "handoff":
            try:
                state = HandoffState(str(data.get("state")))
            except ValueError:
                raise ProtocolError(ErrorCode.BAD_FRAME, "unknown handoff state") from None
            return HandoffStatus(
                state,
                _opt_str(data, "case_id", limit=limit),
                _opt_time(data),
                _opt_str(data, "name", limit=MAX_NAME_CHARS),
            )
        case other:
            raise ProtocolError(ErrorCode.UNKNOWN_TYPE, f"not a line: {other!r}")


def parse_server(frame: str | bytes) -> ServerMessage:
    """One frame from the server (used by test clients and the benchmark)."""
    data = _load(frame, MAX_SERVER_FRAME_BYTES)
    match data["type"]:
        case "user" | "bot" | "staff" | "handoff":
            return _parse_line(data)
        case "welcome":
            history = tuple(_parse_line(line) for line in _objects(data, "history"))
            return Welcome(
                token=_str(data, "token", limit=128),
                resumed=_bool(data, "resumed"),
                history=history,
                version=_version(data),
            )
        case "ack":
            return Ack(_str(data, "id", limit=MAX_ID_CHARS))
        case "typing":
            return Typing(_bool(data, "on"), _opt_str(data, "name", limit=MAX_NAME_CHARS))
        case "error":
            try:
                code = ErrorCode(str(data.get("code")))
            except ValueError:
                raise ProtocolError(ErrorCode.BAD_FRAME, "unknown error code") from None
            return Error(
                code,
                _str(data, "text", limit=1000),
                _opt_str(data, "id", limit=MAX_ID_CHARS),
            )
        case "ended":
            return Ended(_opt_str(data, "text", limit=1000) or "")
        case "pong":
            return Pong()
        case other:
            raise ProtocolError(ErrorCode.UNKNOWN_TYPE, f"unknown type {other[:40]!r}")


# --- version 1 widgets ---

TAKEN_TEXT = "Sie schreiben jetzt mit {name} (Stadtverwaltung)."
RETURNED_TEXT = "Sie schreiben wieder mit dem automatischen Assistenten."


def taken_text(name: str) -> str:
    return TAKEN_TEXT.format(name=name)


def _line_v1(line: Line) -> Line:
    match line:
        case StaffLine(text, name, at):
            return BotLine(f"{name} (Stadtverwaltung): {text}", at=at)
        case HandoffStatus(HandoffState.TAKEN, _, at, name):
            return BotLine(taken_text(name or "einer Mitarbeiterin"), at=at)
        case HandoffStatus(HandoffState.RETURNED, _, at):
            return BotLine(RETURNED_TEXT, at=at)
    return line


def downgrade(message: ServerMessage) -> ServerMessage:
    """The message as a version 1 widget understands it: staff lines and takeover changes
    become bot lines, a clerk's typing plain typing."""
    match message:
        case StaffLine() | HandoffStatus():
            return _line_v1(message)
        case Typing(on, str()):
            return Typing(on)
        case Welcome(token, resumed, history, _):
            return Welcome(token, resumed, tuple(_line_v1(line) for line in history), 1)
    return message


def adapt(frame: str, version: int) -> str:
    """A server frame for a widget that speaks `version` (frames of version 2 pass as is)."""
    if version >= VERSION:
        return frame
    return encode_server(downgrade(parse_server(frame)))
