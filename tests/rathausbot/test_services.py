"""The embedded Redis as `serve` starts it: a memory limit that never evicts."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from rathausbot.services import embedded_redis_spec
from rathausbot.settings import Settings
from tests.redis_server import free_port


def test_the_embedded_redis_has_a_memory_limit_and_never_evicts(tmp_path: Path) -> None:
    port = free_port()
    settings = Settings(var_dir=tmp_path, redis_port=port, redis_maxmemory_mb=64)
    spec = embedded_redis_spec(settings, "pw")
    process = subprocess.Popen(spec.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = Redis(port=port, password="pw", decode_responses=True)
        for _ in range(500):  # bounded: at most 500 x 20 ms while it starts
            try:
                client.ping()
                break
            except RedisConnectionError:
                time.sleep(0.02)
        assert client.config_get("maxmemory") == {"maxmemory": str(64 << 20)}
        assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
        client.close()
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_token_starting_with_a_dash_reaches_rasa_as_a_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """token_urlsafe() may start with '-': Rasa's argparse must still read it as the value."""
    import argparse
    import sys

    from contract import env
    from rathausbot.services import _RASA_LAUNCHER

    monkeypatch.setenv(env.RASA_TOKEN, "-starts-with-a-dash")
    monkeypatch.setattr(sys, "argv", ["launcher", "run", "--enable-api"])
    seen: list[str] = []
    code = _RASA_LAUNCHER.replace("from rasa.__main__ import main; ", "")
    exec(code, {"main": lambda: seen.extend(sys.argv)})
    parser = argparse.ArgumentParser()
    parser.add_argument("-t", "--auth-token")
    known, _ = parser.parse_known_args(seen[1:])
    assert known.auth_token == "-starts-with-a-dash"


def test_the_action_server_keeps_each_record_kind_for_its_own_retention() -> None:
    from rathausbot.services import record_retention

    settings = Settings(retention={"bookings": 2, "tickets": 180, "callbacks": 3})
    assert record_retention(settings) == {
        "RATHAUSBOT_RETENTION_BOOKING_SECONDS": str(2 * 86_400),
        "RATHAUSBOT_RETENTION_TICKET_SECONDS": str(180 * 86_400),
        "RATHAUSBOT_RETENTION_CALLBACK_SECONDS": str(3 * 86_400),
    }
