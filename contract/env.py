"""Environment variables the gateway sets for the Rasa processes it starts (services.py)."""

from __future__ import annotations

ACTIONS_REDIS_URL = "RATHAUSBOT_ACTIONS_REDIS_URL"
"""Redis URL where the action server stores bookings, tickets and callbacks."""
RETENTION_SECONDS = "RATHAUSBOT_RETENTION_SECONDS"
"""How long records are kept, in seconds (the gateway's retention_days)."""


def record_retention_seconds(kind: str) -> str:
    """The variable holding how long records of `kind` ("booking", "ticket", "callback") are
    kept, in seconds (bookings: after the appointment); unset: RETENTION_SECONDS."""
    return f"RATHAUSBOT_RETENTION_{kind.upper()}_SECONDS"


KNOWLEDGE_DIR = "RATHAUSBOT_KNOWLEDGE_DIR"
"""Directory of the town's knowledge files (default: intents/knowledge)."""
CALLBACK_ALLOWED_PREFIXES = "RATHAUSBOT_CALLBACK_ALLOWED_PREFIXES"
"""E.164 prefixes callbacks may go to besides German landline and mobile (comma-separated)."""
RASA_TOKEN = "RATHAUSBOT_RASA_TOKEN"
"""API token of the Rasa server, read by its launcher so it never shows in the process list."""
