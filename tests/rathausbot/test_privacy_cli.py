"""`rathausbot privacy` on a real Redis."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest
from redis.asyncio import Redis

from console.audit import AuditAction, AuditLog
from contract.records import Callback, CallbackWindow, Channel, RecordKind
from rathausbot.privacy_cli import add_parser, run
from rathausbot.privacy_report import moment, render_report
from rathausbot.settings import Settings

ERIKA = "+49301234567"


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["privacy", *argv])


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(var_dir=tmp_path)


async def privacy(
    settings: Settings, redis: Redis, *argv: str, stdin: str = "", status: int = 0
) -> str:
    out = io.StringIO()
    assert await run(settings, redis, parse(*argv), io.StringIO(stdin), out) == status
    return out.getvalue()


async def callback(redis: Redis, reference: str, phone: str) -> None:
    fields = Callback(reference, phone, CallbackWindow.ANYTIME, Channel.VOICE, 1e9).to_fields()
    await redis.hset(RecordKind.CALLBACK.key(reference), mapping=fields)


async def test_export_writes_json_and_the_html_report(
    settings: Settings, redis: Redis, tmp_path: Path
) -> None:
    await callback(redis, "R-AAAAAA", "030 1234567")
    await callback(redis, "R-BBBBBB", "+49301234568")
    html = tmp_path / "auskunft.html"
    text = await privacy(settings, redis, "export", "--phone", ERIKA, "--html", str(html))
    document = json.loads(text)
    assert [c["reference"] for c in document["callbacks"]] == ["R-AAAAAA"]
    report = html.read_text(encoding="utf-8")
    assert "Auskunft über gespeicherte Daten (Art. 15 DSGVO)" in report
    assert "R-AAAAAA" in report and "R-BBBBBB" not in report
    assert "Gesucht nach: Telefonnummer." in report
    entry = (await AuditLog(redis).entries(count=1))[0]
    assert entry.action is AuditAction.PRIVACY_EXPORT and entry.detail == "phone"
    assert entry.actor.startswith("cli")


async def test_erase_asks_and_only_yes_erases(settings: Settings, redis: Redis) -> None:
    await callback(redis, "R-AAAAAA", ERIKA)
    text = await privacy(settings, redis, "erase", "--phone", ERIKA, stdin="no\n", status=1)
    assert "callbacks: 1" in text and "Nothing was erased." in text
    assert await redis.exists(RecordKind.CALLBACK.key("R-AAAAAA"))
    text = await privacy(settings, redis, "erase", "--phone", ERIKA, stdin="yes\n")
    assert "Erased (1 items)." in text
    assert not await redis.exists(RecordKind.CALLBACK.key("R-AAAAAA"))


async def test_erase_with_yes_asks_nothing_and_nothing_found_says_so(
    settings: Settings, redis: Redis
) -> None:
    await callback(redis, "R-AAAAAA", ERIKA)
    text = await privacy(settings, redis, "erase", "--reference", "r-aaaaaa", "--yes")
    assert "Type 'yes'" not in text and "Erased" in text
    text = await privacy(settings, redis, "erase", "--reference", "R-AAAAAA", "--yes")
    assert text == "Nothing found for this key.\n"


async def test_a_bad_key_is_refused_with_status_2(
    settings: Settings, redis: Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    await privacy(settings, redis, "export", "--phone", "12", status=2)
    assert "keine vollständige Telefonnummer" in capsys.readouterr().err
    assert await AuditLog(redis).entries() == []


async def test_purge_dry_run_counts_and_a_real_run_audits(settings: Settings, redis: Redis) -> None:
    await redis.hset("rb:session:old", mapping={"channel": "webchat", "last_seen": "1"})
    text = await privacy(settings, redis, "purge", "--dry-run")
    assert text.startswith("would remove (dry run):\n") and "  conversations: 1\n" in text
    assert await redis.exists("rb:session:old")
    text = await privacy(settings, redis, "purge")
    assert text.startswith("removed:\n") and "  conversations: 1\n" in text
    assert not await redis.exists("rb:session:old")
    assert (await AuditLog(redis).entries(count=1))[0].action is AuditAction.PURGE


async def test_hold_on_and_off(
    settings: Settings, redis: Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    await redis.hset("rb:case:C-20261201-AAAAAA", mapping={"id": "C-20261201-AAAAAA"})
    assert "legal hold set on C-20261201-AAAAAA" in await privacy(
        settings, redis, "hold", "c-20261201-aaaaaa"
    )
    assert await redis.hget("rb:case:C-20261201-AAAAAA", "legal_hold") == "1"
    await privacy(settings, redis, "hold", "C-20261201-AAAAAA", "--off")
    assert not await redis.hexists("rb:case:C-20261201-AAAAAA", "legal_hold")
    await privacy(settings, redis, "hold", "C-20261201-ZZZZZZ", status=1)
    assert "no case C-20261201-ZZZZZZ" in capsys.readouterr().err


def test_the_key_options_exclude_each_other() -> None:
    with pytest.raises(SystemExit):
        parse("export", "--phone", ERIKA, "--name", "Erika")
    with pytest.raises(SystemExit):
        parse("erase")


def test_report_escapes_citizen_text_and_formats_times() -> None:
    document = {
        "generated_at": "2026-12-01T12:00:00+00:00",
        "key": "session",
        "counts": {"sessions": 1},
        "conversations": [
            {
                "session": "s",
                "channel": "webchat",
                "transcript": [{"role": "user", "text": "<script>x</script>", "ts": "1800000000"}],
            }
        ],
        "cases": [],
        "bookings": [],
        "tickets": [],
        "callbacks": [],
        "recordings": [],
    }
    html = render_report(document)
    assert "<script>x" not in html and "&lt;script&gt;x&lt;/script&gt;" in html
    assert "Erstellt am 01.12.2026 13:00" in html
    assert "Bürgerin/Bürger" in html and "Chat-Sitzung" in html
    assert moment("1800000000") == "15.01.2027 09:00"
    assert moment("garbage") == "garbage"
