"""Who may call in, sans-I/O: trust, digest authentication, lockout, allow-list, call limits.

`InboundPolicy.decide(request, peer, now)` answers an out-of-dialog INVITE with `Accept`,
`Challenge` (401 with a fresh nonce) or `Reject(status)`. Its counters (calls per source,
failed digest attempts per source, burnt nonces) are its whole state; time is passed in.
Authentication never fails open: with credentials set, every source outside the explicitly
trusted networks must authenticate; with neither credentials nor trusted networks, only
loopback is accepted. `admit(peer, now)` is the per-source message rate limit.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import secrets
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field

from telephony.capacity import CallCapacity, CallKind
from telephony.networks import LOOPBACK, Network, in_networks
from telephony.sip import digest
from telephony.sip.message import Request, SipUri
from telephony.sip.ratelimit import RateLimiter
from telephony.sip.sipcall import SDP
from telephony.sip.transaction import Peer

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Accept:
    """Take the call. `trusted`: the source is in the trusted networks (no auth asked);
    `user`: the digest user it authenticated as, if any."""

    trusted: bool
    user: str | None = None


@dataclass(frozen=True, slots=True)
class Challenge:
    """Answer 401 with this WWW-Authenticate value."""

    header: str
    stale: bool = False


@dataclass(frozen=True, slots=True)
class Reject:
    """Answer with this final status (and headers)."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()


Decision = Accept | Challenge | Reject


def source_key(host: str) -> str:
    """What a per-source counter is keyed by: an IPv4 address, or the /64 of an IPv6 one
    (one host is given a whole /64)."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyConfig:
    """Inbound call policy; every table and limit is bounded."""

    trusted: tuple[Network, ...] = ()
    auth_users: Mapping[str, str] = field(default_factory=dict)
    realm: str = "rathausbot"
    allowed_users: frozenset[str] | None = None
    max_calls: int = 20
    max_calls_per_source: int = 4  # sources outside the trusted networks
    max_auth_failures: int = 5  # within failure_window_s, then the source is locked out
    failure_window_s: float = 600.0
    lockout_s: float = 900.0
    rate_per_source: float = 50.0  # messages per second per (address, port)
    rate_burst: int = 100
    host_rate_factor: int = 4  # one address, all its ports together: this many times as much
    max_sources: int = 4096

    def __post_init__(self) -> None:
        if self.max_calls < 0 or self.max_calls_per_source < 1:
            raise ValueError("max_calls must be >= 0 and max_calls_per_source >= 1")
        if self.max_auth_failures < 1 or min(self.failure_window_s, self.lockout_s) <= 0:
            raise ValueError("max_auth_failures, failure_window_s and lockout_s must be positive")
        if self.rate_per_source <= 0 or min(self.rate_burst, self.host_rate_factor) < 1:
            raise ValueError("rate_per_source, rate_burst and host_rate_factor must be positive")
        if self.max_sources < 1:
            raise ValueError("max_sources must be positive")


@dataclass(slots=True)
class _Failures:
    count: int
    first: float
    locked_until: float = 0.0


class InboundPolicy:
    """Decides on inbound INVITEs and admits messages per source; sans-I/O."""

    def __init__(
        self,
        config: PolicyConfig,
        *,
        secret: bytes | None = None,
        capacity: CallCapacity | None = None,
    ) -> None:
        """`capacity`: the machine's call count shared with browser calls (its own
        `max_calls` then applies instead of `config.max_calls`)."""
        self.config = config
        self._secret = secret if secret is not None else secrets.token_bytes(32)
        self._capacity = capacity or CallCapacity(max_calls=config.max_calls)
        self._calls_by_source: dict[str, int] = {}
        self._failures: OrderedDict[str, _Failures] = OrderedDict()
        self._burnt: OrderedDict[str, float] = OrderedDict()  # nonce -> when burnt
        self._port_limiter = RateLimiter(
            config.rate_per_source, config.rate_burst, max_sources=config.max_sources
        )
        factor = config.host_rate_factor
        self._host_limiter = RateLimiter(
            config.rate_per_source * factor,
            config.rate_burst * factor,
            max_sources=config.max_sources,
        )

    # --- what the policy is ----------------------------------------------------------

    @property
    def needs_auth(self) -> bool:
        return bool(self.config.auth_users)

    def trusted(self, host: str) -> bool:
        """Calls from `host` are taken without authentication: it is in the trusted networks,
        or, with neither trusted networks nor credentials configured, it is loopback."""
        if self.config.trusted:
            return in_networks(host, self.config.trusted)
        return not self.needs_auth and in_networks(host, LOOPBACK)

    def describe(self) -> str:
        """The effective policy in one line (start-up and `doctor`)."""
        networks = ", ".join(str(n) for n in self.config.trusted)
        if self.config.trusted and self.needs_auth:
            return f"SIP: calls accepted from {networks} without auth, all others need digest auth"
        if self.config.trusted:
            return f"SIP: calls accepted from {networks} only, all others refused (403)"
        if self.needs_auth:
            return "SIP: every call needs digest auth (no trusted sources)"
        return "SIP: calls accepted from loopback only (no trusted sources, no credentials)"

    # --- per-source message rate -------------------------------------------------------

    def admit(self, peer: Peer, now: float) -> bool:
        """One message from `peer`: False when its (address, port) or its address as a whole
        sent more than its share (drop the message). Ports share a larger budget, so a flood
        from one port does not silence another port of the same address."""
        key = source_key(peer.host)
        if not self._port_limiter.allow(f"{key}|{peer.port}", now):
            return False
        return self._host_limiter.allow(key, now)

    @property
    def tracked_sources(self) -> int:
        """Entries in the per-source tables (each is bounded)."""
        return sum(self.table_sizes().values())

    def table_sizes(self) -> dict[str, int]:
        return {
            "rate": len(self._port_limiter) + len(self._host_limiter),
            "failures": len(self._failures),
            "calls": len(self._calls_by_source),
            "nonces": len(self._burnt),
        }

    # --- calls ---------------------------------------------------------------------------

    @property
    def calls(self) -> int:
        """SIP calls running now (browser calls are not counted here)."""
        return self._capacity.count(CallKind.SIP)

    def call_started(self, host: str | None) -> None:
        """Counts a call (inbound: with its source host; outbound: None)."""
        self._capacity.started(CallKind.SIP)
        if host is not None:
            key = source_key(host)
            self._calls_by_source[key] = self._calls_by_source.get(key, 0) + 1

    def call_ended(self, host: str | None) -> None:
        self._capacity.release(CallKind.SIP)
        if host is not None:
            key = source_key(host)
            left = self._calls_by_source.get(key, 0) - 1
            if left > 0:
                self._calls_by_source[key] = left
            else:
                self._calls_by_source.pop(key, None)

    # --- the decision --------------------------------------------------------------------

    def decide(self, request: Request, peer: Peer, now: float) -> Decision:
        """Accept, challenge or reject an out-of-dialog INVITE from `peer`.

        The order keeps answers from telling anything to those who may not call: untrusted
        sources without credentials configured get 403 first; a locked-out source gets 403
        whatever it sends; the body is checked before the credentials (no answer confirms a
        password without a call); users are checked only after trust or authentication."""
        config = self.config
        trusted = self.trusted(peer.host)
        key = source_key(peer.host)
        if not trusted and not self.needs_auth:
            return Reject(403)
        if not trusted and self._locked(key, now):
            return Reject(403)
        problem = _body_problem(request)
        if problem is not None:
            return problem
        user: str | None = None
        if not trusted:
            outcome = self._authenticate(request, peer, key, now)
            if not isinstance(outcome, str):
                return outcome
            user = outcome
        dialed = request.uri.user if isinstance(request.uri, SipUri) else None
        if config.allowed_users is not None and dialed not in config.allowed_users:
            return Reject(404)
        if self._capacity.full:
            return Reject(503, (("Retry-After", "30"),))
        if not trusted and self._calls_by_source.get(key, 0) >= config.max_calls_per_source:
            return Reject(486)
        return Accept(trusted, user)

    def challenge(self, peer: Peer, now: float, *, stale: bool = False) -> Challenge:
        """A fresh challenge whose nonce only `peer`'s address can answer."""
        header, _ = digest.challenge(
            self.config.realm, stale=stale, secret=self._bound_secret(peer.host), now=now
        )
        return Challenge(header, stale)

    def _bound_secret(self, host: str) -> bytes:
        return hmac.new(self._secret, source_key(host).encode(), hashlib.sha256).digest()

    def _authenticate(
        self, request: Request, peer: Peer, key: str, now: float
    ) -> str | Challenge | Reject:
        """The authenticated user, or the answer to give instead."""
        credentials = request.headers.get("authorization")
        if credentials is None:
            return self.challenge(peer, now)
        params = digest.parse_params(credentials) or {}
        nonce = params.get("nonce", "")
        result = digest.DigestResult.INVALID
        if nonce not in self._burnt:
            result = digest.check(
                request,
                credentials,
                self.config.auth_users,
                self.config.realm,
                secret=self._bound_secret(peer.host),
                now=now,
            )
        if result is digest.DigestResult.OK:
            self._failures.pop(key, None)
            return params.get("username", "")
        if result is digest.DigestResult.STALE:
            return self.challenge(peer, now, stale=True)
        self._burn(nonce, now)
        if self._fail(key, now):
            return Reject(403)
        return self.challenge(peer, now)

    def _burn(self, nonce: str, now: float) -> None:
        """A nonce that saw a wrong answer serves no further guess."""
        if not nonce:
            return
        self._burnt[nonce] = now
        self._burnt.move_to_end(nonce)
        horizon = now - digest.NONCE_TTL_S
        while self._burnt and (
            len(self._burnt) > self.config.max_sources or next(iter(self._burnt.values())) < horizon
        ):
            self._burnt.popitem(last=False)

    def _fail(self, key: str, now: float) -> bool:
        """Counts a failed attempt; True when the source is now locked out."""
        config = self.config
        entry = self._failures.pop(key, None)
        if entry is None or now - entry.first > config.failure_window_s:
            entry = _Failures(0, now)
        entry.count += 1
        if entry.count >= config.max_auth_failures:
            entry.locked_until = now + config.lockout_s
        self._failures[key] = entry
        self._evict(now)
        if entry.locked_until > now:
            log.warning(
                "SIP digest auth failed from %s (%d of %d): locked out for %d s",
                key,
                entry.count,
                config.max_auth_failures,
                int(config.lockout_s),
            )
            return True
        log.warning(
            "SIP digest auth failed from %s (%d of %d)", key, entry.count, config.max_auth_failures
        )
        return False

    def _locked(self, key: str, now: float) -> bool:
        entry = self._failures.get(key)
        return entry is not None and entry.locked_until > now

    def _evict(self, now: float) -> None:
        """Bounds the failure table: expired entries first, then the oldest unlocked ones;
        locked-out sources are kept until their lockout ends."""
        if len(self._failures) <= self.config.max_sources:
            return
        window = self.config.failure_window_s
        for key, entry in list(self._failures.items()):
            if entry.locked_until <= now and now - entry.first > window:
                del self._failures[key]
        for key, entry in list(self._failures.items()):
            if len(self._failures) <= self.config.max_sources:
                return
            if entry.locked_until <= now:
                del self._failures[key]
        while len(self._failures) > self.config.max_sources:
            self._failures.popitem(last=False)


def _body_problem(request: Request) -> Reject | None:
    """488 without an SDP offer (no late offer), 415 for another body type."""
    if not request.body:
        return Reject(488)
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type != SDP:
        return Reject(415, (("Accept", SDP),))
    return None
