"""The hotline's settings are checked together before anything listens."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from contract.knowledge import KnowledgeError
from rathausbot.doctor import _telephone
from rathausbot.settings import Settings
from rathausbot.telephone import (
    TelephoneConfigError,
    media_networks,
    sip_config,
    sip_policy_line,
    town_state,
)

REPO = Path(__file__).resolve().parents[2]


def settings(**values: object) -> Settings:
    return Settings(**values)  # type: ignore[arg-type]


def test_defaults_make_a_private_loopback_hotline() -> None:
    config = sip_config(settings())
    assert (config.host, config.port) == ("127.0.0.1", 5060)
    assert config.allowed_users is None and config.trusted_sources == ()
    assert config.auth_users == {} and config.registration is None
    assert sip_policy_line(config) == (
        "SIP: calls accepted from loopback only (no trusted sources, no credentials)"
    )


def test_all_interfaces_need_the_public_address() -> None:
    with pytest.raises(TelephoneConfigError, match="SIP_PUBLIC_HOST"):
        sip_config(settings(sip_host="0.0.0.0"))
    config = sip_config(
        settings(
            sip_host="0.0.0.0", sip_public_host="192.0.2.10", sip_trusted_sources=("10.1.2.0/24",)
        )
    )
    assert config.public_host == "192.0.2.10"


@pytest.mark.parametrize("host", ["192.0.2.10", "0.0.0.0"])
def test_a_reachable_hotline_without_trust_or_credentials_refuses_to_start(host: str) -> None:
    with pytest.raises(TelephoneConfigError) as refused:
        sip_config(settings(sip_host=host, sip_public_host="192.0.2.10"))
    for name in ("RATHAUSBOT_SIP_TRUSTED_SOURCES", "RATHAUSBOT_SIP_AUTH_USER", "_PASSWORD"):
        assert name in str(refused.value)
    check = _telephone(settings(sip_host=host, sip_public_host="192.0.2.10"))
    assert not check.ok and "RATHAUSBOT_SIP_TRUSTED_SOURCES" in check.what


def test_the_effective_policy_is_named_in_one_line() -> None:
    secret = SecretStr("geheim")
    both = sip_config(
        settings(
            sip_trusted_sources=("10.1.2.0/24",), sip_auth_user="pbx", sip_auth_password=secret
        )
    )
    assert sip_policy_line(both) == (
        "SIP: calls accepted from 10.1.2.0/24 without auth, all others need digest auth"
    )
    only_auth = sip_config(settings(sip_auth_user="pbx", sip_auth_password=secret))
    assert sip_policy_line(only_auth) == "SIP: every call needs digest auth (no trusted sources)"
    only_trust = sip_config(settings(sip_trusted_sources=("10.1.2.0/24", "192.0.2.7")))
    assert sip_policy_line(only_trust) == (
        "SIP: calls accepted from 10.1.2.0/24, 192.0.2.7/32 only, all others refused (403)"
    )
    check = _telephone(
        settings(
            sip_trusted_sources=("10.1.2.0/24",), sip_auth_user="pbx", sip_auth_password=secret
        )
    )
    assert check.ok and "10.1.2.0/24 without auth, all others need digest auth" in check.what


def test_limits_reach_the_user_agent() -> None:
    config = sip_config(
        settings(
            sip_max_calls_per_source=2,
            sip_auth_max_failures=3,
            sip_auth_lockout_minutes=2,
            sip_tcp_max_connections_per_host=7,
            sip_transports=("tcp",),
        )
    )
    assert config.transports == ("tcp",)
    assert sip_config(settings()).transports == ("udp", "tcp")
    assert config.max_calls_per_source == 2 and config.max_auth_failures == 3
    assert config.auth_lockout_s == 120.0 and config.max_connections_per_host == 7


def test_auth_and_registration_need_their_passwords() -> None:
    with pytest.raises(TelephoneConfigError, match="AUTH_PASSWORD"):
        sip_config(settings(sip_auth_user="pbx"))
    with pytest.raises(TelephoneConfigError, match="REGISTER_USER"):
        sip_config(settings(sip_register_uri="sip:pbx.example.de"))
    config = sip_config(
        settings(
            sip_auth_user="pbx",
            sip_auth_password=SecretStr("geheim"),
            sip_register_uri="sip:pbx.example.de",
            sip_register_user="200",
            sip_register_password=SecretStr("auch-geheim"),
            sip_allowed_users=("0301234", "rathaus"),
            sip_trusted_sources=("192.0.2.0/24",),
        )
    )
    assert config.auth_users == {"pbx": "geheim"}
    assert config.registration is not None and config.registration.user == "200"
    assert config.allowed_users == frozenset({"0301234", "rathaus"})


@pytest.mark.parametrize(
    "values",
    [
        {"sip_trusted_sources": ("not-a-network",)},
        {"sip_transfer_target": "tel:+4930123"},
        {"staff_hours": "Montag bis Freitag"},
    ],
)
def test_bad_values_stop_the_start_with_a_message(values: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        settings(**values)


def test_the_towns_state_comes_from_its_knowledge(tmp_path: Path) -> None:
    assert town_state(REPO / "intents" / "knowledge") == "NW"
    with pytest.raises(KnowledgeError, match="departments.yml: cannot read"):
        town_state(tmp_path)  # no knowledge: the strict loader says what is missing


def test_doctor_explains_a_bad_combination() -> None:
    check = _telephone(settings(sip_host="0.0.0.0"))
    assert not check.ok and "SIP_PUBLIC_HOST" in check.what
    assert _telephone(settings(sip_enabled=False)).ok
    ok = _telephone(settings(sip_transfer_target="sip:staff@pbx.example.de"))
    assert ok.ok and "sip:staff@pbx.example.de" in ok.what


def test_media_may_come_from_the_media_and_the_trusted_sip_networks() -> None:
    assert media_networks(settings()) == ()
    networks = media_networks(
        settings(rtp_trusted_sources=("192.0.2.0/28",), sip_trusted_sources=("10.1.2.0/24",))
    )
    assert [str(n) for n in networks] == ["192.0.2.0/28", "10.1.2.0/24"]


def test_max_calls_default_to_two_per_usable_core_and_a_setting_wins() -> None:
    from rathausbot.telephone import CALLS_PER_CORE, max_calls

    assert CALLS_PER_CORE == 2
    assert max_calls(settings(), cores=lambda: 2) == 4
    assert max_calls(settings(), cores=lambda: 0) == 2  # never none
    assert max_calls(settings(sip_max_calls=7), cores=lambda: 2) == 7
    assert sip_config(settings(sip_max_calls=1)).max_calls == 1
