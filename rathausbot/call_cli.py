"""`rathausbot call`: an admin's end-to-end check of the telephone line."""

from __future__ import annotations

import sys
from pathlib import Path

from rathausbot.settings import Settings
from rathausbot.voice_cli import progress
from telephony.testcall import TestCallOptions, test_call
from voice.audio import InvalidWav, read_wav, write_wav


async def call(
    settings: Settings,
    uri: str,
    play: Path,
    *,
    record: Path | None,
    dtmf: str,
    lead_s: float,
    listen_s: float,
    tcp: bool,
) -> int:
    """Calls `uri` from the SIP host's address; 0 when answered, 1 when not, 2 on bad input."""
    if not uri.startswith(("sip:", "sips:")):
        print(f"rathausbot call: {uri!r} is not a sip: URI", file=sys.stderr)
        return 2
    try:
        audio = read_wav(play)
        options = TestCallOptions(
            lead_s=lead_s, listen_s=listen_s, dtmf=dtmf, transport="tcp" if tcp else "udp"
        )
    except (OSError, InvalidWav, ValueError) as exc:
        print(f"rathausbot call: {exc}", file=sys.stderr)
        return 2
    local = settings.sip_public_host or settings.sip_host
    result = await test_call(uri, audio, local_host=local, options=options, progress=progress)
    if not result.answered:
        print(f"rathausbot call: not answered: {result.error}", file=sys.stderr)
        return 1
    progress(f"Heard {result.heard.duration_s:.1f} s of audio ({result.codec})")
    if result.dtmf_heard:
        progress(f"Keys pressed by the far end: {result.dtmf_heard}")
    if record is not None:
        write_wav(record, result.heard)
        progress(f"Wrote {record}")
    return 0
