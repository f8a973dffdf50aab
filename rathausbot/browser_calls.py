"""Composition of browser calls: WebRTC signalling on the chat's tokens, and the aiortc
calls that run the same voice sessions as the SIP line."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from channels.callfeed import CallTranscriptFeed
from channels.sessions import TokenStore
from channels.signalling import (
    CallAnswer,
    IceConfig,
    SignalError,
    Signalling,
    SignallingLimits,
    SignalRefused,
)
from dialogue.core import DialogueCore
from rathausbot.settings import Settings
from rathausbot.telephone import session_factory
from telephony.capacity import CallCapacity
from telephony.webrtc import BadOffer, CallsFull, TooManyFromAddress, WebRtcCalls, WebRtcLimits
from voice.session import Observed
from voice.signals import Say, Transcript

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from rathausbot.app import VoiceEngines


class BrowserCallDesk:
    """channels.signalling.CallDesk over telephony.webrtc.WebRtcCalls."""

    def __init__(self, calls: WebRtcCalls) -> None:
        self.calls = calls

    async def offer(self, sdp: str, *, session_id: str, address: str) -> CallAnswer:
        try:
            answer = await self.calls.answer(sdp, session_id=session_id, address=address)
        except CallsFull:
            raise SignalRefused(SignalError.BUSY) from None
        except TooManyFromAddress:
            raise SignalRefused(SignalError.TOO_MANY_CALLS) from None
        except BadOffer:
            raise SignalRefused(SignalError.BAD_OFFER) from None
        return CallAnswer(answer.sdp, answer.type, answer.call_id)

    def hangup(self, call_id: str) -> bool:
        return self.calls.hangup(call_id)

    def press(self, session_id: str, key: str) -> bool:
        """A keypad key from the chat widget for the session's running call."""
        call = self.calls.call_of_session(session_id)
        return call is not None and call.press(key)


def ice_config(settings: Settings) -> IceConfig:
    secret = settings.webrtc_turn_secret
    return IceConfig(
        stun_urls=settings.webrtc_stun_urls,
        turn_urls=settings.webrtc_turn_urls,
        turn_secret=secret.get_secret_value().encode() if secret is not None else None,
        turn_ttl_s=settings.webrtc_turn_ttl_minutes * 60,
    )


def signalling(settings: Settings, redis: Redis) -> Signalling:
    """The `/webrtc/` routes on the chat's session tokens; calls start once `desk` is set."""
    return Signalling(
        tokens=TokenStore(redis, idle_s=settings.webchat_session_idle_minutes * 60),
        ice=ice_config(settings),
        limits=SignallingLimits(
            allowed_origins=frozenset(o.rstrip("/") for o in settings.webchat_allowed_origins),
            offers_per_minute=settings.webchat_new_sessions_per_minute,
            offer_burst=settings.webchat_new_session_burst,
        ),
    )


def transcript_observer(feed: CallTranscriptFeed) -> Callable[[str], Callable[[Observed], None]]:
    """Shows a browser call's recognised turns and spoken sentences in its chat tabs."""

    def observer(session_id: str) -> Callable[[Observed], None]:
        def observe(item: Observed) -> None:
            match item:
                case Transcript(text):
                    feed.heard(session_id, text)
                case Say(texts=texts):
                    for text in texts:
                        feed.said(session_id, text)

        return observe

    return observer


def browser_calls(
    settings: Settings,
    core: DialogueCore,
    engines: VoiceEngines,
    capacity: CallCapacity,
    feed: CallTranscriptFeed,
) -> BrowserCallDesk:
    calls = WebRtcCalls(
        capacity=capacity,
        session_factory=session_factory(
            settings, core, engines, observer=transcript_observer(feed)
        ),
        limits=WebRtcLimits(
            max_call_s=settings.webrtc_max_call_minutes * 60,
            disconnect_timeout_s=settings.webrtc_disconnect_timeout_s,
            max_calls_per_address=settings.webrtc_max_calls_per_address,
        ),
    )
    return BrowserCallDesk(calls)
