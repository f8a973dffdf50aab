from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from rathausbot.secrets import redis_target, resolve_secrets
from rathausbot.settings import Settings

SETTINGS_ENV = [k for k in os.environ if k.startswith("RATHAUSBOT_") or k == "REDIS_URL"]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in SETTINGS_ENV:
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def test_defaults_are_safe_for_a_first_start() -> None:
    settings = Settings()
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert settings.redis_embedded
    assert settings.retention_seconds == 30 * 86_400


def test_environment_beats_toml_file_beats_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    Path("rathausbot.toml").write_text('port = 9000\nretention_days = 7\nlog_level = "debug"\n')
    monkeypatch.setenv("RATHAUSBOT_PORT", "9100")
    monkeypatch.setenv("REDIS_URL", "redis://:s%40cret@redis.intern:6390/2")
    settings = Settings()
    assert settings.port == 9100
    assert settings.retention_days == 7
    assert settings.log_level == "DEBUG"
    assert not settings.redis_embedded
    target = redis_target(settings, resolve_secrets(settings))
    assert (target.host, target.port, target.db) == ("redis.intern", 6390, 2)
    assert target.password == "s@cret"
    assert target.display == "redis.intern:6390/2"


def test_config_file_can_be_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere.toml"
    other.write_text("rasa_port = 5105\n")
    monkeypatch.setenv("RATHAUSBOT_CONFIG", str(other))
    assert Settings().rasa_port == 5105


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("RATHAUSBOT_PORT", "0"),
        ("RATHAUSBOT_RETENTION_DAYS", "0"),
        ("RATHAUSBOT_LOG_LEVEL", "LOUD"),
        ("RATHAUSBOT_RASA_TIMEOUT_S", "-1"),
    ],
)
def test_invalid_values_are_refused(monkeypatch: pytest.MonkeyPatch, key: str, value: str) -> None:
    monkeypatch.setenv(key, value)
    with pytest.raises(ValidationError):
        Settings()


def test_unknown_toml_keys_are_refused() -> None:
    Path("rathausbot.toml").write_text("prot = 9000\n")
    with pytest.raises(ValidationError, match="prot"):
        Settings()


def test_secrets_are_generated_once_private_and_reused() -> None:
    settings = Settings()
    first = resolve_secrets(settings)
    assert first.redis_password and len(first.rasa_token) >= 40
    for name in ("rasa_token", "redis_password"):
        mode = stat.S_IMODE((settings.var_dir / "secrets" / name).stat().st_mode)
        assert mode == 0o600
    assert resolve_secrets(Settings()) == first
    assert first.rasa_token != first.redis_password


def test_given_secrets_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATHAUSBOT_RASA_TOKEN", "given-token")
    assert resolve_secrets(Settings()).rasa_token == "given-token"
    assert not (Path("var") / "secrets" / "rasa_token").exists()


def test_every_setting_is_documented_with_its_default(repo_root: Path) -> None:
    doc = (repo_root / "docs" / "configuration.md").read_text()
    for name, field in Settings.model_fields.items():
        env = "REDIS_URL" if name == "redis_url" else f"RATHAUSBOT_{name.upper()}"
        row = next((r for r in doc.splitlines() if r.startswith(f"| `{env}`")), None)
        assert row is not None, f"{env} is not in docs/configuration.md"
        default = "unset" if field.default is None else f"`{field.default}`"
        assert default in row, f"{env}: default {default} not documented"


def test_rtp_port_range_must_hold_an_even_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATHAUSBOT_RTP_PORT_MIN", "30000")
    monkeypatch.setenv("RATHAUSBOT_RTP_PORT_MAX", "30000")
    with pytest.raises(ValidationError, match="rtp_port_max"):
        Settings()
    monkeypatch.setenv("RATHAUSBOT_RTP_PORT_MAX", "30001")
    assert (Settings().rtp_port_min, Settings().rtp_port_max) == (30000, 30001)


def test_mail_is_off_by_default_and_needs_its_parts_when_on() -> None:
    assert not Settings().mail_enabled
    with pytest.raises(ValidationError, match="mail_from, mail_mailboxes, console_base_url"):
        Settings(mail_enabled=True)
    settings = Settings(
        mail_enabled=True,
        mail_from="rathausbot@musterstadt.de",
        mail_mailboxes={"*": "zentrale@musterstadt.de"},
        console_base_url="https://rathaus.musterstadt.de/",
    )
    assert settings.console_base_url == "https://rathaus.musterstadt.de"
    with pytest.raises(ValidationError, match="not one e-mail address"):
        Settings(mail_mailboxes={"*": "a@b.de, c@d.de"})
    with pytest.raises(ValidationError, match="http"):
        Settings(console_base_url="rathaus.musterstadt.de")


def test_rasa_urls_are_http_distinct_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().rasa_servers == (Settings().rasa_url,)
    monkeypatch.setenv("RATHAUSBOT_RASA_URLS", '["http://10.0.0.5:5005/", "http://10.0.0.6:5005"]')
    assert Settings().rasa_servers == ("http://10.0.0.5:5005", "http://10.0.0.6:5005")
    for bad in ('["ftp://x"]', '["http://a", "http://a"]'):
        monkeypatch.setenv("RATHAUSBOT_RASA_URLS", bad)
        with pytest.raises(ValidationError, match="rasa_urls"):
            Settings()
    sixteen = [f"http://r{n}:5005" for n in range(16)]
    monkeypatch.setenv("RATHAUSBOT_RASA_URLS", json.dumps(sixteen))
    assert len(Settings().rasa_servers) == 16
    monkeypatch.setenv("RATHAUSBOT_RASA_URLS", json.dumps([*sixteen, "http://r16:5005"]))
    with pytest.raises(ValidationError, match="at most 16"):
        Settings()


def test_metrics_stay_off_the_public_port(monkeypatch: pytest.MonkeyPatch) -> None:
    assert (Settings().metrics_host, Settings().metrics_port) == ("127.0.0.1", 9464)
    monkeypatch.setenv("RATHAUSBOT_METRICS_PORT", "8080")
    with pytest.raises(ValidationError, match="public HTTP port"):
        Settings()
    monkeypatch.setenv("RATHAUSBOT_METRICS_PORT", "0")
    assert Settings().metrics_port == 0


def test_whisper_gets_no_vocabulary_prompt_unless_one_is_chosen(repo_root: Path) -> None:
    from rathausbot.app import asr_prompt

    intents = repo_root / "intents"
    assert Settings().asr_vocabulary_prompt == "off"
    assert asr_prompt(Settings(intents_dir=intents)) is None
    focused = asr_prompt(Settings(intents_dir=intents, asr_vocabulary_prompt="focused"))
    full = asr_prompt(Settings(intents_dir=intents, asr_vocabulary_prompt="full"))
    assert focused is not None and full is not None
    assert "Bürgeramt" in focused.split(", ") and "Hundesteuer" in focused.split(", ")
    assert len(focused.split(", ")) <= 30 < len(full.split(", "))


def test_the_asr_batch_is_auto_by_default_and_bounded_as_the_workers_are(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().asr_batch == 0
    for given in ("64", "1"):
        monkeypatch.setenv("RATHAUSBOT_ASR_BATCH", given)
        assert Settings().asr_batch == int(given)
    for given in ("65", "-1"):
        monkeypatch.setenv("RATHAUSBOT_ASR_BATCH", given)
        with pytest.raises(ValidationError, match="asr_batch"):
            Settings()
