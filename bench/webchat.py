"""Web chat channel figures: turn latency through `/ws/chat` vs. `DialogueCore` called
directly on the same messages (p50/p95 and their ratio, target <= 1.05), throughput of
concurrent sessions both ways, and the gateway's memory per idle chat connection.

The chat endpoint runs in a child process (so that its memory can be read on its own),
joined to the Redis and Rasa of a running `rathausbot serve`, else to ones this benchmark
starts and stops. Usage: `make bench` (or `python -m bench.webchat --rounds 20`).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import signal
import statistics
import sys
import time
from pathlib import Path

import httpx
import uvicorn
from websockets.asyncio.client import ClientConnection, connect

from channels.fanout import Fanout
from channels.protocol import (
    Hello,
    SendText,
    ServerMessage,
    Typing,
    Welcome,
    encode_client,
    parse_server,
)
from dialogue.messages import Channel, UserTurn
from rathausbot.app import Runtime, chat_endpoint, port_free, runtime
from rathausbot.health import HealthMonitor
from rathausbot.http import create_app
from rathausbot.settings import Settings

MESSAGES = (
    "Guten Tag",
    "Bin ich mit einem Menschen verbunden?",
    "es brennt bei uns im keller",
    "vielen dank",
    "Quarkbrötchen mit Erdbeeren",
    "Tschüss",
)
# The child serves many sessions from one address and must not time out on a busy Rasa.
CHILD_OVERRIDES: dict[str, object] = {
    "webchat_max_connections_per_ip": 100_000,
    "webchat_new_session_burst": 100_000,
    "webchat_new_sessions_per_minute": 100_000,
    "webchat_rate_burst": 1000,
    "webchat_rate_per_minute": 100_000,
    "rasa_timeout_s": 60.0,
}


# --- the child: the chat endpoint only ---


async def serve_chat(port: int) -> None:
    settings = Settings(**CHILD_OVERRIDES)  # type: ignore[arg-type]
    async with runtime(settings, reuse=True) as rt, Fanout(rt.redis) as fanout:
        await rt.services.start()
        health = HealthMonitor(
            redis=rt.redis,
            http=rt.http,
            rasa_url=settings.rasa_url,
            rasa_token=rt.secrets.rasa_token,
            actions_url=settings.actions_url,
            start_timeout_s=1,
        )
        app = create_app(health=health, chat=chat_endpoint(rt, fanout))
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            ws="websockets-sansio",
            log_config=None,
            lifespan="off",
        )
        await uvicorn.Server(config).serve()


# --- the parent: clients and measurements ---


async def recv_until_typing_off(ws: ClientConnection) -> list[ServerMessage]:
    seen: list[ServerMessage] = []
    while True:
        message = parse_server(await ws.recv())
        seen.append(message)
        if message == Typing(False):
            return seen


async def ws_session(url: str) -> ClientConnection:
    ws = await connect(url, max_size=None)
    await ws.send(encode_client(Hello()))
    welcome = parse_server(await ws.recv())
    assert isinstance(welcome, Welcome)
    await recv_until_typing_off(ws)  # the greeting
    return ws


async def ws_turn(ws: ClientConnection, text: str) -> float:
    started = time.perf_counter()
    await ws.send(encode_client(SendText(secrets.token_hex(4), text)))
    await recv_until_typing_off(ws)
    return time.perf_counter() - started


async def core_turn(rt: Runtime, session: str, text: str) -> float:
    started = time.perf_counter()
    await rt.core.handle(UserTurn(session, Channel.WEBCHAT, text))
    return time.perf_counter() - started


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


async def latency(rt: Runtime, url: str, rounds: int, warmup: int) -> None:
    chat_ms: list[float] = []
    core_ms: list[float] = []
    for index in range(warmup + rounds):
        ws = await ws_session(url)
        session = f"bench-core-{secrets.token_hex(8)}"
        await rt.core.greet(session, Channel.WEBCHAT)
        for position, text in enumerate(MESSAGES):
            if (index + position) % 2:  # alternate which goes first
                a = await ws_turn(ws, text)
                b = await core_turn(rt, session, text)
            else:
                b = await core_turn(rt, session, text)
                a = await ws_turn(ws, text)
            if index >= warmup:
                chat_ms.append(a * 1000)
                core_ms.append(b * 1000)
        await ws.close()
        print(f"  latency round {index + 1}/{warmup + rounds}", end="\r", flush=True)
    print()
    for name, values in (("widget channel (/ws/chat)", chat_ms), ("DialogueCore direct", core_ms)):
        print(
            f"{name:<28} p50 {percentile(values, 0.5):7.2f} ms   "
            f"p95 {percentile(values, 0.95):7.2f} ms   n={len(values)}"
        )
    ratio50 = statistics.median(chat_ms) / statistics.median(core_ms)
    ratio95 = percentile(chat_ms, 0.95) / percentile(core_ms, 0.95)
    print(f"ratio p50: {ratio50:.3f}   ratio p95: {ratio95:.3f}   (target <= 1.05)")


async def throughput(rt: Runtime, url: str, sessions: int) -> None:
    async def chat_one() -> None:
        ws = await ws_session(url)
        for text in MESSAGES:
            await ws_turn(ws, text)
        await ws.close()

    async def core_one() -> None:
        session = f"bench-core-{secrets.token_hex(8)}"
        await rt.core.greet(session, Channel.WEBCHAT)
        for text in MESSAGES:
            await core_turn(rt, session, text)

    turns = sessions * (1 + len(MESSAGES))
    for name, one in (("widget channel (/ws/chat)", chat_one), ("DialogueCore direct", core_one)):
        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(sessions)))
        elapsed = time.perf_counter() - started
        print(f"{name:<28} {turns / elapsed:7.1f} turns/s   ({sessions} concurrent sessions)")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def idle_memory(url: str, pid: int, count: int) -> None:
    before = rss_kib(pid)
    sockets = []
    for start in range(0, count, 50):
        sockets += await asyncio.gather(*(ws_session(url) for _ in range(min(50, count - start))))
    await asyncio.sleep(1.0)  # let the server settle before reading its memory
    after = rss_kib(pid)
    per = (after - before) / count
    print(f"gateway memory per idle chat connection: {per:.1f} KiB ({count} connections)")
    await asyncio.gather(*(ws.close() for ws in sockets))


async def measure(args: argparse.Namespace) -> None:
    async with runtime(Settings(), reuse=True) as rt:
        print("Starting or joining Redis and Rasa ...", flush=True)
        await rt.services.start()
        port = args.port
        if not port_free(port):
            raise SystemExit(f"port {port} is in use; pass --port")
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.webchat", "--serve", str(port), env=os.environ.copy()
        )
        try:
            async with httpx.AsyncClient() as http:
                for _ in range(600):
                    try:
                        await http.get(f"http://127.0.0.1:{port}/widget/widget.js")
                        break
                    except httpx.TransportError:
                        await asyncio.sleep(0.1)
            url = f"ws://127.0.0.1:{port}/ws/chat"
            await latency(rt, url, args.rounds, args.warmup)
            await throughput(rt, url, args.sessions)
            await idle_memory(url, child.pid, args.idle)
        finally:
            child.send_signal(signal.SIGTERM)
            async with asyncio.timeout(30):
                await child.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=20, help="conversations per path")
    parser.add_argument("--warmup", type=int, default=2, help="conversations not counted")
    parser.add_argument("--sessions", type=int, default=50, help="concurrent sessions")
    parser.add_argument("--idle", type=int, default=200, help="idle connections to open")
    parser.add_argument("--port", type=int, default=8099, help="port of the chat endpoint")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)  # the child
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.serve:
        asyncio.run(serve_chat(args.serve))
    else:
        asyncio.run(measure(args))


if __name__ == "__main__":
    main()
