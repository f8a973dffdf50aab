"""Limits of the web chat channel, sans-I/O: options, a token bucket, the Origin policy."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatLimits:
    """Bounds of one gateway's chat endpoint; every value validated."""

    max_frame_bytes: int = 8192
    rate_per_minute: float = 30.0
    rate_burst: int = 8
    max_connections_per_ip: int = 20
    idle_timeout_s: float = 300.0
    session_idle_s: int = 1800
    allowed_origins: frozenset[str] = field(default_factory=frozenset)
    send_queue: int = 256

    def __post_init__(self) -> None:
        checks = {
            "max_frame_bytes": 256 <= self.max_frame_bytes <= 1 << 20,
            "rate_per_minute": 0 < self.rate_per_minute <= 100_000,
            "rate_burst": 1 <= self.rate_burst <= 100_000,
            "max_connections_per_ip": 1 <= self.max_connections_per_ip <= 1_000_000,
            "idle_timeout_s": 1 <= self.idle_timeout_s <= 86_400,
            "session_idle_s": 60 <= self.session_idle_s <= 30 * 86_400,
            "send_queue": 8 <= self.send_queue <= 100_000,
        }
        wrong = [name for name, ok in checks.items() if not ok]
        if wrong:
            raise ValueError(f"chat limits out of range: {', '.join(wrong)}")


class TokenBucket:
    """Allows `burst` messages at once and `rate_per_minute` on average."""

    def __init__(self, *, rate_per_minute: float, burst: int, clock: Callable[[], float]) -> None:
        self._rate_s = rate_per_minute / 60.0
        self._burst = float(burst)
        self._tokens = float(burst)
        self._clock = clock
        self._last = clock()

    def take(self) -> bool:
        """Takes one token; False when the sender must slow down."""
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate_s)
        self._last = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True


def origin_allowed(origin: str | None, *, host: str | None, allowed: frozenset[str]) -> bool:
    """The Origin allow-list: the gateway's own origin (the Host header), loopback hosts on
    any port, and the configured origins. No Origin header means no browser: allowed."""
    if origin is None:
        return True
    if origin.rstrip("/") in allowed:
        return True
    parts = urlsplit(origin)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return False
    hostname = parts.hostname
    if hostname in LOOPBACK_HOSTS or f"[{hostname}]" in LOOPBACK_HOSTS:
        return True
    return host is not None and parts.netloc.lower() == host.lower()
