"""Live takeover in a real browser, two contexts on two gateways sharing one Redis: the
citizen's widget on the served gateway, the clerk's console on a second gateway run in this
process (tests/e2e/browser/takeover.mjs drives chromium). Messages and typing flow both ways,
XSS from either side stays text, a reload restores the staff lines, the hand-back brings the
assistant back; Rasa's tracker shows the takeover."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from channels.fanout import Fanout
from console.accounts import Accounts
from console.events import EventHub
from console.roles import Role
from rathausbot.app import Runtime, chat_endpoint, console
from rathausbot.health import HealthMonitor
from rathausbot.http import create_app, server_config
from tests.e2e.conftest import REPO, Gateway
from tests.e2e.test_takeover import tracker_events
from tests.redis_server import free_port

pytestmark = pytest.mark.slow

SCRIPT = REPO / "tests" / "e2e" / "browser" / "takeover.mjs"
XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'


@contextlib.asynccontextmanager
async def second_gateway(rt: Runtime) -> AsyncIterator[str]:
    """Gateway 2: the chat and the console on the same Redis and Rasa, its own fan-out and
    event hub (as a second process behind a load balancer would have)."""
    async with Fanout(rt.redis) as fanout, EventHub(rt.redis) as hub:
        health = HealthMonitor(
            redis=rt.redis,
            http=rt.http,
            rasa_url=rt.settings.rasa_url,
            rasa_token=rt.secrets.rasa_token,
            actions_url=rt.settings.actions_url,
            start_timeout_s=1,
        )
        app = create_app(health=health, chat=chat_endpoint(rt, fanout), console=console(rt, hub))
        port = free_port()
        server = uvicorn.Server(server_config(app, host="127.0.0.1", port=port))
        task = asyncio.create_task(server.serve())
        await fanout.wait_subscribed()
        for _ in range(1000):  # bounded: at most ~10 s
            if server.started:
                break
            await asyncio.sleep(0.01)
        assert server.started
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            await task


async def test_takeover_in_two_browsers_on_two_gateways(gateway: Gateway, rt: Runtime) -> None:
    node = shutil.which("node")
    assert node, "node is missing: run `make test` (it installs the browser test tools)"
    name = f"u{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(16)
    display = "Erika Muster"
    enrolment = await Accounts(rt.redis).add(name, password, role=Role.CLERK, display_name=display)
    user = {"name": name, "password": password, "secret": enrolment.secret, "display": display}
    out_dir = os.environ.get("RATHAUSBOT_SCREENSHOTS", "")
    if out_dir:
        await asyncio.to_thread(Path(out_dir).mkdir, parents=True, exist_ok=True)
    async with second_gateway(rt) as clerk_base:
        result = await asyncio.to_thread(
            subprocess.run,
            [node, str(SCRIPT), gateway.url, clerk_base, json.dumps(user), out_dir],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=400,
        )
    assert result.returncode == 0, result.stderr
    seen: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    assert "error" not in seen, seen.get("error")
    assert seen["pageErrors"] == [] and seen["csp"] == [] and seen["dialogs"] == []
    assert seen["buttons"] == {"handBack": 1, "end": 1, "send": 1}
    assert seen["humanHidden"] is True  # no "talk to a person" while one answers
    assert seen["header"].startswith(f"Sie schreiben mit {display} (Stadtverwaltung).")
    assert seen["clerkTyping"] == f"{display} (Stadtverwaltung) schreibt …"
    assert seen["staffLabel"] == f"{display} (Stadtverwaltung): "  # for screen readers
    assert XSS in seen["staffShown"]  # the clerk's payload shows as text ...
    assert XSS in seen["consoleLog"]  # ... and so does the citizen's in the console
    assert seen["injected"] == {"citizen": 0, "clerk": 0, "citizenImgs": 0, "clerkImgs": 0}
    assert seen["afterReload"] == {"staff": 2, "taken": True, "user": True}
    assert "Uhr" in seen["answer"], seen["answer"]  # the assistant answers again
    # axe (WCAG 2.1 AA) on the case view mid-takeover: live pane, reply box, buttons
    assert seen["takeoverAxe"]["violations"] == [], seen["takeoverAxe"]["violations"]
    assert {"label", "button-name", "color-contrast"} <= set(seen["takeoverAxe"]["checked"])

    case_id = seen["caseId"]
    session_id = str(await rt.redis.hget(f"rb:case:{case_id}", "session_id"))
    paused, events = await tracker_events(rt, session_id)
    assert not paused
    kinds = [e["event"] for e in events]
    start, end = kinds.index("pause"), kinds.index("resume")
    held = events[start + 1 : end]
    talk = [e["event"] for e in held if e["event"] in ("user", "agent")]
    assert talk == ["user", "agent", "user", "agent", "user"]
    # the quick reply: the clerk read its title, Rasa's record keeps its payload
    assert seen["chosen"] == "Rückruf vereinbaren"
    assert next(e for e in held if e["event"] == "user")["text"] == "/callback_request"
    assert not [e for e in held if e["event"] == "bot"]  # nothing predicted while paused
    assert {e.get("name") for e in held if e["event"] == "action"} <= {"action_listen"}
    assert next(e for e in held if e["event"] == "agent")["data"]["name"] == display
