"""Key menu and key answers through sipp as the phone: it speaks a request (PCMU from a pcap
the test writes), types answers the form cannot use as RFC 4733 telephone-events, hears the
day question turn into a key menu after two misses and picks the first free day with key 1.

The hotline runs in the test process (as in test_sip_transfer) on the gateway's real Rasa
and Redis with the real voice engines; a pass-through wrapper on the dialogue core records
each caller turn and the bot's replies, which the assertions read."""

from __future__ import annotations

import logging
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bench.speech_samples import pico
from dialogue.messages import BotReply, UserTurn
from rathausbot.app import Runtime, VoiceEngines, voice_engines
from rathausbot.telephone import sip_agent
from telephony.g711 import ulaw_encode
from telephony.rtp import DTMF_EVENTS, DtmfReceiver, RtpPacket
from telephony.sip.ua import UserAgent
from tests.e2e.conftest import Gateway
from tests.e2e.test_sip_transfer import SIPP, run_sipp
from tests.redis_server import free_port
from voice.audio import AudioFrame, concat

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(SIPP is None, reason="sipp (sip-tester) is not installed (make setup-test)"),
]

PCAP_MAGIC = 0xA1B2C3D4
LINKTYPE_ETHERNET = 1
PACKET_MS = 20
SSRC = 0x5EED


def _checksum(header: bytes) -> int:
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    total = (total & 0xFFFF) + (total >> 16)
    return int(~((total & 0xFFFF) + (total >> 16)) & 0xFFFF)


def write_pcap(path: Path, packets: list[RtpPacket]) -> None:
    """RTP packets in an Ethernet/IPv4/UDP pcap, one every 20 ms (sipp replays them with
    those gaps, from and to its own media ports)."""
    out = [struct.pack("<IHHiIII", PCAP_MAGIC, 2, 4, 0, 0, 65535, LINKTYPE_ETHERNET)]
    for index, packet in enumerate(packets):
        rtp = packet.serialize()
        udp = struct.pack("!HHHH", 6000, 6002, 8 + len(rtp), 0) + rtp
        localhost = bytes([127, 0, 0, 1])
        ip = struct.pack(
            "!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), index, 0, 64, 17, 0, localhost, localhost
        )
        ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
        frame = b"\x00" * 12 + b"\x08\x00" + ip + udp
        micros = index * PACKET_MS * 1000
        header = struct.pack(
            "<IIII", micros // 1_000_000, micros % 1_000_000, len(frame), len(frame)
        )
        out.append(header + frame)
    path.write_bytes(b"".join(out))


def speech_packets(audio: AudioFrame, *, first_seq: int = 0) -> list[RtpPacket]:
    """8 kHz `audio` as PCMU packets of 20 ms."""
    assert audio.sample_rate == 8000
    step = 2 * 8 * PACKET_MS  # bytes of 16-bit PCM per packet
    return [
        RtpPacket(
            0, first_seq + i, (first_seq + i) * 160, SSRC, ulaw_encode(audio.pcm[at : at + step])
        )
        for i, at in enumerate(range(0, len(audio.pcm) - step + 1, step))
    ]


def key_packets(key: str, *, timestamp: int, first_seq: int) -> list[RtpPacket]:
    """One key press as RFC 4733 telephone-events (payload type 101): five updates of
    growing duration, the first marked, then three end packets, all with one timestamp."""
    event = DTMF_EVENTS.index(key)
    payloads = [struct.pack("!BBH", event, 10, 160 * k) for k in range(1, 6)]
    payloads += [struct.pack("!BBH", event, 0x80 | 10, 800)] * 3
    return [
        RtpPacket(101, first_seq + i, timestamp, SSRC, payload, marker=i == 0)
        for i, payload in enumerate(payloads)
    ]


def test_pcap_has_one_rtp_packet_per_20_ms(tmp_path: Path) -> None:
    write_pcap(tmp_path / "a.pcap", speech_packets(AudioFrame.silence(0.1, 8000)))
    data = (tmp_path / "a.pcap").read_bytes()
    assert struct.unpack_from("<I", data)[0] == PCAP_MAGIC
    frame = 14 + 20 + 8 + 12 + 160
    assert len(data) == 24 + 5 * (16 + frame)
    last = data[24 + 4 * (16 + frame) :]
    assert struct.unpack_from("<II", last) == (0, 80_000)
    assert _checksum(last[16 + 14 : 16 + 34]) == 0  # a valid IPv4 header checksum
    rtp = RtpPacket.parse(last[16 + 42 :])
    assert (rtp.payload_type, rtp.sequence_number, rtp.timestamp) == (0, 4, 640)


def test_a_key_press_is_one_digit_for_the_hotline_receiver() -> None:
    receiver = DtmfReceiver()
    digits = []
    for packet in key_packets("#", timestamp=4000, first_seq=7):
        digits += receiver.feed(packet.timestamp, packet.payload)
    assert [(d.digit, d.duration_ms) for d in digits] == [("#", 100)]


@pytest.fixture(scope="module")
def engines(gateway: Gateway) -> VoiceEngines:
    return voice_engines(gateway.settings, progress=print)


class Turns:
    """Each caller turn the core answered, with the bot's replies (pass-through)."""

    def __init__(self) -> None:
        self.seen: list[tuple[UserTurn, list[BotReply]]] = []


@pytest.fixture
async def hotline(
    gateway: Gateway, rt: Runtime, engines: VoiceEngines, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[UserAgent, Turns]]:
    turns = Turns()
    handle = rt.core.handle

    async def recorded(turn: UserTurn) -> list[BotReply]:
        replies = await handle(turn)
        turns.seen.append((turn, replies))
        return replies

    monkeypatch.setattr(rt.core, "handle", recorded)
    settings = gateway.settings.model_copy(update={"sip_port": free_port(), "rtp_timeout_s": 120.0})
    agent = sip_agent(settings, rt.core, engines)
    await agent.start()
    try:
        yield agent, turns
    finally:
        await agent.stop()


async def test_sipp_types_misses_and_picks_a_day_from_the_key_menu(
    hotline: tuple[UserAgent, Turns], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    agent, turns = hotline
    request = pico("Ich möchte einen Termin für einen Reisepass.")
    silence = AudioFrame.silence(1.0, 8000)
    speech = speech_packets(concat([silence, request, silence], 8000))
    write_pcap(tmp_path / "speech.pcap", speech)
    seq = len(speech)
    for index, key in enumerate("99#99#1", start=1):
        presses = key_packets(key, timestamp=(seq + 1000 * index) * 160, first_seq=seq)
        write_pcap(tmp_path / f"key{index}.pcap", presses)
        seq += len(presses)
    code, output = await run_sipp(agent, "key_menu.xml", tmp_path)
    said = [turn.text for turn, _ in turns.seen]
    assert code == 0, (said, output)
    assert len(said) == 4, said  # the request, two typed misses, the key
    assert said[1:3] == ["99", "99"], said
    menu_replies = " ".join(r.text for r in turns.seen[2][1])
    choices = [b for r in turns.seen[2][1] for b in r.buttons if b.payload not in ("/stop",)]
    assert choices, menu_replies  # the second miss offers the days as choices
    assert said[3] == choices[0].payload  # key 1 picked the first choice
    answer = " ".join(r.text for r in turns.seen[3][1])
    assert "Uhrzeit" in answer, answer  # the day was taken: the time is asked next
