import pytest

from telephony.capacity import CallCapacity, CallKind


def test_sip_and_browser_calls_share_one_limit_at_n_and_n_plus_1() -> None:
    capacity = CallCapacity(max_calls=3)
    assert capacity.take(CallKind.SIP)
    assert capacity.take(CallKind.BROWSER)
    assert capacity.take(CallKind.BROWSER)
    assert capacity.full and capacity.total == 3
    assert not capacity.take(CallKind.SIP)
    assert not capacity.take(CallKind.BROWSER)
    assert (capacity.count(CallKind.SIP), capacity.count(CallKind.BROWSER)) == (1, 2)
    capacity.release(CallKind.SIP)
    assert not capacity.full
    assert capacity.take(CallKind.BROWSER)
    assert capacity.count(CallKind.BROWSER) == 3


def test_release_never_goes_below_zero_and_started_counts_past_the_limit() -> None:
    capacity = CallCapacity(max_calls=1)
    capacity.release(CallKind.BROWSER)
    assert capacity.total == 0
    capacity.started(CallKind.SIP)
    capacity.started(CallKind.SIP)  # an outbound call admitted elsewhere
    assert capacity.total == 2 and capacity.full


def test_zero_takes_nothing_and_the_limit_is_bounded() -> None:
    assert not CallCapacity(max_calls=0).take(CallKind.SIP)
    for bad in (-1, 10_001):
        with pytest.raises(ValueError, match="max_calls"):
            CallCapacity(max_calls=bad)
    assert CallCapacity(max_calls=10_000).max_calls == 10_000


def test_every_counted_call_is_reported_once_and_a_refused_one_never() -> None:
    heard: list[CallKind] = []
    capacity = CallCapacity(max_calls=1, on_start=heard.append)
    assert capacity.take(CallKind.BROWSER)
    assert not capacity.take(CallKind.SIP)  # full: refused, not reported
    capacity.started(CallKind.SIP)  # admitted by the SIP policy
    capacity.release(CallKind.SIP)
    assert heard == [CallKind.BROWSER, CallKind.SIP]
