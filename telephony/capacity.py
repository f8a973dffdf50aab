"""One count of voice calls for the machine: SIP and browser (WebRTC) calls share the
voice engines, so they share one limit (`voice_max_calls`)."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum


class CallKind(StrEnum):
    SIP = "sip"
    BROWSER = "browser"


class CallCapacity:
    """Counts running calls by kind against one `max_calls`; sans-I/O. `on_start` hears of
    every call counted (the metrics' calls taken)."""

    def __init__(
        self, *, max_calls: int, on_start: Callable[[CallKind], None] | None = None
    ) -> None:
        if not 0 <= max_calls <= 10_000:
            raise ValueError("max_calls must be in [0, 10000]")
        self.max_calls = max_calls
        self._calls = dict.fromkeys(CallKind, 0)
        self._on_start = on_start

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
        self.started(kind)
        return True

    def started(self, kind: CallKind) -> None:
        """Counts a call that was admitted elsewhere (the SIP policy's own decision)."""
        self._calls[kind] += 1
        if self._on_start is not None:
            self._on_start(kind)

    def release(self, kind: CallKind) -> None:
        self._calls[kind] = max(0, self._calls[kind] - 1)
