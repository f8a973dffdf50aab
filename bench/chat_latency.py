"""Chat-turn latency through DialogueCore vs. the same messages sent straight to Rasa's
REST webhook, in one run, interleaved. Prints medians and their ratio (target <= 1.05).

Uses the Redis and Rasa of a running `rathausbot serve`, else starts them and stops them
afterwards. Usage: `make bench` (or `python -m bench.chat_latency --rounds 30`).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import statistics
import time

from dialogue.messages import Channel, UserTurn
from rathausbot.app import Runtime, runtime
from rathausbot.settings import Settings

MESSAGES = (
    "Guten Tag",
    "Bin ich mit einem Menschen verbunden?",
    "es brennt bei uns im keller",
    "vielen dank",
    "Quarkbrötchen mit Erdbeeren",
    "Tschüss",
)


async def core_turn(rt: Runtime, session: str, text: str) -> float:
    started = time.perf_counter()
    await rt.core.handle(UserTurn(session, Channel.WEBCHAT, text))
    return time.perf_counter() - started


async def rest_turn(rt: Runtime, session: str, text: str) -> float:
    started = time.perf_counter()
    response = await rt.http.post(
        f"{rt.settings.rasa_url}/webhooks/rest/webhook",
        json={"sender": session, "message": text},
        timeout=rt.settings.rasa_timeout_s,
    )
    response.raise_for_status()
    response.json()
    return time.perf_counter() - started


async def measure(rounds: int, warmup: int) -> None:
    # Rasa's REST channel is off unless asked for; a Rasa already running without it answers 404
    async with runtime(Settings(rasa_rest_channel=True), reuse=True) as rt:
        print("Starting or joining Redis and Rasa ...", flush=True)
        await rt.services.start()
        core: list[float] = []
        rest: list[float] = []
        for index in range(warmup + rounds):
            core_session = f"bench-core-{secrets.token_hex(8)}"
            rest_session = f"bench-rest-{secrets.token_hex(8)}"
            for position, text in enumerate(MESSAGES):
                # Alternate which path goes first, so neither profits from warm caches.
                if (index + position) % 2:
                    a = await core_turn(rt, core_session, text)
                    b = await rest_turn(rt, rest_session, text)
                else:
                    b = await rest_turn(rt, rest_session, text)
                    a = await core_turn(rt, core_session, text)
                if index >= warmup:
                    core.append(a)
                    rest.append(b)
            print(f"  round {index + 1}/{warmup + rounds}", end="\r", flush=True)
        print()
    report(core, rest)


def report(core: list[float], rest: list[float]) -> None:
    def line(name: str, values: list[float]) -> str:
        ms = sorted(v * 1000 for v in values)
        p90 = ms[int(len(ms) * 0.9) - 1]
        median = statistics.median(ms)
        return f"{name:<28} median {median:7.2f} ms   p90 {p90:7.2f} ms   n={len(ms)}"

    print(line("DialogueCore (webchat)", core))
    print(line("Rasa REST webhook (direct)", rest))
    ratio = statistics.median(core) / statistics.median(rest)
    paired = statistics.median(c / r for c, r in zip(core, rest, strict=True))
    print(f"ratio of medians: {ratio:.3f}   median of paired ratios: {paired:.3f}")
    print("target: ratio <= 1.05")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=20, help="conversations per path")
    parser.add_argument("--warmup", type=int, default=2, help="conversations not counted")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(measure(args.rounds, args.warmup))


if __name__ == "__main__":
    main()
