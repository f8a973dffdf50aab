"""The Rasa project in intents/: valid data, passing test stories, robust channel webhooks."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx
import pytest

from rathausbot.services import rasa_environment
from rathausbot.training import model_path
from tests.e2e.conftest import REPO, Gateway

pytestmark = pytest.mark.slow

RASA = str(REPO / ".venv-rasa" / "bin" / "rasa")


def run_rasa(gateway: Gateway, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **rasa_environment(gateway.settings)}
    return subprocess.run(
        [RASA, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def test_training_data_validates(gateway: Gateway) -> None:
    result = run_rasa(
        gateway,
        "data",
        "validate",
        "--domain",
        "domain",
        "--fail-on-warnings",
        cwd=REPO / "intents",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_the_test_stories_pass(gateway: Gateway, tmp_path: Path) -> None:
    model = model_path(gateway.settings.intents_dir)
    result = run_rasa(
        gateway,
        "test",
        "core",
        "--stories",
        "tests/test_stories.yml",
        "--model",
        str(model),
        "--out",
        str(tmp_path),
        "--fail-on-prediction-errors",
        cwd=REPO / "intents",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.mark.parametrize("channel", ["webchat", "voice"])
@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"sender": "", "message": "hi"}',
        b'{"sender": "s"}',
        b'{"sender": "s", "message": "' + b"x" * 5000 + b'"}',
        b'{"sender": "s", "message": "hi", "metadata": 3}',
    ],
)
def test_channel_webhooks_refuse_bad_requests_and_keep_serving(
    gateway: Gateway, channel: str, body: bytes
) -> None:
    url = f"{gateway.settings.rasa_url}/webhooks/{channel}/webhook"
    refused = httpx.post(url, content=body, headers={"Content-Type": "application/json"})
    assert refused.status_code == 400
    assert "error" in refused.json()
    answered = httpx.post(url, json={"sender": f"ok-{channel}", "message": "Hallo"})
    assert answered.status_code == 200
    assert answered.json()["nlu"]["intent"] == "greet"
