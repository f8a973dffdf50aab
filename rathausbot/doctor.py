"""`rathausbot doctor`: checks the installation and says how to fix what is missing."""

from __future__ import annotations

import socket
import sys
from dataclasses import dataclass

import httpx

from rathausbot import services
from rathausbot.app import make_redis, port_free
from rathausbot.health import probe_actions, probe_rasa, probe_redis
from rathausbot.secrets import redis_target, resolve_secrets
from rathausbot.settings import Settings, config_file
from rathausbot.telephone import TelephoneConfigError, sip_config, sip_policy_line
from rathausbot.training import model_path


@dataclass(frozen=True, slots=True)
class Check:
    ok: bool
    what: str
    fix: str = ""


async def doctor(settings: Settings) -> int:
    """Prints one line per check; exit code 1 when something must be fixed."""
    checks = [
        Check(
            sys.version_info[:2] == (3, 11),
            f"gateway Python {sys.version.split()[0]}",
            "run `make setup` (the gateway needs Python 3.11)",
        ),
        Check(
            config_file().exists() or True,
            f"configuration: environment + {config_file()}"
            f"{'' if config_file().exists() else ' (not present, defaults apply)'}",
        ),
    ]
    rasa_py = services.rasa_python(settings)
    checks.append(
        Check(
            services.interpreter_ok(rasa_py, (3, 10)),
            f"Rasa Python 3.10 at {rasa_py}",
            "run `make setup` (needs Python 3.10 from pyenv: `pyenv install 3.10`)",
        )
    )
    model = model_path(settings.intents_dir)
    checks.append(
        Check(
            model.exists(),
            f"trained model for {settings.intents_dir}/ ({model.name})",
            "run `make train`",
        )
    )
    try:
        binary = services.redis_server_binary()
        checks.append(Check(True, f"embedded Redis server {binary}"))
    except FileNotFoundError as exc:
        checks.append(
            Check(not settings.redis_embedded, f"embedded Redis server: {exc}", "run `make setup`")
        )

    secrets_ = resolve_secrets(settings)
    target = redis_target(settings, secrets_)
    redis = make_redis(target)
    async with httpx.AsyncClient() as http:
        redis_up = await probe_redis(redis)
        rasa_up = await probe_rasa(http, settings.rasa_url, secrets_.rasa_token)
        actions_up = await probe_actions(http, settings.actions_url)
    await redis.aclose()

    def service(name: str, up: bool, port: int, external: bool = False) -> Check:
        if up:
            return Check(True, f"{name} answers on port {port}")
        if external:
            return Check(
                False,
                f"{name} at {target.display} does not answer",
                "check REDIS_URL and that the Redis server runs",
            )
        if port_free(port):
            return Check(True, f"{name} is not running; port {port} is free for `make run`")
        return Check(
            False,
            f"port {port} for {name} is taken by another program",
            f"stop that program or configure another port for {name}",
        )

    checks += [
        service("Redis", redis_up, target.port, external=not settings.redis_embedded),
        service("Rasa", rasa_up, settings.rasa_port),
        service("action server", actions_up, settings.actions_port),
    ]
    http_busy = not port_free(settings.port, settings.host)
    checks.append(
        Check(
            True,
            f"HTTP port {settings.port}: {'in use (a running serve?)' if http_busy else 'free'}",
        )
    )

    checks.append(_telephone(settings))
    checks.append(_console(settings))

    for check in checks:
        mark = "ok " if check.ok else "FAIL"
        print(f"[{mark}] {check.what}")
        if not check.ok and check.fix:
            print(f"       fix: {check.fix}")
    failed = sum(not c.ok for c in checks)
    print("Everything looks fine." if not failed else f"{failed} problem(s) found.")
    return 1 if failed else 0


def _telephone(settings: Settings) -> Check:
    """The hotline's settings fit together, and where it listens."""
    if not settings.sip_enabled:
        return Check(True, "telephone hotline: disabled (RATHAUSBOT_SIP_ENABLED=false)")
    try:
        config = sip_config(settings)
    except (TelephoneConfigError, ValueError) as error:
        return Check(False, f"telephone hotline settings: {error}", "see docs/configuration.md")
    busy = not _udp_port_free(settings.sip_port, settings.sip_host)
    transfer = (
        f"transfers to {settings.sip_transfer_target} during {settings.staff_hours}"
        if settings.sip_transfer_target
        else "no transfer target: callers who ask for a person are offered a callback"
    )
    where = f"{settings.sip_host}:{settings.sip_port}"
    state = "in use (a running serve?)" if busy else "free"
    return Check(
        True,
        f"telephone hotline: SIP port {where} {state}; {transfer}\n"
        f"       {sip_policy_line(config)}",
    )


def _console(settings: Settings) -> Check:
    """The console's second factor is on; switching it off is reported as a problem."""
    if not settings.console_enabled:
        return Check(True, "staff console: disabled (RATHAUSBOT_CONSOLE_ENABLED=false)")
    if not settings.console_second_factor:
        return Check(
            False,
            "staff console: WARNING: the second factor (TOTP) is switched off",
            "set RATHAUSBOT_CONSOLE_SECOND_FACTOR=true (off is for trials only)",
        )
    return Check(True, "staff console: /console/ with password and TOTP second factor")


def _udp_port_free(port: int, host: str) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True
