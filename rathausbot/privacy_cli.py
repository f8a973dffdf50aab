"""`rathausbot privacy`: purge, export, erase and legal hold from the command line.

`export` writes the Art. 15 JSON to standard output (and with `--html FILE` the printable
German report); `erase` shows what would go and asks, unless `--yes`; `purge --dry-run`
only counts. Every action is audited with the operator's login name as `cli:<user>`.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from pathlib import Path
from typing import TextIO

from redis.asyncio import Redis
from redis.exceptions import RedisError

from console.audit import AuditError, AuditLog
from rathausbot.app import make_redis
from rathausbot.citizen import CitizenData, Findings, KeyKind, KeyRefused, Lookup
from rathausbot.privacy import purger
from rathausbot.privacy_report import render_report
from rathausbot.secrets import redis_target, resolve_secrets
from rathausbot.settings import Settings


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    privacy = commands.add_parser(
        "privacy", help="data protection: purge expired data, export or erase a citizen's data"
    )
    sub = privacy.add_subparsers(dest="privacy_command", required=True)
    purge = sub.add_parser("purge", help="remove data past its retention now")
    purge.add_argument("--dry-run", action="store_true", help="only count what would go")
    for name, text in (
        ("export", "write everything about one citizen as JSON (Art. 15)"),
        ("erase", "erase everything about one citizen (Art. 17), after a preview"),
    ):
        cmd = sub.add_parser(name, help=text)
        key = cmd.add_mutually_exclusive_group(required=True)
        key.add_argument("--phone", help="a phone number (any usual spelling)")
        key.add_argument("--reference", help="a case, booking, ticket or callback reference")
        key.add_argument("--session", help="a chat session or call id")
        key.add_argument("--name", help="a name, as given in bookings")
        if name == "export":
            cmd.add_argument("--html", type=Path, help="also write the printable report here")
        else:
            cmd.add_argument("--yes", action="store_true", help="erase without asking")
    hold = sub.add_parser("hold", help="put a case under legal hold (no purge, no erasure)")
    hold.add_argument("case", help="the case id, e.g. C-20261201-K7QX2M")
    hold.add_argument("--off", action="store_true", help="lift the hold")


def lookup_of(args: argparse.Namespace) -> Lookup:
    """The key given on the command line; KeyRefused when it is not valid."""
    for kind in KeyKind:
        raw = getattr(args, kind.value, None)
        if raw is not None:
            return Lookup.parse(kind, raw)
    raise KeyRefused("Bitte geben Sie einen Suchbegriff an.")


def actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def privacy(settings: Settings, args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> int:
    """Runs one privacy command on the configured Redis; returns the exit status."""
    target = redis_target(settings, resolve_secrets(settings))

    async def go() -> int:
        redis = make_redis(target)
        try:
            return await run(settings, redis, args, stdin, stdout)
        finally:
            await redis.aclose()

    try:
        return asyncio.run(go())
    except RedisError as exc:
        print(
            f"rathausbot privacy: Redis at {target.display} does not answer "
            f"({type(exc).__name__}); is `rathausbot serve` running?",
            file=sys.stderr,
        )
    return 1


async def run(
    settings: Settings, redis: Redis, args: argparse.Namespace, stdin: TextIO, stdout: TextIO
) -> int:
    """One privacy command on `redis`: 0 done, 1 refused or failed, 2 a bad key."""
    try:
        match args.privacy_command:
            case "purge":
                return await _purge(settings, redis, args.dry_run, stdout)
            case "export":
                return await _export(settings, redis, lookup_of(args), args, stdout)
            case "erase":
                return await _erase(settings, redis, lookup_of(args), args, stdin, stdout)
            case "hold":
                return await _hold(settings, redis, args, stdout)
    except KeyRefused as refused:
        print(f"rathausbot privacy: {refused}", file=sys.stderr)
        return 2
    except AuditError as exc:
        print(f"rathausbot privacy: {exc}; nothing was changed", file=sys.stderr)
        return 1
    return 2


def citizen_data(settings: Settings, redis: Redis) -> CitizenData:
    return CitizenData(redis, AuditLog(redis), recordings_dir=settings.var_dir / "recordings")


async def _purge(settings: Settings, redis: Redis, dry_run: bool, stdout: TextIO) -> int:
    report = await purger(settings, redis).run(dry_run=dry_run)
    heading = "would remove (dry run)" if dry_run else "removed"
    print(f"{heading}:", file=stdout)
    for pair in report.detail().split():
        name, count = pair.split("=")
        print(f"  {name}: {count}", file=stdout)
    return 0


async def _export(
    settings: Settings, redis: Redis, lookup: Lookup, args: argparse.Namespace, stdout: TextIO
) -> int:
    document = await citizen_data(settings, redis).export(lookup, actor=actor())
    json.dump(document, stdout, ensure_ascii=False, indent=2)
    stdout.write("\n")
    if args.html is not None:
        args.html.write_text(render_report(document), encoding="utf-8")
        print(f"report written to {args.html}", file=sys.stderr)
    return 0


def preview(findings: Findings) -> str:
    """What an erasure would remove, one kind a line (no content)."""
    lines = [f"  {name}: {count}" for name, count in findings.counts().items()]
    if findings.held:
        lines.append(f"  kept under legal hold: {', '.join(findings.held)}")
    return "\n".join(lines)


async def _erase(
    settings: Settings,
    redis: Redis,
    lookup: Lookup,
    args: argparse.Namespace,
    stdin: TextIO,
    stdout: TextIO,
) -> int:
    data = citizen_data(settings, redis)
    findings = await data.search(lookup, actor=actor())
    if findings.empty:
        print("Nothing found for this key.", file=stdout)
        return 0
    print(f"This erases, for this {lookup.kind.value}:\n{preview(findings)}", file=stdout)
    if not args.yes:
        print("Erase all of it? Type 'yes': ", end="", file=stdout, flush=True)
        if stdin.readline().strip().lower() != "yes":
            print("Nothing was erased.", file=stdout)
            return 1
    counts = await data.erase(findings, actor=actor())
    print(f"Erased ({sum(counts.values()) - counts['held']} items).", file=stdout)
    return 0


async def _hold(settings: Settings, redis: Redis, args: argparse.Namespace, stdout: TextIO) -> int:
    case_id = args.case.strip().upper()
    if not await citizen_data(settings, redis).set_hold(case_id, not args.off, actor=actor()):
        print(f"rathausbot privacy: no case {case_id}", file=sys.stderr)
        return 1
    print(f"legal hold {'lifted from' if args.off else 'set on'} {case_id}", file=stdout)
    return 0
