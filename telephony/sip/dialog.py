"""SIP dialogs (RFC 3261 section 12), sans-I/O: identifiers, CSeq, route set, remote target.

A `Dialog` builds in-dialog requests (BYE, re-INVITE, REFER, NOTIFY, ...) and checks requests
that arrive in it. `Dialogs` is the bounded table; a request naming no known dialog is answered
481 by the user agent. Session timers (RFC 4028) are accepted with the peer as refresher.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from telephony.sip.message import (
    Headers,
    NameAddr,
    Request,
    Response,
    SipParseError,
    Uri,
    canonical_name,
)

DialogKey = tuple[str, str, str]  # Call-ID, local tag, remote tag
MIN_SE = 90  # seconds (RFC 4028 Min-SE default)


@dataclass(eq=False)
class Dialog:
    call_id: str
    local: NameAddr  # our party with our tag (From in our requests)
    remote: NameAddr  # their party with their tag
    local_cseq: int
    remote_cseq: int | None
    remote_target: Uri
    route_set: tuple[str, ...] = ()
    local_contact: str = ""
    confirmed: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def local_tag(self) -> str:
        return self.local.tag or ""

    @property
    def remote_tag(self) -> str:
        return self.remote.tag or ""

    @property
    def key(self) -> DialogKey:
        return (self.call_id, self.local_tag, self.remote_tag)

    @classmethod
    def as_uas(cls, request: Request, local_tag: str, local_contact: str) -> Dialog:
        """The dialog a 1xx/2xx to INVITE `request` creates (RFC 3261 12.1.1)."""
        return cls(
            call_id=request.call_id,
            local=request.to.with_tag(local_tag),
            remote=request.from_,
            local_cseq=0,
            remote_cseq=request.cseq[0],
            remote_target=_contact_uri(request.headers) or request.from_.uri,
            route_set=tuple(request.headers.get_all("record-route")),
            local_contact=local_contact,
        )

    @classmethod
    def as_uac(cls, request: Request, response: Response, local_contact: str) -> Dialog:
        """The dialog a 2xx to our INVITE `request` creates (RFC 3261 12.1.2)."""
        return cls(
            call_id=request.call_id,
            local=request.from_,
            remote=response.to,
            local_cseq=request.cseq[0],
            remote_cseq=None,
            remote_target=_contact_uri(response.headers) or request.uri,
            route_set=tuple(reversed(response.headers.get_all("record-route"))),
            local_contact=local_contact,
            confirmed=True,
        )

    def request(
        self,
        method: str,
        via: str,
        *,
        extra: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        cseq: int | None = None,
    ) -> Request:
        """An in-dialog request (RFC 3261 12.2.1.1); a new CSeq unless `cseq` (ACK) is given."""
        if cseq is None:
            self.local_cseq += 1
            cseq = self.local_cseq
        headers = Headers()
        headers.add("Via", via)
        headers.add("Max-Forwards", "70")
        headers.add("From", str(self.local))
        headers.add("To", str(self.remote))
        headers.add("Call-ID", self.call_id)
        headers.add("CSeq", f"{cseq} {method}")
        for route in self.route_set:
            headers.add("Route", route)
        if self.local_contact and method != "ACK":
            headers.add("Contact", self.local_contact)
        for name, value in extra:
            headers.add(name, value)
        return Request(method, self.remote_target, headers, body)

    def next_hop(self) -> Uri:
        """Where in-dialog requests go: the first route (loose routing), else the target."""
        if self.route_set:
            try:
                return NameAddr.parse(self.route_set[0]).uri
            except SipParseError:
                pass
        return self.remote_target

    def accept_request(self, request: Request) -> int | None:
        """Checks an in-dialog request: None when fine, else the status to answer (500 for an
        out-of-order CSeq). Updates the remote CSeq and, for target refreshes, the target."""
        number, method = request.cseq
        if method not in ("ACK", "CANCEL"):
            if self.remote_cseq is not None and number <= self.remote_cseq:
                return 500
            self.remote_cseq = number
        if method in ("INVITE", "UPDATE"):
            target = _contact_uri(request.headers)
            if target is not None:
                self.remote_target = target
        return None


def _contact_uri(headers: Headers) -> Uri | None:
    contacts = headers.get_all("contact")
    if not contacts:
        return None
    try:
        return NameAddr.parse(contacts[0]).uri
    except SipParseError:
        return None


def request_key(request: Request) -> DialogKey:
    """The dialog key of a request we receive: (Call-ID, To tag = ours, From tag = theirs)."""
    return (request.call_id, request.to.tag or "", request.from_.tag or "")


class Dialogs:
    """Bounded table of dialogs by key."""

    def __init__(self, *, max_dialogs: int = 1000) -> None:
        self.max_dialogs = max_dialogs
        self._dialogs: dict[DialogKey, Dialog] = {}

    def add(self, dialog: Dialog) -> bool:
        """False when the table is full."""
        if len(self._dialogs) >= self.max_dialogs and dialog.key not in self._dialogs:
            return False
        self._dialogs[dialog.key] = dialog
        return True

    def find(self, request: Request) -> Dialog | None:
        return self._dialogs.get(request_key(request))

    def remove(self, dialog: Dialog) -> None:
        if self._dialogs.get(dialog.key) is dialog:
            del self._dialogs[dialog.key]

    def __len__(self) -> int:
        return len(self._dialogs)

    def __iter__(self) -> Iterator[Dialog]:
        return iter(list(self._dialogs.values()))


@dataclass(frozen=True, slots=True)
class SessionTimer:
    """RFC 4028 outcome for a request: headers for our 2xx (or a 422 with Min-SE), the
    session interval, and whether we (the UAS) must refresh."""

    headers: tuple[tuple[str, str], ...] = ()
    reject_422: bool = False
    interval: int | None = None
    we_refresh: bool = False


def parse_session_expires(value: str | None) -> tuple[int, str | None] | None:
    """(interval, "uac"/"uas"/None) of a Session-Expires value; None when absent or malformed."""
    if value is None:
        return None
    interval_text, _, params = value.partition(";")
    interval_text = interval_text.strip()
    if not interval_text.isdigit() or len(interval_text) > 9:
        return None
    refresher: str | None = None
    for param in params.split(";"):
        name, _, param_value = param.partition("=")
        if name.strip().lower() == "refresher" and param_value.strip().lower() in ("uac", "uas"):
            refresher = param_value.strip().lower()
    return int(interval_text), refresher


def session_timer(request: Request, *, min_se: int = MIN_SE) -> SessionTimer:
    """Accepts a session timer request (RFC 4028 9): the refresher the UAC named; else the
    UAC when it supports timers, else us."""
    parsed = parse_session_expires(request.headers.get("session-expires"))
    if parsed is None:
        return SessionTimer()
    interval, refresher = parsed
    if interval < min_se:
        return SessionTimer((("Min-SE", str(min_se)),), reject_422=True)
    supported = {
        v.strip().lower()
        for n, raw in request.headers
        if canonical_name(n) in ("supported", "require")
        for v in raw.split(",")
    }
    uac_supports = "timer" in supported
    refresher = refresher or ("uac" if uac_supports else "uas")
    headers = [("Session-Expires", f"{interval};refresher={refresher}")]
    if uac_supports:
        headers.append(("Require", "timer"))
    return SessionTimer(tuple(headers), interval=interval, we_refresh=refresher == "uas")
