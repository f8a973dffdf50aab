"""The privacy officer's pages in a real browser (Debian's chromium via playwright-core,
tests/e2e/browser/privacy.mjs) against the real gateway and Redis: find a citizen by phone
number, preview, erase, see the tombstone in the audit log; a clerk gets 403."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest

from console.roles import Role
from contract.records import Callback, CallbackWindow, Channel, RecordKind
from rathausbot.app import Runtime
from tests.e2e.conftest import REPO, Gateway
from tests.e2e.test_console_browser import SERIOUS, make_users, run_staff_script

pytestmark = pytest.mark.slow

SCRIPT = REPO / "tests" / "e2e" / "browser" / "privacy.mjs"


async def run_privacy(
    gateway: Gateway, scenario: str, users: list[dict[str, str]], out: Path | None = None
) -> Any:
    args = [scenario, gateway.url, json.dumps(users)] + ([str(out)] if out is not None else [])
    return await run_staff_script(SCRIPT, *args)


async def callback(rt: Runtime, reference: str, phone: str) -> None:
    fields = Callback(reference, phone, CallbackWindow.ANYTIME, Channel.VOICE, 1.8e9)
    await rt.redis.hset(RecordKind.CALLBACK.key(reference), mapping=fields.to_fields())  # type: ignore[arg-type]


async def test_the_officer_finds_previews_and_erases_and_a_clerk_is_refused(
    gateway: Gateway, rt: Runtime
) -> None:
    officer, clerk, checker = await make_users(rt, Role.PRIVACY, Role.CLERK, Role.PRIVACY)
    officer["phone"] = "0171 9876543"
    await callback(rt, "R-PRVAC2", "+491719876543")
    await callback(rt, "R-PRVAC3", "+491719876544")  # another citizen
    seen = await run_privacy(gateway, "erase", [officer, clerk, checker])
    assert "R-PRVAC2" in seen["preview"] and "R-PRVAC3" not in seen["preview"]
    assert "Rückrufwünsche" in seen["preview"]
    assert seen["erased"].startswith("Gelöscht.")
    assert "Löschung (Art. 17)" in seen["auditRow"] and officer["name"] in seen["auditRow"]
    assert "Suchschlüssel: Telefonnummer" in seen["auditRow"]
    assert "Rückrufwünsche: 1" in seen["auditRow"] and "erasure" not in seen["auditRow"]
    assert "9876543" not in seen["auditRow"]
    assert "unversehrt" in seen["chain"]
    assert seen["clerkStatus"] == [403, 403, 403, 403]
    assert "Datenschutz" not in seen["menu"]
    for page in ("searchViolations", "auditViolations"):
        assert [v for v in seen[page] if v["impact"] in SERIOUS] == [], seen[page]
    assert not await rt.redis.exists(RecordKind.CALLBACK.key("R-PRVAC2"))
    assert await rt.redis.exists(RecordKind.CALLBACK.key("R-PRVAC3"))


@pytest.mark.skipif(not os.environ.get("RATHAUSBOT_SCREENSHOTS"), reason="screenshots on demand")
async def test_screenshots_of_the_privacy_pages(gateway: Gateway, rt: Runtime) -> None:
    [officer] = await make_users(rt, Role.PRIVACY)
    officer["phone"] = "0171 5550001"
    await callback(rt, "R-SHTAA2", "+491715550001")
    out = Path(os.environ["RATHAUSBOT_SCREENSHOTS"])
    await asyncio.to_thread(out.mkdir, parents=True, exist_ok=True)
    seen = await run_privacy(gateway, "screens", [officer], out)
    for shot in seen["shots"]:
        assert shot["overflow"] <= 0, shot
