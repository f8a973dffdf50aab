"""Composition of the telephone hotline: the SIP user agent whose calls run voice sessions."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from contract.phone import CallbackPolicy
from contract.town import load_town
from dialogue.core import DialogueCore
from rathausbot.settings import Settings
from telephony.call import CallHandler, TransferPolicy
from telephony.capacity import CallCapacity
from telephony.media import Latching
from telephony.networks import Network, is_loopback, parse_networks
from telephony.sip.policy import InboundPolicy
from telephony.sip.ua import RegistrationConfig, SipConfig, UserAgent
from telephony.staff_hours import StaffHours
from voice.recording import recorder_factory
from voice.session import Observed, SessionOptions, VoiceCall, VoiceSession

if TYPE_CHECKING:
    from rathausbot.app import VoiceEngines

log = logging.getLogger(__name__)


class TelephoneConfigError(ValueError):
    """The SIP settings cannot work together (said in plain words)."""


def town_state(knowledge_dir: Path) -> str:
    """The Bundesland code of the town (`state:` in town.yml), for its public holidays.
    Raises contract.knowledge.KnowledgeError when the knowledge files are invalid."""
    return load_town(knowledge_dir).state


def sip_config(settings: Settings) -> SipConfig:
    public = settings.sip_public_host or settings.sip_host
    if public in ("0.0.0.0", "::"):
        raise TelephoneConfigError(
            f"RATHAUSBOT_SIP_HOST is {settings.sip_host}: set RATHAUSBOT_SIP_PUBLIC_HOST to the "
            "address the PBX and the callers' media reach"
        )
    auth: dict[str, str] = {}
    if settings.sip_auth_user:
        if settings.sip_auth_password is None:
            raise TelephoneConfigError(
                "RATHAUSBOT_SIP_AUTH_USER needs RATHAUSBOT_SIP_AUTH_PASSWORD"
            )
        auth[settings.sip_auth_user] = settings.sip_auth_password.get_secret_value()
    if not settings.sip_trusted_sources and not auth and not is_loopback(settings.sip_host):
        raise TelephoneConfigError(
            f"RATHAUSBOT_SIP_HOST is {settings.sip_host}, but neither "
            "RATHAUSBOT_SIP_TRUSTED_SOURCES (the PBX's addresses) nor RATHAUSBOT_SIP_AUTH_USER "
            "and RATHAUSBOT_SIP_AUTH_PASSWORD are set: only loopback could call. Set one of them"
        )
    registration = None
    if settings.sip_register_uri:
        if not settings.sip_register_user or settings.sip_register_password is None:
            raise TelephoneConfigError(
                "RATHAUSBOT_SIP_REGISTER_URI needs RATHAUSBOT_SIP_REGISTER_USER and _PASSWORD"
            )
        registration = RegistrationConfig(
            registrar=settings.sip_register_uri,
            user=settings.sip_register_user,
            password=settings.sip_register_password.get_secret_value(),
            expires=settings.sip_register_expires_s,
        )
    return SipConfig(
        host=settings.sip_host,
        port=settings.sip_port,
        transports=tuple(dict.fromkeys(settings.sip_transports)),
        public_host=settings.sip_public_host,
        allowed_users=frozenset(settings.sip_allowed_users) or None,
        trusted_sources=settings.sip_trusted_sources,
        auth_users=auth,
        max_calls=max_calls(settings),
        max_calls_per_source=settings.sip_max_calls_per_source,
        max_auth_failures=settings.sip_auth_max_failures,
        auth_lockout_s=settings.sip_auth_lockout_minutes * 60,
        max_call_s=settings.sip_max_call_minutes * 60,
        rate_per_source=settings.sip_rate_per_source,
        max_connections_per_host=settings.sip_tcp_max_connections_per_host,
        registration=registration,
    )


CALLS_PER_CORE = 2
"""Calls one CPU core answers within the latency goals (bench.sip_calls on 2 cores: 4 calls
kept p95 under 1 s before the engines moved off the event loop; see docs/voice.md)."""


def max_calls(settings: Settings, *, cores: Callable[[], int] | None = None) -> int:
    """Voice calls (SIP and browser together): `voice_max_calls`, else its older name
    `sip_max_calls`, or when both are 0, CALLS_PER_CORE per usable CPU core."""
    if settings.voice_max_calls:
        return settings.voice_max_calls
    if settings.sip_max_calls:
        return settings.sip_max_calls
    usable = cores() if cores is not None else len(os.sched_getaffinity(0))
    return CALLS_PER_CORE * max(1, usable)


def media_networks(settings: Settings) -> tuple[Network, ...]:
    """Where a call's RTP may come from besides its signalling host: the media networks and
    the trusted SIP networks (a PBX's media gateways usually sit beside it)."""
    return parse_networks(
        tuple(dict.fromkeys(settings.rtp_trusted_sources + settings.sip_trusted_sources))
    )


def sip_policy_line(config: SipConfig) -> str:
    """The effective inbound call policy in one line (doctor and start-up)."""
    return InboundPolicy(config.policy()).describe()


def session_factory(
    settings: Settings,
    core: DialogueCore,
    engines: VoiceEngines,
    *,
    observer: Callable[[str], Callable[[Observed], None]] | None = None,
) -> Callable[[VoiceCall, str], VoiceSession]:
    """Voice sessions on `core` for any call (SIP or browser): one turn loop for both.
    `observer(session_id)`: what watches that session's events and commands."""
    options = SessionOptions(
        recording_enabled=settings.recording_enabled,
        callback_policy=CallbackPolicy(settings.callback_allowed_prefixes),
    )
    recorder = (
        recorder_factory(settings.var_dir / "recordings") if settings.recording_enabled else None
    )

    def session(call: VoiceCall, session_id: str) -> VoiceSession:
        own = engines.for_call()  # the call's language: docs/languages.md
        return VoiceSession(
            call,
            core,
            session_id=session_id,
            endpointer=engines.endpointer(),
            transcriber=own.transcriber,
            synthesizer=own.synthesizer,
            options=options,
            read_back=engines.read_back,
            recorder=recorder,
            workers=engines.workers,
            observer=observer(session_id) if observer is not None else None,
            recognise=own.recognise,
            register=lambda: own.language.register,
        )

    return session


def sip_agent(
    settings: Settings,
    core: DialogueCore,
    engines: VoiceEngines,
    *,
    staff_present: Callable[[], bool] | None = None,
    capacity: CallCapacity | None = None,
) -> UserAgent:
    """The user agent answering the hotline with voice sessions on `core`
    (`staff_present` replaces the staff hours, for tests; `capacity`: the call count
    shared with browser calls)."""
    config = sip_config(settings)
    state = town_state(settings.intents_dir / "knowledge")
    hours = StaffHours.parse(settings.staff_hours, state=state)
    policy = TransferPolicy(settings.sip_transfer_target, hours, clock=staff_present)

    handler = CallHandler(
        media_host=settings.sip_host,
        public_host=settings.sip_public_host or settings.sip_host,
        port_range=(settings.rtp_port_min, settings.rtp_port_max),
        rtp_timeout_s=settings.rtp_timeout_s,
        latching=Latching(settings.rtp_latching),
        media_networks=media_networks(settings),
        policy=policy,
        session_factory=session_factory(settings, core, engines),
    )
    return UserAgent(config, handler, capacity=capacity)
