from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from rathausbot.app import make_redis
from rathausbot.secrets import RedisTarget
from tests.redis_server import RedisServer


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One real Redis for the unit and integration tests of this session."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    """A client of the session's Redis, emptied before each test."""
    client = make_redis(RedisTarget("127.0.0.1", redis_server.port, 0, redis_server.password))
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
