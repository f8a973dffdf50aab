"""All configuration of rathausbot: environment variables, an optional TOML file, defaults.

Precedence: environment (`RATHAUSBOT_*`, plus `REDIS_URL`) > `rathausbot.toml` > defaults.
Every field is documented in docs/configuration.md; `tests/rathausbot/test_settings.py`
keeps that document and this module in step.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from contract.phone import CallbackPolicy
from rathausbot.retention import DEFAULT_DAYS, DataType, Retention
from telephony.networks import parse_networks
from telephony.staff_hours import StaffHours

CONFIG_FILE_ENV = "RATHAUSBOT_CONFIG"
DEFAULT_CONFIG_FILE = "rathausbot.toml"

Port = Annotated[int, Field(ge=1, le=65535)]


def config_file() -> Path:
    """The TOML file read on top of the defaults (it need not exist)."""
    return Path(os.environ.get(CONFIG_FILE_ENV, DEFAULT_CONFIG_FILE))


MAX_RASA_URLS = 16


class Settings(BaseSettings):
    """Settings of one rathausbot installation; see docs/configuration.md."""

    model_config = SettingsConfigDict(
        env_prefix="RATHAUSBOT_",
        extra="forbid",
        frozen=True,
        populate_by_name=True,
    )

    # --- HTTP server ---
    host: str = Field("127.0.0.1", description="Address the HTTP server binds to.")
    port: Port = Field(8080, description="Port of the HTTP server (chat, health, console).")
    forwarded_allow_ips: tuple[str, ...] = Field(
        (),
        description="Reverse proxies (addresses or CIDR networks) whose `X-Forwarded-For` and "
        "`X-Forwarded-Proto` are believed, so per-address limits see the real client; empty: "
        "the headers are ignored.",
    )
    health_token: SecretStr | None = Field(
        None,
        description="Bearer token that shows the details of `/healthz` (which part fails) to "
        "callers other than loopback; unset: details for loopback only.",
    )

    # --- files ---
    var_dir: Path = Field(
        Path("var"), description="Runtime data: secrets, Redis files, logs, generated configs."
    )
    intents_dir: Path = Field(Path("intents"), description="The Rasa project directory.")
    rasa_venv: Path = Field(
        Path(".venv-rasa"), description="Python 3.10 environment that holds Rasa."
    )

    # --- Redis ---
    redis_url: str | None = Field(
        None,
        validation_alias=AliasChoices("REDIS_URL", "RATHAUSBOT_REDIS_URL"),
        description="External Redis (`redis://[:password@]host:port/db`); unset: embedded Redis.",
    )
    redis_port: Port = Field(6380, description="Loopback port of the embedded Redis.")
    redis_password: SecretStr | None = Field(
        None, description="Password of the embedded Redis; generated into var/secrets when unset."
    )
    redis_maxmemory_mb: int = Field(
        512,
        ge=16,
        le=1 << 20,
        description="Memory limit of the embedded Redis (MiB; it never evicts data, writes "
        "beyond it fail). For an external Redis that reports no `maxmemory`, the size the soft "
        "limit is taken of.",
    )
    redis_soft_limit_percent: int = Field(
        80,
        ge=1,
        le=99,
        description="Share of Redis memory above which new chat sessions are refused, so that "
        "running conversations keep room to write.",
    )

    # --- Rasa ---
    rasa_port: Port = Field(5005, description="Loopback port of the Rasa server.")
    actions_port: Port = Field(5055, description="Loopback port of the Rasa action server.")
    rasa_token: SecretStr | None = Field(
        None, description="Rasa HTTP API token; generated into var/secrets when unset."
    )
    rasa_rest_channel: bool = Field(
        False,
        description="Also open Rasa's plain REST channel (`/webhooks/rest/webhook`, no token); "
        "for the chat benchmark only.",
    )
    rasa_urls: tuple[str, ...] = Field(
        (),
        description="Several Rasa servers on one Redis tracker store (`http://host:port`); "
        "each conversation is pinned to one by a hash of its id, failing over to the next "
        "when it is down. Empty: the local Rasa server on `rasa_port`.",
    )
    rasa_timeout_s: float = Field(
        10.0,
        gt=0,
        le=120,
        description="Longest wait for Rasa to answer one turn, waiting for a request "
        "slot included.",
    )
    rasa_max_in_flight: int = Field(
        8,
        ge=1,
        le=64,
        description="Requests this gateway has open at one Rasa server at once; further "
        "turns wait their turn within rasa_timeout_s. Rasa answers one turn after another, "
        "so more would only fill its listen backlog under a burst of new chats.",
    )
    rasa_start_timeout_s: float = Field(
        180.0, gt=0, le=1800, description="Longest wait for Rasa to load its model at start."
    )

    # --- dialogue and privacy ---
    retention_days: int = Field(
        30,
        ge=1,
        le=3650,
        description="Days conversations without a case (sessions, transcripts, Rasa "
        "trackers) are kept after their last line; the default of `retention.conversations`.",
    )
    retention: dict[str, int] = Field(
        {},
        description='Days each type of personal data is kept, e.g. `{"closed_cases": 90, '
        '"logs": 14}` (JSON in the environment, a table in TOML); types left out keep their '
        "defaults (see [Retention](#retention-per-data-type)). `conversations` defaults to "
        "`retention_days`, `recordings` to `recording_retention_days`.",
    )
    max_message_chars: int = Field(
        2000, ge=1, le=100_000, description="Longest user message passed to the dialogue."
    )
    outbox_limit: int = Field(
        10_000,
        ge=1,
        le=1_000_000,
        description="Records held in memory while Redis is unreachable; beyond it new turns "
        "are refused rather than lost.",
    )

    # --- voice ---
    asr_model: str = Field(
        "base",
        description="Whisper model: `base` (packaged, joined into var/models/ once) or the "
        "path of a CTranslate2 Whisper directory.",
    )
    asr_device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="`auto`: CUDA float16 when CTranslate2 sees a GPU, else CPU int8."
    )
    tts_voice: str = Field(
        "de_DE-thorsten-medium",
        description="Piper voice: a name installed under var/voices/ or the path of an .onnx "
        "file; when missing, German Pico speaks instead (with a warning).",
    )
    vad_end_silence_ms: int = Field(
        500, ge=100, le=5000, description="Silence that ends a caller's turn (milliseconds)."
    )
    asr_beam_size: int = Field(
        5,
        ge=1,
        le=10,
        description="Beam width of Whisper's decoder: 1 is greedy (faster); 5 recognises more "
        "words on 8 kHz audio (see `make bench`).",
    )
    asr_lanes: int = Field(
        0,
        ge=0,
        le=16,
        description="Utterances recognised at the same time on the CPU, each with the usable "
        "cores divided among them; 0: 2 where there are at least 2 cores (docs/voice.md), "
        "1 on a GPU (which batches instead).",
    )
    asr_batch: int = Field(
        0,
        ge=0,
        le=64,
        description="Most utterances of different calls recognised in one batch; 0: 4 on a "
        "GPU, 1 (one by one) on the CPU, where batches of mixed voices were slower and a phone "
        "line's turns rarely share a window (docs/voice.md). Raise it "
        "on a GPU from `make bench` on the machine.",
    )
    asr_vocabulary_prompt: Literal["focused", "full", "off"] = Field(
        "off",
        description="Municipal terms given to Whisper as a prompt: `off` (none, the default: "
        "the prompt helped on no degraded-line condition but two and costs about 30 % of each "
        "recognition), `focused` (30 single words that matter) or `full` (every department "
        "name and synonym).",
    )
    asr_speculative_pause_ms: int = Field(
        192,
        ge=0,
        le=5000,
        description="Silence after which transcription starts while the turn may still go on "
        "(used when the caller does not resume); 0, or not below the end silence minus 32 ms, "
        "turns it off.",
    )

    recording_enabled: bool = Field(
        False,
        description="Ask callers for consent to record; record only the calls of those who "
        "agree (stereo WAV, caller left and bot right, under var/recordings/).",
    )
    recording_retention_days: int = Field(
        30,
        ge=1,
        le=3650,
        description="Days a call recording is kept; the default of `retention.recordings`.",
    )

    # --- records for the office (bookings, tickets, callbacks) ---
    webhook_bookings_url: str | None = Field(
        None, description="URL that receives each new or cancelled booking as JSON (POST)."
    )
    webhook_tickets_url: str | None = Field(
        None, description="URL that receives each new damage report as JSON (POST)."
    )
    webhook_callbacks_url: str | None = Field(
        None, description="URL that receives each new callback request as JSON (POST)."
    )
    webhook_attempts: int = Field(
        5, ge=1, le=20, description="Deliveries tried per record, with exponential backoff."
    )

    # --- e-mail notices to departments (console/notify.py) ---
    mail_enabled: bool = Field(
        False,
        description="Send an e-mail to the department's mailbox for each new case and each "
        "callback falling due (case number and console link only, never the citizen's data).",
    )
    mail_host: str = Field("localhost", description="SMTP server for the notices.")
    mail_port: Port = Field(587, description="Port of the SMTP server.")
    mail_security: Literal["starttls", "tls", "none"] = Field(
        "starttls",
        description="`starttls` (port 587), `tls` (implicit TLS, port 465) or `none` (plain, "
        "for a relay on the same host only).",
    )
    mail_user: str | None = Field(None, description="SMTP login; unset: no login.")
    mail_password: SecretStr | None = Field(None, description="Password of `mail_user`.")
    mail_from: str | None = Field(
        None, description="Sender address of the notices (required when mail is enabled)."
    )
    mail_mailboxes: dict[str, str] = Field(
        {},
        description="Department id (departments.yml) -> mailbox; the key `*` is the mailbox "
        "for other departments and for callbacks. At least one is required when mail is "
        "enabled.",
    )
    mail_queue_limit: int = Field(
        1000,
        ge=1,
        le=100_000,
        description="Notices waiting to be sent; beyond it new ones are dropped (logged).",
    )
    mail_attempts: int = Field(
        5, ge=1, le=20, description="Tries per notice, with exponential backoff."
    )
    console_base_url: str | None = Field(
        None,
        description="Public address of the gateway as staff reach it (e.g. "
        "`https://rathaus.musterstadt.de`); mails link to `<base>/console/case/<number>`.",
    )

    # --- web chat (channels/) ---
    webchat_max_frame_bytes: int = Field(
        8192, ge=256, le=1 << 20, description="Largest chat frame accepted, in bytes."
    )
    webchat_rate_per_minute: float = Field(
        30.0, gt=0, le=100_000, description="Chat messages per minute and session, on average."
    )
    webchat_rate_burst: int = Field(
        8, ge=1, le=100_000, description="Chat messages a session may send at once."
    )
    webchat_max_connections_per_ip: int = Field(
        20, ge=1, le=1_000_000, description="Open chat connections per client address."
    )
    webchat_idle_timeout_s: float = Field(
        300.0,
        ge=1,
        le=86_400,
        description="Seconds without a frame after which the server closes a chat socket "
        "(the widget resumes the session when needed).",
    )
    webchat_session_idle_minutes: int = Field(
        30, ge=1, le=43_200, description="Minutes without use after which a chat token expires."
    )
    webchat_new_sessions_per_minute: float = Field(
        6.0,
        gt=0,
        le=100_000,
        description="New chat sessions per minute and client address, on average.",
    )
    webchat_new_session_burst: int = Field(
        10, ge=1, le=100_000, description="New chat sessions a client address may start at once."
    )
    webchat_unanswered_session_minutes: int = Field(
        10,
        ge=1,
        le=1440,
        description="Minutes after which a chat session whose citizen never wrote is deleted.",
    )
    webchat_allowed_origins: tuple[str, ...] = Field(
        (),
        description="Websites (origins such as `https://www.musterstadt.de`) that may embed "
        "the chat, besides the gateway's own origin, `localhost` and `127.0.0.1`.",
    )

    # --- telephone hotline (telephony/) ---
    sip_enabled: bool = Field(True, description="Answer SIP calls (UDP and TCP).")
    sip_host: str = Field(
        "127.0.0.1",
        description="Address SIP and RTP bind to; a deployment sets the address its PBX reaches.",
    )
    sip_port: Port = Field(5060, description="SIP port (UDP and TCP).")
    sip_transports: tuple[Literal["udp", "tcp"], ...] = Field(
        ("udp", "tcp"),
        min_length=1,
        description='SIP transports to listen on; `["tcp"]` alone where UDP\'s forgeable '
        "source addresses are a risk (docs/telephony.md).",
    )
    sip_public_host: str | None = Field(
        None,
        description="Address written into SIP Contact/Via and SDP when it differs from "
        "`sip_host` (binding 0.0.0.0, NAT).",
    )
    sip_allowed_users: tuple[str, ...] = Field(
        (), description="Request-URI users (numbers) that are answered; empty: any."
    )
    sip_trusted_sources: tuple[str, ...] = Field(
        (),
        description="Addresses or CIDR networks of the PBX/trunk, whose calls are taken "
        "without authentication. Every other source must authenticate when `sip_auth_user` "
        "is set, else gets 403. With neither set, only loopback may call (and a non-loopback "
        "`sip_host` refuses to start).",
    )
    sip_auth_user: str | None = Field(
        None, description="Digest user that untrusted sources must authenticate as."
    )
    sip_auth_password: SecretStr | None = Field(None, description="Password of `sip_auth_user`.")
    sip_auth_max_failures: int = Field(
        5,
        ge=1,
        le=100,
        description="Failed digest attempts from one address within 10 minutes before that "
        "address is locked out (the account itself is never locked).",
    )
    sip_auth_lockout_minutes: float = Field(
        15.0, ge=1, le=1440, description="How long an address is locked out after those failures."
    )
    voice_max_calls: int = Field(
        0,
        ge=0,
        le=10_000,
        description="Concurrent voice calls, SIP and browser (WebRTC) together; above it SIP "
        "gets 503 with Retry-After and the browser 503 with a German message. 0: "
        "`sip_max_calls` when set, else sized to this machine, CALLS_PER_CORE (2) per usable "
        "CPU core as measured with `make bench`.",
    )
    sip_max_calls: int = Field(
        0,
        ge=0,
        le=10_000,
        description="Older name of `voice_max_calls` (used only when that is 0); it now "
        "counts browser calls too.",
    )
    sip_max_calls_per_source: int = Field(
        4,
        ge=1,
        le=10_000,
        description="Concurrent calls from one address outside `sip_trusted_sources`; "
        "above it 486 Busy Here.",
    )
    sip_tcp_max_connections_per_host: int = Field(
        32, ge=1, le=10_000, description="SIP over TCP: open connections from one address."
    )
    sip_max_call_minutes: float = Field(
        30.0, ge=1, le=600, description="Longest call in minutes; then the call is ended."
    )
    sip_rate_per_source: float = Field(
        50.0, ge=1, le=100_000, description="SIP messages per second accepted per source address."
    )
    sip_register_uri: str | None = Field(
        None,
        description="Registrar to register with like a desk phone (e.g. `sip:pbx.example.de`); "
        "unset: no registration.",
    )
    sip_register_user: str | None = Field(None, description="User (extension) to register.")
    sip_register_password: SecretStr | None = Field(
        None, description="Password for the registration's digest authentication."
    )
    sip_register_expires_s: int = Field(
        600, ge=60, le=86_400, description="Registration lifetime asked for; renewed before."
    )
    sip_transfer_target: str | None = Field(
        None,
        description="Where a caller who asks for a person is transferred (SIP REFER), e.g. "
        "`sip:buergerbuero@pbx.example.de`; unset: callers are offered a callback instead.",
    )
    staff_hours: str = Field(
        "Mo-Fr 08:00-16:00",
        description="When staff take transferred calls (Europe/Berlin; public holidays of the "
        "town's state are off), e.g. `Mo-Do 08:00-16:00, Fr 08:00-12:00`.",
    )
    # --- telephony: RTP media ---
    rtp_port_min: Port = Field(
        20000, description="Lowest UDP port for RTP media; each call takes one even port."
    )
    rtp_port_max: Port = Field(20999, description="Highest UDP port for RTP media.")
    rtp_timeout_s: float = Field(
        30.0, ge=0.5, le=3600, description="Seconds without RTP from the caller that end a call."
    )
    rtp_trusted_sources: tuple[str, ...] = Field(
        (),
        description="Addresses or CIDR networks that may send and receive a call's RTP besides "
        "the host its SIP came from and `sip_trusted_sources` (e.g. the PBX's media "
        "gateways); packets from any other address are dropped and SDP addresses elsewhere "
        "are not sent to.",
    )
    rtp_latching: Literal["private", "always", "off"] = Field(
        "private",
        description="Symmetric RTP: send to where the caller's packets come from when the SDP "
        "address is private (`private`), always (`always`) or never (`off`).",
    )

    # --- browser calls (telephony/webrtc.py, channels/signalling.py) ---
    webrtc_enabled: bool = Field(
        True,
        description="Take calls from the website over WebRTC (the widget's Anrufen button); "
        "needs HTTPS on the website (docs/webrtc.md).",
    )
    webrtc_stun_urls: tuple[str, ...] = Field(
        (), description="STUN servers given to browsers (`stun:host:port`). JSON list."
    )
    webrtc_turn_urls: tuple[str, ...] = Field(
        (),
        description="TURN servers given to browsers with time-limited credentials (e.g. "
        "`turn:turn.example.de:3478`, `turns:turn.example.de:443?transport=tcp`); used only "
        "with `webrtc_turn_secret`. JSON list.",
    )
    webrtc_turn_secret: SecretStr | None = Field(
        None, description="coturn's `static-auth-secret` (use-auth-secret) for TURN credentials."
    )
    webrtc_turn_ttl_minutes: int = Field(
        60, ge=1, le=1440, description="How long a browser's TURN credentials are valid."
    )
    webrtc_max_calls_per_address: int = Field(
        2, ge=1, le=1000, description="Concurrent browser calls from one client address."
    )
    webrtc_disconnect_timeout_s: float = Field(
        5.0,
        ge=0.5,
        le=60,
        description="Seconds a browser call may stay disconnected (ICE) before it is ended.",
    )
    webrtc_max_call_minutes: float = Field(
        30.0, ge=1, le=600, description="Longest browser call in minutes; then it is ended."
    )

    callback_allowed_prefixes: tuple[str, ...] = Field(
        (),
        description="E.164 prefixes (e.g. `+43`) that callbacks may go to besides German "
        "landline and mobile numbers; premium-rate, service and foreign numbers are refused "
        "unless a prefix names them. JSON list in the environment.",
    )

    # --- staff console ---
    console_enabled: bool = Field(True, description="Serve the staff console at `/console/`.")
    console_second_factor: bool = Field(
        True,
        description="Require a TOTP second factor at the console login. Switching it off is "
        "for trials only; `rathausbot doctor` warns about it.",
    )
    console_session_idle_minutes: int = Field(
        30, ge=1, le=1440, description="A console session ends after this long without use."
    )
    console_session_hours: int = Field(
        10, ge=1, le=24, description="A console session ends this long after the login anyway."
    )
    console_login_max_failures: int = Field(
        5,
        ge=1,
        le=100,
        description="Failed logins in a row after which one account is locked out from one "
        "address (other addresses are slowed down, not locked out).",
    )
    console_login_lockout_minutes: int = Field(
        15, ge=1, le=1440, description="How long such a lockout lasts."
    )
    console_max_event_streams: int = Field(
        100, ge=1, le=10_000, description="Open inbox pages with live updates per gateway."
    )
    takeover_wait_seconds: int = Field(
        180,
        ge=1,
        le=3600,
        description="How long a chat waits for a clerk to take it over before the citizen "
        "is told that nobody is free and offered a callback.",
    )
    takeover_availability: Literal["department", "anyone"] = Field(
        "department",
        description="Whose `verfügbar` mark offers a chat a live takeover: a clerk of the "
        "case's department (or one with no department assigned), or anyone.",
    )

    log_level: str = Field("INFO", description="Log level of the gateway (DEBUG, INFO, ...).")
    log_format: Literal["text", "json"] = Field(
        "text",
        description="`json`: one JSON object per log line, with the call or chat session id "
        "of the line's context.",
    )

    # --- Operations ---
    metrics_host: str = Field(
        "127.0.0.1",
        description="Address of the Prometheus `/metrics` listener (loopback; a private "
        "address only where the scraper is elsewhere).",
    )
    metrics_port: int = Field(
        9464,
        ge=0,
        le=65535,
        description="Port of the `/metrics` listener, never the public HTTP port; 0: off.",
    )
    drain_timeout_s: float = Field(
        30.0,
        ge=0,
        le=3600,
        description="On SIGTERM, how long running calls may finish while no new calls or "
        "chats are accepted; chat turns in progress then get rasa_timeout_s + 5 s.",
    )

    @field_validator("webhook_bookings_url", "webhook_tickets_url", "webhook_callbacks_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("console_base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/") if value is not None else None

    @field_validator("mail_mailboxes")
    @classmethod
    def _mailboxes(cls, value: dict[str, str]) -> dict[str, str]:
        for department, mailbox in value.items():
            if "@" not in mailbox or any(c in mailbox for c in " ,;<>\r\n"):
                raise ValueError(f"{department}: {mailbox!r} is not one e-mail address")
        return value

    @field_validator("rasa_urls")
    @classmethod
    def _rasa_urls(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(value) > MAX_RASA_URLS:
            raise ValueError(f"at most {MAX_RASA_URLS} Rasa servers")
        for url in value:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"not an http(s) URL: {url!r}")
        if len(set(value)) != len(value):
            raise ValueError("a Rasa server is named twice")
        return tuple(url.rstrip("/") for url in value)

    @model_validator(mode="after")
    def _metrics_apart(self) -> Settings:
        if self.metrics_port and self.metrics_port == self.port:
            raise ValueError("metrics_port must differ from the public HTTP port")
        return self

    @model_validator(mode="after")
    def _mail_complete(self) -> Settings:
        if self.mail_enabled:
            missing = [
                name
                for name, value in (
                    ("mail_from", self.mail_from),
                    ("mail_mailboxes", self.mail_mailboxes),
                    ("console_base_url", self.console_base_url),
                )
                if not value
            ]
            if missing:
                raise ValueError(f"mail_enabled needs {', '.join(missing)}")
        return self

    @field_validator("staff_hours")
    @classmethod
    def _staff_hours(cls, value: str) -> str:
        StaffHours.parse(value)  # raises ValueError naming the bad part
        return value

    @field_validator("webrtc_stun_urls", "webrtc_turn_urls")
    @classmethod
    def _ice_urls(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        schemes = (
            ("stun:", "stuns:") if info.field_name == "webrtc_stun_urls" else ("turn:", "turns:")
        )
        for url in value:
            if not url.startswith(schemes) or any(c in url for c in " \r\n"):
                raise ValueError(f"{url!r} must start with {' or '.join(schemes)}")
        return value

    @field_validator("sip_trusted_sources", "rtp_trusted_sources", "forwarded_allow_ips")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        parse_networks(value)  # raises ValueError naming the bad entry
        return value

    @field_validator("sip_transfer_target", "sip_register_uri")
    @classmethod
    def _sip_uri(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sip:", "sips:")):
            raise ValueError("must be a sip: URI")
        return value

    @field_validator("callback_allowed_prefixes")
    @classmethod
    def _prefixes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        CallbackPolicy(value)  # raises ValueError naming the bad prefix
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return level

    @model_validator(mode="after")
    def _retention_table(self) -> Settings:
        _ = self.retention_policy  # raises RetentionError, a ValueError, for a bad table
        return self

    @model_validator(mode="after")
    def _rtp_port_range(self) -> Settings:
        if self.rtp_port_max < self.rtp_port_min + 1:
            raise ValueError(
                "rtp_port_max must be above rtp_port_min (the range needs an even port)"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config_file())
        return (init_settings, env_settings, toml)

    @property
    def redis_embedded(self) -> bool:
        return self.redis_url is None

    @property
    def retention_policy(self) -> Retention:
        """Days per data type (`retention`, with the older single settings as defaults)."""
        defaults = dict(DEFAULT_DAYS)
        defaults[DataType.CONVERSATIONS] = self.retention_days
        defaults[DataType.RECORDINGS] = self.recording_retention_days
        return Retention.parse(self.retention, defaults=defaults)

    @property
    def retention_seconds(self) -> int:
        return self.retention_days * 86_400

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def rasa_servers(self) -> tuple[str, ...]:
        """The Rasa servers conversations are pinned to (the local one unless configured)."""
        return self.rasa_urls or (self.rasa_url,)

    @property
    def actions_url(self) -> str:
        return f"http://127.0.0.1:{self.actions_port}"
