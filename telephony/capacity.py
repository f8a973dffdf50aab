"""One count of voice calls for the machine: SIP and browser (WebRTC) calls share the
voice engines, so they share one limit (`voice_max_calls`)."""

from __future__ import annotations

from enum import StrEnum


class CallKind(StrEnum):
    SIP = "sip"
    BROWSER = "browser"


class CallCapacity:
    """Counts running calls by kind against one `max_calls`; sans-I/O."""

    def __init__(self, *, max_calls: int) -> None:
        if not 0 <= max_calls <= 10_000:
            raise ValueError("max_calls must be in [0, 10000]")
        self.max_calls = max_calls
        self._calls = dict.fromkeys(CallKind, 0)

    @property
    def total(self) -> int:
        return sum(self._calls.values())

    @property
    def full(self) -> bool:
        return self.total >= self.max_calls

    def count(self, kind: CallKind) -> int:
        return self._calls[kind]

    def take(self, kind: CallKind) -> bool:
        """Counts a new call of `kind`; False (nothing counted) when the machine is full."""
        if self.full:
            return False
        self._calls[kind] += 1
        return True

    def started(self, kind: CallKind) -> None:
        """Counts a call that was admitted elsewhere (an outbound test call)."""
        self._calls[kind] += 1

    def release(self, kind: CallKind) -> None:
        self._calls[kind] = max(0, self._calls[kind] - 1)
