"""The conversation records in Redis, as the gateway imports them.

The shapes, encodings and keys live in the shared `contract` package (docs/data-model.md);
this module only names them for the gateway's packages.
"""

from __future__ import annotations

from contract.conversation import Case, CaseStatus, Delivery, TranscriptRecord
from contract.records import (
    CASE_EVENTS_CHANNEL,
    KEY_PREFIX,
    OPEN_CASES_KEY,
    SessionState,
    case_key,
    session_key,
    tracker_key,
    transcript_key,
)

__all__ = [
    "CASE_EVENTS_CHANNEL",
    "KEY_PREFIX",
    "OPEN_CASES_KEY",
    "Case",
    "CaseStatus",
    "Delivery",
    "SessionState",
    "TranscriptRecord",
    "case_key",
    "session_key",
    "tracker_key",
    "transcript_key",
]
