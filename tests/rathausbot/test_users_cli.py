"""`rathausbot users` on a real Redis, and doctor's warning about a console without 2FA."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest
from redis.asyncio import Redis

from console.accounts import AccountError, Accounts
from console.audit import AuditAction, AuditLog
from console.roles import Role
from console.sessions import SessionStore
from rathausbot.doctor import _console
from rathausbot.settings import Settings
from rathausbot.users_cli import add_parser, run, town_departments

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


TOWN = frozenset({"buergerbuero", "standesamt", "bauamt"})


async def test_departments_on_add_and_changed_later(redis: Redis) -> None:
    out = io.StringIO()
    args = parse(
        "add", "erika", "--role", "sachbearbeitung",
        "--department", "standesamt", "--department", "buergerbuero",
    )  # fmt: skip
    assert await run(redis, args, io.StringIO(PASSWORD), out, departments=TOWN) == 0
    accounts = Accounts(redis)
    assert await accounts.departments_of("erika") == {"buergerbuero", "standesamt"}
    account = await accounts.get("erika")
    assert account is not None and account.departments == ("buergerbuero", "standesamt")
    out = io.StringIO()
    await run(redis, parse("list"), io.StringIO(), out)
    assert out.getvalue().rstrip("\n").split("\t")[-1] == "buergerbuero,standesamt"
    out = io.StringIO()
    await run(redis, parse("departments", "erika", "--department", "bauamt"), io.StringIO(), out,
              departments=TOWN)  # fmt: skip
    assert out.getvalue() == "User erika works for: bauamt.\n"
    assert await accounts.departments_of("erika") == {"bauamt"}
    out = io.StringIO()
    await run(redis, parse("departments", "erika"), io.StringIO(), out, departments=TOWN)
    assert out.getvalue() == "User erika works for: all.\n"
    assert await accounts.departments_of("erika") == frozenset()
    entry = (await AuditLog(redis).entries(count=1))[0]
    assert (entry.action, entry.target, entry.detail) == (
        AuditAction.USER_DEPARTMENTS,
        "erika",
        "all",
    )
    out = io.StringIO()
    await run(redis, parse("list"), io.StringIO(), out)
    assert out.getvalue().rstrip("\n").split("\t")[-1] == "all"


async def test_a_department_not_of_the_town_is_refused(redis: Redis) -> None:
    add = parse("add", "erika", "--role", "sachbearbeitung", "--department", "finanzamt")
    with pytest.raises(AccountError, match="unknown department 'finanzamt'"):
        await run(redis, add, io.StringIO(PASSWORD), io.StringIO(), departments=TOWN)
    assert await Accounts(redis).get("erika") is None  # nothing created
    await run(redis, parse("add", "erika", "--role", "sachbearbeitung"),
              io.StringIO(PASSWORD), io.StringIO())  # fmt: skip
    change = parse("departments", "erika", "--department", "standesamt")
    with pytest.raises(AccountError, match=r"known: none configured"):
        await run(redis, change, io.StringIO(), io.StringIO())  # no town known: fail closed
    with pytest.raises(AccountError, match="no user 'max'"):
        await run(redis, parse("departments", "max"), io.StringIO(), io.StringIO())
    assert await Accounts(redis).departments_of("erika") == frozenset()
    assert await Accounts(redis).departments_of("nobody") == frozenset()


def test_the_towns_departments_come_from_the_knowledge(tmp_path: Path) -> None:
    known = town_departments(Settings())
    assert {"buergerbuero", "standesamt"} <= known
    broken = Settings(intents_dir=tmp_path)
    with pytest.raises(AccountError, match="cannot read the town's departments"):
        town_departments(broken)
