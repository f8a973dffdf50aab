"""The error every SIP parse raises."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from telephony.sip.message import Message


class SipParseError(ValueError):
    """Malformed SIP. `status` is the response to send (None: drop the message silently);
    `partial` the request read so far, to address it. The reason names what is wrong but
    quotes no content of the message (no numbers or names in logs)."""

    def __init__(self, reason: str, status: int | None = 400, partial: Message | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.partial = partial
