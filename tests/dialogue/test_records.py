"""Transcript records and cases round-trip through Redis hash fields."""

from __future__ import annotations

from dataclasses import replace

from contract.language import Register
from dialogue.messages import Button, Channel, Handoff, Link, Role
from dialogue.records import Case, CaseStatus, Delivery, TranscriptRecord


def test_transcript_record_round_trips_through_flat_fields() -> None:
    record = TranscriptRecord(
        record_id="abc",
        ts=1763750000.25,
        channel=Channel.VOICE,
        role=Role.BOT,
        text='Guten Tag \u2013 "Sie" sprechen mit einem Assistenten',
        intent="greet",
        confidence=0.93,
        asr_confidence=0.71,
        buttons=(Button("Ja", "/affirm"),),
        links=(Link("Stadt", "https://example.org/?a=1&b=2"),),
        handoff=Handoff("user_request", "standesamt", "C-20261121-ABCDEF"),
        hangup=True,
        delivery=Delivery.UNDELIVERED,
    )
    assert TranscriptRecord.from_fields(record.to_fields()) == record


def test_minimal_record_leaves_optional_fields_out() -> None:
    record = TranscriptRecord.new(Channel.WEBCHAT, Role.USER, "Hallo", clock=lambda: 1763750000.5)
    fields = record.to_fields()
    assert set(fields) == {"id", "ts", "channel", "role", "text", "delivery"}
    assert TranscriptRecord.from_fields(fields) == record


def test_case_round_trips_and_has_a_readable_id() -> None:
    case = Case(
        case_id=Case.new_id(1763750000.0),
        session_id="s1",
        channel=Channel.WEBCHAT,
        reason="user_request",
        department=None,
        created_at=1763750000.0,
        status=CaseStatus.OPEN,
    )
    assert Case.from_fields(case.to_fields()) == case
    assert "register" not in case.to_fields()
    english = replace(case, register=Register.EN)
    assert english.to_fields()["register"] == "en"
    assert Case.from_fields(english.to_fields()) == english
    assert case.case_id.startswith("C-20251121-")
    assert not set(case.case_id[11:]) & set("01IO")
