"""Chat turns per second and p95 latency straight to Rasa: one Rasa server vs. two with
conversations pinned (`PinnedRasa`), on one Redis, the same concurrent conversations.
Prints figures; on 2 cores two servers share the same CPUs, so expect little gain here
(the pinning pays where each Rasa server has its own cores or host).

Usage: `make bench` (or `python -m bench.rasa_scaleout --conversations 8`).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time
from pathlib import Path

from bench.chat_latency import MESSAGES
from bench.rasa_servers import embedded_redis, rasa_servers
from dialogue.messages import Channel
from dialogue.pinning import PinnedRasa
from dialogue.rasa import DialogueEngine, RasaClient


async def conversation(engine: DialogueEngine, latencies: list[float]) -> None:
    session = f"bench-{secrets.token_hex(8)}"
    for text in MESSAGES:
        started = time.perf_counter()
        await engine.send(session, Channel.WEBCHAT, text)
        latencies.append(time.perf_counter() - started)


async def run(engine: DialogueEngine, conversations: int, label: str) -> None:
    await asyncio.gather(*(conversation(engine, []) for _ in range(2)))  # warm-up
    latencies: list[float] = []
    started = time.perf_counter()
    await asyncio.gather(*(conversation(engine, latencies) for _ in range(conversations)))
    elapsed = time.perf_counter() - started
    p95 = statistics.quantiles(latencies, n=20)[-1]
    print(
        f"{label}: {len(latencies)} turns, {len(latencies) / elapsed:.1f} turns/s, "
        f"median {statistics.median(latencies) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms",
        flush=True,
    )


async def main(conversations: int) -> None:
    with tempfile.TemporaryDirectory(prefix="rathausbot-bench-") as tmp:
        var_dir = Path(tmp)
        async with embedded_redis(var_dir) as url:
            print("Starting two Rasa servers and an action server ...", flush=True)
            async with rasa_servers(var_dir, url, 2) as servers:
                clients = [RasaClient(u, token=servers.token, timeout_s=120) for u in servers.urls]
                await run(clients[0], conversations, "one Rasa server ")
                pinned = PinnedRasa(clients, servers.urls)
                await run(pinned, conversations, "two Rasa servers")
                await pinned.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=8)
    asyncio.run(main(parser.parse_args().conversations))
