"""TCP stream framing for SIP (RFC 3261 18.3), sans-I/O: bytes in, whole messages out.

Messages are delimited by the blank line and Content-Length. CRLF keep-alives between
messages (RFC 5626 3.5.1) are skipped. A head or body over the limit, or a Content-Length that
cannot be read, loses the framing: `FramingError`, after which the connection must be closed.
A head without Content-Length is framed with an empty body, so `parse(..., stream=True)` can
answer it with 400.
"""

from __future__ import annotations

import re

from telephony.sip.message import MAX_MESSAGE_BYTES

_LENGTH_RE = re.compile(rb"^(?:content-length|l)[ \t]*:[ \t]*(\S*)[ \t]*\r?$", re.I | re.M)


class FramingError(ValueError):
    """The stream cannot be split into messages any more: close the connection."""


class StreamFramer:
    def __init__(self, *, max_message_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self.max_message_bytes = max_message_bytes
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """Appends received bytes; returns the complete messages now available."""
        self._buffer += data
        messages: list[bytes] = []
        while True:
            # Skip keep-alive CRLFs between messages.
            start = 0
            while (
                self._buffer[start : start + 2] == b"\r\n"
                or self._buffer[start : start + 1] == b"\n"
            ):
                start += 2 if self._buffer[start : start + 1] == b"\r" else 1
            if start:
                del self._buffer[:start]
            head_end = self._buffer.find(b"\r\n\r\n")
            if head_end < 0:
                if len(self._buffer) > self.max_message_bytes:
                    raise FramingError("message head over the size limit")
                return messages
            head = bytes(self._buffer[:head_end])
            lengths = _LENGTH_RE.findall(head)
            if len(lengths) > 1 and len(set(lengths)) > 1:
                raise FramingError("conflicting Content-Length")
            if lengths and not lengths[0].isdigit():
                raise FramingError("unreadable Content-Length")
            length = int(lengths[0]) if lengths else 0
            total = head_end + 4 + length
            if total > self.max_message_bytes:
                raise FramingError("message over the size limit")
            if len(self._buffer) < total:
                return messages
            messages.append(bytes(self._buffer[:total]))
            del self._buffer[:total]

    @property
    def buffered(self) -> int:
        return len(self._buffer)
