"""Staff hours decide whether a caller is transferred or offered a callback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from telephony.staff_hours import BERLIN, StaffHours

HOURS = StaffHours.parse("Mo-Do 08:00-16:00, Fr 08:00-12:00", state="NW")


@pytest.mark.parametrize(
    ("moment", "open_"),
    [
        (datetime(2026, 11, 23, 8, 0, tzinfo=BERLIN), True),  # Monday, opening minute
        (datetime(2026, 11, 23, 7, 59, tzinfo=BERLIN), False),
        (datetime(2026, 11, 23, 16, 0, tzinfo=BERLIN), False),  # closing is exclusive
        (datetime(2026, 11, 26, 15, 59, tzinfo=BERLIN), True),  # Thursday
        (datetime(2026, 11, 27, 11, 0, tzinfo=BERLIN), True),  # Friday morning
        (datetime(2026, 11, 27, 13, 0, tzinfo=BERLIN), False),  # Friday afternoon
        (datetime(2026, 11, 28, 10, 0, tzinfo=BERLIN), False),  # Saturday
        (datetime(2026, 12, 25, 10, 0, tzinfo=BERLIN), False),  # Christmas, a Friday
        (datetime(2026, 11, 1, 10, 0, tzinfo=BERLIN), False),  # All Saints' (NW), a Sunday
        (datetime(2026, 6, 4, 10, 0, tzinfo=BERLIN), False),  # Corpus Christi in NW, Thursday
        (datetime(2026, 11, 23, 7, 30, tzinfo=UTC), True),  # 08:30 in Berlin (CET)
        (datetime(2026, 7, 6, 6, 30, tzinfo=UTC), True),  # 08:30 in Berlin (CEST)
        (datetime(2026, 7, 6, 5, 30, tzinfo=UTC), False),  # 07:30 in Berlin (CEST)
    ],
)
def test_open_in_the_week_closed_at_night_weekends_and_holidays(
    moment: datetime, open_: bool
) -> None:
    assert HOURS.is_open(moment) is open_


def test_state_holidays_only_count_in_their_state() -> None:
    corpus_christi = datetime(2026, 6, 4, 10, 0, tzinfo=BERLIN)
    assert StaffHours.parse("Mo-Fr 08:00-16:00", state="BE").is_open(corpus_christi)


@pytest.mark.parametrize(
    "text", ["Mo-Fr", "Mx 08:00-12:00", "Mo 12:00-08:00", "Fr-Mo 08:00-12:00", "Mo 25:00-26:00"]
)
def test_malformed_hours_are_refused_with_the_offending_part(text: str) -> None:
    with pytest.raises(ValueError, match="staff hours"):
        StaffHours.parse(text)


# --- next opening, service time and wording (handoff notice, callbacks falling due) ---


def test_next_opening_skips_evenings_weekends_and_holidays() -> None:
    tuesday_evening = datetime(2026, 12, 1, 19, 0, tzinfo=BERLIN)
    assert HOURS.next_opening(tuesday_evening) == datetime(2026, 12, 2, 8, 0, tzinfo=BERLIN)
    inside = datetime(2026, 12, 1, 9, 30, tzinfo=BERLIN)
    assert HOURS.next_opening(inside) == inside
    christmas_eve = datetime(2026, 12, 24, 17, 0, tzinfo=BERLIN)  # 25th, 26th, weekend
    assert HOURS.next_opening(christmas_eve) == datetime(2026, 12, 28, 8, 0, tzinfo=BERLIN)
    assert StaffHours(()).next_opening(inside) is None


def test_service_time_counts_staff_hours_only() -> None:
    friday_11 = datetime(2026, 12, 4, 11, 0, tzinfo=BERLIN)  # Fr until 12:00
    due = HOURS.add_service_time(friday_11, timedelta(hours=24))
    # Fr 1 h, Mo 8 h, Tu 8 h, We 7 h -> Wednesday 15:00
    assert due == datetime(2026, 12, 9, 15, 0, tzinfo=BERLIN)
    assert HOURS.service_time_between(friday_11, due) == timedelta(hours=24)
    assert HOURS.service_time_between(due, friday_11) == timedelta()
    assert StaffHours(()).add_service_time(friday_11, timedelta(hours=1)) is None


def test_hours_are_described_for_chat_and_speech() -> None:
    assert HOURS.describe(spoken=False) == "Mo-Do 08:00-16:00 Uhr; Fr 08:00-12:00 Uhr"
    assert HOURS.describe(spoken=True) == (
        "montags bis donnerstags von acht Uhr bis sechzehn Uhr, freitags von acht Uhr bis zwölf Uhr"
    )
    always = StaffHours.parse("Mo-So 00:00-24:00")
    assert always.describe(spoken=False) == "Mo-So 00:00-24:00 Uhr"
    assert (
        always.describe(spoken=True) == "montags bis sonntags von null Uhr bis vierundzwanzig Uhr"
    )
