from __future__ import annotations

from types import MappingProxyType

import pytest

from rathausbot.retention import (
    DAY_S,
    DEFAULT_DAYS,
    FLAG_GRACE_DAYS,
    LABELS,
    MAX_DAYS,
    MIN_DAYS,
    DataType,
    Retention,
    RetentionError,
)


def test_defaults_cover_every_type_and_are_documented_values() -> None:
    policy = Retention.default()
    assert dict(policy.days) == {
        DataType.CONVERSATIONS: 30,
        DataType.CLOSED_CASES: 90,
        DataType.INACTIVE_CASES: 60,
        DataType.RECORDINGS: 30,
        DataType.CONSENT: 365,
        DataType.BOOKINGS: 30,
        DataType.TICKETS: 180,
        DataType.CALLBACKS: 30,
        DataType.AUDIT: 365,
        DataType.LOGS: 14,
        DataType.STATISTICS: 730,
        DataType.MISSES: 90,
    }
    assert set(LABELS) == set(DataType)
    assert DataType.LOGS.label == "Protokolldateien des Servers"


def test_wire_names() -> None:
    assert [t.value for t in DataType] == [
        "conversations",
        "closed_cases",
        "inactive_cases",
        "recordings",
        "consent",
        "bookings",
        "tickets",
        "callbacks",
        "audit",
        "logs",
        "statistics",
        "misses",
    ]


def test_parse_overrides_only_the_named_types() -> None:
    policy = Retention.parse({"logs": 7, "closed_cases": 120})
    assert policy.days[DataType.LOGS] == 7
    assert policy.days[DataType.CLOSED_CASES] == 120
    assert policy.days[DataType.TICKETS] == DEFAULT_DAYS[DataType.TICKETS]
    assert Retention.parse({}) == Retention.default()


def test_parse_uses_the_given_defaults() -> None:
    defaults = dict(DEFAULT_DAYS)
    defaults[DataType.CONVERSATIONS] = 5
    assert Retention.parse({}, defaults=defaults).days[DataType.CONVERSATIONS] == 5
    assert (
        Retention.parse({"conversations": 9}, defaults=defaults).days[DataType.CONVERSATIONS] == 9
    )


@pytest.mark.parametrize("days", [MIN_DAYS, MIN_DAYS + 1, MAX_DAYS - 1, MAX_DAYS])
def test_limits_accepted(days: int) -> None:
    assert Retention.parse({"audit": days}).days[DataType.AUDIT] == days


@pytest.mark.parametrize("days", [MIN_DAYS - 1, MAX_DAYS + 1, -5])
def test_limits_refused(days: int) -> None:
    with pytest.raises(RetentionError, match="retention of audit must be 1 to 3650 days"):
        Retention.parse({"audit": days})


@pytest.mark.parametrize("value", [True, False, 1.5, "30", None, 30.0])
def test_only_whole_numbers(value: object) -> None:
    with pytest.raises(RetentionError, match="retention of logs must be a whole number of days"):
        Retention.parse({"logs": value})


def test_unknown_type_is_named_with_the_known_ones() -> None:
    with pytest.raises(RetentionError) as caught:
        Retention.parse({"transcripts": 3})
    message = str(caught.value)
    assert message.startswith("unknown data type 'transcripts' (known: conversations, ")
    assert message.endswith("audit, logs, statistics, misses)")
    assert isinstance(caught.value, ValueError)


def test_constructed_policy_must_be_complete_and_bounded() -> None:
    partial = dict(DEFAULT_DAYS)
    del partial[DataType.LOGS]
    del partial[DataType.AUDIT]
    with pytest.raises(RetentionError, match="^retention lacks audit, logs$"):
        Retention(MappingProxyType(partial))
    bad = dict(DEFAULT_DAYS)
    bad[DataType.TICKETS] = 0
    with pytest.raises(RetentionError, match="tickets"):
        Retention(MappingProxyType(bad))


def test_an_inactive_case_stays_flagged_two_weeks() -> None:
    assert FLAG_GRACE_DAYS == 14


def test_seconds() -> None:
    policy = Retention.parse({"logs": 2})
    assert policy.seconds(DataType.LOGS) == 2 * DAY_S
    assert DAY_S == 86_400


def test_settings_default_conversations_and_recordings_from_the_older_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from rathausbot.settings import Settings

    monkeypatch.setenv("RATHAUSBOT_RETENTION_DAYS", "12")
    monkeypatch.setenv("RATHAUSBOT_RECORDING_RETENTION_DAYS", "3")
    monkeypatch.setenv("RATHAUSBOT_RETENTION", '{"tickets": 40}')
    policy = Settings().retention_policy
    assert policy.days[DataType.CONVERSATIONS] == 12
    assert policy.days[DataType.RECORDINGS] == 3
    assert policy.days[DataType.TICKETS] == 40
    monkeypatch.setenv("RATHAUSBOT_RETENTION", '{"tickets": 4000}')
    with pytest.raises(ValueError, match="tickets"):
        Settings()
