"""The callback number policy: German landline and mobile by default, nothing that costs."""

from __future__ import annotations

import pytest

from contract.phone import CallbackPolicy, NumberKind, kind, to_e164


@pytest.mark.parametrize(
    ("text", "e164"),
    [
        ("+49 30 1234567", "+49301234567"),
        ("0049301234567", "+49301234567"),
        ("030 / 123 45-67", "+49301234567"),
        ("(030) 1234567", "+49301234567"),
        ("0151 23456789", "+4915123456789"),
        ("+43 1 234567", "+431234567"),
        ("0043 1 234567", "+431234567"),
        ("1234567", None),  # no area code
        ("+49", None),
        ("0", None),
        ("+0049301234", None),
        ("030-12a4567", None),
        ("+1234567890123456", None),  # 16 digits: longer than E.164 allows
        ("+123456789012345", "+123456789012345"),  # 15: the longest
        ("+123456", None),  # 6 digits: too short
        ("+1234567", "+1234567"),
    ],
)
def test_numbers_are_normalised_to_e164(text: str, e164: str | None) -> None:
    assert to_e164(text) == e164


@pytest.mark.parametrize(
    ("e164", "expected"),
    [
        ("+49301234567", NumberKind.LANDLINE),
        ("+4989123456", NumberKind.LANDLINE),
        ("+4915123456789", NumberKind.MOBILE),
        ("+491601234567", NumberKind.MOBILE),
        ("+491711234567", NumberKind.MOBILE),
        ("+49900123456", NumberKind.SPECIAL),
        ("+49180123456", NumberKind.SPECIAL),
        ("+49137123456", NumberKind.SPECIAL),
        ("+4911833", NumberKind.SPECIAL),
        ("+49700123456", NumberKind.SPECIAL),
        ("+49800123456", NumberKind.SPECIAL),
        ("+4932123456", NumberKind.SPECIAL),
        ("+4931123456", NumberKind.SPECIAL),
        ("+43123456789", NumberKind.FOREIGN),
        ("+4412345678", NumberKind.FOREIGN),
    ],
)
def test_the_kind_of_a_number(e164: str, expected: NumberKind) -> None:
    assert kind(e164) is expected


@pytest.mark.parametrize(
    ("number", "allowed"),
    [
        ("030999", True),  # 5 digits after the 0: the shortest landline
        ("03099", False),
        ("+4930123456789", True),  # 11 digits: the longest
        ("+49301234567890", False),  # 12
        ("015112345678", True),  # mobile, 11 digits
        ("01511234567", True),  # mobile, 10
        ("0151123456", True),  # mobile, 9: lenient, the form reads it back for confirmation
        ("015112345", False),  # mobile, 8
        ("0151123456789", False),  # mobile, 12
        ("0900123456", False),
        ("+4919012345", False),
        ("0180512345", False),
        ("0800123456", False),
        ("+43123456789", False),
        ("0043123456789", False),
        ("", False),
        ("nicht erreichbar", False),
    ],
)
def test_the_default_policy_allows_german_landline_and_mobile_only(
    number: str, allowed: bool
) -> None:
    assert CallbackPolicy().allows(number) is allowed


def test_configured_prefixes_allow_more() -> None:
    policy = CallbackPolicy.parse(" +43, +49800 ,")
    assert policy.extra_prefixes == ("+43", "+49800")
    assert policy.allows("0043 123 456789") and policy.allows("0800 123456")
    assert not policy.allows("0900 123456") and not policy.allows("+44 20 12345678")
    assert CallbackPolicy.parse(None) == CallbackPolicy() == CallbackPolicy.parse("")


@pytest.mark.parametrize("prefix", ["43", "+", "+0", "+43a", "+1234567890123456"])
def test_bad_prefixes_are_named(prefix: str) -> None:
    with pytest.raises(ValueError, match="E.164 prefix"):
        CallbackPolicy((prefix,))
