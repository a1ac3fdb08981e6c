from __future__ import annotations

from datetime import date, datetime

import ibis
import pandas as pd
import pytest

from cueva.errors import CuevaError, UsageError
from cueva.periods import (
    Period,
    bucket_labels,
    buckets,
    parse_period,
    period_from_range,
    previous,
    truncate,
    truncate_expr,
)


@pytest.mark.parametrize(
    ("text", "start", "end", "label"),
    [
        ("2026", date(2026, 1, 1), date(2027, 1, 1), "2026"),
        ("2026-Q2", date(2026, 4, 1), date(2026, 7, 1), "2026-Q2"),
        ("2026-q4", date(2026, 10, 1), date(2027, 1, 1), "2026-Q4"),
        ("2026-05", date(2026, 5, 1), date(2026, 6, 1), "2026-05"),
        ("2026-12", date(2026, 12, 1), date(2027, 1, 1), "2026-12"),
        # ISO week 18 of 2026: Monday 27 April to Sunday 3 May
        ("2026-W18", date(2026, 4, 27), date(2026, 5, 4), "2026-W18"),
        # ISO week 1 of 2026 starts in 2025 (29 December)
        ("2026-W01", date(2025, 12, 29), date(2026, 1, 5), "2026-W01"),
        ("2026-05-04", date(2026, 5, 4), date(2026, 5, 5), "2026-05-04"),
        (" FY2026 ", date(2026, 1, 1), date(2027, 1, 1), "FY2026"),
    ],
)
def test_parse_period(text: str, start: date, end: date, label: str) -> None:
    p = parse_period(text)
    assert (p.start, p.end, p.label) == (start, end, label)
    assert p.start_dt == datetime(start.year, start.month, start.day)


def test_fiscal_periods_follow_the_fiscal_year_start() -> None:
    fy = parse_period("FY2026", fiscal_year_start=7)
    assert (fy.start, fy.end) == (date(2025, 7, 1), date(2026, 7, 1))
    q1 = parse_period("FY2026-Q1", fiscal_year_start=7)
    assert (q1.start, q1.end) == (date(2025, 7, 1), date(2025, 10, 1))
    q4 = parse_period("FY2026-Q4", fiscal_year_start=7)
    assert (q4.start, q4.end) == (date(2026, 4, 1), date(2026, 7, 1))
    # calendar quarters stay calendar quarters
    assert parse_period("2026-Q1", fiscal_year_start=7).start == date(2026, 1, 1)


@pytest.mark.parametrize(
    "bad", ["", "2026-13", "2026-Q5", "2026-W54", "2026-02-30", "May 2026", "26-05", "2026-W00"]
)
def test_bad_periods_are_usage_errors(bad: str) -> None:
    with pytest.raises(UsageError, match=r"period|week|date") as info:
        parse_period(bad)
    assert isinstance(info.value, CuevaError) and isinstance(info.value, ValueError)


def test_period_from_range_includes_the_last_day() -> None:
    p = period_from_range("2026-01-01", "2026-06-30")
    assert (p.start, p.end) == (date(2026, 1, 1), date(2026, 7, 1))
    assert p.days == 181
    assert p.contains(datetime(2026, 6, 30, 23, 59))
    assert not p.contains(datetime(2026, 7, 1))
    with pytest.raises(UsageError, match="before"):
        period_from_range("2026-02-01", "2026-01-31")
    with pytest.raises(UsageError, match="not a date: '2026/01/01'"):
        period_from_range("2026/01/01", "2026-02-01")
    with pytest.raises(UsageError, match="end after"):
        Period(date(2026, 1, 2), date(2026, 1, 2), "x")


def test_previous_periods_have_the_same_length() -> None:
    labels = [p.label for p in previous(parse_period("2026-02"), 6)]
    assert labels == ["2025-08", "2025-09", "2025-10", "2025-11", "2025-12", "2026-01"]
    assert [p.label for p in previous(parse_period("2026-Q1"), 2)] == ["2025-Q3", "2025-Q4"]
    assert [p.label for p in previous(parse_period("2026-W01"), 2)] == ["2025-W51", "2025-W52"]
    assert [p.label for p in previous(parse_period("2026"), 1)] == ["2025"]
    fq = previous(parse_period("FY2026-Q1", 7), 1)[0]
    assert (fq.label, fq.start, fq.end) == ("FY2025-Q4", date(2025, 4, 1), date(2025, 7, 1))
    custom = previous(period_from_range("2026-03-01", "2026-03-10"), 2)
    assert [(p.start, p.end) for p in custom] == [
        (date(2026, 2, 9), date(2026, 2, 19)),
        (date(2026, 2, 19), date(2026, 3, 1)),
    ]
    # months of different lengths: the month before March is all of February
    feb = previous(parse_period("2026-03"), 1)[0]
    assert (feb.start, feb.end) == (date(2026, 2, 1), date(2026, 3, 1))
    assert previous(parse_period("2026-03"), 0) == []
    with pytest.raises(UsageError):
        previous(parse_period("2026-03"), -1)


def test_truncate_and_buckets() -> None:
    d = date(2026, 5, 20)  # a Wednesday
    assert truncate(d, "week") == date(2026, 5, 18)
    assert truncate(d, "month") == date(2026, 5, 1)
    assert truncate(d, "quarter") == date(2026, 4, 1)
    assert truncate(d, "quarter", fiscal_year_start=2) == date(2026, 5, 1)
    assert truncate(date(2026, 1, 15), "quarter", fiscal_year_start=2) == date(2025, 11, 1)
    with pytest.raises(UsageError, match="unknown grain 'day'"):
        truncate(d, "day")  # type: ignore[arg-type]
    bs = buckets(period_from_range("2026-01-15", "2026-04-02"), "month")
    assert [b.label for b in bs] == ["2026-01", "2026-02", "2026-03", "2026-04"]
    bs = buckets(parse_period("2026"), "quarter", fiscal_year_start=2)
    assert [b.label for b in bs] == [
        "FY2026-Q4",
        "FY2027-Q1",
        "FY2027-Q2",
        "FY2027-Q3",
        "FY2027-Q4",
    ]


@pytest.mark.parametrize("fys", [1, 2, 3, 4, 7, 11, 12])
@pytest.mark.parametrize("grain", ["week", "month", "quarter"])
def test_engine_truncation_matches_python(grain: str, fys: int) -> None:
    days = pd.date_range("2024-12-01", "2026-03-31", freq="5D")
    t = ibis.memtable({"ts": days + pd.Timedelta(hours=13)})
    got = (
        t.select(b=truncate_expr(t.ts, grain, fys))  # type: ignore[arg-type]
        .execute()["b"]
        .map(lambda v: pd.Timestamp(v).date())
    )
    want = [truncate(d.date(), grain, fys) for d in days]  # type: ignore[arg-type]
    assert list(got) == want
    labels = bucket_labels(pd.Series(want), grain, fys)  # type: ignore[arg-type]
    from cueva.periods import bucket

    assert list(labels) == [bucket(w, grain, fys).label for w in want]  # type: ignore[arg-type]
