"""Reporting periods and time grains.

A :class:`Period` is a half-open range of calendar days: ``start`` inclusive, ``end``
exclusive (so May 2026 is ``[2026-05-01, 2026-06-01)``). Timestamps in the store are naive
wall-clock time in the contract's timezone, so a period's bounds compare with them directly
through :attr:`Period.start_dt` / :attr:`Period.end_dt`.

Text forms accepted by :func:`parse_period`:

==============  ==============================================  ===============
text            meaning                                         grain
==============  ==============================================  ===============
``2026``        calendar year                                   ``year``
``2026-Q2``     calendar quarter (April to June)                ``quarter``
``2026-05``     calendar month                                  ``month``
``2026-W18``    ISO week (Monday to Sunday)                     ``week``
``2026-05-04``  one day                                         ``day``
``FY2026``      fiscal year, named by the year it ends in       ``fiscal_year``
``FY2026-Q1``   fiscal quarter (first quarter of FY2026)        ``fiscal_quarter``
==============  ==============================================  ===============

With ``fiscal_year_start`` = 1 (January, the default) fiscal years are calendar years. With
``fiscal_year_start`` = 7, FY2026 runs from 2025-07-01 to 2026-06-30 and FY2026-Q1 is July to
September 2025.

Grains for bucketing results are ``week`` (ISO, Monday), ``month`` and ``quarter``; the
quarter grain follows the fiscal year start (:func:`truncate_expr`, :func:`truncate`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from cueva.errors import UsageError

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pandas as pd

Grain = Literal["week", "month", "quarter"]
GRAINS: tuple[Grain, ...] = ("week", "month", "quarter")

PeriodKind = Literal[
    "day", "week", "month", "quarter", "year", "fiscal_quarter", "fiscal_year", "custom"
]

_MONTHS_OF: dict[str, int] = {"month": 1, "quarter": 3, "fiscal_quarter": 3, "year": 12}
_MONTHS_OF["fiscal_year"] = 12


@dataclass(frozen=True)
class Period:
    """A half-open range of days ``[start, end)`` with a label such as ``2026-Q2``."""

    start: date
    end: date
    label: str
    kind: PeriodKind = "custom"
    fiscal_year_start: int = 1

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise UsageError(
                f"a period must end after it starts: {self.start} to {self.end} (end exclusive)"
            )

    @property
    def start_dt(self) -> datetime:
        """Start as a naive datetime at midnight (inclusive)."""
        return datetime(self.start.year, self.start.month, self.start.day)

    @property
    def end_dt(self) -> datetime:
        """End as a naive datetime at midnight (exclusive)."""
        return datetime(self.end.year, self.end.month, self.end.day)

    @property
    def last_day(self) -> date:
        """The last day inside the period (``end`` minus one day)."""
        return self.end - timedelta(days=1)

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def contains(self, value: date | datetime) -> bool:
        if isinstance(value, datetime):
            return self.start_dt <= value < self.end_dt
        return self.start <= value < self.end

    def __str__(self) -> str:
        return self.label


# --------------------------------------------------------------------------- month arithmetic


def add_months(d: date, months: int) -> date:
    """``d`` (a first of month, or any day clipped to the month's length) moved by ``months``."""
    index = d.year * 12 + (d.month - 1) + months
    year, month0 = divmod(index, 12)
    month = month0 + 1
    day = min(d.day, _month_length(year, month))
    return date(year, month, day)


def _month_length(year: int, month: int) -> int:
    nxt = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return (nxt - date(year, month, 1)).days


def _check_fys(fiscal_year_start: int) -> None:
    if not 1 <= fiscal_year_start <= 12:
        raise UsageError(f"fiscal_year_start must be a month 1-12, got {fiscal_year_start}")


# --------------------------------------------------------------------------- constructors


def month(year: int, month_: int) -> Period:
    start = date(year, month_, 1)
    return Period(start, add_months(start, 1), f"{year:04d}-{month_:02d}", "month")


def quarter(year: int, q: int) -> Period:
    start = date(year, 3 * (q - 1) + 1, 1)
    return Period(start, add_months(start, 3), f"{year:04d}-Q{q}", "quarter")


def year(year_: int) -> Period:
    return Period(date(year_, 1, 1), date(year_ + 1, 1, 1), f"{year_:04d}", "year")


def iso_week(year_: int, week: int) -> Period:
    try:
        start = date.fromisocalendar(year_, week, 1)
    except ValueError:
        raise UsageError(f"{year_} has no ISO week {week}") from None
    return Period(start, start + timedelta(days=7), f"{year_:04d}-W{week:02d}", "week")


def day(d: date) -> Period:
    return Period(d, d + timedelta(days=1), d.isoformat(), "day")


def fiscal_year(fy: int, fiscal_year_start: int = 1) -> Period:
    """Fiscal year ``fy``, named by the calendar year it ends in."""
    _check_fys(fiscal_year_start)
    start = date(fy if fiscal_year_start == 1 else fy - 1, fiscal_year_start, 1)
    return Period(start, add_months(start, 12), f"FY{fy:04d}", "fiscal_year", fiscal_year_start)


def fiscal_quarter(fy: int, q: int, fiscal_year_start: int = 1) -> Period:
    start = add_months(fiscal_year(fy, fiscal_year_start).start, 3 * (q - 1))
    return Period(
        start,
        add_months(start, 3),
        f"FY{fy:04d}-Q{q}",
        "fiscal_quarter",
        fiscal_year_start,
    )


_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(\d{4})"), "year"),
    (re.compile(r"(\d{4})-[Qq]([1-4])"), "quarter"),
    (re.compile(r"(\d{4})-(\d{2})"), "month"),
    (re.compile(r"(\d{4})-[Ww](\d{1,2})"), "week"),
    (re.compile(r"(\d{4})-(\d{2})-(\d{2})"), "day"),
    (re.compile(r"[Ff][Yy](\d{4})"), "fiscal_year"),
    (re.compile(r"[Ff][Yy](\d{4})-[Qq]([1-4])"), "fiscal_quarter"),
)

PERIOD_FORMS = "2026, 2026-Q2, 2026-05, 2026-W18, 2026-05-04, FY2026 or FY2026-Q1"


def parse_period(text: str, fiscal_year_start: int = 1) -> Period:
    """A period from its text form (see the module docs); UsageError when it is not one."""
    _check_fys(fiscal_year_start)
    value = text.strip()
    for pattern, kind in _PATTERNS:
        m = pattern.fullmatch(value)
        if m is None:
            continue
        nums = [int(g) for g in m.groups()]
        if kind == "year":
            return year(nums[0])
        if kind == "quarter":
            return quarter(nums[0], nums[1])
        if kind == "month":
            if not 1 <= nums[1] <= 12:
                break
            return month(nums[0], nums[1])
        if kind == "week":
            return iso_week(nums[0], nums[1])
        if kind == "day":
            return day(parse_date(value))
        if kind == "fiscal_year":
            return fiscal_year(nums[0], fiscal_year_start)
        return fiscal_quarter(nums[0], nums[1], fiscal_year_start)
    raise UsageError(f"not a period: {text!r} (expected {PERIOD_FORMS})")


def parse_date(value: str | date | datetime) -> date:
    """A calendar date from ``YYYY-MM-DD`` (or a date/datetime); UsageError otherwise."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise UsageError(f"not a date: {value!r} (expected YYYY-MM-DD, e.g. 2026-03-01)") from None


def period_from_range(
    start: str | date | datetime, end: str | date | datetime, label: str | None = None
) -> Period:
    """The days from ``start`` to ``end``, both inclusive (as ``--from``/``--to`` read)."""
    first = parse_date(start)
    last = parse_date(end)
    if last < first:
        raise UsageError(f"--to {last} is before --from {first}")
    return Period(first, last + timedelta(days=1), label or f"{first} to {last}", "custom")


def previous(period: Period, n: int = 1) -> list[Period]:
    """The ``n`` periods just before ``period``, oldest first, each of the same length
    (calendar months for months, quarters and years; days for weeks, days and custom ranges).
    """
    if n < 0:
        raise UsageError(f"n must be >= 0, got {n}")
    out: list[Period] = []
    months = _MONTHS_OF.get(period.kind)
    for i in range(n, 0, -1):
        if months is not None:
            start = add_months(period.start, -months * i)
            end = add_months(period.start, -months * (i - 1))
            p = _relabel(Period(start, end, "", period.kind, period.fiscal_year_start))
        else:
            shift = timedelta(days=period.days * i)
            p = _relabel(
                Period(
                    period.start - shift,
                    period.end - shift,
                    "",
                    period.kind,
                    period.fiscal_year_start,
                )
            )
        out.append(p)
    return out


def _relabel(p: Period) -> Period:
    """``p`` with the label its kind gives its start."""
    s = p.start
    if p.kind == "month":
        return month(s.year, s.month)
    if p.kind == "quarter":
        return quarter(s.year, (s.month - 1) // 3 + 1)
    if p.kind == "year":
        return year(s.year)
    if p.kind == "week":
        iso = s.isocalendar()
        return iso_week(iso[0], iso[1])
    if p.kind == "day":
        return day(s)
    if p.kind in ("fiscal_year", "fiscal_quarter"):
        fy, q = fiscal_year_quarter(s, p.fiscal_year_start)
        if p.kind == "fiscal_year":
            return fiscal_year(fy, p.fiscal_year_start)
        return fiscal_quarter(fy, q, p.fiscal_year_start)
    return Period(p.start, p.end, f"{p.start} to {p.last_day}", "custom")


def fiscal_year_quarter(d: date, fiscal_year_start: int = 1) -> tuple[int, int]:
    """(fiscal year named by the year it ends in, fiscal quarter 1-4) of day ``d``."""
    _check_fys(fiscal_year_start)
    offset = (d.month - fiscal_year_start) % 12
    fy = d.year if fiscal_year_start == 1 or d.month < fiscal_year_start else d.year + 1
    return fy, offset // 3 + 1


# --------------------------------------------------------------------------- grains


def check_grain(grain: str | None) -> Grain | None:
    if grain is None:
        return None
    if grain not in GRAINS:
        raise UsageError(f"unknown grain {grain!r}; use one of: {', '.join(GRAINS)}")
    return grain


def truncate(d: date | datetime, grain: Grain, fiscal_year_start: int = 1) -> date:
    """The first day of the ``grain`` bucket that holds ``d`` (weeks start on Monday;
    quarters follow the fiscal year start)."""
    check_grain(grain)
    day_ = d.date() if isinstance(d, datetime) else d
    if grain == "week":
        return day_ - timedelta(days=day_.weekday())
    first = date(day_.year, day_.month, 1)
    if grain == "month":
        return first
    return add_months(first, -((day_.month - fiscal_year_start) % 3))


def truncate_expr(value: ir.Value, grain: Grain, fiscal_year_start: int = 1) -> ir.DateValue:
    """Engine-side :func:`truncate`: the bucket's first day (a date) of a timestamp or date
    expression. Portable Ibis (DuckDB, PostgreSQL, Spark)."""
    check_grain(grain)
    _check_fys(fiscal_year_start)
    d: Any = value.date() if value.type().is_timestamp() else value
    if grain == "week":
        return d.truncate("W")
    m = d.truncate("M")
    if grain == "month":
        return m
    if fiscal_year_start % 3 == 1:
        return d.truncate("Q")
    back = (m.month() - fiscal_year_start + 12) % 3
    return (m - back.as_interval("M")).cast("date")


def bucket(start: date, grain: Grain, fiscal_year_start: int = 1) -> Period:
    """The ``grain`` bucket starting on ``start`` as a Period."""
    if grain == "week":
        iso = start.isocalendar()
        return iso_week(iso[0], iso[1])
    if grain == "month":
        return month(start.year, start.month)
    if fiscal_year_start == 1:
        return quarter(start.year, (start.month - 1) // 3 + 1)
    fy, q = fiscal_year_quarter(start, fiscal_year_start)
    return fiscal_quarter(fy, q, fiscal_year_start)


def buckets(period: Period, grain: Grain, fiscal_year_start: int = 1) -> list[Period]:
    """The ``grain`` buckets that overlap ``period``, in order (the first and last may
    reach outside it)."""
    out: list[Period] = []
    start = truncate(period.start, grain, fiscal_year_start)
    while start < period.end:
        b = bucket(start, grain, fiscal_year_start)
        out.append(b)
        start = b.end
    return out


def bucket_labels(starts: pd.Series, grain: Grain, fiscal_year_start: int = 1) -> pd.Series:
    """Labels (``2026-05``, ``2026-Q2``, ``FY2026-Q1``, ``2026-W18``) of bucket start dates
    (a small result column; vectorised)."""
    import pandas as pd

    s = pd.to_datetime(starts)
    if grain == "month":
        return s.dt.strftime("%Y-%m")
    if grain == "week":
        iso = s.dt.isocalendar()
        return iso["year"].astype(str) + "-W" + iso["week"].astype(str).str.zfill(2)
    if fiscal_year_start == 1:
        return s.dt.year.astype(str) + "-Q" + s.dt.quarter.astype(str)
    offset = (s.dt.month - fiscal_year_start) % 12
    fy = s.dt.year + (s.dt.month >= fiscal_year_start).astype(int)
    return "FY" + fy.astype(str) + "-Q" + (offset // 3 + 1).astype(str)


__all__ = [
    "GRAINS",
    "PERIOD_FORMS",
    "Grain",
    "Period",
    "PeriodKind",
    "add_months",
    "bucket",
    "bucket_labels",
    "buckets",
    "check_grain",
    "fiscal_quarter",
    "fiscal_year",
    "fiscal_year_quarter",
    "iso_week",
    "parse_date",
    "parse_period",
    "period_from_range",
    "previous",
    "truncate",
    "truncate_expr",
]
