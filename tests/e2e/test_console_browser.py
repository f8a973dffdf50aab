"""The staff console in a real browser (Debian's chromium via playwright-core,
tests/e2e/browser/console.mjs) against the real gateway, Rasa and Redis: login with password
and TOTP, a citizen's chat handoff appearing live, a claim race, XSS, axe-core, keyboard, and a
closure set by a team lead changing the assistant's next opening-hours answer."""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import subprocess
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from console.accounts import Accounts
from console.audit import AuditAction, AuditLog
from console.closures import BERLIN, ClosureStore
from console.roles import Role
from contract.conversation import Case
from contract.records import Channel
from rathausbot.app import Runtime
from tests.e2e.conftest import REPO, Gateway
from tests.e2e.test_closures_and_mail import QUESTION
from tests.e2e.test_conversations import Talk

pytestmark = pytest.mark.slow

SCRIPT = REPO / "tests" / "e2e" / "browser" / "console.mjs"
XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'
SERIOUS = {"serious", "critical"}


async def make_users(rt: Runtime, *roles: Role) -> list[dict[str, str]]:
    accounts = Accounts(rt.redis)
    made = []
    for role in roles:
        name = f"u{secrets.token_hex(4)}"
        password = secrets.token_urlsafe(16)
        enrolment = await accounts.add(name, password, role=role)
        made.append({"name": name, "password": password, "secret": enrolment.secret})
    return made


async def run_staff_script(script: Path, *args: str) -> Any:
    """Runs a staff-console scenario in chromium (a script under tests/e2e/browser/) and
    returns what it observed; no page error, CSP report or dialog may have happened."""
    node = shutil.which("node")
    assert node, "node is missing: run `make test` (it installs the browser test tools)"
    assert (REPO / "node_modules" / "playwright-core").is_dir(), "run `make test` (npm ci)"
    result = await asyncio.to_thread(
        subprocess.run,
        [node, str(script), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert result.returncode == 0, result.stderr
    observed: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    assert "error" not in observed, observed.get("error")
    assert observed["pageErrors"] == [] and observed["csp"] == []
    assert observed["dialogs"] == []  # no script of a citizen ran
    return observed


async def run_scenario(gateway: Gateway, scenario: str, users: list[dict[str, str]]) -> Any:
    return await run_staff_script(SCRIPT, scenario, gateway.url, json.dumps(users))


async def test_handoff_live_claim_race_xss_axe_and_close(gateway: Gateway, rt: Runtime) -> None:
    users = await make_users(rt, Role.CLERK, Role.CLERK, Role.CLERK)
    seen = await run_scenario(gateway, "flow", users)
    case_id = seen["caseId"]
    assert case_id.startswith("C-")
    assert seen["stayed"]  # the new case arrived without a reload
    assert seen["announced"] == f"Neuer Vorgang eingegangen: {case_id}"
    assert users[1]["name"] in seen["othersLine"]  # who else has it open
    assert XSS in seen["transcript"]  # the payload shows as text ...
    assert seen["injected"] == {"xss": 0, "imgs": 0, "scripts": 0}  # ... and never runs
    assert "Bürger/in" in seen["transcript"] and "Assistent" in seen["transcript"]
    claims = sorted(seen["claims"])
    winner = users[0]["name"] if seen["claims"][0].startswith("Sie haben") else users[1]["name"]
    assert claims == ["Bereits übernommen von " + winner + ".", "Sie haben den Vorgang übernommen."]
    assert seen["closed"] == "Status: erledigt"
    assert "erledigt" in seen["facts"]
    case = Case.from_fields(await rt.redis.hgetall(f"rb:case:{case_id}"))
    assert case.status.value == "closed" and case.channel is Channel.WEBCHAT
    assert await rt.redis.ttl(f"rb:transcript:{case.session_id}") > 0  # retention again
    for page in ("inboxViolations", "caseViolations"):
        assert [v for v in seen[page] if v["impact"] in SERIOUS] == [], seen[page]


async def test_keyboard_only_login_open_and_change_status(gateway: Gateway, rt: Runtime) -> None:
    users = await make_users(rt, Role.CLERK)
    case = Case(
        Case.new_id(time.time()),
        secrets.token_hex(16),
        Channel.VOICE,
        "user_request",
        "buergerbuero",
        time.time() - 7 * 86_400,
    )  # the oldest: first in the inbox
    await rt.store.open_case(case)
    seen = await run_scenario(gateway, "keyboard", users)
    assert seen["opened"] == case.case_id
    assert seen["claimed"] == "Sie haben den Vorgang übernommen."
    assert seen["changed"] == "Status: wartet auf Rückmeldung"


async def test_a_closure_set_in_the_browser_changes_the_next_answer(
    gateway: Gateway, rt: Runtime
) -> None:
    lead, other = await make_users(rt, Role.TEAM_LEAD, Role.TEAM_LEAD)
    note = f"Heute wegen einer Betriebsversammlung geschlossen, Kennung {secrets.token_hex(3)}"
    now = datetime.now(BERLIN).replace(tzinfo=None)
    lead |= {
        "starts": (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "ends": (now + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
        "note": note,
    }
    seen = await run_scenario(gateway, "closure", [lead, other])
    closures = ClosureStore(
        rt.redis, audit=AuditLog(rt.redis), knowledge=REPO / "intents" / "knowledge"
    )
    [closure] = [c for c in await closures.all() if c.note == note]
    try:
        assert seen["saved"] == "Die Schließung ist eingetragen."
        assert note in seen["table"] and lead["name"] in seen["table"]
        assert closure.created_by == lead["name"] and closure.office == "buergerbuero"
        assert [v for v in seen["violations"] if v["impact"] in SERIOUS] == [], seen["violations"]
        answer = await Talk(rt).say(QUESTION)
        assert f"Hinweis: {note}." in answer
        entries = await AuditLog(rt.redis).entries()
        assert any(e.action is AuditAction.CLOSURE and e.actor == lead["name"] for e in entries)
    finally:
        assert await closures.remove(closure.id, actor="e2e")
