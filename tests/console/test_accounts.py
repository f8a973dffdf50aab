"""Staff accounts on a real Redis: argon2id, TOTP with replay protection, recovery codes."""

from __future__ import annotations

import pyotp
import pytest
from redis.asyncio import Redis

from console.accounts import (
    MAX_DEPARTMENTS,
    MIN_PASSWORD_CHARS,
    RECOVERY_CODES,
    AccountError,
    Accounts,
    user_key,
)
from console.roles import Role
from tests.fakes import FakeClock

NOW = 1_795_000_000.0
PASSWORD = "korrekt-pferd-batterie"


async def test_add_hashes_with_argon2id_and_enrols_totp(redis: Redis) -> None:
    accounts = Accounts(redis, clock=FakeClock(NOW))
    enrolment = await accounts.add("erika", PASSWORD, role=Role.CLERK, display_name="Erika M.")
    stored = await redis.hget(user_key("erika"), "password")
    assert stored is not None and stored.startswith("$argon2id$")
    assert PASSWORD not in str(await redis.hgetall(user_key("erika")))
    assert enrolment.uri.startswith("otpauth://totp/rathausbot:erika?secret=")
    assert len(enrolment.recovery_codes) == RECOVERY_CODES
    account = await accounts.get("erika")
    assert account is not None
    assert (account.role, account.display_name, account.enrolled) == (Role.CLERK, "Erika M.", True)
    assert await accounts.names() == ["erika"]


async def test_add_refuses_short_passwords_bad_names_and_duplicates(redis: Redis) -> None:
    accounts = Accounts(redis)
    with pytest.raises(AccountError):
        await accounts.add("erika", "x" * (MIN_PASSWORD_CHARS - 1), role=Role.CLERK)
    await accounts.add("erika", "x" * MIN_PASSWORD_CHARS, role=Role.CLERK)
    with pytest.raises(AccountError):
        await accounts.add("erika", PASSWORD, role=Role.ADMIN)
    for bad in ("Erika", "e", "erika:x", "../etc"):
        with pytest.raises(AccountError):
            await accounts.add(bad, PASSWORD, role=Role.CLERK)


async def test_password_check_and_disabling(redis: Redis) -> None:
    accounts = Accounts(redis)
    await accounts.add("erika", PASSWORD, role=Role.CLERK)
    assert await accounts.check_password("erika", PASSWORD)
    assert not await accounts.check_password("erika", PASSWORD + "x")
    assert not await accounts.check_password("nobody", PASSWORD)
    await accounts.set_disabled("erika", True)
    assert not await accounts.check_password("erika", PASSWORD)
    await accounts.set_disabled("erika", False)
    await accounts.set_password("erika", "ein-ganz-neues-passwort")
    assert not await accounts.check_password("erika", PASSWORD)
    assert await accounts.check_password("erika", "ein-ganz-neues-passwort")
    with pytest.raises(AccountError):
        await accounts.set_password("nobody", PASSWORD)


async def test_outdated_hash_is_replaced_at_login(redis: Redis) -> None:
    from argon2 import PasswordHasher

    accounts = Accounts(redis)
    await accounts.add("erika", PASSWORD, role=Role.CLERK)
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    await redis.hset(user_key("erika"), "password", weak)
    assert await accounts.check_password("erika", PASSWORD)
    assert await redis.hget(user_key("erika"), "password") != weak


async def test_totp_code_works_once_and_only_near_now(redis: Redis) -> None:
    clock = FakeClock(NOW)
    accounts = Accounts(redis, clock=clock)
    enrolment = await accounts.add("erika", PASSWORD, role=Role.CLERK)
    totp = pyotp.TOTP(enrolment.secret)
    code = totp.at(NOW)
    assert await accounts.check_second_factor("erika", code)
    assert not await accounts.check_second_factor("erika", code)  # replayed
    assert not await accounts.check_second_factor("erika", totp.at(NOW - 60))  # too old
    assert await accounts.check_second_factor("erika", totp.at(NOW + 30))  # next step: ok
    assert not await accounts.check_second_factor("erika", "12345")
    assert not await accounts.check_second_factor("nobody", code)


async def test_recovery_code_works_once(redis: Redis) -> None:
    accounts = Accounts(redis)
    enrolment = await accounts.add("erika", PASSWORD, role=Role.CLERK)
    first = enrolment.recovery_codes[0]
    assert await accounts.check_second_factor("erika", first.lower())
    assert not await accounts.check_second_factor("erika", first)
    assert await accounts.check_second_factor("erika", enrolment.recovery_codes[1])
    assert not await accounts.check_second_factor("erika", "AAAAA-AAAAA")


async def test_reset_second_factor_then_enrol_with_a_code(redis: Redis) -> None:
    clock = FakeClock(NOW)
    accounts = Accounts(redis, clock=clock)
    await accounts.add("erika", PASSWORD, role=Role.CLERK)
    await accounts.reset_second_factor("erika")
    account = await accounts.get("erika")
    assert account is not None and not account.enrolled
    enrolment = accounts.new_enrolment("erika")
    right = pyotp.TOTP(enrolment.secret).at(NOW)
    assert not await accounts.enrol("erika", enrolment, f"{(int(right) + 1) % 10**6:06d}")
    assert await accounts.enrol("erika", enrolment, right)
    assert not await accounts.check_second_factor("erika", pyotp.TOTP(enrolment.secret).at(NOW))
    clock.now += 30
    assert await accounts.check_second_factor("erika", pyotp.TOTP(enrolment.secret).at(clock.now))


async def test_departments_are_bounded_and_deduplicated(redis: Redis) -> None:
    known = frozenset(f"amt{i}" for i in range(MAX_DEPARTMENTS + 1))
    accounts = Accounts(redis, departments=known)
    await accounts.add("erika", "x" * 12, role=Role.CLERK, departments=["amt1", "amt0", "amt1"])
    assert await accounts.departments_of("erika") == {"amt0", "amt1"}
    all_but_one = sorted(known)[:MAX_DEPARTMENTS]
    assert await accounts.set_departments("erika", all_but_one) == tuple(all_but_one)
    with pytest.raises(AccountError, match=f"at most {MAX_DEPARTMENTS} departments"):
        await accounts.set_departments("erika", known)
    assert await accounts.departments_of("erika") == set(all_but_one)
    assert MAX_DEPARTMENTS == 32
