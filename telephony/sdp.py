"""SDP (RFC 4566) parsing and serialising, and the RFC 3264 offer/answer rathausbot speaks:
one audio stream of PCMU or PCMA at 8 kHz with telephone-event (RFC 4733), ptime 20.

Sans-I/O. `answer_offer` serves inbound calls, `make_offer` and `parse_answer` outbound ones.
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass, replace
from enum import StrEnum


class SdpError(ValueError):
    """Malformed or unusable SDP; the text says why (the call gets 400 or 488)."""


class NoCommonCodec(SdpError):
    """The offer has no audio stream with PCMU or PCMA at 8 kHz (the call gets 488)."""


class Direction(StrEnum):
    SENDRECV = "sendrecv"
    SENDONLY = "sendonly"
    RECVONLY = "recvonly"
    INACTIVE = "inactive"

    @property
    def mirrored(self) -> Direction:
        """The direction of the answer to an offer with this one (RFC 3264 section 6.1)."""
        return _MIRROR[self]

    @property
    def sends(self) -> bool:
        return self in (Direction.SENDRECV, Direction.SENDONLY)

    @property
    def receives(self) -> bool:
        return self in (Direction.SENDRECV, Direction.RECVONLY)


_MIRROR = {
    Direction.SENDRECV: Direction.SENDRECV,
    Direction.SENDONLY: Direction.RECVONLY,
    Direction.RECVONLY: Direction.SENDONLY,
    Direction.INACTIVE: Direction.INACTIVE,
}
_DIRECTIONS = frozenset(d.value for d in Direction)

MAX_SDP_BYTES = 16_384
_SESSION_BEFORE_C = "iuep"  # RFC 4566 order: v o s i u e p c b t r z k a m
_SESSION_AFTER_C = "btrzk"
_MEDIA_BEFORE_C = "i"
_MEDIA_AFTER_C = "bk"


# --- the description -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Origin:
    username: str
    session_id: int
    version: int
    nettype: str
    addrtype: str
    address: str

    def __str__(self) -> str:
        return (
            f"{self.username} {self.session_id} {self.version} "
            f"{self.nettype} {self.addrtype} {self.address}"
        )


@dataclass(frozen=True, slots=True)
class Connection:
    nettype: str
    addrtype: str
    address: str  # may carry /ttl for multicast; `host` strips it

    @property
    def host(self) -> str:
        return self.address.split("/", 1)[0]

    def __str__(self) -> str:
        return f"{self.nettype} {self.addrtype} {self.address}"


@dataclass(frozen=True, slots=True)
class Attribute:
    name: str
    value: str | None = None  # None for a property attribute (`a=sendrecv`)

    def __str__(self) -> str:
        return self.name if self.value is None else f"{self.name}:{self.value}"


@dataclass(frozen=True, slots=True)
class Media:
    media: str  # audio, video, ...
    port: int  # 0: the stream is declined / disabled
    proto: str  # RTP/AVP, ...
    formats: tuple[str, ...]
    port_count: int | None = None
    connection: Connection | None = None
    fields: tuple[tuple[str, str], ...] = ()  # other lines (i, b, k) in order
    attributes: tuple[Attribute, ...] = ()

    def attribute(self, name: str) -> str | None:
        """The value of the first attribute `name` ("" for a property attribute)."""
        for attr in self.attributes:
            if attr.name == name:
                return attr.value or ""
        return None

    def rtpmap(self) -> dict[int, tuple[str, int]]:
        """Payload type -> (encoding name upper-case, clock rate), from a=rtpmap lines."""
        result: dict[int, tuple[str, int]] = {}
        for attr in self.attributes:
            if attr.name != "rtpmap" or not attr.value:
                continue
            pt, _, encoding = attr.value.partition(" ")
            name, _, rate = encoding.strip().partition("/")
            if pt.isdigit() and rate.split("/")[0].isdigit():
                result[int(pt)] = (name.upper(), int(rate.split("/")[0]))
        return result

    def fmtp(self, payload_type: int) -> str | None:
        for attr in self.attributes:
            if attr.name == "fmtp" and attr.value:
                pt, _, params = attr.value.partition(" ")
                if pt == str(payload_type):
                    return params.strip()
        return None


@dataclass(frozen=True, slots=True)
class SessionDescription:
    origin: Origin
    session_name: str = "-"
    connection: Connection | None = None
    fields: tuple[tuple[str, str], ...] = (("t", "0 0"),)  # other session lines in order
    attributes: tuple[Attribute, ...] = ()
    media: tuple[Media, ...] = ()

    def attribute(self, name: str) -> str | None:
        for attr in self.attributes:
            if attr.name == name:
                return attr.value or ""
        return None

    @classmethod
    def parse(cls, data: bytes) -> SessionDescription:
        return parse(data)

    def serialize(self) -> bytes:
        return serialize(self)

    def __bytes__(self) -> bytes:
        return serialize(self)


def parse(data: bytes) -> SessionDescription:
    """Parses SDP (CRLF or LF line ends); SdpError when malformed."""
    if len(data) > MAX_SDP_BYTES:
        raise SdpError("SDP too large")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SdpError("SDP is not UTF-8") from exc
    lines = [line.rstrip("\r") for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    if not lines or lines[0] != "v=0":
        raise SdpError("SDP must start with v=0")
    origin: Origin | None = None
    name = "-"
    s_conn: Connection | None = None
    s_fields: list[tuple[str, str]] = []
    s_attrs: list[Attribute] = []
    media: list[Media] = []
    for line in lines[1:]:
        if len(line) < 2 or line[1] != "=" or not ("a" <= line[0] <= "z"):
            raise SdpError(f"malformed SDP line {line[:40]!r}")
        kind, value = line[0], line[2:]
        if kind == "m":
            media.append(_parse_m(value))
        elif media:
            m = media[-1]
            if kind == "c":
                media[-1] = replace(m, connection=_parse_c(value))
            elif kind == "a":
                media[-1] = replace(m, attributes=(*m.attributes, _parse_a(value)))
            else:
                media[-1] = replace(m, fields=(*m.fields, (kind, value)))
        elif kind == "o":
            origin = _parse_o(value)
        elif kind == "s":
            name = value
        elif kind == "c":
            s_conn = _parse_c(value)
        elif kind == "a":
            s_attrs.append(_parse_a(value))
        elif kind == "v":
            raise SdpError("repeated v= line")
        else:
            s_fields.append((kind, value))
    if origin is None:
        raise SdpError("no o= line")
    return SessionDescription(origin, name, s_conn, tuple(s_fields), tuple(s_attrs), tuple(media))


def serialize(sdp: SessionDescription) -> bytes:
    lines = ["v=0", f"o={sdp.origin}", f"s={sdp.session_name}"]
    lines += [f"{k}={v}" for k, v in sdp.fields if k in _SESSION_BEFORE_C]
    if sdp.connection is not None:
        lines.append(f"c={sdp.connection}")
    lines += [f"{k}={v}" for k, v in sdp.fields if k not in _SESSION_BEFORE_C]
    lines += [f"a={a}" for a in sdp.attributes]
    for m in sdp.media:
        port = f"{m.port}/{m.port_count}" if m.port_count is not None else str(m.port)
        lines.append(f"m={' '.join((m.media, port, m.proto, *m.formats))}")
        lines += [f"{k}={v}" for k, v in m.fields if k in _MEDIA_BEFORE_C]
        if m.connection is not None:
            lines.append(f"c={m.connection}")
        lines += [f"{k}={v}" for k, v in m.fields if k not in _MEDIA_BEFORE_C]
        lines += [f"a={a}" for a in m.attributes]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def _parse_o(value: str) -> Origin:
    parts = value.split(" ")
    if len(parts) != 6 or not parts[1].isdigit() or not parts[2].isdigit():
        raise SdpError("malformed o= line")
    return Origin(parts[0], int(parts[1]), int(parts[2]), parts[3], parts[4], parts[5])


def _parse_c(value: str) -> Connection:
    parts = value.split(" ")
    if len(parts) != 3 or parts[0] != "IN" or parts[1] not in ("IP4", "IP6") or not parts[2]:
        raise SdpError("malformed c= line")
    return Connection(*parts)


def _parse_a(value: str) -> Attribute:
    name, sep, attr_value = value.partition(":")
    if not name:
        raise SdpError("empty attribute name")
    return Attribute(name, attr_value if sep else None)


def _parse_m(value: str) -> Media:
    parts = value.split(" ")
    if len(parts) < 3:
        raise SdpError("malformed m= line")
    port_text, _, count_text = parts[1].partition("/")
    if not port_text.isdigit() or int(port_text) > 65535:
        raise SdpError(f"bad port in m= line: {parts[1][:12]!r}")
    if count_text and not count_text.isdigit():
        raise SdpError("bad port count in m= line")
    formats = tuple(parts[3:])
    if not formats or not all(formats):
        raise SdpError("m= line without formats")
    return Media(
        parts[0], int(port_text), parts[2], formats, int(count_text) if count_text else None
    )


# --- offer / answer ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MediaParams:
    """What the RTP session needs from a completed offer/answer; `direction` is our side's
    (sendonly: we only send)."""

    remote_addr: tuple[str, int]
    payload_type: int
    codec: str  # "PCMU" | "PCMA"
    dtmf_payload_type: int | None
    ptime_ms: int = 20
    direction: str = "sendrecv"

    def __post_init__(self) -> None:
        if self.codec not in ("PCMU", "PCMA"):
            raise ValueError(f"unsupported codec {self.codec!r}")
        if self.direction not in _DIRECTIONS:
            raise ValueError(f"unknown direction {self.direction!r}")


_STATIC = {0: "PCMU", 8: "PCMA"}
_RTP_AVP = "RTP/AVP"


def _codec_of(m: Media, fmt: str) -> str | None:
    """ "PCMU" or "PCMA" when format `fmt` of `m` is G.711 at 8 kHz, else None."""
    if not fmt.isdigit():
        return None
    name, rate = m.rtpmap().get(int(fmt), (_STATIC.get(int(fmt), ""), 8000))
    return name if name in ("PCMU", "PCMA") and rate == 8000 else None


def _audio_codec(m: Media) -> tuple[int, str] | None:
    """The first PCMU/PCMA format of `m` in its own order."""
    for fmt in m.formats:
        if (name := _codec_of(m, fmt)) is not None:
            return int(fmt), name
    return None


def _telephone_event(m: Media) -> int | None:
    for pt, (name, rate) in m.rtpmap().items():
        if name == "TELEPHONE-EVENT" and rate == 8000 and str(pt) in m.formats:
            return pt
    return None


def _direction(sdp: SessionDescription, m: Media) -> Direction:
    for attrs in (m.attributes, sdp.attributes):
        for attr in attrs:
            if attr.name in _DIRECTIONS:
                return Direction(attr.name)
    return Direction.SENDRECV


def _remote_addr(sdp: SessionDescription, m: Media) -> tuple[str, int]:
    conn = m.connection or sdp.connection
    if conn is None:
        raise SdpError("no c= line for the audio stream")
    try:
        ip = ipaddress.ip_address(conn.host)
    except ValueError as exc:
        raise SdpError("c= address is not an IP address") from exc
    if (ip.version == 4) != (conn.addrtype == "IP4"):
        raise SdpError("c= address does not match its address type")
    return str(ip), m.port


def _addrtype(ip: str) -> str:
    try:
        return "IP6" if ipaddress.ip_address(ip).version == 6 else "IP4"
    except ValueError as exc:
        raise ValueError(f"local_ip {ip!r} is not an IP address") from exc


def _local_audio(local_port: int, pt: int, codec: str, dtmf: int | None, fmtp: str | None) -> Media:
    formats = [str(pt)] + ([str(dtmf)] if dtmf is not None else [])
    attrs = [Attribute("rtpmap", f"{pt} {codec}/8000")]
    if dtmf is not None:
        attrs.append(Attribute("rtpmap", f"{dtmf} telephone-event/8000"))
        attrs.append(Attribute("fmtp", f"{dtmf} {fmtp or '0-15'}"))
    attrs.append(Attribute("ptime", "20"))
    return Media("audio", local_port, _RTP_AVP, tuple(formats), attributes=tuple(attrs))


def _new_origin(local_ip: str, session_id: int | None, previous: bytes | None) -> Origin:
    version = 1
    if previous is not None:
        before = parse(previous).origin
        session_id, version = before.session_id, before.version + 1
    if session_id is None:
        session_id = secrets.randbits(62)
    return Origin("rathausbot", session_id, version, "IN", _addrtype(local_ip), local_ip)


def _finish(sdp: SessionDescription, previous: bytes | None) -> bytes:
    """Keeps the previous version when nothing else changed (RFC 3264 section 8)."""
    if previous is not None:
        before = parse(previous)
        if replace(sdp, origin=before.origin) == before:
            return previous
    return serialize(sdp)


def answer_offer(
    offer: bytes,
    local_ip: str,
    local_port: int,
    *,
    session_id: int | None = None,
    previous: bytes | None = None,
) -> tuple[bytes, MediaParams]:
    """Our answer to an SDP offer, and the media it agrees on.

    The first audio stream over RTP/AVP with PCMU or PCMA at 8 kHz (in the offerer's order)
    is answered, with telephone-event when offered; every other stream is declined (port 0),
    keeping the offer's m= lines in count and order. `previous` is our last answer in this
    dialog (re-INVITE): its o= session id is kept and the version incremented when the answer
    changed. Raises NoCommonCodec (answer 488) or SdpError (malformed offer).
    """
    sdp = parse(offer)
    if not sdp.media:
        raise SdpError("offer without m= lines")
    chosen: tuple[int, MediaParams, Media] | None = None
    for index, m in enumerate(sdp.media):
        if m.media != "audio" or m.port == 0 or m.proto.upper() != _RTP_AVP:
            continue
        codec = _audio_codec(m)
        if codec is None:
            continue
        remote = _remote_addr(sdp, m)
        offered = _direction(sdp, m)
        ours = offered.mirrored
        if remote[0] in ("0.0.0.0", "::"):  # RFC 2543 hold: the peer receives nothing
            ours = Direction.RECVONLY if ours.receives else Direction.INACTIVE
        dtmf = _telephone_event(m)
        params = MediaParams(remote, codec[0], codec[1], dtmf, 20, ours.value)
        answer_media = _local_audio(
            local_port, codec[0], codec[1], dtmf, m.fmtp(dtmf) if dtmf else None
        )
        answer_media = replace(
            answer_media,
            attributes=(*answer_media.attributes, Attribute(offered.mirrored.value)),
        )
        chosen = (index, params, answer_media)
        break
    if chosen is None:
        raise NoCommonCodec("no audio stream with PCMU or PCMA at 8000 Hz over RTP/AVP")
    index, params, answer_media = chosen
    media = tuple(
        answer_media if i == index else Media(m.media, 0, m.proto, m.formats[:1])
        for i, m in enumerate(sdp.media)
    )
    answer = SessionDescription(
        origin=_new_origin(local_ip, session_id, previous),
        session_name="rathausbot",
        connection=Connection("IN", _addrtype(local_ip), local_ip),
        fields=(("t", "0 0"),),
        media=media,
    )
    return _finish(answer, previous), params


def make_offer(
    local_ip: str,
    local_port: int,
    *,
    session_id: int | None = None,
    previous: bytes | None = None,
    direction: str = "sendrecv",
) -> bytes:
    """Our offer for an outbound call: PCMU, PCMA, telephone-event 101, ptime 20."""
    offer = SessionDescription(
        origin=_new_origin(local_ip, session_id, previous),
        session_name="rathausbot",
        connection=Connection("IN", _addrtype(local_ip), local_ip),
        fields=(("t", "0 0"),),
        media=(
            Media(
                "audio",
                local_port,
                _RTP_AVP,
                ("0", "8", "101"),
                attributes=(
                    Attribute("rtpmap", "0 PCMU/8000"),
                    Attribute("rtpmap", "8 PCMA/8000"),
                    Attribute("rtpmap", "101 telephone-event/8000"),
                    Attribute("fmtp", "101 0-15"),
                    Attribute("ptime", "20"),
                    Attribute(Direction(direction).value),
                ),
            ),
        ),
    )
    return _finish(offer, previous)


def parse_answer(answer: bytes, offer_sent: bytes) -> MediaParams:
    """The media agreed by the answer to our offer; NoCommonCodec when the answerer declined
    the audio stream or chose nothing we offered, SdpError when malformed."""
    sdp, offer = parse(answer), parse(offer_sent)
    if len(sdp.media) != len(offer.media):
        raise SdpError("answer does not have the offer's m= lines")
    for m, ours in zip(sdp.media, offer.media, strict=True):
        if m.media != "audio" or m.port == 0 or ours.port == 0:
            continue
        codec = _audio_codec(m)
        if codec is None or codec[1] not in {_codec_of(ours, fmt) for fmt in ours.formats}:
            continue
        dtmf = _telephone_event(m) if _telephone_event(ours) is not None else None
        mine = _direction(sdp, m).mirrored
        remote = _remote_addr(sdp, m)
        if remote[0] in ("0.0.0.0", "::"):
            mine = Direction.RECVONLY if mine.receives else Direction.INACTIVE
        return MediaParams(remote, codec[0], codec[1], dtmf, 20, mine.value)
    raise NoCommonCodec("the answer accepts no audio stream with a codec we offered")
