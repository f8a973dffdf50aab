"""`rathausbot users` on a real Redis, and doctor's warning about a console without 2FA."""

from __future__ import annotations

import argparse
import io

import pytest
from redis.asyncio import Redis

from console.accounts import AccountError, Accounts
from console.audit import AuditAction, AuditLog
from console.roles import Role
from console.sessions import SessionStore
from rathausbot.doctor import _console
from rathausbot.settings import Settings
from rathausbot.users_cli import add_parser, run

PASSWORD = "korrekt-pferd-batterie"


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["users", *argv])


async def users(redis: Redis, *argv: str, stdin: str = "") -> str:
    out = io.StringIO()
    assert await run(redis, parse(*argv), io.StringIO(stdin), out) == 0
    return out.getvalue()


async def test_add_reads_the_password_from_stdin_and_prints_the_key(redis: Redis) -> None:
    text = await users(
        redis,
        "add",
        "erika",
        "--role",
        "teamleitung",
        "--display-name",
        "Erika M.",
        stdin=PASSWORD + "\n",
    )
    assert "otpauth://totp/rathausbot:erika?secret=" in text
    assert PASSWORD not in text
    accounts = Accounts(redis)
    assert await accounts.check_password("erika", PASSWORD)
    account = await accounts.get("erika")
    assert account is not None and account.role is Role.TEAM_LEAD
    assert account.display_name == "Erika M."
    listing = await users(redis, "list")
    assert listing.split("\t")[:4] == ["erika", "teamleitung", "active", "totp"]
    entry = (await AuditLog(redis).entries(count=1))[0]
    assert (entry.actor, entry.action, entry.target) == ("cli", AuditAction.USER_ADDED, "erika")


async def test_disable_ends_sessions_and_reset_2fa(redis: Redis) -> None:
    await users(redis, "add", "erika", "--role", "sachbearbeitung", stdin=PASSWORD)
    session = await SessionStore(redis).create("erika")
    assert "1 session(s) ended" in await users(redis, "disable", "erika")
    assert await SessionStore(redis).get(session.token) is None
    assert not await Accounts(redis).check_password("erika", PASSWORD)
    await users(redis, "enable", "erika")
    assert await Accounts(redis).check_password("erika", PASSWORD)
    await users(redis, "reset-2fa", "erika")
    assert "no 2fa yet" in await users(redis, "list")
    await users(redis, "passwd", "erika", stdin="ein-ganz-neues-passwort\n")
    assert await Accounts(redis).check_password("erika", "ein-ganz-neues-passwort")


async def test_refusals(redis: Redis) -> None:
    with pytest.raises(AccountError):
        await users(redis, "add", "erika", "--role", "admin", stdin="kurz\n")
    with pytest.raises(AccountError):
        await users(redis, "disable", "nobody")
    with pytest.raises(SystemExit):
        parse("add", "erika", "--role", "chef")


def test_doctor_warns_when_the_second_factor_is_off() -> None:
    assert _console(Settings(console_second_factor=True)).ok
    check = _console(Settings(console_second_factor=False))
    assert not check.ok and "second factor" in check.what
    assert _console(Settings(console_enabled=False, console_second_factor=False)).ok


async def test_serve_tells_how_to_create_the_first_admin(redis: Redis) -> None:
    from rathausbot.app import console_hint

    settings = Settings(host="127.0.0.1", port=8080)
    first = await console_hint(settings, redis)
    assert "http://127.0.0.1:8080/console/" in first
    assert "rathausbot users add NAME --role admin" in first
    await users(redis, "add", "anna", "--role", "admin", stdin=PASSWORD)
    assert "users add" not in await console_hint(settings, redis)
