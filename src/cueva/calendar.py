"""Business calendars and vectorised business-time arithmetic.

A :class:`~cueva.contract.BusinessCalendar` says when a team works: weekdays, opening hours,
public holidays (the ``holidays`` package by country and region) and extra closed dates, in
the team's own timezone. This module turns it into numpy arithmetic over whole arrays of
timestamps (``numpy.busday_count`` and friends), never a Python loop per lead.

The idea: :meth:`BusinessClock.cumulative` maps a wall-clock time ``t`` to the business
seconds elapsed between a fixed origin and ``t``. That function is flat outside opening hours,
so the business time between two instants is a difference of two values::

    business(a, b) = max(0, C(b) - C(a))

which makes arrivals at night, on a weekend or on a holiday start at the next opening, makes
contacts before the start count as zero, and is additive over split intervals by construction.

Stored timestamps (naive, in the contract's timezone) are converted to the team's timezone
first, so a DST change or a team in another timezone shifts the clock correctly. A working
day from 09:00 to 18:00 is 9 business hours on any day, including DST-change days (the change
happens at night). When opening hours contain the change itself (e.g. 00:00-24:00), the
skipped or repeated wall-clock time is taken out or added back, so business time is real
elapsed time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from cueva.contract import WEEKDAYS, BusinessCalendar

#: Business time is counted from this day (any day before all data works).
ORIGIN = np.datetime64("1970-01-01", "D")


@lru_cache(maxsize=64)
def _public_holidays(
    country: str, subdivision: str | None, first: int, last: int
) -> tuple[date, ...]:
    import holidays

    found = holidays.country_holidays(country, subdiv=subdivision, years=range(first, last + 1))
    return tuple(sorted(found))


@dataclass(frozen=True)
class BusinessClock:
    """A calendar made ready for array arithmetic over the years ``first``..``last``."""

    calendar: BusinessCalendar
    timezone: str
    weekmask: str
    holidays: np.ndarray  # datetime64[D], sorted
    open_s: int
    close_s: int
    #: Wall-clock times (datetime64[s]) from which a DST change inside opening hours applies,
    #: and the business seconds to add from then on (-3600 in spring, +3600 in autumn).
    dst_at: np.ndarray = field(default_factory=lambda: np.array([], "datetime64[s]"))
    dst_shift: np.ndarray = field(default_factory=lambda: np.array([], np.int64))

    @classmethod
    def build(
        cls, calendar: BusinessCalendar, default_tz: str, first_year: int, last_year: int
    ) -> BusinessClock:
        days: set[date] = set(calendar.extra_holidays)
        if calendar.holidays is not None:
            days.update(
                _public_holidays(
                    calendar.holidays.country, calendar.holidays.subdivision, first_year, last_year
                )
            )
        weekmask = "".join("1" if d in calendar.working_days else "0" for d in WEEKDAYS)
        o, c = calendar.open_minutes
        tz = calendar.timezone or default_tz
        holidays = np.array(sorted(days), dtype="datetime64[D]")
        at, shift = _dst_in_opening(tz, first_year, last_year, o * 60, c * 60, weekmask, holidays)
        return cls(calendar, tz, weekmask, holidays, o * 60, c * 60, at, shift)

    @property
    def day_seconds(self) -> int:
        """Business seconds in one working day."""
        return self.close_s - self.open_s

    def is_business_day(self, days: np.ndarray) -> np.ndarray:
        return np.is_busday(
            days.astype("datetime64[D]"), weekmask=self.weekmask, holidays=self.holidays
        )

    def cumulative(self, local: np.ndarray) -> np.ndarray:
        """Business seconds from :data:`ORIGIN` to each wall-clock time in ``local``
        (``datetime64``, in this calendar's timezone). NaT gives -1."""
        t = local.astype("datetime64[s]")
        nat = np.isnat(t)
        t = np.where(nat, np.datetime64("2000-01-01T00:00:00", "s"), t)
        day = t.astype("datetime64[D]")
        tod = (t - day.astype("datetime64[s]")).astype(np.int64)
        before = np.busday_count(ORIGIN, day, weekmask=self.weekmask, holidays=self.holidays)
        open_today = np.is_busday(day, weekmask=self.weekmask, holidays=self.holidays)
        partial = np.clip(tod - self.open_s, 0, self.day_seconds) * open_today
        out = before.astype(np.int64) * self.day_seconds + partial
        if len(self.dst_at):  # real seconds, not wall-clock ones, across a DST change
            done = np.searchsorted(self.dst_at, t, side="right")
            out = out + np.concatenate([[0], np.cumsum(self.dst_shift)])[done]
        return np.where(nat, -1, out)

    def seconds_between(self, start_local: np.ndarray, end_local: np.ndarray) -> np.ndarray:
        """Business seconds from ``start`` to ``end`` (0 when ``end`` is before ``start``);
        float with NaN where either is NaT."""
        a = self.cumulative(start_local)
        b = self.cumulative(end_local)
        out = np.maximum(b - a, 0).astype(np.float64)
        out[(a < 0) | (b < 0)] = np.nan
        return out

    def business_days_between(self, start_local: np.ndarray, end_local: np.ndarray) -> np.ndarray:
        """Business days from the start's business day to the end's day: 0 when the end is on
        the day the clock starts (the start's day, or the next business day when the start is
        after closing or on a closed day), 1 on the next business day, ... Never negative;
        NaN where either is NaT."""
        s = start_local.astype("datetime64[s]")
        e = end_local.astype("datetime64[s]")
        bad = np.isnat(s) | np.isnat(e)
        s = np.where(bad, np.datetime64("2000-01-01T00:00:00", "s"), s)
        e = np.where(bad, np.datetime64("2000-01-01T00:00:00", "s"), e)
        sday = s.astype("datetime64[D]")
        after_close = (s - sday.astype("datetime64[s]")).astype(np.int64) >= self.close_s
        sday = sday + after_close.astype("timedelta64[D]")
        first = np.busday_offset(
            sday, 0, roll="forward", weekmask=self.weekmask, holidays=self.holidays
        )
        eday = e.astype("datetime64[D]")
        n = np.busday_count(first, eday, weekmask=self.weekmask, holidays=self.holidays)
        out = np.maximum(n, 0).astype(np.float64)
        out[bad] = np.nan
        return out


def _dst_in_opening(
    tz: str,
    first_year: int,
    last_year: int,
    open_s: int,
    close_s: int,
    weekmask: str,
    holidays: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """DST changes of ``tz`` that fall inside opening hours of a business day.

    At a change the wall clock skips (spring) or repeats (autumn) an interval ``[lo, hi)``;
    the part of it inside the opening is counted once too many or too few by wall-clock
    arithmetic. Returns the wall times ``hi`` from which the fix applies and the seconds to
    add: minus the skipped open seconds, plus the repeated ones. Most calendars (09:00-18:00)
    have none. A small loop over the few change days, not over data."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(tz)
    days = pd.date_range(f"{first_year}-01-01", f"{last_year + 1}-01-01", freq="D")
    local = pd.DatetimeIndex(days).tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    offset = (days - local.tz_convert("UTC").tz_localize(None)).to_numpy()  # NaT if unclear
    same = offset[:-1] == offset[1:]
    changes = np.flatnonzero(~same)  # days whose next midnight has another offset
    utc = ZoneInfo("UTC")
    found: dict[datetime, int] = {}
    for i in changes:  # change days: a handful per year
        day = days[int(i)].to_pydatetime().replace(tzinfo=None)
        start = datetime(day.year, day.month, day.day, 12, tzinfo=zone).astimezone(utc)
        start -= timedelta(days=1)  # from the day before's noon, 72 h in 15-minute steps
        for minute in range(0, 72 * 60, 15):
            a = (start + timedelta(minutes=minute)).astimezone(zone)
            b = (start + timedelta(minutes=minute + 15)).astimezone(zone)
            delta = int(
                ((b.utcoffset() or timedelta()) - (a.utcoffset() or timedelta())).total_seconds()
            )
            if delta == 0:
                continue
            after = b.replace(tzinfo=None)  # the wall clock right after the change
            before = after - timedelta(seconds=delta)  # ... and what it read right before
            lo_wall, hi_wall = min(before, after), max(before, after)
            day0 = datetime(lo_wall.year, lo_wall.month, lo_wall.day)
            if not np.is_busday(
                np.datetime64(day0.date(), "D"), weekmask=weekmask, holidays=holidays
            ):
                continue
            lo_s = (lo_wall - day0).total_seconds()
            hi_s = (hi_wall - day0).total_seconds()
            inside = int(max(0.0, min(hi_s, close_s) - max(lo_s, open_s)))
            if inside:
                found[hi_wall.replace(microsecond=0)] = -inside if delta > 0 else inside
    at = list(found)
    shift = list(found.values())
    order = np.argsort(np.array(at, dtype="datetime64[s]"))
    return np.array(at, dtype="datetime64[s]")[order], np.array(shift, dtype=np.int64)[order]


def to_local(values: Any, source_tz: str, target_tz: str) -> np.ndarray:
    """Naive wall-clock times in ``source_tz`` as naive wall-clock times in ``target_tz``
    (``datetime64[s]``). Ambiguous times (the repeated hour in autumn) are read as the first
    occurrence; times in the skipped spring hour move forward."""
    idx = pd.DatetimeIndex(pd.to_datetime(np.asarray(values)))
    if source_tz != target_tz:
        idx = (
            idx.tz_localize(
                source_tz,
                ambiguous=np.ones(len(idx), dtype=bool),
                nonexistent="shift_forward",
            )
            .tz_convert(target_tz)
            .tz_localize(None)
        )
    return idx.to_numpy(dtype="datetime64[s]")


def clock_for(calendar: BusinessCalendar, default_tz: str, *arrays: np.ndarray) -> BusinessClock:
    """A clock whose holidays cover every year in ``arrays`` (plus one either side)."""
    years = [
        a.astype("datetime64[Y]").astype(int) + 1970
        for a in arrays
        if len(a) and not np.isnat(a.astype("datetime64[s]")).all()
    ]
    if years:
        valid = np.concatenate([y[y > 0] for y in years]) if years else np.array([2000])
        first, last = int(valid.min()) - 1, int(valid.max()) + 1
    else:
        first = last = date.today().year
    return BusinessClock.build(calendar, default_tz, max(first, 1971), last)


def business_hours(
    start: Any,
    end: Any,
    calendar: BusinessCalendar,
    source_tz: str,
) -> np.ndarray:
    """Business hours from each ``start`` to the matching ``end`` on ``calendar``.

    ``start`` and ``end`` are array-likes of naive timestamps in ``source_tz`` (the
    contract's timezone, as stored). Arrivals outside opening hours start at the next
    opening; an end before its start gives 0; a missing value gives NaN.
    """
    tz = calendar.timezone or source_tz
    s = to_local(start, source_tz, tz)
    e = to_local(end, source_tz, tz)
    clock = clock_for(calendar, source_tz, s, e)
    return clock.seconds_between(s, e) / 3600.0


def business_days(
    start: Any,
    end: Any,
    calendar: BusinessCalendar,
    source_tz: str,
) -> np.ndarray:
    """Business days from each ``start`` to the matching ``end`` (see
    :meth:`BusinessClock.business_days_between`)."""
    tz = calendar.timezone or source_tz
    s = to_local(start, source_tz, tz)
    e = to_local(end, source_tz, tz)
    clock = clock_for(calendar, source_tz, s, e)
    return clock.business_days_between(s, e)


__all__ = [
    "ORIGIN",
    "BusinessClock",
    "business_days",
    "business_hours",
    "clock_for",
    "to_local",
]
