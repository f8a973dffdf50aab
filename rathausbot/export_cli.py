"""The `rathausbot export` command: reads the records from Redis and writes them out."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from redis.exceptions import RedisError

from contract.records import RecordKind
from rathausbot.app import make_redis
from rathausbot.export import ExportError, ExportFormat, load_records, render
from rathausbot.secrets import redis_target, resolve_secrets
from rathausbot.settings import Settings


def export(settings: Settings, kind: str, fmt: str, output: str | None) -> int:
    """Writes the export; returns the exit status (1 with a message on stderr on failure)."""
    record_kind, export_format = RecordKind.from_plural(kind), ExportFormat(fmt)
    try:
        text, count = asyncio.run(_collect(settings, record_kind, export_format))
    except ExportFailed as exc:
        print(f"rathausbot export: {exc}", file=sys.stderr)
        return exc.status
    if output is None:
        sys.stdout.write(text)
    else:
        Path(output).write_text(text, encoding="utf-8", newline="")
        print(f"{count} {record_kind.plural} written to {output}", file=sys.stderr)
    return 0


class ExportFailed(RuntimeError):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


async def _collect(
    settings: Settings, record_kind: RecordKind, export_format: ExportFormat
) -> tuple[str, int]:
    target = redis_target(settings, resolve_secrets(settings))
    redis = make_redis(target)
    try:
        records = await load_records(redis, record_kind)
        text = render(record_kind, export_format, records)
    except RedisError as exc:
        message = (
            f"Redis at {target.display} does not answer ({type(exc).__name__}); "
            "is `rathausbot serve` running?"
        )
        raise ExportFailed(message, 1) from exc
    except ExportError as exc:
        raise ExportFailed(str(exc), 2) from exc
    finally:
        await redis.aclose()
    return text, len(records)
