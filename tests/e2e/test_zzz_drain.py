"""Last of all (by name, after the privacy log test): SIGTERM drains the real gateway. A call
and a chat are running; the gateway then says `draining` on /healthz and in its metrics,
answers SIP OPTIONS and new INVITEs with 503, refuses new chats, still answers the running
chat's turn (kept in the transcript), and exits with 0 only after the running call ended."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from channels.protocol import Ack, BotLine, SendText
from channels.sessions import token_key
from dialogue.messages import Role
from rathausbot.app import Runtime
from telephony.sip.transaction import Timers
from telephony.sip.ua import SipCallError, SipConfig, UserAgent
from tests.channels.chat_client import chat
from tests.e2e.conftest import Gateway
from tests.e2e.test_metrics import get, scrape
from tests.e2e.test_sip_call import wait_for_hotline
from tests.telephony.sip_helpers import SDP
from tests.telephony.test_ua import options_request, udp_exchange

pytestmark = pytest.mark.slow


async def health(gateway: Gateway) -> dict[str, object]:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{gateway.url}/healthz", timeout=10)
    body = response.json()
    assert isinstance(body, dict)
    return body


async def test_sigterm_drains_calls_and_chats(gateway: Gateway, rt: Runtime) -> None:
    uri = await asyncio.to_thread(wait_for_hotline, gateway)
    sip = ("127.0.0.1", gateway.settings.sip_port)
    url = gateway.url.replace("http://", "ws://") + "/ws/chat"
    phone = UserAgent(SipConfig(port=0, timers=Timers()), lambda call: call.ended())
    await phone.start()
    try:
        async with chat(url) as client:
            await client.hello()
            call = await phone.invite(uri, SDP, timeout_s=20)
            probe = await asyncio.to_thread(udp_exchange, sip, options_request("before"))
            assert probe.status == 200

            gateway.process.terminate()  # SIGTERM
            for _ in range(100):  # bounded: 100 x 0.1 s
                if (await health(gateway))["status"] == "draining":
                    break
                await asyncio.sleep(0.1)
            assert (await health(gateway))["status"] == "draining"
            metrics = await asyncio.to_thread(scrape, gateway)
            assert get(metrics, "rathausbot_draining") == 1

            probe = await asyncio.to_thread(udp_exchange, sip, options_request("during"))
            assert probe.status == 503
            with pytest.raises(SipCallError) as refused:
                await phone.invite(uri, SDP, timeout_s=20)
            assert refused.value.status == 503
            with pytest.raises(InvalidStatus):
                async with chat(url):
                    pass

            frames = await client.turn(SendText("d1", "Wann hat das Bürgeramt geöffnet?"))
            assert Ack("d1") in frames
            assert any(isinstance(f, BotLine) and f.text for f in frames)
            session_id = await rt.redis.get(token_key(client.token or ""))
            assert isinstance(session_id, str)
            lines = await rt.store.transcript(session_id)
            users = [r.text for r in lines if r.role is Role.USER]
            assert users == ["Wann hat das Bürgeramt geöffnet?"]

            assert gateway.process.poll() is None, "the gateway stopped with a call running"
            await call.bye()
        code = await asyncio.to_thread(gateway.process.wait, 120)
        assert code == 0, gateway.log_tail()
    finally:
        await phone.stop()
