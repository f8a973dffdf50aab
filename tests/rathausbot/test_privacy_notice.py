"""The privacy notice and the Art. 30 facts follow the settings."""

from __future__ import annotations

from pathlib import Path

from channels.notice import PrivacyNotice
from rathausbot.privacy import notice_facts, processing_facts
from rathausbot.retention import DataType
from rathausbot.settings import Settings


def test_the_notice_states_each_types_retention_from_the_settings() -> None:
    settings = Settings(retention={"closed_cases": 77, "bookings": 12}, retention_days=21)
    html = PrivacyNotice(notice_facts(settings)).html
    assert "<td>Terminbuchungen, nach dem Termin</td><td>12 Tage</td>" in html
    assert "<td>Gesprächsverläufe ohne Vorgang (Chat und Telefon)</td><td>21 Tage</td>" in html
    assert "und 77 Tage danach" in html
    assert "21 Tage nach Ihrer letzten Nachricht" in html
    assert "Telefongespräche werden nicht aufgezeichnet." in html
    assert DataType.RECORDINGS.label not in html and DataType.CONSENT.label not in html
    assert "Stadt Musterstadt" in html


def test_with_recording_the_notice_names_it_and_its_retention() -> None:
    settings = Settings(recording_enabled=True, recording_retention_days=9)
    html = PrivacyNotice(notice_facts(settings)).html
    assert "<td>Gesprächsaufzeichnungen</td><td>9 Tage</td>" in html
    assert "nur auf, wenn Sie zu Beginn" in html and "Aufnahme stoppen" in html


def test_processing_facts_from_the_configuration(tmp_path: Path) -> None:
    settings = Settings(webhook_tickets_url="https://office.example/t", console_second_factor=False)
    facts = processing_facts(settings)
    assert facts.town == "Musterstadt" and facts.webhooks == ("tickets",)
    assert not facts.second_factor and not facts.recording_enabled
    unknown = processing_facts(Settings(intents_dir=tmp_path))
    assert unknown.town == "[Name der Stadt]"
