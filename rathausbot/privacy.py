"""Builds the privacy parts from the settings: the purge job and the Art. 30 facts."""

from __future__ import annotations

from redis.asyncio import Redis

from channels.notice import NoticeFacts
from console.audit import AuditLog
from console.privacy_pages import ProcessingFacts
from contract.knowledge import KnowledgeError
from contract.town import load_town
from dialogue.store import SPILL_FILE
from rathausbot.purge import Purger
from rathausbot.retention import DataType
from rathausbot.settings import Settings


def purger(settings: Settings, redis: Redis) -> Purger:
    """The purge job: data past its retention (settings.retention_policy) goes."""
    return Purger(
        redis,
        AuditLog(redis),
        retention=settings.retention_policy,
        recordings_dir=settings.var_dir / "recordings",
        log_dir=settings.var_dir / "log",
        spill_path=settings.var_dir / SPILL_FILE,
    )


def processing_facts(settings: Settings) -> ProcessingFacts:
    """What the Art. 30 record on the privacy officer's pages states of this installation."""
    try:
        town = load_town(settings.intents_dir / "knowledge").name
    except KnowledgeError:
        town = "[Name der Stadt]"
    urls = {
        "bookings": settings.webhook_bookings_url,
        "tickets": settings.webhook_tickets_url,
        "callbacks": settings.webhook_callbacks_url,
    }
    return ProcessingFacts(
        town=town,
        recording_enabled=settings.recording_enabled,
        webhooks=tuple(kind for kind, url in urls.items() if url),
        mail_enabled=settings.mail_enabled,
        external_redis=not settings.redis_embedded,
        second_factor=settings.console_second_factor,
    )


def notice_facts(settings: Settings) -> NoticeFacts:
    """What the privacy notice states, from the settings (so it cannot drift)."""
    policy = settings.retention_policy
    shown = [t for t in DataType if t is not DataType.RECORDINGS or settings.recording_enabled]
    if not settings.recording_enabled:
        shown = [t for t in shown if t is not DataType.CONSENT]
    return NoticeFacts(
        town=processing_facts(settings).town,
        rows=tuple((t.label, policy.days[t]) for t in shown),
        conversation_days=policy.days[DataType.CONVERSATIONS],
        closed_case_days=policy.days[DataType.CLOSED_CASES],
        token_minutes=settings.webchat_session_idle_minutes,
        recording_enabled=settings.recording_enabled,
    )
