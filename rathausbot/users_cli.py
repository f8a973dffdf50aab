"""`rathausbot users add|passwd|disable|enable|list|reset-2fa|departments`: staff accounts of
the console.

Works on the Redis of a running `rathausbot serve` (or `REDIS_URL`). Passwords are read
from standard input when it is not a terminal, else asked for twice without echo.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from typing import TextIO

import segno
from redis.asyncio import Redis
from redis.exceptions import RedisError

from console.accounts import AccountError, Accounts, Enrolment
from console.audit import AuditAction, AuditLog
from console.roles import Role
from console.sessions import SessionStore
from contract.knowledge import KnowledgeError, load_directory
from rathausbot.app import make_redis
from rathausbot.secrets import redis_target, resolve_secrets
from rathausbot.settings import Settings

ACTOR = "cli"  # the audit log's actor for changes made on the server's command line


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    users = commands.add_parser("users", help="manage the staff console's accounts")
    sub = users.add_subparsers(dest="users_command", required=True)
    add = sub.add_parser("add", help="create an account (prints its TOTP key once)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--display-name", help="the name citizens see in a takeover")
    department_help = (
        "a department id of intents/knowledge/departments.yml the user works for "
        "(repeatable; none: all departments)"
    )
    add.add_argument("--department", action="append", default=[], help=department_help)
    departments = sub.add_parser(
        "departments", help="set the departments a user works for (none given: all)"
    )
    departments.add_argument("name")
    departments.add_argument("--department", action="append", default=[], help=department_help)
    for name, text in (
        ("passwd", "set a new password (ends the user's sessions)"),
        ("disable", "disable the account and end its sessions"),
        ("enable", "enable a disabled account"),
        ("reset-2fa", "forget the TOTP key: the user enrols again at the next login"),
    ):
        sub.add_parser(name, help=text).add_argument("name")
    sub.add_parser("list", help="list the accounts")


def users(settings: Settings, args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> int:
    target = redis_target(settings, resolve_secrets(settings))
    try:
        known = town_departments(settings)
        return asyncio.run(_on_redis(make_redis(target), args, stdin, stdout, known))
    except AccountError as error:
        print(f"rathausbot users: {error}", file=sys.stderr)
        return 2
    except RedisError as error:
        print(
            f"rathausbot users: Redis at {target.display} does not answer "
            f"({type(error).__name__}); is `rathausbot serve` running?",
            file=sys.stderr,
        )
        return 1


def town_departments(settings: Settings) -> frozenset[str]:
    """The department ids of the town's knowledge; AccountError when it cannot be read."""
    try:
        directory = load_directory(settings.intents_dir / "knowledge")
    except KnowledgeError as error:
        raise AccountError(f"cannot read the town's departments: {error}") from None
    return frozenset(department.id for department in directory.departments)


def read_password(stdin: TextIO) -> str:
    if not stdin.isatty():
        return stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password (at least 12 characters): ")
    if getpass.getpass("Repeat the password: ") != first:
        raise AccountError("the passwords differ")
    return first


def print_enrolment(enrolment: Enrolment, stdout: TextIO) -> None:
    print("TOTP key (scan the QR code or type the key into an authenticator app):", file=stdout)
    print(enrolment.uri, file=stdout)
    if stdout.isatty():
        segno.make(enrolment.uri, error="m").terminal(out=stdout, compact=True)
    print("Recovery codes (each works once; keep them safe):", file=stdout)
    for code in enrolment.recovery_codes:
        print(f"  {code}", file=stdout)


async def _on_redis(
    redis: Redis,
    args: argparse.Namespace,
    stdin: TextIO,
    stdout: TextIO,
    departments: frozenset[str],
) -> int:
    try:
        return await run(redis, args, stdin, stdout, departments=departments)
    finally:
        await redis.aclose()


async def run(
    redis: Redis,
    args: argparse.Namespace,
    stdin: TextIO,
    stdout: TextIO,
    *,
    departments: frozenset[str] = frozenset(),
) -> int:
    """One `users` subcommand on `redis`; AccountError for a refused request. `departments`:
    the town's department ids, the only ones an account may be given."""
    accounts = Accounts(redis, departments=departments)
    audit = AuditLog(redis)
    sessions = SessionStore(redis)
    match args.users_command:
        case "add":
            enrolment = await accounts.add(
                args.name,
                read_password(stdin),
                role=Role(args.role),
                display_name=args.display_name,
                departments=args.department,
            )
            await audit.append(ACTOR, AuditAction.USER_ADDED, args.name, args.role)
            print(f"User {args.name} ({args.role}) created.", file=stdout)
            print_enrolment(enrolment, stdout)
        case "passwd":
            await accounts.set_password(args.name, read_password(stdin))
            await sessions.revoke_user(args.name)
            await audit.append(ACTOR, AuditAction.USER_PASSWORD_RESET, args.name)
            print(f"Password of {args.name} changed; its sessions ended.", file=stdout)
        case "disable":
            await accounts.set_disabled(args.name, True)
            ended = await sessions.revoke_user(args.name)
            await audit.append(ACTOR, AuditAction.USER_DISABLED, args.name)
            print(f"User {args.name} disabled; {ended} session(s) ended.", file=stdout)
        case "enable":
            await accounts.set_disabled(args.name, False)
            await audit.append(ACTOR, AuditAction.USER_ENABLED, args.name)
            print(f"User {args.name} enabled.", file=stdout)
        case "reset-2fa":
            await accounts.reset_second_factor(args.name)
            await sessions.revoke_user(args.name)
            await audit.append(ACTOR, AuditAction.USER_2FA_RESET, args.name)
            print(f"Second factor of {args.name} reset; enrols at the next login.", file=stdout)
        case "departments":
            assigned = await accounts.set_departments(args.name, args.department)
            shown = ", ".join(assigned) or "all"
            await audit.append(ACTOR, AuditAction.USER_DEPARTMENTS, args.name, shown)
            print(f"User {args.name} works for: {shown}.", file=stdout)
        case "list":
            for name in await accounts.names():
                account = await accounts.get(name)
                if account is None:
                    continue
                state = "disabled" if account.disabled else "active"
                factor = "totp" if account.enrolled else "no 2fa yet"
                works_for = ",".join(account.departments) or "all"
                print(
                    f"{name}\t{account.role.value}\t{state}\t{factor}\t{account.display_name}"
                    f"\t{works_for}",
                    file=stdout,
                )
    return 0
