"""Real SIP phones for end-to-end tests: baresip (Debian) plays a WAV and records the far end."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.redis_server import free_port

BARESIP = shutil.which("baresip")
MODULES = Path("/usr/lib/baresip/modules")


@dataclass
class BaresipCall:
    """One call from baresip: `play` is the caller's voice (8 kHz mono WAV, silence appended
    so the call stays up while the bot answers); the call ends when the file ends."""

    workdir: Path
    process: subprocess.Popen[bytes]
    control_port: int

    def send_dtmf(self, digit: str) -> None:
        """Presses a key (sent as RFC 4733 telephone-event)."""
        self._command("sndcode", digit)

    def play(self, wav: Path) -> None:
        """Switches the caller's voice to `wav` mid-call (8 kHz mono; it must outlast the call,
        since the call ends when the file ends)."""
        answer = self._command("ausrc", f"aufile,{wav}")
        assert "failed" not in answer, answer

    def hangup(self) -> None:
        """Ends the call from the phone's side."""
        self._command("hangup")

    def _command(self, command: str, params: str = "") -> str:
        """Sends a ctrl_tcp command; baresip's answer (its text says when a command failed)."""
        body = json.dumps({"command": command, "params": params, "token": "t"}).encode()
        frame = str(len(body)).encode() + b":" + body + b","
        with socket.create_connection(("127.0.0.1", self.control_port), timeout=5) as conn:
            conn.sendall(frame)
            return conn.recv(4096).decode(errors="replace")

    def established(self) -> bool:
        return "Call established" in self.log()

    def ended(self) -> bool:
        return "terminated" in self.log() or self.process.poll() is not None

    def wait(self, timeout_s: float) -> None:
        """Waits for the call to end (either side), then quits baresip."""
        deadline = time.monotonic() + timeout_s
        while not self.ended():
            if time.monotonic() > deadline:
                self.process.kill()
                self.process.wait()
                raise AssertionError(f"the call did not end:\n{self.log()}")
            time.sleep(0.2)
        if self.process.poll() is None:
            try:
                self._command("quit")
                self.process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()

    def recording(self) -> Path:
        """The far end's audio as baresip decoded it."""
        found = sorted((self.workdir / "rec").glob("*-dec.wav"))
        if not found:
            raise AssertionError(f"baresip recorded nothing:\n{self.log()}")
        return found[-1]

    def log(self) -> str:
        return (self.workdir / "baresip.log").read_text(errors="replace")


def baresip_call(workdir: Path, uri: str, play: Path, *, user: str = "anrufer") -> BaresipCall:
    """Starts baresip in `workdir` and dials `uri` (PCMU/PCMA, UDP, loopback only)."""
    assert BARESIP is not None, "baresip is not installed (make setup-test installs it)"
    control = free_port()
    (workdir / "rec").mkdir(parents=True, exist_ok=True)
    (workdir / "config").write_text(
        "\n".join(
            [
                "poll_method epoll",
                "sip_listen 127.0.0.1:0",
                "audio_player aubridge,bridge",  # drains decoded audio (sndfile records it)
                f"audio_source aufile,{play}",
                "audio_alert aubridge,bridge",
                "audio_srate 8000",
                "audio_channels 1",
                f"module_path {MODULES}",
                "module g711.so",
                "module aufile.so",
                "module aubridge.so",
                "module sndfile.so",
                "module_app account.so",
                "module_app menu.so",
                "module_app ctrl_tcp.so",
                f"ctrl_tcp_listen 127.0.0.1:{control}",
                f"snd_path {workdir / 'rec'}",
                "rtp_ports 41000-41999",
                "",
            ]
        )
    )
    (workdir / "accounts").write_text(f"<sip:{user}@127.0.0.1>;regint=0;audio_codecs=PCMU,PCMA\n")
    (workdir / "contacts").write_text("")
    with (workdir / "baresip.log").open("wb") as log:
        process = subprocess.Popen(
            [BARESIP, "-f", str(workdir), "-e", f"/dial {uri}"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=workdir,
        )
    call = BaresipCall(workdir, process, control)
    _wait_for_port(control, process)
    return call


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
