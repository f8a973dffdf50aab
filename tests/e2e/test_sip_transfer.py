"""Transfer to staff by SIP REFER, with sipp as the caller: accepted, and refused (callback).

The hotline runs in the test process (so staff can be "present" whatever the date) on the
gateway's real Rasa and Redis, with the real voice engines; sipp presses 0 for a person."""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from rathausbot.app import Runtime, VoiceEngines, voice_engines
from rathausbot.telephone import sip_agent
from telephony.sip.ua import UserAgent
from tests.e2e.conftest import Gateway
from tests.redis_server import free_port
from tests.telephony.test_sipp import free_media_port

SIPP = shutil.which("sipp")
SCENARIOS = Path(__file__).parent / "sipp"
STAFF = "sip:staff@127.0.0.1:5999"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(SIPP is None, reason="sipp (sip-tester) is not installed (make setup-test)"),
]


@pytest.fixture(scope="module")
def engines(gateway: Gateway) -> VoiceEngines:
    return voice_engines(gateway.settings, progress=print)


@pytest.fixture
async def hotline(gateway: Gateway, rt: Runtime, engines: VoiceEngines) -> AsyncIterator[UserAgent]:
    settings = gateway.settings.model_copy(
        # sipp sends no audio besides the key press: keep its silent line up
        update={"sip_port": free_port(), "sip_transfer_target": STAFF, "rtp_timeout_s": 120.0}
    )
    agent = sip_agent(settings, rt.core, engines, staff_present=lambda: True)
    await agent.start()
    try:
        yield agent
    finally:
        await agent.stop()


async def run_sipp(agent: UserAgent, scenario: str, tmp_path: Path) -> tuple[int, str]:
    host, port = agent.addresses["udp"]
    assert SIPP is not None
    process = await asyncio.create_subprocess_exec(
        SIPP,
        f"{host}:{port}",
        "-sf",
        str(SCENARIOS / scenario),
        "-s",
        "rathaus",
        "-i",
        "127.0.0.1",
        "-p",
        str(free_port()),
        "-mi",
        "127.0.0.1",
        "-mp",
        str(free_media_port()),
        "-m",
        "1",
        "-timeout",
        "150s",
        "-timeout_error",
        "-nostdin",
        "-trace_err",
        "-error_file",
        str(tmp_path / "sipp-errors.log"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path,
    )
    out, _ = await process.communicate()
    errors = tmp_path / "sipp-errors.log"
    detail = errors.read_text(errors="replace")[-3000:] if errors.exists() else ""
    return process.returncode or 0, out.decode(errors="replace")[-2000:] + detail


async def test_caller_accepts_the_transfer_and_the_bot_leaves_the_call(
    hotline: UserAgent, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    code, output = await run_sipp(hotline, "refer_accept.xml", tmp_path)
    assert code == 0, output  # REFER to staff received, NOTIFY 200 answered, BYE from the bot
    assert "transferring" in caplog.text
    assert "offering a callback" not in caplog.text
    assert hotline.stats().get("calls", 0) == 0


async def test_refused_transfer_leads_to_the_callback_offer(
    hotline: UserAgent, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    code, output = await run_sipp(hotline, "refer_refuse.xml", tmp_path)
    assert code == 0, output
    assert "transfer failed: offering a callback" in caplog.text
