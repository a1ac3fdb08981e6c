"""Business-hours arithmetic: hand-computed cases and properties against a plain reference."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cueva.calendar import business_days, business_hours
from cueva.contract import BusinessCalendar

MADRID = "Europe/Madrid"
CAL = BusinessCalendar.model_validate(
    {"holidays": {"country": "ES", "subdivision": "MD"}, "extra_holidays": ["2026-05-15"]}
)


def bh(start: str | None, end: str | None, cal: BusinessCalendar = CAL, tz: str = MADRID) -> float:
    return float(business_hours([start], [end], cal, tz)[0])


@pytest.mark.parametrize(
    ("start", "end", "hours"),
    [
        # inside one working day
        ("2026-05-04 10:00", "2026-05-04 12:30", 2.5),
        # a night arrival starts at the next opening (09:00)
        ("2026-05-04 22:00", "2026-05-05 10:00", 1.0),
        ("2026-05-05 06:00", "2026-05-05 09:45", 0.75),
        # Friday 17:00 -> Monday 10:00: 1 h on Friday + 1 h on Monday
        ("2026-05-08 17:00", "2026-05-11 10:00", 2.0),
        # a weekend arrival starts on Monday at 09:00
        ("2026-05-09 11:00", "2026-05-11 11:00", 2.0),
        # 1 May is a public holiday in Spain (Friday): Thursday 17:00 -> Monday 10:00
        ("2026-04-30 17:00", "2026-05-04 10:00", 2.0),
        # a holiday arrival; 2 May is a Madrid regional holiday, but a Saturday
        ("2026-05-01 12:00", "2026-05-04 09:30", 0.5),
        # 15 May (San Isidro, an extra date in the contract) is closed
        ("2026-05-14 17:00", "2026-05-18 09:30", 1.5),
        # a contact before the MQL counts as zero wait
        ("2026-05-04 12:00", "2026-05-04 11:00", 0.0),
        # a full working week: 5 x 9 h
        ("2026-05-04 09:00", "2026-05-09 09:00", 45.0),
        # DST: clocks go forward on Sunday 29 March 2026; Fri 17:00 -> Mon 10:00 is 2 h
        ("2026-03-27 17:00", "2026-03-30 10:00", 2.0),
        # DST back on Sunday 25 October 2026
        ("2026-10-23 17:30", "2026-10-26 09:15", 0.75),
    ],
)
def test_hand_computed(start: str, end: str, hours: float) -> None:
    assert bh(start, end) == pytest.approx(hours)


def test_missing_values_give_nan() -> None:
    out = business_hours(["2026-05-04 10:00", None], [None, "2026-05-04 10:00"], CAL, MADRID)
    assert np.isnan(out).all()


def test_team_in_another_timezone_uses_its_own_clock() -> None:
    # New York sales team, 09:00-17:00 New York time; timestamps are stored in Madrid time.
    ny = BusinessCalendar.model_validate(
        {"timezone": "America/New_York", "hours": "09:00-17:00", "holidays": {"country": "US"}}
    )
    # Madrid 14:00 = New York 08:00 (before opening); Madrid 17:30 = NY 11:30 -> 2.5 h
    assert bh("2026-05-04 14:00", "2026-05-04 17:30", ny) == pytest.approx(2.5)
    # US DST starts 8 March, Spain's on 29 March: Madrid 15:00 = NY 10:00 on 16 March
    assert bh("2026-03-16 15:00", "2026-03-16 16:00", ny) == pytest.approx(1.0)
    assert bh("2026-03-16 14:00", "2026-03-16 15:00", ny) == pytest.approx(1.0)  # NY 09-10
    # 4 July 2025 (Friday) is a US holiday: Madrid Thu 3 Jul 22:30 = NY 16:30 -> Mon 09:30 NY
    assert bh("2025-07-03 22:30", "2025-07-07 15:30", ny) == pytest.approx(0.5 + 0.5)


def test_business_days_count_from_the_day_the_clock_starts() -> None:
    starts = ["2026-05-04 10:00", "2026-05-04 19:00", "2026-05-08 12:00", "2026-05-09 12:00"]
    ends = ["2026-05-04 17:00", "2026-05-06 08:00", "2026-05-11 08:00", "2026-05-12 20:00"]
    # same day; after closing Monday -> clock starts Tuesday, Wednesday is 1;
    # Friday -> Monday is 1; Saturday -> starts Monday, Tuesday is 1
    assert business_days(starts, ends, CAL, MADRID).tolist() == [0, 1, 1, 1]


ALWAYS = BusinessCalendar.model_validate(
    {"working_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "hours": "00:00-24:00"}
)


def test_twenty_four_seven_calendar_counts_real_hours_across_dst() -> None:
    assert bh("2026-05-04 10:00", "2026-05-06 12:30", ALWAYS) == pytest.approx(50.5)
    # Saturday noon to Monday noon: 47 h in spring (02:00-03:00 does not exist), 49 in autumn
    assert bh("2026-03-28 12:00", "2026-03-30 12:00", ALWAYS) == pytest.approx(47.0)
    assert bh("2026-10-24 12:00", "2026-10-26 12:00", ALWAYS) == pytest.approx(49.0)
    assert bh("2026-03-29 01:00", "2026-03-29 04:00", ALWAYS) == pytest.approx(2.0)
    # 02:30 in the repeated autumn hour is read as its first occurrence (summer time)
    assert bh("2026-10-25 02:30", "2026-10-25 03:30", ALWAYS) == pytest.approx(2.0)


# --------------------------------------------------------------------------- properties


def reference_business_hours(start: datetime, end: datetime, cal: BusinessCalendar) -> float:
    """Plain per-lead Python: walk day by day and add each day's overlap with the opening."""
    import holidays

    if end <= start:
        return 0.0
    closed = set(cal.extra_holidays)
    if cal.holidays is not None:
        years = range(start.year, end.year + 1)
        closed |= set(
            holidays.country_holidays(
                cal.holidays.country, subdiv=cal.holidays.subdivision, years=years
            )
        )
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    o, c = cal.open_minutes
    total = 0.0
    d = start.date()
    while d <= end.date():
        if days[d.weekday()] in cal.working_days and d not in closed:
            day0 = datetime(d.year, d.month, d.day)
            lo = max(start, day0 + timedelta(minutes=o))
            hi = min(end, day0 + timedelta(minutes=c))
            if hi > lo:
                total += (hi - lo).total_seconds()
        d += timedelta(days=1)
    return total / 3600


moments = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 6, 30)).map(
    lambda d: d.replace(second=0, microsecond=0)
)
calendars = st.builds(
    lambda days, o, length, hol: BusinessCalendar.model_validate(
        {
            "working_days": days,
            "hours": f"{o // 60:02d}:{o % 60:02d}-{(o + length) // 60:02d}:{(o + length) % 60:02d}",
            "holidays": {"country": "ES", "subdivision": "MD"} if hol else None,
            "timezone": "UTC",
        }
    ),
    st.lists(
        st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]), min_size=1, unique=True
    ),
    st.integers(0, 12 * 60).map(lambda m: m - m % 15),
    st.integers(1, 12 * 4).map(lambda q: q * 15),
    st.booleans(),
)


@settings(max_examples=150, deadline=None)
@given(cal=calendars, a=moments, b=moments)
def test_matches_plain_reference(cal: BusinessCalendar, a: datetime, b: datetime) -> None:
    got = float(business_hours([a], [b], cal, "UTC")[0])
    assert got == pytest.approx(reference_business_hours(a, b, cal), abs=1e-9)


@settings(max_examples=150, deadline=None)
@given(cal=calendars, times=st.lists(moments, min_size=3, max_size=3))
def test_never_exceeds_wall_time_and_is_additive(
    cal: BusinessCalendar, times: list[datetime]
) -> None:
    a, b, c = sorted(times)
    ab, bc, ac = business_hours([a, b, a], [b, c, c], cal, "UTC")
    assert 0 <= ac <= (c - a).total_seconds() / 3600 + 1e-9
    assert ac == pytest.approx(ab + bc, abs=1e-9)


@settings(max_examples=50, deadline=None)
@given(a=moments, b=moments)
def test_vectorised_equals_one_at_a_time(a: datetime, b: datetime) -> None:
    many = business_hours([a, b, a], [b, a, a], CAL, MADRID)
    one = [bh(str(x), str(y)) for x, y in ((a, b), (b, a), (a, a))]
    assert many.tolist() == pytest.approx(one)


instants = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 6, 30)).map(
    lambda d: d.replace(second=0, microsecond=0)
)


def _madrid_wall(utc: list[datetime]) -> tuple[np.ndarray, np.ndarray]:
    """UTC instants as Madrid wall-clock times, and the instants those wall times mean
    (the repeated autumn hour read as its first occurrence, as the store does)."""
    import pandas as pd

    wall = pd.DatetimeIndex(utc).tz_localize("UTC").tz_convert(MADRID).tz_localize(None)
    meant = wall.tz_localize(MADRID, ambiguous=np.ones(len(wall), dtype=bool)).tz_convert("UTC")
    return wall.to_numpy(), meant.tz_localize(None).to_numpy()


@settings(max_examples=100, deadline=None)
@given(cal=calendars, times=st.lists(instants, min_size=3, max_size=3))
def test_across_dst_never_exceeds_real_time_and_is_additive(
    cal: BusinessCalendar, times: list[datetime]
) -> None:
    wall, meant = _madrid_wall(sorted(times))
    order = np.argsort(meant, kind="stable")
    wall, meant = wall[order], meant[order]
    cal = cal.model_copy(update={"timezone": MADRID})
    ab, bc, ac = business_hours(wall[[0, 1, 0]], wall[[1, 2, 2]], cal, MADRID)
    real = (meant[2] - meant[0]) / np.timedelta64(1, "h")
    assert 0 <= ac <= real + 1e-9
    assert ac == pytest.approx(ab + bc, abs=1e-9)
    always = business_hours(wall[[0]], wall[[2]], ALWAYS, MADRID)[0]
    assert always == pytest.approx(real, abs=1e-9)  # open all the time: real elapsed time
