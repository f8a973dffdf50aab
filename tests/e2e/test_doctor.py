"""`rathausbot doctor` on a working installation and on a broken one."""

from __future__ import annotations

import subprocess

import pytest

from tests.e2e.conftest import REPO, Gateway

pytestmark = pytest.mark.slow

DOCTOR = [str(REPO / ".venv" / "bin" / "rathausbot"), "doctor"]


def test_doctor_finds_a_running_installation_healthy(gateway: Gateway) -> None:
    result = subprocess.run(DOCTOR, env=gateway.env, cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
    assert "FAIL" not in result.stdout
    assert f"Rasa answers on port {gateway.settings.rasa_port}" in result.stdout
    assert "Everything looks fine." in result.stdout


def test_doctor_says_how_to_fix_what_is_missing(gateway: Gateway, tmp_path: object) -> None:
    env = {
        **gateway.env,
        "RATHAUSBOT_RASA_VENV": "/nonexistent/venv",
        "REDIS_URL": "redis://127.0.0.1:1/0",
    }
    result = subprocess.run(DOCTOR, env=env, cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 1
    assert "[FAIL] Rasa Python 3.10 at /nonexistent/venv/bin/python" in result.stdout
    assert "fix: run `make setup`" in result.stdout
    assert "[FAIL] Redis at 127.0.0.1:1/0 does not answer" in result.stdout
    assert "fix: check REDIS_URL" in result.stdout
