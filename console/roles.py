"""Staff roles. What each may do is decided where the action is (routes and services)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    CLERK = "sachbearbeitung"  # inbox, cases, callbacks
    TEAM_LEAD = "teamleitung"  # also reassigns work, sees the team's totals, sets closures
    ADMIN = "admin"  # users and settings
    PRIVACY = "datenschutz"  # audit log, export, erasure (pages come with the privacy issue)
    EDITOR = "redaktion"  # content editor: the "Nicht verstanden" inbox only, no cases

    @property
    def label(self) -> str:
        """The German name shown in the console."""
        return {
            Role.CLERK: "Sachbearbeitung",
            Role.TEAM_LEAD: "Teamleitung",
            Role.ADMIN: "Administration",
            Role.PRIVACY: "Datenschutz",
            Role.EDITOR: "Redaktion",
        }[self]
