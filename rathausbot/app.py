"""The composition root: builds every part from the settings and owns their lifetimes."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import signal
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field

import httpx
import uvicorn
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.routing import Mount

from channels.admission import MIB, AdmissionLimits, SessionAdmission
from channels.callfeed import CallTranscriptFeed
from channels.fanout import Fanout
from channels.limits import ChatLimits
from channels.notice import PrivacyNotice
from channels.sessions import TokenStore
from channels.takeover import AvailabilityScope, Takeover
from channels.webchat import ChatEndpoint, EndTexts
from console.accounts import Accounts
from console.events import EventHub
from console.mount import console_mount
from console.notify import MailSecurity, Notifier, SmtpTransport
from contract.knowledge import KnowledgeError, load_directory
from contract.records import RecordKind
from dialogue.core import DialogueCore
from dialogue.handoff_notice import HandoffNotice
from dialogue.live import LiveFeed
from dialogue.metrics import Metrics, domain_intents
from dialogue.misses import MissLog
from dialogue.pinning import PinnedRasa
from dialogue.rasa import RasaApi, RasaClient
from dialogue.store import SPILL_FILE, ConversationStore
from dialogue.tasks import cancel_and_wait
from dialogue.telemetry import Service, Telemetry
from rathausbot import services
from rathausbot.browser_calls import BrowserCallDesk, browser_calls, signalling
from rathausbot.drain import Drain
from rathausbot.health import HealthMonitor, probe_actions, probe_rasa, probe_redis
from rathausbot.http import create_app, server_config
from rathausbot.observe import MetricsListener, Sampler
from rathausbot.privacy import notice_facts, processing_facts, purger
from rathausbot.purge import purge_periodically
from rathausbot.retention import DataType, Retention
from rathausbot.secrets import RedisTarget, Secrets, redis_target, resolve_secrets
from rathausbot.settings import Settings
from rathausbot.supervisor import ProcessSpec, SupervisedProcess
from rathausbot.telephone import (
    TelephoneConfigError,
    max_calls,
    sip_agent,
    sip_config,
    town_state,
)
from rathausbot.training import model_path
from rathausbot.webhooks import WebhookDispatcher
from telephony.capacity import CallCapacity
from telephony.sip.ua import UserAgent
from telephony.staff_hours import StaffHours
from voice.asr import (
    MUNICIPAL_TERMS,
    Device,
    WhisperTranscriber,
    batch_for,
    choose_device,
    lanes_for,
    resolve_model,
    vocabulary_prompt,
)
from voice.language import (
    CallEngines,
    CallLanguage,
    CallSynthesizer,
    CallTranscriber,
    other_voices,
)
from voice.prompts import PROMPTS_EN
from voice.readback import ReadBack, Streets
from voice.session import FIXED_PROMPTS
from voice.tts import CachingSynthesizer, Synthesizer, make_synthesizer
from voice.vad import CHUNK_MS, Endpointer, SileroVad
from voice.workers import VoiceWorkers

log = logging.getLogger(__name__)

REDIS_POOL_SIZE = 64  # connections per gateway process; callers beyond it wait their turn


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: `serve` owns SIGINT and SIGTERM, so a
    signal stops the HTTP server and then the services, and the process exits with 0."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def request_exit(self) -> None:
        if self.should_exit:
            self.force_exit = True
        self.should_exit = True


class StartupError(RuntimeError):
    """Something the operator must fix before rathausbot can start; the text says what."""


def make_redis(target: RedisTarget) -> Redis:
    """A Redis client that reconnects by itself after Redis restarts. Its pool waits for a
    free connection under load (hundreds of chat sessions) instead of failing at once."""
    pool = BlockingConnectionPool.from_url(
        target.url,
        max_connections=REDIS_POOL_SIZE,
        timeout=5.0,
        decode_responses=True,
        socket_timeout=3.0,
        socket_connect_timeout=2.0,
        health_check_interval=15,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 2),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )
    return Redis.from_pool(pool)


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


@dataclass
class _Started:
    process: SupervisedProcess
    task: asyncio.Task[None]


class Services:
    """Redis (when embedded), the action server and Rasa, each started unless already up.

    With `reuse=True` (client commands) services that answer are used as they are; with
    `reuse=False` (`serve`) their ports must be free. Only what this object started is
    stopped by `aclose()`.
    """

    def __init__(
        self,
        settings: Settings,
        secrets: Secrets,
        target: RedisTarget,
        redis: Redis,
        http: httpx.AsyncClient,
        *,
        reuse: bool,
    ) -> None:
        self._settings = settings
        self._secrets = secrets
        self._target = target
        self._redis = redis
        self._http = http
        self._reuse = reuse
        self._started: dict[str, _Started] = {}

    def process(self, name: str) -> SupervisedProcess | None:
        started = self._started.get(name)
        return started.process if started else None

    async def start(self) -> None:
        settings = self._settings
        model = model_path(settings.intents_dir)
        if settings.redis_embedded:
            assert self._secrets.redis_password is not None
            spec = services.embedded_redis_spec(settings, self._secrets.redis_password)
            await self._ensure(spec, settings.redis_port, lambda: probe_redis(self._redis), 20)
        elif not await probe_redis(self._redis):
            raise StartupError(f"Redis at {self._target.display} (REDIS_URL) does not answer")
        if settings.rasa_urls:  # Rasa servers elsewhere, each with its action server
            return
        if not await self._answers(self._rasa_probe):
            if not model.exists():
                raise StartupError(
                    f"no trained model for {settings.intents_dir}/: run `make train`"
                )
            if not services.rasa_python(settings).exists():
                raise StartupError(f"{services.rasa_python(settings)} missing: run `make setup`")
        endpoints = services.write_endpoints(settings, self._target, token=self._secrets.rasa_token)
        actions = services.action_server_spec(settings, self._secrets, self._target)
        rasa = services.rasa_server_spec(settings, self._secrets, model, endpoints)
        await asyncio.gather(
            self._ensure(actions, settings.actions_port, self._actions_probe, 60),
            self._ensure(rasa, settings.rasa_port, self._rasa_probe, settings.rasa_start_timeout_s),
        )

    async def _rasa_probe(self) -> bool:
        return await probe_rasa(self._http, self._settings.rasa_url, self._secrets.rasa_token)

    async def _actions_probe(self) -> bool:
        return await probe_actions(self._http, self._settings.actions_url)

    async def _answers(self, probe: Callable[[], Awaitable[bool]]) -> bool:
        return self._reuse and await probe()

    async def _ensure(
        self,
        spec: ProcessSpec,
        port: int,
        probe: Callable[[], Awaitable[bool]],
        timeout_s: float,
    ) -> None:
        if await self._answers(probe):
            log.info("using the %s that is already running on port %d", spec.name, port)
            return
        if not port_free(port):
            raise StartupError(
                f"port {port} for {spec.name} is in use by another program "
                f"(another `rathausbot serve`?); stop it or set another port"
            )
        process = SupervisedProcess(spec, probe)
        task = asyncio.create_task(process.run(), name=f"supervise-{spec.name}")
        self._started[spec.name] = _Started(process, task)
        log.info("starting %s on 127.0.0.1:%d ...", spec.name, port)
        if not await process.wait_ready(timeout_s):
            raise StartupError(
                f"{spec.name} did not become ready in {timeout_s:.0f} s; see {spec.log_path}"
            )
        log.info("%s is ready", spec.name)

    async def aclose(self) -> None:
        for name in reversed(list(self._started)):
            started = self._started.pop(name)
            await started.process.stop()
            await cancel_and_wait(started.task)


@dataclass
class Runtime:
    """Everything a running gateway or client command uses."""

    settings: Settings
    secrets: Secrets
    redis: Redis
    http: httpx.AsyncClient
    services: Services
    store: ConversationStore
    core: DialogueCore
    takeover: Takeover
    live: LiveFeed
    telemetry: Telemetry


def rasa_engine(settings: Settings, token: str) -> RasaApi:
    """The local Rasa server, or the configured ones with conversations pinned to one each."""

    def client(url: str) -> RasaClient:
        return RasaClient(
            url,
            token=token,
            timeout_s=settings.rasa_timeout_s,
            max_in_flight=settings.rasa_max_in_flight,
        )

    if not settings.rasa_urls:
        return client(settings.rasa_url)
    return PinnedRasa([client(u) for u in settings.rasa_urls], settings.rasa_urls)


@contextlib.asynccontextmanager
async def runtime(settings: Settings, *, reuse: bool) -> AsyncIterator[Runtime]:
    """Builds clients and the dialogue core; `rt.services.start()` starts (or joins) the
    services. Everything is closed, and what was started stopped, on exit."""
    secrets = resolve_secrets(settings)
    target = redis_target(settings, secrets)
    redis = make_redis(target)
    http = httpx.AsyncClient()
    engine = rasa_engine(settings, secrets.rasa_token)
    svc = Services(settings, secrets, target, redis, http, reuse=reuse)
    telemetry = Telemetry()
    store = ConversationStore(
        redis,
        retention_s=settings.retention_seconds,
        outbox_limit=settings.outbox_limit,
        spill_path=settings.var_dir / SPILL_FILE,
        consent_ttl_s=settings.retention_policy.seconds(DataType.RECORDINGS)
        + settings.retention_policy.seconds(DataType.CONSENT),
    )
    try:
        async with store:
            live = LiveFeed(redis)
            takeover = Takeover(
                redis,
                store,
                engine,
                live,
                staff=Accounts(redis),
                scope=AvailabilityScope(settings.takeover_availability),
                wait_s=settings.takeover_wait_seconds,
            )
            core = DialogueCore(
                engine,
                store,
                max_message_chars=settings.max_message_chars,
                notice=HandoffNotice(staff_hours(settings)),
                takeover=takeover,
                live=live,
                metrics=Metrics(
                    redis,
                    intents=domain_intents(settings.intents_dir / "domain"),
                    keep_days=settings.retention_policy.days[DataType.STATISTICS],
                    telemetry=telemetry,
                ),
                misses=MissLog(redis, keep_days=settings.retention_policy.days[DataType.MISSES]),
            )
            yield Runtime(
                settings, secrets, redis, http, svc, store, core, takeover, live, telemetry
            )
    finally:
        await svc.aclose()
        await engine.aclose()
        await http.aclose()
        await redis.aclose()


def staff_hours(settings: Settings) -> StaffHours:
    """The staff hours with the public holidays of the town's state (none when the
    knowledge cannot be read: the action server then reports that error)."""
    try:
        state: str | None = town_state(settings.intents_dir / "knowledge")
    except KnowledgeError:
        state = None
    return StaffHours.parse(settings.staff_hours, state=state)


def notifier(settings: Settings, rt: Runtime) -> Notifier | None:
    """The e-mail notifier of new cases and due callbacks; None when mail is off."""
    if not settings.mail_enabled:
        return None
    assert settings.mail_from is not None and settings.console_base_url is not None
    password = settings.mail_password.get_secret_value() if settings.mail_password else None
    transport = SmtpTransport(
        settings.mail_host,
        settings.mail_port,
        MailSecurity(settings.mail_security),
        user=settings.mail_user,
        password=password,
    )
    return Notifier(
        rt.redis,
        transport,
        sender=settings.mail_from,
        mailboxes=settings.mail_mailboxes,
        base_url=settings.console_base_url,
        hours=staff_hours(settings),
        queue_limit=settings.mail_queue_limit,
        attempts=settings.mail_attempts,
    )


def webhooks(settings: Settings, rt: Runtime) -> WebhookDispatcher:
    """The dispatcher of record webhooks (drops queued records of types without a URL)."""
    urls = {
        RecordKind.BOOKING: settings.webhook_bookings_url,
        RecordKind.TICKET: settings.webhook_tickets_url,
        RecordKind.CALLBACK: settings.webhook_callbacks_url,
    }
    return WebhookDispatcher(
        rt.redis,
        rt.http,
        {kind: url for kind, url in urls.items() if url},
        attempts=settings.webhook_attempts,
    )


def chat_endpoint(rt: Runtime, fanout: Fanout) -> ChatEndpoint:
    """The web chat channel on the runtime's dialogue core."""
    settings = rt.settings
    limits = ChatLimits(
        max_frame_bytes=settings.webchat_max_frame_bytes,
        rate_per_minute=settings.webchat_rate_per_minute,
        rate_burst=settings.webchat_rate_burst,
        max_connections_per_ip=settings.webchat_max_connections_per_ip,
        idle_timeout_s=settings.webchat_idle_timeout_s,
        session_idle_s=settings.webchat_session_idle_minutes * 60,
        allowed_origins=frozenset(o.rstrip("/") for o in settings.webchat_allowed_origins),
    )
    tokens = TokenStore(rt.redis, idle_s=limits.session_idle_s)
    admission = SessionAdmission(
        rt.redis,
        limits=AdmissionLimits(
            sessions_per_minute=settings.webchat_new_sessions_per_minute,
            session_burst=settings.webchat_new_session_burst,
            memory_limit_bytes=settings.redis_maxmemory_mb * MIB,
            soft_limit_percent=settings.redis_soft_limit_percent,
            unanswered_s=settings.webchat_unanswered_session_minutes * 60,
        ),
    )
    return ChatEndpoint(
        core=rt.core,
        store=rt.store,
        tokens=tokens,
        fanout=fanout,
        limits=limits,
        admission=admission,
        end_texts=end_texts(settings.retention_policy),
        live=rt.live,
    )


def end_texts(retention: Retention) -> EndTexts:
    """The chat's end-and-delete wording with the configured retention."""
    return EndTexts(
        closed_case_days=retention.days[DataType.CLOSED_CASES],
        booking_days=retention.days[DataType.BOOKINGS],
        ticket_days=retention.days[DataType.TICKETS],
        callback_days=retention.days[DataType.CALLBACKS],
    )


def console(rt: Runtime, hub: EventHub) -> Mount:
    """The staff console on the runtime's Redis."""
    settings = rt.settings
    token = rt.secrets.rasa_token.encode()
    return console_mount(
        rt.redis,
        hub,
        second_factor=settings.console_second_factor,
        idle_s=settings.console_session_idle_minutes * 60,
        absolute_s=settings.console_session_hours * 3600,
        max_failures=settings.console_login_max_failures,
        lockout_s=settings.console_login_lockout_minutes * 60,
        retention_s=settings.retention_policy.seconds(DataType.CLOSED_CASES),
        staff_hours=StaffHours.parse(settings.staff_hours),
        recordings_dir=settings.var_dir / "recordings",
        link_key=hashlib.sha256(b"rathausbot console recording links\n" + token).digest(),
        department_names=department_names(settings),
        knowledge=settings.intents_dir / "knowledge",
        takeover=rt.takeover,
        retention=settings.retention_policy,
        facts=processing_facts(settings),
    )


def department_names(settings: Settings) -> dict[str, str]:
    """Department ids to names (intents/knowledge/departments.yml); ids alone if unreadable."""
    try:
        directory = load_directory(settings.intents_dir / "knowledge")
    except KnowledgeError as error:
        log.warning("console shows department ids: %s", error)
        return {}
    return {department.id: department.name for department in directory.departments}


async def console_hint(settings: Settings, redis: Redis) -> str:
    """Where the console is, and on the first start how to create the first admin."""
    where = f"Staff console: http://{settings.host}:{settings.port}/console/"
    if await Accounts(redis).names():
        return where
    return (
        f"{where}\nNo staff account yet. Create the first administrator with\n"
        "  .venv/bin/rathausbot users add NAME --role admin\n"
        "(it asks for a password and prints the TOTP key to scan)."
    )


async def serve(settings: Settings) -> None:
    """`rathausbot serve`: the HTTP server at once (health says 'starting'), then the
    services and the dialogue core; runs until SIGINT or SIGTERM."""
    if not port_free(settings.port, settings.host):
        raise StartupError(
            f"port {settings.port} on {settings.host} is in use; set RATHAUSBOT_PORT"
        )
    if settings.metrics_port and not port_free(settings.metrics_port, settings.metrics_host):
        raise StartupError(
            f"metrics port {settings.metrics_port} on {settings.metrics_host} is in use; "
            "set RATHAUSBOT_METRICS_PORT (0: no metrics)"
        )
    async with (
        runtime(settings, reuse=False) as rt,
        metrics_listener(settings, rt.telemetry),
        Fanout(rt.redis) as fanout,
        EventHub(rt.redis, max_streams=settings.console_max_event_streams) as hub,
    ):
        health = HealthMonitor(
            redis=rt.redis,
            http=rt.http,
            rasa_url=settings.rasa_url,
            rasa_token=rt.secrets.rasa_token,
            actions_url=settings.actions_url,
            start_timeout_s=settings.rasa_start_timeout_s,
            rasa_urls=settings.rasa_urls,
        )
        health_token = settings.health_token.get_secret_value() if settings.health_token else None
        capacity = CallCapacity(  # SIP and browser calls
            max_calls=max_calls(settings), on_start=rt.telemetry.call_started
        )
        calls_signalling = signalling(settings, rt.redis) if settings.webrtc_enabled else None
        chat = chat_endpoint(rt, fanout)
        sampler = Sampler(
            rt.telemetry,
            rt.redis,
            {Service.REDIS: lambda: probe_redis(rt.redis), Service.RASA: health.rasa_up},
            counts={
                rt.telemetry.chats_active: lambda: chat.connections,
                rt.telemetry.calls_active: lambda: capacity.total,  # SIP and browser calls
            },
        )
        app = create_app(
            health=health,
            chat=chat,
            health_token=health_token,
            console=console(rt, hub) if settings.console_enabled else None,
            notice=PrivacyNotice(notice_facts(settings)),
            signalling=calls_signalling,
        )
        config = server_config(
            app,
            host=settings.host,
            port=settings.port,
            forwarded_allow_ips=settings.forwarded_allow_ips,
            graceful_s=settings.rasa_timeout_s + 5,  # a chat turn in progress ends by then
        )
        server = _Server(config)
        drain = Drain(
            health=health,
            telemetry=rt.telemetry,
            request_exit=server.request_exit,
            timeout_s=settings.drain_timeout_s,
            capacity=capacity,
        )
        if calls_signalling is not None:
            drain.on_drain.append(calls_signalling.drain)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, drain.begin)
        server_task = asyncio.create_task(server.serve(), name="http-server")
        start_task = asyncio.create_task(_start(settings, rt, capacity), name="start-services")
        waiting_task = asyncio.create_task(rt.takeover.watch(), name="takeover-waiting")
        sampler_task = asyncio.create_task(sampler.run(), name="metrics-sampler")
        webhook_task: asyncio.Task[None] | None = None
        purge_task: asyncio.Task[None] | None = None
        mail_task: asyncio.Task[None] | None = None
        agent: UserAgent | None = None
        engines: VoiceEngines | None = None
        desk: BrowserCallDesk | None = None
        feed_task: asyncio.Task[None] | None = None
        try:
            done, _ = await asyncio.wait(
                {server_task, start_task}, return_when=asyncio.FIRST_COMPLETED
            )
            if start_task in done:
                agent, engines = start_task.result()  # raises StartupError
                if calls_signalling is not None and engines is not None:
                    feed = CallTranscriptFeed(fanout)
                    feed_task = asyncio.create_task(feed.run(), name="call-transcripts")
                    desk = browser_calls(settings, rt.core, engines, capacity, feed)
                    calls_signalling.desk = desk
                    chat.keypad = desk.press
                print(
                    f"rathausbot is ready: http://{settings.host}:{settings.port}/ "
                    "(Ctrl+C stops it)",
                    flush=True,
                )
                if settings.console_enabled:
                    print(await console_hint(settings, rt.redis), flush=True)
                if agent is not None:
                    drain.agent = agent
                    if health.draining:  # the signal came while the hotline opened
                        agent.drain()
                    print(f"Telephone hotline: {_sip_address(agent)}", flush=True)
                    print(agent.policy.describe(), flush=True)
                webhook_task = asyncio.create_task(webhooks(settings, rt).run(), name="webhooks")
                purge_task = asyncio.create_task(
                    purge_periodically(purger(settings, rt.redis)), name="purge"
                )
                mail = notifier(settings, rt)
                if mail is not None:
                    mail_task = asyncio.create_task(mail.run(), name="mail-notices")
                await server_task
        finally:
            server.should_exit = True
            start_task.cancel()
            waiting_task.cancel()
            sampler_task.cancel()
            tasks = [start_task, server_task, waiting_task, sampler_task]
            for task in (webhook_task, purge_task, mail_task):
                if task is not None:
                    task.cancel()
                    tasks.append(task)
            await asyncio.gather(*tasks, return_exceptions=True)
            await drain.aclose()
            chat.keypad = None
            if calls_signalling is not None:
                calls_signalling.desk = None
            if desk is not None:
                await desk.calls.aclose()
            await cancel_and_wait(feed_task)
            if agent is not None:
                await agent.stop()
            if engines is not None:
                await engines.aclose()


def metrics_listener(
    settings: Settings, telemetry: Telemetry
) -> contextlib.AbstractAsyncContextManager[object]:
    """The `/metrics` listener on its own port; nothing when `metrics_port` is 0."""
    if not settings.metrics_port:
        return contextlib.nullcontext()
    return MetricsListener(telemetry, host=settings.metrics_host, port=settings.metrics_port)


async def _start(
    settings: Settings, rt: Runtime, capacity: CallCapacity
) -> tuple[UserAgent | None, VoiceEngines | None]:
    """Starts the services and, with SIP or browser calls enabled, loads the voice models
    meanwhile and then opens the hotline; returns its user agent and the engines (to close
    after it and the browser calls)."""
    if not settings.sip_enabled and not settings.webrtc_enabled:
        await rt.services.start()
        return None, None
    if settings.sip_enabled:
        try:
            sip_config(settings)  # a hotline that cannot work stops the start at once
        except TelephoneConfigError as error:
            raise StartupError(str(error)) from None
    loading = asyncio.create_task(
        asyncio.to_thread(voice_engines, settings, progress=lambda line: log.info("%s", line)),
        name="load-voice",
    )
    try:
        await rt.services.start()
        engines = await loading
    except KnowledgeError as error:
        raise StartupError(str(error)) from None
    finally:
        await cancel_and_wait(loading)
    if not settings.sip_enabled:
        return None, engines
    try:
        agent = sip_agent(settings, rt.core, engines, capacity=capacity)
    except (TelephoneConfigError, KnowledgeError) as error:
        raise StartupError(str(error)) from None
    try:
        await agent.start()
    except OSError as error:
        await engines.aclose()
        raise StartupError(
            f"SIP port {settings.sip_port} on {settings.sip_host} cannot be opened ({error}); "
            "set RATHAUSBOT_SIP_PORT, or RATHAUSBOT_SIP_ENABLED=false"
        ) from None
    return agent, engines


def _sip_address(agent: UserAgent) -> str:
    parts = [f"{name.upper()} {host}:{port}" for name, (host, port) in agent.addresses.items()]
    return "SIP on " + ", ".join(parts)


@dataclass
class VoiceEngines:
    """The voice models of one process, loaded once and shared by every call."""

    transcriber: WhisperTranscriber
    synthesizer: CachingSynthesizer
    vad: SileroVad  # its ONNX session and primed state are shared; each call gets its own state
    end_silence_ms: int
    pause_ms: int = 0  # speculative transcription after this much silence; 0: off
    read_back: ReadBack = field(default_factory=ReadBack)  # numbers only unless configured
    # docs/languages.md: English calls (ASR and voice) and the slower Leichte Sprache voice
    english_transcriber: WhisperTranscriber | None = None
    english_voice: Synthesizer | None = None
    einfach_voice: Synthesizer | None = None
    workers: VoiceWorkers | None = None  # engine threads (VAD, batched ASR, TTS); None: per job

    def for_call(self) -> CallEngines:
        """One call's engines: the shared engines behind the call's own language
        (voice/language.py), recognising through the shared worker when there is one."""
        language = CallLanguage()
        transcriber = CallTranscriber(
            self.transcriber, self.english_transcriber, self.transcriber, language
        )
        synthesizer = CallSynthesizer(
            self.synthesizer, language, english=self.english_voice, einfach=self.einfach_voice
        )
        recognise = transcriber.recogniser(self.workers.asr) if self.workers else None
        return CallEngines(transcriber, synthesizer, language, recognise)

    async def aclose(self) -> None:
        """Joins the engine threads (after the last call)."""
        if self.workers is not None:
            await self.workers.aclose()

    def endpointer(self, *, speculative: bool = True, pre_roll_ms: int = 320) -> Endpointer:
        pause = self.pause_ms if 0 < self.pause_ms < self.end_silence_ms - CHUNK_MS else 0
        return Endpointer(
            SileroVad(session=self.vad.session, initial=self.vad.initial),
            end_silence_ms=self.end_silence_ms,
            pause_ms=pause if speculative and pause else None,
            pre_roll_ms=pre_roll_ms,
        )


def asr_prompt(settings: Settings) -> str | None:
    """The vocabulary prompt that `asr_vocabulary_prompt` selects (None: off)."""
    if settings.asr_vocabulary_prompt == "off":
        return None
    return vocabulary_prompt(
        settings.intents_dir / "knowledge",
        extra=MUNICIPAL_TERMS,
        focused=settings.asr_vocabulary_prompt == "focused",
    )


def voice_engines(settings: Settings, *, progress: Callable[[str], None]) -> VoiceEngines:
    """Loads ASR, TTS and VAD from local files only (joins the packaged Whisper model into
    var/models/ on first use, with `progress` lines)."""
    choice = choose_device(Device(settings.asr_device))
    lanes, lane_device = lanes_for(settings.asr_lanes, choice)
    model_dir = resolve_model(settings.asr_model, settings.var_dir / "models", progress=progress)
    batch = batch_for(settings.asr_batch, choice)
    at_once = f"{lanes} at a time" + (f", batches of up to {batch}" if batch > 1 else "")
    progress(f"Loading ASR ({choice.device.value}, {choice.compute_type}, {at_once}) ...")
    transcriber = WhisperTranscriber(
        model_dir,
        device=lane_device,
        initial_prompt=asr_prompt(settings),
        beam_size=settings.asr_beam_size,
        num_workers=lanes,
    )
    synthesizer = make_synthesizer(
        settings.tts_voice,
        settings.var_dir / "voices",
        use_cuda=choice.device is Device.CUDA,
        warn=lambda text: log.warning("%s", text),
    )
    cache = CachingSynthesizer(synthesizer)
    cache.prefill(FIXED_PROMPTS)
    progress("Loading English voices ...")
    english_transcriber = transcriber.for_language("en")  # the same model, English tokens
    english_voice, einfach_voice = other_voices(
        settings.tts_voice, settings.var_dir / "voices", use_cuda=choice.device is Device.CUDA
    )
    english_cache = CachingSynthesizer(english_voice, max_bytes=16 << 20)
    english_cache.prefill(PROMPTS_EN.fixed())
    return VoiceEngines(
        transcriber,
        cache,
        SileroVad(),
        settings.vad_end_silence_ms,
        settings.asr_speculative_pause_ms,
        ReadBack(streets=Streets.from_knowledge(settings.intents_dir / "knowledge")),
        english_transcriber=english_transcriber,
        english_voice=english_cache,
        einfach_voice=einfach_voice,
        workers=VoiceWorkers.create(
            transcriber,
            max_calls=max_calls(settings),
            max_batch=batch,
            asr_lanes=lanes,
        ),
    )
