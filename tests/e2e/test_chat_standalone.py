"""`rathausbot chat` with no `serve` running starts what it needs and stops it afterwards."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from rathausbot.app import port_free
from tests.e2e.conftest import REPO, isolated_settings

pytestmark = pytest.mark.slow


def test_chat_without_a_running_serve(tmp_path: Path) -> None:
    settings, env = isolated_settings(tmp_path / "var")
    ports = [settings.redis_port, settings.rasa_port, settings.actions_port]
    assert all(port_free(p) for p in ports)
    result = subprocess.run(
        [str(REPO / ".venv" / "bin" / "rathausbot"), "chat", "--channel", "voice"],
        input="bist du ein computer\nauf wiederhören\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=400,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert "Computer" in lines[0]  # the voice greeting discloses the machine
    assert "automatisierter Assistent" in result.stdout
    assert "Wiederhören" in result.stdout
    busy = [p for p in ports if not port_free(p)]
    assert not busy, f"chat left services running on {busy}"
    assert (tmp_path / "var" / "redis" / "appendonly.aof").exists()
