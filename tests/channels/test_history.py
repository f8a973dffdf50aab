"""Replaying a transcript as protocol lines (pure functions of channels.webchat)."""

from __future__ import annotations

from channels.protocol import BotLine, HandoffState, HandoffStatus, StaffLine, UserLine
from channels.webchat import HUMAN_PAYLOAD, HUMAN_TITLE, history_lines
from contract.conversation import Marker
from dialogue.messages import Button, Channel, Handoff, Link, Role
from dialogue.records import TranscriptRecord


def rec(role: Role, text: str, **fields: object) -> TranscriptRecord:
    return TranscriptRecord.new(Channel.WEBCHAT, role, text, clock=lambda: 1.0e9, **fields)


def test_quick_replies_replay_as_their_titles_and_handoffs_as_status() -> None:
    records = [
        rec(
            Role.BOT,
            "Hallo",
            buttons=(Button("Ja, gern", "/affirm"), Button("Mensch", HUMAN_PAYLOAD)),
        ),
        rec(Role.USER, "/affirm"),
        rec(Role.BOT, "Hier:", links=(Link("Formular", "https://x.example/f"),)),
        rec(Role.USER, "/affirm"),  # an old offer still maps to its title
        rec(Role.USER, HUMAN_PAYLOAD),
        rec(Role.BOT, "Ich verbinde.", handoff=Handoff("user_request", None, "C-20261121-ABCDEF")),
        rec(Role.USER, "/unbekannt"),
        rec(Role.SYSTEM, "Entschuldigung, technische Störung."),
        rec(Role.BOT, ""),  # an empty bubble (e.g. a bare custom payload) is not shown
    ]
    at = 1.0e9  # each line carries its record's time
    assert history_lines(records) == (
        BotLine("Hallo", (Button("Ja, gern", "/affirm"), Button("Mensch", HUMAN_PAYLOAD)), at=at),
        UserLine("Ja, gern", at),
        BotLine("Hier:", (), (Link("Formular", "https://x.example/f"),), at),
        UserLine("Ja, gern", at),
        UserLine(HUMAN_TITLE, at),
        BotLine("Ich verbinde.", at=at),
        HandoffStatus(HandoffState.REQUESTED, "C-20261121-ABCDEF", at),
        UserLine("/unbekannt", at),
        BotLine("Entschuldigung, technische Störung.", at=at),
    )


def test_a_takeover_replays_with_the_clerk_and_its_end() -> None:
    at = 1.0e9
    records = [
        rec(Role.SYSTEM, "Sie schreiben jetzt mit Erika", name="Erika", marker=Marker.TAKEN),
        rec(Role.STAFF, "Guten Tag", name="Erika"),
        rec(Role.SYSTEM, "Wieder der Assistent", marker=Marker.RETURNED),
        rec(Role.SYSTEM, "Sie schreiben jetzt mit Jan", name="Jan", marker=Marker.TAKEN),
        rec(Role.SYSTEM, "Auf Wiedersehen!", marker=Marker.CLOSED),
    ]
    assert history_lines(records) == (
        HandoffStatus(HandoffState.TAKEN, None, at, "Erika"),
        StaffLine("Guten Tag", "Erika", at),
        HandoffStatus(HandoffState.RETURNED, None, at),
        HandoffStatus(HandoffState.TAKEN, None, at, "Jan"),
        BotLine("Auf Wiedersehen!", at=at),  # the goodbye, then the assistant is back
        HandoffStatus(HandoffState.RETURNED, None, at),
    )
