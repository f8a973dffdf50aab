"""The embedded Redis as `serve` starts it: a memory limit that never evicts."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

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
