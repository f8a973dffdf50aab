"""Builds the console from its parts; the composition root mounts the result at /console."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from redis.asyncio import Redis
from starlette.routing import Mount

from channels.takeover import Takeover
from console.accounts import Accounts
from console.audit import AuditLog
from console.closure_pages import ClosurePages
from console.closures import ClosureStore
from console.events import EventHub
from console.inbox import Inbox
from console.live_chat import LiveChatPages
from console.login import PendingLogins
from console.misses_pages import MissPages
from console.nlu_review import ReviewFile
from console.pages import CasePages, RecordingLinks
from console.privacy_pages import PrivacyPages, ProcessingFacts
from console.sessions import LoginThrottle, SessionStore
from console.snippets import Snippets
from console.stats_pages import StatsPages
from console.web import Guard, LoginPages, templates
from console.work import Workbench
from dialogue.metrics import StaffMetrics, domain_intents
from dialogue.misses import MissLog
from rathausbot.citizen import CitizenData
from rathausbot.retention import DataType, Retention
from telephony.staff_hours import StaffHours

DEFAULT_RETENTION = Retention.default()
UNNAMED_TOWN = ProcessingFacts(
    town="[Name der Stadt]",
    recording_enabled=False,
    webhooks=(),
    mail_enabled=False,
    external_redis=False,
    second_factor=True,
)


def console_mount(
    redis: Redis,
    hub: EventHub,
    *,
    second_factor: bool,
    idle_s: int,
    absolute_s: int,
    max_failures: int,
    lockout_s: int,
    retention_s: int,
    staff_hours: StaffHours,
    recordings_dir: Path,
    link_key: bytes,
    department_names: Mapping[str, str],
    knowledge: Path,
    takeover: Takeover,
    retention: Retention = DEFAULT_RETENTION,
    facts: ProcessingFacts = UNNAMED_TOWN,
    intents_dir: Path | None = None,
) -> Mount:
    """The console's routes under /console, on the given Redis and event hub. `knowledge`
    is the knowledge directory whose departments closures may name; `retention` and `facts`
    feed the privacy officer's pages; `intents_dir` (default: the knowledge directory's
    parent) holds the domain and the review file of proposed examples."""
    accounts = Accounts(redis)
    sessions = SessionStore(redis, idle_s=idle_s, absolute_s=absolute_s)
    audit = AuditLog(redis)
    guard = Guard(accounts, sessions)
    views = templates()
    keep_days = retention.days[DataType.STATISTICS]
    work = Workbench(
        redis, audit, retention_s=retention_s, metrics=StaffMetrics(redis, keep_days=keep_days)
    )
    login = LoginPages(
        accounts=accounts,
        sessions=sessions,
        throttle=LoginThrottle(redis, max_failures=max_failures, lockout_s=lockout_s),
        pending=PendingLogins(redis),
        audit=audit,
        guard=guard,
        views=views,
        second_factor=second_factor,
    )
    inbox = Inbox(redis, work, staff_hours=staff_hours)
    chat = LiveChatPages(
        guard=guard,
        inbox=inbox,
        work=work,
        takeover=takeover,
        snippets=Snippets(redis),
        audit=audit,
        redis=redis,
        views=views,
        department_names=department_names,
    )
    pages = CasePages(
        guard=guard,
        inbox=inbox,
        chat=chat,
        work=work,
        accounts=accounts,
        audit=audit,
        hub=hub,
        recordings=RecordingLinks(link_key, recordings_dir),
        views=views,
        department_names=department_names,
    )
    closures = ClosurePages(
        guard=guard,
        closures=ClosureStore(redis, audit=audit, knowledge=knowledge),
        views=views,
        department_names=department_names,
    )
    privacy = PrivacyPages(
        guard=guard,
        citizens=CitizenData(redis, audit, recordings_dir=recordings_dir),
        audit=audit,
        retention=retention,
        facts=facts,
        views=views,
    )
    stats = StatsPages(guard=guard, redis=redis, views=views)
    routes = login.routes() + pages.routes() + chat.routes() + closures.routes() + privacy.routes()
    project = knowledge.parent if intents_dir is None else intents_dir
    intents = domain_intents(project / "domain")
    misses = MissPages(
        guard=guard,
        misses=MissLog(redis, keep_days=retention.days[DataType.MISSES]),
        review=ReviewFile(project, intents=intents),
        intents=intents,
        audit=audit,
        views=views,
    )
    routes += stats.routes() + misses.routes()
    return Mount("/console", routes=routes)
