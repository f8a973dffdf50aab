"""The login state machine, sans I/O, and the pending logins between its two steps."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from console.accounts import Enrolment
from console.login import LoginFlow, Notice, PendingLogins, Phase


def checked(**overrides: bool) -> tuple[LoginFlow, Notice]:
    options = {"ok": True, "locked": False, "enrolled": True, "second_factor": True}
    options.update(overrides)
    return LoginFlow().password_checked("erika", **options)


def test_password_then_code() -> None:
    flow, notice = checked()
    assert (flow.phase, flow.user, notice) == (Phase.SECOND_FACTOR, "erika", Notice.NONE)
    flow, notice = flow.code_checked(ok=True)
    assert flow.phase is Phase.DONE


def test_wrong_password_and_lockout_stay_at_step_one() -> None:
    assert checked(ok=False) == (LoginFlow(), Notice.WRONG)
    assert checked(locked=True) == (LoginFlow(), Notice.LOCKED)
    assert checked(locked=True, ok=False)[1] is Notice.LOCKED


def test_without_key_the_user_enrols_and_without_2fa_is_done() -> None:
    assert checked(enrolled=False)[0].phase is Phase.ENROL
    assert checked(second_factor=False)[0].phase is Phase.DONE


def test_wrong_codes_until_the_limit_restart_the_login() -> None:
    flow, _ = checked()
    for failures in range(1, 5):
        flow, notice = flow.code_checked(ok=False)
        assert (flow.phase, flow.code_failures, notice) == (
            Phase.SECOND_FACTOR,
            failures,
            Notice.WRONG_CODE,
        )
    flow, notice = flow.code_checked(ok=False)  # the 5th
    assert (flow.phase, flow.user, notice) == (Phase.PASSWORD, "", Notice.RESTART)


def test_events_out_of_phase_are_refused() -> None:
    with pytest.raises(ValueError):
        LoginFlow().code_checked(ok=True)
    flow, _ = checked()
    with pytest.raises(ValueError):
        flow.password_checked("erika", ok=True, locked=False, enrolled=True, second_factor=True)


async def test_pending_logins_round_trip_and_expire(redis: Redis) -> None:
    pending = PendingLogins(redis, ttl_s=300)
    flow = LoginFlow(Phase.ENROL, "erika", 2)
    enrolment = Enrolment("SECRET", "otpauth://totp/x", ("AAAAA-BBBBB",))
    token = await pending.save(flow, enrolment)
    loaded = await pending.load(token)
    assert loaded == (flow, enrolment)
    assert 290 < await redis.ttl(f"rb:console:login:{token}") <= 300
    await pending.drop(token)
    assert await pending.load(token) is None
    assert await pending.load(None) is None and await pending.load("x" * 65) is None
