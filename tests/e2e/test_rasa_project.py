"""The Rasa project in intents/: valid data, passing test stories, robust channel webhooks."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest

from rathausbot.secrets import resolve_secrets
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
    auth = {"Authorization": f"Bearer {shared_token(gateway)}"}
    refused = httpx.post(url, content=body, headers={"Content-Type": "application/json", **auth})
    assert refused.status_code == 400
    assert "error" in refused.json()
    answered = httpx.post(url, json={"sender": f"ok-{channel}", "message": "Hallo"}, headers=auth)
    assert answered.status_code == 200
    assert answered.json()["nlu"]["intent"] == "greet"


def shared_token(gateway: Gateway) -> str:
    return resolve_secrets(gateway.settings).rasa_token


@pytest.mark.parametrize("channel", ["webchat", "voice"])
def test_channel_webhooks_refuse_calls_without_the_shared_token(
    gateway: Gateway, channel: str
) -> None:
    url = f"{gateway.settings.rasa_url}/webhooks/{channel}/webhook"
    token = shared_token(gateway)
    body = {"sender": f"intruder-{channel}", "message": "Hallo"}
    for headers, params in [
        ({}, {}),
        ({"Authorization": "Bearer wrong-token-wrong-token"}, {}),
        ({"Authorization": token}, {}),  # without the scheme
        ({}, {"token": token}),  # only the header counts
    ]:
        refused = httpx.post(url, json=body, headers=headers, params=params)
        assert refused.status_code == 401, (headers, params)
        assert refused.json() == {"error": "unauthorised"}
    answered = httpx.post(url, json=body, headers={"Authorization": f"Bearer {token}"})
    assert answered.status_code == 200


def test_the_rest_channel_is_off(gateway: Gateway) -> None:
    url = f"{gateway.settings.rasa_url}/webhooks/rest/webhook"
    response = httpx.post(url, json={"sender": "s", "message": "Hallo"})
    assert response.status_code == 404


def test_the_action_server_takes_calls_only_with_the_shared_token(gateway: Gateway) -> None:
    base = gateway.settings.actions_url
    token = shared_token(gateway)
    assert httpx.get(f"{base}/health").status_code == 200  # the gateway's probe
    call = {"next_action": "action_town_info", "sender_id": "x", "tracker": {}, "domain": {}}
    for params in ({}, {"token": "wrong-token-wrong-token"}):
        assert httpx.get(f"{base}/actions", params=params).status_code == 401
        assert httpx.post(f"{base}/webhook", json=call, params=params).status_code == 401
    listed = httpx.get(f"{base}/actions", params={"token": token})
    assert listed.status_code == 200 and len(listed.json()) > 3
    preflight = httpx.options(
        f"{base}/webhook",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers  # no CORS for any site


CHECK_SCRIPT = """
import json, sys
from rasa.core.actions.action import RemoteAction
original = RemoteAction._validate_action_result
import intents.connectors  # installs the compiled check, as `rasa run` does
from intents import action_results
assert RemoteAction._validate_action_result is action_results.validate_action_result
action_results.install()  # idempotent
assert RemoteAction._validate_action_result is action_results.validate_action_result
action = RemoteAction("action_x", None)
out = []
for case in json.loads(sys.stdin.read()):
    results = []
    for check in (original, RemoteAction._validate_action_result):
        try:
            results.append(["ok", check(action, case)])
        except Exception as error:
            results.append([type(error).__name__, getattr(error, "message", str(error))])
    out.append(results)
print(json.dumps(out))
"""

RESPONSES = [
    {"events": [{"event": "slot", "name": "topic", "value": "gruen"}], "responses": []},
    {"events": [], "responses": [{"text": "Guten Tag", "buttons": []}]},
    {},
    {"events": [{"event": "nonsense"}], "responses": []},
    {"events": [{"event": "slot"}]},
    {"events": "slot", "responses": []},
    {"events": [], "responses": ["text"]},
    [],
]


def test_rasa_checks_action_responses_as_before_with_the_schema_compiled_once(
    gateway: Gateway,
) -> None:
    env = {**os.environ, **rasa_environment(gateway.settings)}
    result = subprocess.run(
        [str(REPO / ".venv-rasa" / "bin" / "python"), "-c", CHECK_SCRIPT],
        input=json.dumps(RESPONSES),
        cwd=REPO / "intents",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outcomes = json.loads(result.stdout.strip().splitlines()[-1])
    for response, (rasa, ours) in zip(RESPONSES, outcomes, strict=True):
        assert ours == rasa, response  # the same verdict, error type and message
    assert [rasa[0] for rasa, _ in outcomes] == ["ok"] * 3 + ["ValidationError"] * 5
    assert "Failed to validate Action server response" in outcomes[3][1][1]
