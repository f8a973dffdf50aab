"""Chat turns per second and p95 through real gateways, one vs. two, and sessions held.

One gateway on one Rasa server vs. two gateways on two Rasa servers (conversations pinned),
on one Redis, each with a light load (20 sessions at once: latency) and a heavy one (300:
throughput, latency then mostly waiting for Rasa); then chat sessions held at once: idle
WebSocket connections (greeted, then silent) stay open while active sessions chat. Lost and
crossed messages are counted and printed; timing is printed, never asserted.

Each gateway is a `rathausbot serve` process joined to the benchmark's own Redis and Rasa
servers (`REDIS_URL`, `rasa_urls`), SIP and browser calls off. Every client comes from one
address (loopback), so the benchmark configures the gateways' per-address chat limits in
their settings (environment) to what it opens; the defaults stay as they are.

Lost: a turn without its ack or without an answer (or with the "unavailable" answer, an
error frame, a dropped socket), a sent message missing from the session's transcript in
Redis, an idle connection the gateway closed. Crossed: a message in a session's transcript
that the session did not send, replies that differ from what the transcript holds, two
sessions on one id, any frame an idle connection receives after its greeting.

Usage: `make bench` (or `python -m bench.chat_scaleout --sessions 300 --idle 1000`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from pydantic import SecretStr
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.protocol import State

from bench.rasa_servers import REPO, embedded_redis, free_port, rasa_servers
from bench.webchat import percentile, rss_kib
from channels.protocol import Ack, BotLine, Error, SendText, ServerMessage
from channels.sessions import token_key
from dialogue.core import UNAVAILABLE_TEXT
from dialogue.messages import Channel, Role
from rathausbot.app import Runtime, runtime
from rathausbot.settings import Settings
from tests.channels.chat_client import ChatClient, chat

# Every text carries the session's number, so a message in the wrong session is seen.
TURNS = ("Guten Tag, hier schreibt Nummer {n}", "Danke {n}, tschüss")
UNAVAILABLE = UNAVAILABLE_TEXT[Channel.WEBCHAT]
READY_TIMEOUT_S = 600  # a gateway starting while two Rasa servers load on 2 busy cores
EXAMPLES = 5  # problems printed in full per phase
CLIENT_ERRORS = (ConnectionClosed, WebSocketException, OSError, TimeoutError, AssertionError)


@dataclass
class Tally:
    """What one phase saw: turns with their latency, and every message lost or crossed."""

    latencies: list[float] = field(default_factory=list)
    lost: int = 0
    crossed: int = 0
    problems: list[str] = field(default_factory=list)

    def loss(self, count: int, what: str) -> None:
        self.lost += count
        self.problems.append(f"lost {count}: {what}")

    def cross(self, count: int, what: str) -> None:
        self.crossed += count
        self.problems.append(f"crossed {count}: {what}")


@dataclass
class Result:
    """One active session: its token, the texts it sent and the replies it received."""

    token: str | None
    sent: list[str]
    received: list[str]


@dataclass
class Gateway:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/ws/chat"


def bot_lines(frames: list[ServerMessage]) -> list[str]:
    return [m.text for m in frames if isinstance(m, BotLine)]


def gateway_env(
    var_dir: Path,
    redis_url: str,
    rasa_urls: Sequence[str],
    token: str,
    *,
    connections: int,
    in_flight: int,
) -> tuple[dict[str, str], int]:
    """The environment of one gateway joined to the bench's Redis and Rasa; its port."""
    port = free_port()
    values: dict[str, object] = {
        "VAR_DIR": var_dir,
        "CONFIG": var_dir / "no-config.toml",
        "PORT": port,
        "METRICS_PORT": free_port(),
        "RASA_URLS": json.dumps(list(rasa_urls)),
        "RASA_TOKEN": token,
        "SIP_ENABLED": "false",
        "WEBRTC_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
        # All bench clients share one address: its limits are set to what the bench
        # opens (the defaults, 20 connections and a burst of 10 new sessions, stay).
        "WEBCHAT_MAX_CONNECTIONS_PER_IP": connections,
        "WEBCHAT_NEW_SESSION_BURST": connections,
        "WEBCHAT_NEW_SESSIONS_PER_MINUTE": 100_000,
        # Idle connections are held longer than the default 300 s on a slow machine.
        "WEBCHAT_IDLE_TIMEOUT_S": 3600,
        # Hundreds of turns queue at Rasa on 2 cores: seconds each, not milliseconds.
        "RASA_TIMEOUT_S": 120,
        "RASA_MAX_IN_FLIGHT": in_flight,
    }
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("RATHAUSBOT_") and k != "REDIS_URL"
    }
    env.update({f"RATHAUSBOT_{k}": str(v) for k, v in values.items()})
    env["REDIS_URL"] = redis_url
    return env, port


def launch(env: dict[str, str], port: int, log: Path) -> Gateway:
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(REPO / ".venv" / "bin" / "rathausbot"), "serve"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Gateway(f"http://127.0.0.1:{port}", process, log)


async def wait_ready(gateway: Gateway) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(READY_TIMEOUT_S * 2):  # bounded: 0.5 s each
            if gateway.process.poll() is not None:
                break
            try:
                if (await http.get(f"{gateway.url}/healthz", timeout=5)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.5)
    tail = gateway.log.read_text(errors="replace")[-3000:]
    raise RuntimeError(f"the gateway at {gateway.url} did not become ready:\n{tail}")


def stop(gateway: Gateway) -> None:
    if gateway.process.poll() is None:
        gateway.process.send_signal(signal.SIGTERM)
        try:
            gateway.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            gateway.process.kill()
            gateway.process.wait()


@contextlib.asynccontextmanager
async def gateways(
    var_dir: Path,
    redis_url: str,
    groups: Sequence[Sequence[str]],
    token: str,
    connections: int,
    in_flight: int,
) -> AsyncIterator[list[Gateway]]:
    """One gateway per entry of `groups` (the Rasa servers it uses), started together."""
    started: list[Gateway] = []
    try:
        for index, rasa_urls in enumerate(groups):
            gw_dir = var_dir / f"gateway-{index}"
            gw_dir.mkdir()
            env, port = gateway_env(
                gw_dir, redis_url, rasa_urls, token, connections=connections, in_flight=in_flight
            )
            started.append(launch(env, port, gw_dir / "serve.log"))
        await asyncio.gather(*(wait_ready(g) for g in started))
        yield started
    finally:
        for gateway in started:
            stop(gateway)


# --- active sessions ---


async def active_session(url: str, n: int, tally: Tally) -> Result:
    sent: list[str] = []
    received: list[str] = []
    token: str | None = None
    try:
        async with chat(url) as client:
            started = time.perf_counter()
            greeting = bot_lines(await client.hello())
            tally.latencies.append(time.perf_counter() - started)
            token = client.token
            received += greeting
            if not greeting or UNAVAILABLE in greeting:
                tally.loss(1, f"session {n}: no greeting")
            for index, template in enumerate(TURNS):
                message = SendText(f"n{n}-{index}", template.format(n=n))
                started = time.perf_counter()
                frames = await client.turn(message)
                tally.latencies.append(time.perf_counter() - started)
                sent.append(message.text)
                lines = bot_lines(frames)
                received += lines
                refused = [f for f in frames if isinstance(f, Error)]
                if Ack(message.id) not in frames or not lines or UNAVAILABLE in lines or refused:
                    tally.loss(1, f"session {n} turn {index}: {frames!r:.200}")
    except CLIENT_ERRORS as exc:
        tally.loss(len(TURNS) - len(sent), f"session {n}: {type(exc).__name__} {exc!s:.120}")
    return Result(token, sent, received)


async def check_transcripts(rt: Runtime, results: list[Result], tally: Tally) -> None:
    """Compares what each session sent and received with its transcript in Redis."""
    sessions: set[str] = set()
    for n, result in enumerate(results):
        if result.token is None:
            continue
        session = await rt.redis.get(token_key(result.token))
        if not isinstance(session, str):
            tally.loss(len(result.sent), f"session {n}: its token leads nowhere")
            continue
        if session in sessions:
            tally.cross(1, f"session {n}: a session id given twice")
        sessions.add(session)
        records = await rt.store.transcript(session)
        users = [r.text for r in records if r.role is Role.USER]
        bots = [r.text for r in records if r.role is Role.BOT and r.text]
        missing = [t for t in result.sent if t not in users]
        foreign = [t for t in users if t not in result.sent]
        if missing:
            tally.loss(len(missing), f"session {n}: not in its transcript: {missing}")
        if foreign:
            tally.cross(len(foreign), f"session {n}: not its own: {foreign}")
        if bots != result.received:
            tally.cross(1, f"session {n}: received other replies than its transcript holds")


async def active_phase(rt: Runtime, urls: Sequence[str], sessions: int, label: str) -> Tally:
    tally = Tally()
    started = time.perf_counter()
    results = await asyncio.gather(
        *(active_session(urls[n % len(urls)], n, tally) for n in range(sessions))
    )
    elapsed = time.perf_counter() - started
    await check_transcripts(rt, list(results), tally)
    turns = len(tally.latencies)
    if turns:
        p50 = percentile(tally.latencies, 0.5) * 1000
        p95 = percentile(tally.latencies, 0.95) * 1000
        figures = f"{turns / elapsed:6.1f} turns/s, p50 {p50:6.0f} ms, p95 {p95:6.0f} ms"
    else:
        figures = "no turn answered"
    print(
        f"{label}: {sessions} sessions, {turns} turns in {elapsed:.1f} s, {figures}, "
        f"lost {tally.lost}, crossed {tally.crossed}",
        flush=True,
    )
    for problem in tally.problems[:EXAMPLES]:
        print(f"    {problem}")
    if len(tally.problems) > EXAMPLES:
        print(f"    ... and {len(tally.problems) - EXAMPLES} more")
    return tally


async def warm_up(urls: Sequence[str]) -> None:
    """A few conversations through each gateway, not counted (first Rasa turns are slow)."""
    await asyncio.gather(
        *(active_session(u, -1 - i, Tally()) for i, u in enumerate([*urls, *urls]))
    )


# --- idle connections held ---


@dataclass
class Idle:
    clients: list[ChatClient] = field(default_factory=list)
    failed: int = 0
    stray: int = 0
    readers: list[asyncio.Task[None]] = field(default_factory=list)


async def open_idle(url: str, idle: Idle) -> None:
    try:
        ws = await connect(url, max_size=None, ping_interval=None)  # as a browser: no pings
    except CLIENT_ERRORS:
        idle.failed += 1
        return
    client = ChatClient(ws)
    try:
        await client.hello()
    except CLIENT_ERRORS:
        idle.failed += 1
        await ws.close()
        return
    idle.clients.append(client)


async def listen(client: ChatClient, idle: Idle) -> None:
    """An idle connection must receive nothing after its greeting."""
    with contextlib.suppress(ConnectionClosed):
        while True:
            await client.ws.recv()
            idle.stray += 1


async def still_open(client: ChatClient) -> bool:
    if client.ws.state is not State.OPEN:
        return False
    try:
        async with asyncio.timeout(60):
            await (await client.ws.ping())
    except CLIENT_ERRORS:
        return False
    return True


async def held_phase(
    rt: Runtime, gws: Sequence[Gateway], idle_count: int, sessions: int, label: str
) -> None:
    idle = Idle()
    before = sum(rss_kib(g.process.pid) for g in gws)
    started = time.perf_counter()
    for start in range(0, idle_count, 50):  # 50 at a time, like a busy morning
        batch = range(start, min(idle_count, start + 50))
        await asyncio.gather(*(open_idle(gws[i % len(gws)].ws_url, idle) for i in batch))
    opened = time.perf_counter() - started
    idle.readers = [asyncio.create_task(listen(c, idle)) for c in idle.clients]
    after = sum(rss_kib(g.process.pid) for g in gws)
    per = (after - before) / max(1, len(idle.clients))
    print(
        f"{len(idle.clients)} idle connections opened and greeted in {opened:.1f} s "
        f"({idle.failed} failed), gateway memory {per:.1f} KiB each",
        flush=True,
    )
    tally = await active_phase(rt, [g.ws_url for g in gws], sessions, label)
    await asyncio.sleep(1.0)  # a late stray frame still arrives
    for reader in idle.readers:
        reader.cancel()
    await asyncio.gather(*idle.readers, return_exceptions=True)
    held = sum(await asyncio.gather(*(still_open(c) for c in idle.clients)))
    dropped = len(idle.clients) - held
    print(
        f"held at once: {held} of {idle_count} idle connections and {sessions} active "
        f"sessions; idle lost {idle.failed + dropped} (failed {idle.failed}, closed {dropped}), "
        f"idle crossed {idle.stray} (frames after the greeting); active lost {tally.lost}, "
        f"crossed {tally.crossed}",
        flush=True,
    )
    await asyncio.gather(*(c.ws.close() for c in idle.clients), return_exceptions=True)


async def measure(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="rathausbot-bench-") as tmp:
        var_dir = Path(tmp)
        async with embedded_redis(var_dir) as redis_url:
            print("Starting two Rasa servers and an action server ...", flush=True)
            async with rasa_servers(var_dir, redis_url, 2) as servers:
                settings = Settings(
                    var_dir=var_dir,
                    redis_url=redis_url,
                    rasa_urls=servers.urls,
                    rasa_token=SecretStr(servers.token),
                )
                groups = [servers.urls[:1], servers.urls, servers.urls]
                connections = args.idle + args.sessions + 50
                print("Starting three gateways (one for one Rasa server, two for two) ...")
                async with (
                    runtime(settings, reuse=True) as rt,
                    gateways(
                        var_dir, redis_url, groups, servers.token, connections, args.rasa_in_flight
                    ) as gws,
                ):
                    one, two = gws[:1], gws[1:]
                    await warm_up([g.ws_url for g in gws])
                    for sessions in sorted({args.light, args.sessions} - {0}):
                        await active_phase(
                            rt, [one[0].ws_url], sessions, "one gateway,  one Rasa server "
                        )
                        await active_phase(
                            rt, [g.ws_url for g in two], sessions, "two gateways, two Rasa servers"
                        )
                    if args.idle:
                        await held_phase(
                            rt, two, args.idle, args.sessions, "two gateways with idle held  "
                        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sessions", type=int, default=300, help="active sessions at once")
    parser.add_argument(
        "--light", type=int, default=20, help="also a light load: this many sessions (0: none)"
    )
    parser.add_argument("--idle", type=int, default=1000, help="idle connections held (0: none)")
    parser.add_argument(
        "--rasa-in-flight",
        type=int,
        default=Settings().rasa_max_in_flight,
        help="each gateway's rasa_max_in_flight",
    )
    asyncio.run(measure(parser.parse_args()))


if __name__ == "__main__":
    main()
