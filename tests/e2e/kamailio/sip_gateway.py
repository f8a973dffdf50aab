"""A gateway's SIP side for the Kamailio test: the real user agent (`telephony.sip.ua`)
on a loopback port, answering every call and writing one line per call to a file. SIGTERM
drains it as `rathausbot serve` does (OPTIONS and INVITE get 503; it exits once its calls
ended); SIGKILL is a crash.

    python -m tests.e2e.kamailio.sip_gateway PORT CALL_LOG
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from telephony.sip.ua import SipCall, SipConfig, UserAgent
from tests.telephony.sip_helpers import SDP

ANSWER = SDP.replace(b"40000", b"41000")


async def main(port: int, log: Path) -> None:
    async def on_call(call: SipCall) -> None:
        await call.ringing()
        await call.accept(ANSWER)
        with log.open("a") as handle:
            handle.write(f"{call.call_id}\n")
        await call.ended()

    ua = UserAgent(SipConfig(host="127.0.0.1", port=port, transports=("udp",)), on_call)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await ua.start()
    print("ready", flush=True)
    await stop.wait()
    ua.drain()
    print("draining", flush=True)
    for _ in range(600):  # at most 60 s for the calls in progress
        if ua.stats()["calls"] == 0:
            break
        await asyncio.sleep(0.1)
    await ua.stop()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), Path(sys.argv[2])))
