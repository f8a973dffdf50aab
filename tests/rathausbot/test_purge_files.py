"""The purge job and the files under var/ besides recordings and logs: the conversation
store's spill file (var/outbox.jsonl) and Redis's append-only file (real Redis, fake clock)."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from redis.asyncio import Redis

from console.audit import AuditLog
from contract.conversation import Case, Role, TranscriptRecord
from contract.records import Channel, transcript_key
from dialogue.store import SPILL_FILE, ConversationStore
from rathausbot.purge import Purger, purge_spill
from rathausbot.retention import DAY_S, DataType, Retention
from tests.fakes import PURGE_NOW

T0 = PURGE_NOW


def purger(redis: Redis, tmp_path: Path) -> Purger:
    return Purger(
        redis,
        AuditLog(redis, clock=lambda: T0),
        retention=Retention.parse({}),  # conversations 30 days, inactive cases 60
        recordings_dir=tmp_path / "recordings",
        log_dir=tmp_path / "log",
        spill_path=tmp_path / SPILL_FILE,
        clock=lambda: T0,
    )


def append_line(session_id: str, age_days: float) -> str:
    at = T0 - age_days * DAY_S
    record = TranscriptRecord.new(Channel.WEBCHAT, Role.USER, "Hallo", clock=lambda: at)
    return json.dumps({"op": "append", "session_id": session_id, "records": [record.to_fields()]})


def case_line(case_id: str, age_days: float) -> str:
    case = Case(
        case_id, "s-" + case_id, Channel.WEBCHAT, "user_request", None, T0 - age_days * DAY_S
    )
    return json.dumps({"op": "open_case", "fields": case.to_fields()})


def field_line(case_id: str) -> str:
    return json.dumps({"op": "case_field", "id": case_id, "field": "recording", "value": "a.wav"})


def spill(path: Path, lines: list[str], age_days: float) -> None:
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    os.utime(path, (T0 - age_days * DAY_S,) * 2)


async def test_spilled_lines_go_after_their_types_retention_and_the_rest_still_loads(
    redis: Redis, tmp_path: Path
) -> None:
    path = tmp_path / SPILL_FILE
    lines = [
        append_line("old", 30.01),  # just past 30 days
        append_line("new", 29.99),
        case_line("C-20260101-OLDAAA", 60.01),
        case_line("C-20260101-NEWAAA", 59.99),
        field_line("C-20260101-NEWAAA"),  # no time of its own: the file's (59 days)
    ]
    spill(path, lines, 59)
    dry = await purger(redis, tmp_path).run(dry_run=True)
    assert (dry.counts[DataType.CONVERSATIONS], dry.counts[DataType.INACTIVE_CASES]) == (1, 1)
    assert path.read_text(encoding="utf-8").splitlines() == lines  # a dry run changes nothing
    report = await purger(redis, tmp_path).run()
    assert (report.counts[DataType.CONVERSATIONS], report.counts[DataType.INACTIVE_CASES]) == (1, 1)
    assert path.read_text(encoding="utf-8").splitlines() == [lines[1], lines[3], lines[4]]
    async with ConversationStore(redis, retention_s=3600, spill_path=path) as store:
        await store.wait_flushed()  # what is left is still a valid spill file
    assert await redis.exists(transcript_key("new"))
    assert not await redis.exists(transcript_key("old"))
    assert not path.exists()  # the store took it


async def test_a_spill_file_with_nothing_left_is_removed(tmp_path: Path) -> None:
    path = tmp_path / SPILL_FILE
    spill(path, [append_line("old", 31), field_line("C-1"), "not json"], 61)
    cutoffs = {"append": T0 - 30 * DAY_S, "open_case": T0 - 60 * DAY_S}
    counts = purge_spill(path, cutoffs, dry_run=False)
    assert counts == {DataType.CONVERSATIONS: 1, DataType.INACTIVE_CASES: 2}
    assert not path.exists()
    spill(path, [field_line("C-1")], 59)  # inside its retention: untouched, mtime kept
    assert purge_spill(path, cutoffs, dry_run=False) == {}
    assert path.stat().st_mtime == T0 - 59 * DAY_S


async def test_a_run_that_deleted_something_rewrites_the_append_only_file(
    redis: Redis, tmp_path: Path
) -> None:
    async def aof() -> dict[str, int]:
        """Sizes of Redis's append-only file once no rewrite is running (bounded wait)."""
        for _ in range(200):
            info = await redis.info("persistence")
            if not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"]:
                return {"base": info["aof_base_size"], "current": info["aof_current_size"]}
            await asyncio.sleep(0.05)
        raise AssertionError("the append-only file rewrite never ended")

    await aof()  # a rewrite an earlier test started is over
    await redis.set("rb:test:filler", "x" * 1000)
    await redis.delete("rb:test:filler")  # deleted, but still in the append-only file
    await purger(redis, tmp_path).run()  # nothing to delete: no rewrite
    sizes = await aof()
    assert sizes["current"] > sizes["base"]
    spill(tmp_path / SPILL_FILE, [append_line("old", 31)], 31)
    await purger(redis, tmp_path).run()
    sizes = await aof()
    assert sizes["current"] == sizes["base"]  # rewritten: nothing deleted is left in it
