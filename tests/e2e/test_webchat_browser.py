"""The widget in a real browser: Debian's chromium driven by Playwright (playwright-core
from npm, tests/e2e/browser/widget.mjs) against the real gateway, Rasa and Redis.

Assertions are on behaviour that stays when the assistant learns more: the greeting's AI
disclosure, quick replies, emergency numbers, handoff. Not on exact wording."""

from __future__ import annotations

import contextlib
import http.server
import json
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from tests.e2e.conftest import REPO, Gateway

pytestmark = pytest.mark.slow

SCRIPT = REPO / "tests" / "e2e" / "browser" / "widget.mjs"
XSS_TEXT = "<img src=x onerror=alert(1)>"


def run_scenario(gateway: Gateway, scenario: str, *extra: str) -> dict[str, Any]:
    node = shutil.which("node")
    assert node, "node is missing: run `make test` (it installs the browser test tools)"
    assert (REPO / "node_modules" / "playwright-core").is_dir(), "run `make test` (npm ci)"
    result = subprocess.run(
        [node, str(SCRIPT), scenario, gateway.url, *extra],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    observed: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    assert "error" not in observed, observed.get("error")
    assert observed["pageErrors"] == []
    return observed


def texts(log: list[dict[str, str]], kind: str) -> list[str]:
    return [m["text"] for m in log if m["kind"] == kind]


def test_ask_choose_a_quick_reply_reach_a_person_and_reload(gateway: Gateway) -> None:
    seen = run_scenario(gateway, "conversation")
    assert "Automatisierter Assistent" in seen["header"]
    assert seen["privacy"].endswith("/datenschutz.html")
    log = seen["beforeReload"]
    greeting = log[0]
    assert greeting["kind"] == "bot" and "automatisiert" in greeting["text"]
    assert "Mit einem Menschen sprechen" in seen["greetingButtons"]
    assert len(seen["challengeButtons"]) >= 2  # the bot_challenge answer offers choices
    users = texts(log, "user")
    assert users[:2] == [
        "Hilfe, es brennt in meiner Küche!",
        "Bin ich hier mit einem echten Menschen verbunden?",
    ]
    emergency = log[log.index({"kind": "user", "text": users[0]}) + 1]
    assert emergency["kind"] == "bot"
    assert "112" in emergency["text"] and "110" in emergency["text"]
    assert users[2] == seen["challengeButtons"][-1]  # the quick reply shows as its title
    assert users[3] == "Mit einem Menschen sprechen"
    assert "Vorgangsnummer: C-" in texts(log, "system")[-1]
    assert seen["afterReload"] == log  # the history after a reload is the conversation
    # every line, from the history too, has its time for screen readers and on hover
    times = seen["times"]
    assert len(times) == len(log) and None not in times, times
    stamps = [datetime.fromisoformat(t["datetime"]) for t in times]
    assert stamps == sorted(stamps)
    assert all(re.fullmatch(r"\d\d:\d\d Uhr", t["text"]) and t["title"] == t["text"] for t in times)


def test_a_keyboard_only_conversation(gateway: Gateway) -> None:
    seen = run_scenario(gateway, "keyboard")
    assert seen["launcher"]["text"] == "Fragen Sie uns: Chat öffnen"  # the visible text first
    assert seen["launcher"]["outline"].startswith("solid")  # visible focus
    assert seen["afterOpen"]["id"] == "rb-input"  # opening puts the cursor in the textbox
    reachable = {r["text"]: r["outline"] for r in seen["reachable"]}
    for name in ("Senden", "Datenschutzhinweise", "Weitere Aktionen"):
        assert name in reachable, f"{name} cannot be reached with Tab"
        assert reachable[name].startswith("solid"), f"{name} has no visible focus"
    # the menu: Enter opens it on its first action, Tab reaches the next, Escape closes it
    menu = [m["text"] for m in seen["menu"]]
    assert "Gespräch beenden und löschen" in menu, menu
    assert menu[0] in {"Mit einem Menschen sprechen", "Gespräch beenden und löschen"}, menu
    assert all(m["outline"].startswith("solid") for m in seen["menu"][:1])
    assert seen["menuHidden"] and seen["afterMenu"]["text"] == "Weitere Aktionen"
    assert seen["chosen"] and seen["chosen"].startswith("Ja, mit einem Menschen")
    assert texts(seen["log"], "user") == ["Sind Sie ein Roboter?", seen["chosen"]]
    assert "Vorgangsnummer" in texts(seen["log"], "system")[-1]
    assert seen["afterChoice"]["id"] == "rb-input"
    assert seen["panelHidden"] and seen["afterEscape"]["text"] == "Fragen Sie uns: Chat öffnen"


def test_markup_in_messages_is_shown_as_text_and_never_runs(gateway: Gateway) -> None:
    seen = run_scenario(gateway, "xss")
    assert XSS_TEXT in seen["payloads"]
    assert texts(seen["log"], "user") == seen["payloads"]
    assert seen["dialogs"] == []
    assert seen["injected"] == 0 and seen["javascriptLinks"] == 0
    assert seen["pwned"] is False


def test_axe_finds_no_moderate_serious_or_critical_violation(gateway: Gateway) -> None:
    seen = run_scenario(gateway, "axe")
    bad = [v for v in seen["violations"] if v["impact"] in {"moderate", "serious", "critical"}]
    assert bad == [], bad
    assert seen["passes"] > 10  # axe really ran over the page and the widget


def test_the_widget_works_at_320_pixels(gateway: Gateway) -> None:
    seen = run_scenario(gateway, "narrow")
    assert seen["scrollWidth"] <= 320
    for part in ("panel", "input", "send"):
        box = seen[part]
        assert box["x"] >= 0 and box["x"] + box["width"] <= 320, part


def test_a_dropped_connection_shows_offline_and_resumes(gateway: Gateway) -> None:
    seen = run_scenario(gateway, "offline")
    assert seen["offlineText"].startswith("Keine Verbindung")
    assert seen["sameSession"]
    assert texts(seen["log"], "user") == ["Guten Tag", "Sind Sie noch da?"]


def test_ending_the_conversation_forgets_it(gateway: Gateway) -> None:
    seen = run_scenario(gateway, "end")
    assert seen["stored"] == 0
    assert texts(seen["afterEnd"], "user") == []
    after = seen["afterReload"]
    assert len(after) == 1 and after[0]["kind"] == "bot" and "automatisiert" in after[0]["text"]


def test_the_demo_page_works_under_its_strict_csp(gateway: Gateway) -> None:
    seen = run_scenario(gateway, "demoCsp")
    headers = seen["headers"]
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert "server" not in headers
    assert seen["violations"] == []
    assert len(texts(seen["log"], "bot")) >= 2  # the greeting and an answer


@contextlib.contextmanager
def other_site(gateway: Gateway, *, attributes: str = "") -> Iterator[str]:
    """A town's own website on another origin (a loopback port of its own), with a strict
    CSP that allows only the gateway, and the one-line widget snippet on its page
    (``attributes``: more data- attributes on the script tag)."""
    ws = gateway.url.replace("http://", "ws://", 1)
    csp = f"default-src 'none'; script-src {gateway.url}; style-src {gateway.url}; connect-src {ws}"
    page = (
        '<!doctype html><html lang="de"><head><meta charset="utf-8"><title>Gemeinde</title>'
        f'</head><body><h1>Andere Website</h1><script src="{gateway.url}/widget/widget.js" '
        f'data-town="Musterstadt" data-offset="100" {attributes} defer></script></body></html>'
    ).encode()

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Security-Policy", csp)
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_the_widget_embeds_on_a_page_of_another_origin(gateway: Gateway) -> None:
    with other_site(gateway) as site:
        seen = run_scenario(gateway, "embedded", site + "/gemeinde.html")
    assert seen["origin"] == site and site != gateway.url
    assert seen["launcherGap"] == 16 + 100  # data-offset lifts the launcher (over a cookie bar)
    headers = seen["scriptHeaders"]
    assert headers["cross-origin-resource-policy"] == "cross-origin"
    assert headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert headers["x-content-type-options"] == "nosniff"
    assert seen["violations"] == []
    assert texts(seen["log"], "user") == ["Wann hat das Bürgerbüro geöffnet?"]
    assert len(texts(seen["log"], "bot")) >= 2


def test_the_language_buttons_switch_to_english_back_and_to_leichte_sprache(
    gateway: Gateway,
) -> None:
    shots = REPO / "var" / "test-screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    seen = run_scenario(gateway, "languages", "-", str(shots))
    assert seen["englishLabel"] == "Deutsch" and seen["easyHidden"] is True
    assert seen["easyPressed"] == "true"
    assert seen["englishLabels"] == {
        "send": "Send",
        "placeholder": "Your question …",
        "human": "Talk to a person",
        "disclosure": "Automated assistant – not a person. Privacy notice",
    }
    assert seen["germanLabels"] == {
        "send": "Senden",
        "placeholder": "Ihre Frage …",
        "human": "Mit einem Menschen sprechen",
        "disclosure": "Automatisierter Assistent – kein Mensch. Datenschutzhinweise",
    }
    users = texts(seen["log"], "user")
    assert users[:2] == ["English", "How much does a passport cost?"]
    assert users[2:] == ["Deutsch", "Leichte Sprache", "Ich brauche einen neuen Ausweis"]
    bots = texts(seen["log"], "bot")
    assert any("continue in English" in t for t in bots)
    assert any("euros" in t for t in bots)
    assert any("auf Deutsch" in t for t in bots)
    assert "Bürger-Büro" in bots[-1]


@pytest.mark.parametrize(
    ("attributes", "greeting", "english", "pressed", "send"),
    [
        ('data-language="en"', "not a person", "Deutsch", "false", "Send"),
        ('data-einfach="true"', "Ich bin ein Computer", "English", "true", "Senden"),
        ('data-language="fr"', "kein Mensch", "English", "false", "Senden"),  # unknown: German
    ],
)
def test_the_embedding_page_presets_the_language(
    gateway: Gateway, attributes: str, greeting: str, english: str, pressed: str, send: str
) -> None:
    with other_site(gateway, attributes=attributes) as site:
        seen = run_scenario(gateway, "preset", site + "/gemeinde.html")
    assert greeting in texts(seen["log"], "bot")[0]
    assert (seen["english"], seen["easyPressed"]) == (english, pressed)
    assert seen["labels"]["send"] == send
