"""The demo website says what the assistant says: its addresses are the knowledge's."""

from __future__ import annotations

import re
from pathlib import Path

from contract.town import load_town

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "channels" / "static" / "demo"
ADDRESS = re.compile(r"[A-ZÄÖÜ][\w-]+ \d+[a-z]?, \d{5} [A-ZÄÖÜ]\w+")


def test_every_address_on_the_demo_pages_is_one_the_assistant_gives() -> None:
    known = {d.address for d in load_town(REPO / "intents" / "knowledge").directory.departments}
    found = {a for page in DEMO.glob("*.html") for a in ADDRESS.findall(page.read_text())}
    assert "Rathausplatz 1, 12345 Musterstadt" in found  # the pattern finds the town hall
    assert found <= known, found - known
