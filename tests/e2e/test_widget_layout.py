"""The widget as a citizen meets it on a 375 px phone and a 1280 px desktop, in Debian's
chromium (tests/e2e/browser/widget.mjs): the page stays usable beside the launcher, the
panel keeps focus while it covers the page, axe finds nothing of moderate impact or more
inside the widget's shadow root; a booking gives an .ics file; limits are explained.

Screenshots of both widths land in var/test-screenshots/ (gitignored) for a developer to
look at: widget-375-closed.png, widget-375-open.png, widget-375-menu.png, the same for 1280."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from contract.german import clock_text
from rathausbot.app import Runtime
from tests.e2e.conftest import REPO, Gateway
from tests.e2e.test_webchat_browser import run_scenario, texts

pytestmark = pytest.mark.slow

SHOTS = REPO / "var" / "test-screenshots"
BOOKING_REF = re.compile(r"\bB-[A-Z2-9]{6}\b")
SERIOUS = {"moderate", "serious", "critical"}


@pytest.mark.parametrize("width", [375, 1280])
def test_the_widget_at_phone_and_desktop_width(gateway: Gateway, width: int) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob(f"widget-{width}-*.png"):
        old.unlink()
    seen = run_scenario(gateway, "layout", str(width), str(SHOTS))

    # the footer's link is not under the launcher: hit at its left, middle and right, followed
    assert seen["hit"] == [True, True, True]
    assert seen["followed"].endswith("/datenschutz.html")
    assert seen["launcherBox"]["width"] <= width - 32

    bad = [v for v in seen["violations"] if v["impact"] in SERIOUS]
    assert bad == [], bad
    assert seen["passes"] > 10  # axe really ran inside the shadow root

    modal = width < 480  # the panel covers the page on a phone
    assert seen["modal"] == ("true" if modal else "false")
    if modal:
        assert None not in seen["forward"], seen["forward"]  # Tab never reaches the page
        assert None not in seen["backward"], seen["backward"]
        assert None not in seen["afterEnd"], seen["afterEnd"]  # nor after ending
        assert {"Weitere Aktionen", "Senden", "Chat schließen"} <= set(seen["forward"])
    else:
        assert None in seen["forward"]  # beside the page the panel does not hold focus
    assert seen["humanControls"] == 1  # one "talk to a person" control at a time
    assert seen["afterClose"] == "Fragen Sie uns: Chat öffnen"  # focus back on the launcher
    for state in ("closed", "open", "menu"):
        shot = SHOTS / f"widget-{width}-{state}.png"
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", shot


def ics_events(text: str) -> list[dict[str, str]]:
    """The VEVENTs of an iCalendar text (RFC 5545: CRLF lines, folded with a leading space)."""
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    lines = text.replace("\r\n ", "").split("\r\n")[:-1]
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
    assert "VERSION:2.0" in lines
    stack: list[str] = []
    events: list[dict[str, str]] = []
    for line in lines:
        name, _, value = line.partition(":")
        assert value, f"not a content line: {line!r}"
        if name == "BEGIN":
            stack.append(value)
            if value == "VEVENT":
                events.append({})
        elif name == "END":
            assert stack.pop() == value
        elif stack[-1] == "VEVENT":
            events[-1][name] = value
    assert stack == []
    return events


async def test_a_booking_offers_an_ics_file_in_berlin_time(rt: Runtime, gateway: Gateway) -> None:
    seen = await asyncio.to_thread(run_scenario, gateway, "booking")
    reference = BOOKING_REF.search(seen["confirmation"])
    assert reference, seen["confirmation"]
    record = await rt.redis.hgetall(f"rb:booking:{reference[0]}")
    assert record["status"] == "booked"

    assert seen["icsName"] == f"termin-{reference[0]}.ics"
    assert "TZID:Europe/Berlin" in seen["ics"]
    [event] = ics_events(seen["ics"])
    assert event["UID"].startswith(reference[0] + "@")
    start = datetime.strptime(event["DTSTART;TZID=Europe/Berlin"], "%Y%m%dT%H%M%S")
    berlin = start.replace(tzinfo=ZoneInfo("Europe/Berlin"))
    assert berlin == datetime.fromisoformat(record["starts_at"])  # the booked moment
    assert start.date().isoformat() == record["date"] and f"{start:%H:%M}" == record["time"]
    assert clock_text(start.hour, start.minute) == seen["time"]  # the time the citizen chose
    assert "Rathausplatz 1" in event["LOCATION"]
    assert reference[0] in event["DESCRIPTION"]

    # before ending, the numbers given can be kept
    assert seen["kept"] == [f"Buchungsnummer: {reference[0]}"]
    assert seen["numbersName"] == "rathausbot-nummern.txt"
    assert f"Buchungsnummer: {reference[0]}" in seen["numbers"]


def test_the_length_limit_and_fast_sending_are_explained(gateway: Gateway) -> None:
    seen = run_scenario(gateway, "limits")
    counts = seen["counts"]
    assert not counts["1799"]["visible"]  # the counter appears 200 characters before the limit
    assert counts["1800"]["text"] == "Noch 200 Zeichen"
    assert counts["1999"]["text"] == "Noch 1 Zeichen"
    assert counts["2000"] == {"text": "Noch 0 Zeichen", "visible": True, "invalid": "false"}
    assert counts["2001"] == {"text": "1 Zeichen zu viel", "visible": True, "invalid": "true"}
    # 5,000 characters are neither cut nor sent: the text stays, a notice says why
    assert seen["kept"] == 5000
    assert texts(seen["afterLong"], "user") == []
    assert "5000 Zeichen" in texts(seen["afterLong"], "system")[-1]

    # 20 messages at once: the burst (8) goes through, the rest can be sent again
    assert seen["failed"] >= 1 and seen["retries"] == seen["failed"]
    assert seen["notices"] == 1
    assert seen["resent"] == {"kind": "user", "text": seen["firstFailed"]}
