"""The chat scale-out benchmark's own logic: the limits it configures for its one client
address (settings, not weakened defaults) and how it counts lost and crossed messages."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest

from bench.chat_scaleout import Result, Tally, check_transcripts, gateway_env
from channels.sessions import token_key
from dialogue.messages import Role
from rathausbot.app import Runtime
from rathausbot.settings import Settings

RASA = ("http://127.0.0.1:5101", "http://127.0.0.1:5102")


def settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in list(os.environ):
        if name.startswith("RATHAUSBOT_") or name == "REDIS_URL":
            monkeypatch.delenv(name)
    for name, value in env.items():
        if name.startswith("RATHAUSBOT_") or name == "REDIS_URL":
            monkeypatch.setenv(name, value)
    return Settings()


def test_the_bench_configures_its_address_limits_and_leaves_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env, port = gateway_env(
        tmp_path, "redis://:pw@127.0.0.1:6399/0", RASA, "tok", connections=1350, in_flight=24
    )
    configured = settings_from(env, monkeypatch)
    assert configured.rasa_max_in_flight == 24
    assert configured.port == port
    assert configured.webchat_max_connections_per_ip == 1350
    assert configured.webchat_new_session_burst == 1350
    assert configured.rasa_urls == RASA
    assert configured.redis_url == "redis://:pw@127.0.0.1:6399/0"
    assert not configured.sip_enabled and not configured.webrtc_enabled
    assert json.loads(env["RATHAUSBOT_RASA_URLS"]) == list(RASA)
    plain = settings_from({"RATHAUSBOT_CONFIG": str(tmp_path / "none.toml")}, monkeypatch)
    assert plain.webchat_max_connections_per_ip == 20  # the defaults stay
    assert plain.webchat_new_session_burst == 10
    assert plain.webchat_new_sessions_per_minute == 6.0


@dataclass
class Record:
    role: Role
    text: str


class FakeRedis:
    def __init__(self, tokens: dict[str, str]) -> None:
        self.tokens = tokens

    async def get(self, key: str) -> str | None:
        return self.tokens.get(key)


class FakeStore:
    def __init__(self, transcripts: dict[str, list[Record]]) -> None:
        self.transcripts = transcripts

    async def transcript(self, session: str) -> list[Record]:
        return self.transcripts[session]


@dataclass
class FakeRuntime:
    redis: FakeRedis
    store: FakeStore


def fake_runtime(tokens: dict[str, str], transcripts: dict[str, list[Record]]) -> Runtime:
    redis = FakeRedis({token_key(t): s for t, s in tokens.items()})
    return cast(Runtime, FakeRuntime(redis, FakeStore(transcripts)))


def conversation(*pairs: tuple[str, str]) -> list[Record]:
    records = [Record(Role.BOT, "Hallo")]
    for user, bot in pairs:
        records += [Record(Role.USER, user), Record(Role.BOT, bot)]
    return records


async def test_a_clean_run_counts_nothing() -> None:
    rt = fake_runtime({"a": "s1", "b": "s2"}, {"s1": conversation(("x", "1")), "s2": []})
    tally = Tally()
    results = [Result("a", ["x"], ["Hallo", "1"]), Result("b", [], []), Result(None, [], [])]
    await check_transcripts(rt, results, tally)
    assert (tally.lost, tally.crossed, tally.problems) == (0, 0, [])


async def test_lost_and_crossed_messages_are_counted() -> None:
    rt = fake_runtime(
        {"a": "s1", "b": "s2", "c": "s2"},
        {"s1": conversation(("x", "1"), ("other", "2")), "s2": conversation(("y", "3"))},
    )
    results = [
        Result("a", ["x", "z"], ["Hallo", "1", "2"]),  # z lost, "other" crossed in
        Result("b", ["y"], ["Hallo", "9"]),  # received a reply the transcript lacks
        Result("c", ["y"], ["Hallo", "3"]),  # the same session id as b
        Result("gone", ["w", "v"], ["Hallo"]),  # its token leads nowhere: both lost
    ]
    tally = Tally()
    await check_transcripts(rt, results, tally)
    assert tally.lost == 1 + 2
    assert tally.crossed == 1 + 1 + 1
    assert len(tally.problems) == 5
