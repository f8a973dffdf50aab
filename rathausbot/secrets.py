"""Secrets (Rasa token, Redis password): taken from the settings, else generated once into
`var/secrets/` (mode 0600) and reused by every later start and client command."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from rathausbot.settings import Settings


@dataclass(frozen=True, slots=True)
class Secrets:
    rasa_token: str
    redis_password: str | None


@dataclass(frozen=True, slots=True)
class RedisTarget:
    """Where Redis is; both the gateway and Rasa's tracker and lock stores use it."""

    host: str
    port: int
    db: int
    password: str | None
    username: str | None = None
    ssl: bool = False

    @property
    def url(self) -> str:
        scheme = "rediss" if self.ssl else "redis"
        auth = ""
        if self.password is not None:
            auth = f"{quote(self.username or '', safe='')}:{quote(self.password, safe='')}@"
        return f"{scheme}://{auth}{self.host}:{self.port}/{self.db}"

    @property
    def display(self) -> str:
        """The address without credentials, for logs and messages."""
        return f"{self.host}:{self.port}/{self.db}"


def load_or_create_secret(path: Path) -> str:
    """Reads a secret file, creating it with 256 random bits (mode 0600) when missing."""
    if path.exists():
        value = path.read_text(encoding="ascii").strip()
        if value:
            return value
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = secrets.token_urlsafe(32)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(value + "\n")
    tmp.replace(path)
    return value


def resolve_secrets(settings: Settings) -> Secrets:
    secrets_dir = settings.var_dir / "secrets"
    if settings.rasa_token is not None:
        token = settings.rasa_token.get_secret_value()
    else:
        token = load_or_create_secret(secrets_dir / "rasa_token")
    password: str | None = None
    if settings.redis_embedded:
        if settings.redis_password is not None:
            password = settings.redis_password.get_secret_value()
        else:
            password = load_or_create_secret(secrets_dir / "redis_password")
    return Secrets(rasa_token=token, redis_password=password)


def redis_target(settings: Settings, secrets_: Secrets) -> RedisTarget:
    if settings.redis_url is None:
        return RedisTarget("127.0.0.1", settings.redis_port, 0, secrets_.redis_password)
    parts = urlsplit(settings.redis_url)
    if parts.scheme not in {"redis", "rediss"} or not parts.hostname:
        raise ValueError("REDIS_URL must look like redis://[:password@]host[:port][/db]")
    db_text = parts.path.lstrip("/")
    return RedisTarget(
        host=parts.hostname,
        port=parts.port or 6379,
        db=int(db_text) if db_text else 0,
        password=unquote(parts.password) if parts.password else None,
        username=unquote(parts.username) if parts.username else None,
        ssl=parts.scheme == "rediss",
    )
