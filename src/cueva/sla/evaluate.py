"""Measure one service level over consecutive periods.

Scans, joins and counts run in the engine (Ibis over the store). The business-time step of
``response_time`` and ``coverage`` needs one row per lead in the measured periods (an MQL
time and a contact time); those two columns come into numpy and are computed with the
vectorised :mod:`cueva.calendar`, never a Python loop per lead.

Definitions (also in ``docs/scorecard.md``):

- ``volume``: entries into ``stage`` (first entry per lead) in the period.
- ``quality``: of the leads that entered ``stage`` in the period, the share that entered
  ``accepted_stage`` within ``within_days`` calendar days. A lead whose window is still open
  and who is not accepted yet is *pending* and left out until it is decided.
- ``response_time``: of the leads that entered ``stage`` in the period, the share whose first
  human contact (an activity with ``is_automated`` not true) came within ``within_hours``
  business hours; a contact before the stage entry counts as zero wait. A lead not contacted
  yet is late once its waiting time passes the limit, pending before. ``p50_hours`` and
  ``p90_hours`` are the median and 90th percentile of the business-hours wait of the
  contacted leads.
- ``coverage``: the share of those leads with any activity (human or automated) at or after
  the stage entry within ``within_business_days`` business days; pending as above.
- ``feedback``: of the leads rejected in the period (first stage event named in
  ``rejected_events``), the share whose ``reason_field`` is not empty.
- ``win_rate``: deals won / deals closed, by close date.
- ``pipeline_created``: amount of opportunities created in the period.
- ``revenue``: amount of deals won, by close date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from cueva.calendar import business_days, business_hours
from cueva.contract import Contract, ServiceLevel
from cueva.errors import UsageError
from cueva.periods import Period
from cueva.store import Store
from cueva.store.cache import cached, data_version, temp_table

#: Columns of :func:`evaluate`'s result.
RESULT_COLUMNS = (
    "period",
    "start",
    "end",
    "actual",
    "numerator",
    "denominator",
    "pending",
    "p50_hours",
    "p90_hours",
    "note",
)


@dataclass(frozen=True)
class Range:
    """Consecutive periods and the instant that counts as now."""

    periods: list[Period]
    as_of: datetime

    @property
    def lo(self) -> datetime:
        return self.periods[0].start_dt

    @property
    def hi(self) -> datetime:
        """End of the data read: the last period's end, or now if earlier."""
        return min(self.periods[-1].end_dt, self.as_of)


def _bucket(ts: ir.Value, rng: Range) -> ir.IntegerValue:
    """Index of the period holding ``ts`` (engine side); -1 outside."""
    branches = [
        ((ts >= p.start_dt) & (ts < p.end_dt), ibis.literal(i)) for i, p in enumerate(rng.periods)
    ]
    return ibis.cases(*branches, else_=ibis.literal(-1))


def _np_bucket(ts: pd.Series, rng: Range) -> np.ndarray:
    """Index of the period holding each time (numpy side); -1 outside."""
    edges = np.array([p.start_dt for p in rng.periods] + [rng.periods[-1].end_dt], "datetime64[s]")
    t = ts.to_numpy(dtype="datetime64[s]")
    idx = np.searchsorted(edges, t, side="right") - 1
    idx[(idx < 0) | (idx >= len(rng.periods))] = -1
    return idx


def _columns(store: Store, table: str) -> dict[str, Any]:
    return dict(store.table(table).schema().items())


def _segment_filter(store: Store, sla: ServiceLevel, table: str) -> ir.BooleanValue | None:
    """Rows of ``table`` (people or opportunities) that pass the SLA's segment filters."""
    if not sla.segment:
        return None
    t = store.table(table)
    cols = _columns(store, table)
    cond: Any = None
    for col, want in sla.segment.items():
        if col not in cols:
            raise UsageError(
                f"service level {sla.name!r}: segment column {col!r} is not in {table} "
                f"(columns: {', '.join(cols)})"
            )
        values = [want] if isinstance(want, str) else list(want)
        c = t[col].cast("string").isin(values)
        cond = c if cond is None else cond & c
    return cond


class Cache:
    """The lead tables several service levels share, kept in the store's result cache
    (:mod:`cueva.store.cache`: keyed by data version, question, ``as_of`` and the contract),
    so a scorecard scans the store once per question instead of once per SLA, and a second
    scorecard with the same ``as_of`` scans nothing again. Joins and filters (segments, first
    contacts) run in the engine; only the two timestamps per lead come back (plus the ids
    when a detail needs them). The frames are shared: callers copy before changing them."""

    def __init__(self, store: Store, contract: Contract, as_of: datetime) -> None:
        self.store = store
        self.contract = contract
        self.as_of = as_of
        self._version: tuple[Any, ...] | None = None

    def stage(self, name: str) -> ir.Table:
        """The first entries into stage ``name`` (person_id, owner_id, entered_at), computed
        once into a temporary table kept in the store's result cache: the service levels of
        a stage (volume, quality, response time, coverage) and their joins all read it."""
        from cueva.metrics.funnel import stage_entries

        def build(names: list[str]) -> ir.Table:
            e = stage_entries(self.store, self.contract, [name])
            return temp_table(self.store, e.select("person_id", "owner_id", "entered_at"), names)

        return cached(
            self.store,
            "sla.stage",
            name,
            build,
            contract=self.contract,
            version=self._data_version(),
        )

    def _data_version(self) -> tuple[Any, ...]:
        if self._version is None:  # one version query per Cache (one scorecard call)
            self._version = data_version(self.store)
        return self._version

    def _entries(self, sla: ServiceLevel, rng: Range) -> ir.Table:
        """First entries into the SLA's stage in the range, after its segment filters."""
        e = self.stage(sla.stage)
        e = e.filter((e.entered_at >= rng.lo) & (e.entered_at < rng.hi))
        cond = _segment_filter(self.store, sla, "people")
        if cond is not None:
            people = self.store.table("people")
            e = e.filter(e.person_id.isin(people.filter(cond).person_id))
        return e.select("person_id", "owner_id", "entered_at")

    def leads(
        self, sla: ServiceLevel, rng: Range, what: str | None = None, ids: bool = False
    ) -> pd.DataFrame:
        """One row per lead of the SLA in the range: ``entered_at`` and, with ``what``, the
        time ``at`` of the lead's first ``human`` contact (any time), first ``follow_up``
        (any activity at or after the entry) or ``accepted`` (first entry into the SLA's
        accepted stage); only what happened before now counts. ``ids`` adds person_id and
        owner_id."""
        segment = tuple(sorted((k, str(v)) for k, v in sla.segment.items()))
        other = sla.accepted_stage if what == "accepted" else ""
        key = (sla.stage, segment, rng.lo, rng.hi, self.as_of, what, other, ids)
        return cached(
            self.store,
            "sla.leads",
            key,
            lambda _names: self._leads(sla, rng, what, ids),
            contract=self.contract,
            version=self._data_version(),
        )

    def _leads(self, sla: ServiceLevel, rng: Range, what: str | None, ids: bool) -> pd.DataFrame:
        e = self._entries(sla, rng)
        cols = ["person_id", "owner_id"] if ids else []
        if what is None:
            return _fetch(e.select(*cols, "entered_at"))
        if what == "accepted":
            acc = self.stage(sla.accepted_stage)
            acc = acc.filter(acc.person_id.notnull() & (acc.entered_at < self.as_of))
            first = acc.group_by("person_id").aggregate(at=acc.entered_at.min())
        else:
            a = self.store.table("activities")
            # no semi-join on the leads here: DuckDB aggregates the whole table faster
            a = a.filter(a.person_id.notnull() & (a.occurred_at < self.as_of))
            if what == "human":
                a = a.filter(~a.is_automated.fill_null(False))
                first = a.group_by("person_id").aggregate(at=a.occurred_at.min())
            else:
                j = e.join(a, (e.person_id == a.person_id) & (a.occurred_at >= e.entered_at))
                first = j.group_by(person_id=e.person_id).aggregate(at=j.occurred_at.min())
        j = e.left_join(first, e.person_id == first.person_id)
        return _fetch(j.select(*[e[c] for c in cols], e.entered_at, first.at))


def _fetch(expr: ir.Table) -> pd.DataFrame:
    """Run ``expr`` and return its rows; timestamps stay numpy datetime64 (cheaper than the
    generic conversion of ``execute`` for a few hundred thousand leads)."""
    return expr.to_pyarrow().to_pandas()


def _leads(
    cache: Cache, sla: ServiceLevel, rng: Range, what: str | None = None, ids: bool = False
) -> pd.DataFrame:
    """:meth:`Cache.leads` plus the period index ``_b`` of each lead's entry."""
    df = cache.leads(sla, rng, what, ids).copy()
    df["_b"] = _np_bucket(df["entered_at"], rng)
    return df


def _frame(rng: Range) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "period": [p.label for p in rng.periods],
            "start": [p.start for p in rng.periods],
            "end": [p.last_day for p in rng.periods],
            "actual": np.nan,
            "numerator": np.nan,
            "denominator": np.nan,
            "pending": 0,
            "p50_hours": np.nan,
            "p90_hours": np.nan,
            "note": "",
        }
    )


def _by_bucket(expr: ir.Table, rng: Range, **aggs: Any) -> pd.DataFrame:
    """Aggregate ``expr`` (with a ``_b`` bucket column) per period in the engine; missing
    periods as 0. ``aggs`` are functions of the filtered table."""
    t = expr.filter(expr._b >= 0)
    out = t.group_by("_b").aggregate(**{k: f(t) for k, f in aggs.items()}).execute()
    full = pd.DataFrame({"_b": range(len(rng.periods))})
    return full.merge(out, on="_b", how="left").fillna(0)


def _count(b: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(b[mask & (b >= 0)], minlength=n)[:n].astype(float)


def _share(frame: pd.DataFrame, num: np.ndarray, den: np.ndarray) -> pd.DataFrame:
    frame["numerator"] = num.astype(float)
    frame["denominator"] = den.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        frame["actual"] = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
    return frame


# --------------------------------------------------------------------------- per kind


def _volume(cache: Cache, sla: ServiceLevel, rng: Range) -> pd.DataFrame:
    df = _leads(cache, sla, rng)
    frame = _frame(rng)
    b = df["_b"].to_numpy()
    frame["actual"] = frame["numerator"] = _count(b, np.ones(len(b), bool), len(rng.periods))
    return frame


def quality_leads(cache: Cache, sla: ServiceLevel, rng: Range, ids: bool = False) -> pd.DataFrame:
    """Leads of a ``quality`` SLA with accepted_at and status (met, late, pending)."""
    df = _leads(cache, sla, rng, "accepted", ids)
    df = df.rename(columns={"at": "accepted_at"})
    window = pd.Timedelta(days=float(sla.within_days or 0))
    deadline = df["entered_at"] + window
    accepted = (df["accepted_at"].notna() & (df["accepted_at"] <= deadline)).to_numpy()
    closed = (deadline <= pd.Timestamp(rng.as_of)).to_numpy()
    df["status"] = np.where(accepted, "met", np.where(closed, "late", "pending"))
    return df


def _quality(cache: Cache, sla: ServiceLevel, rng: Range) -> pd.DataFrame:
    return _status_share(quality_leads(cache, sla, rng), rng)


def _status_share(df: pd.DataFrame, rng: Range) -> pd.DataFrame:
    n = len(rng.periods)
    b = df["_b"].to_numpy()
    status = df["status"].to_numpy()
    frame = _share(_frame(rng), _count(b, status == "met", n), _count(b, status != "pending", n))
    frame["pending"] = _count(b, status == "pending", n).astype(int)
    return frame


def lead_waits(cache: Cache, sla: ServiceLevel, rng: Range, ids: bool = False) -> pd.DataFrame:
    """One row per lead in the range for ``response_time`` and ``coverage``: entered_at,
    contact_at (first human contact, or first follow-up after entry),
    elapsed (business hours or days so far or until the contact), status (met, late, pending)
    and the period index ``_b``; with ``ids``, person_id and owner_id."""
    what = "human" if sla.kind == "response_time" else "follow_up"
    df = _leads(cache, sla, rng, what, ids).rename(columns={"at": "contact_at"})
    contract = cache.contract
    cal = contract.calendar_for(team=sla.giver, name=sla.calendar)
    contacted = df["contact_at"].notna().to_numpy()
    until = df["contact_at"].where(df["contact_at"].notna(), pd.Timestamp(rng.as_of))
    if sla.kind == "response_time":
        elapsed = business_hours(df["entered_at"], until, cal, contract.timezone)
        limit = float(sla.within_hours or 0)
    else:
        elapsed = business_days(df["entered_at"], until, cal, contract.timezone)
        limit = float(sla.within_business_days or 0)
    met = contacted & (elapsed <= limit)
    late = elapsed > limit
    df["elapsed"] = elapsed
    df["status"] = np.where(met, "met", np.where(late, "late", "pending"))
    df["contacted"] = contacted
    return df


def _waits(cache: Cache, sla: ServiceLevel, rng: Range) -> pd.DataFrame:
    df = lead_waits(cache, sla, rng)
    frame = _status_share(df, rng)
    if sla.kind == "response_time":
        ok = (df["_b"].to_numpy() >= 0) & df["contacted"].to_numpy()
        waits = df.loc[ok, ["_b", "elapsed"]]
        q = waits.groupby("_b")["elapsed"].quantile([0.5, 0.9]).unstack()
        if not q.empty:
            frame.loc[q.index, "p50_hours"] = q[0.5].to_numpy()
            frame.loc[q.index, "p90_hours"] = q[0.9].to_numpy()
    return frame


def rejected_leads(cache: Cache, sla: ServiceLevel, rng: Range) -> tuple[ir.Table, str]:
    """Leads rejected in the range (person_id, rejected_at, has_reason, _b) and a note when
    the reason column is missing from the store."""
    store = cache.store
    ev = store.table("stage_events")
    ev = ev.filter(
        (ev.entity_type == "person")
        & ev.stage.isin(sla.rejected_events)
        & (ev.entered_at >= rng.lo)
        & (ev.entered_at < rng.hi)
    )
    table, _, column = sla.reason_field.partition(".")
    note = ""
    if column not in _columns(store, table):
        note = f"{sla.reason_field} is not in the store: no rejection carries a reason"
        ev = ev.mutate(_reason=ibis.literal(None, type="string"))
    elif table == "stage_events":
        ev = ev.mutate(_reason=ev[column].cast("string"))
    else:
        p = store.table("people")
        p = p.select(_pid=p.person_id, _reason=p[column].cast("string"))
        ev = ev.left_join(p, ev.entity_id == p._pid).drop("_pid")
    has = ev._reason.notnull() & (ev._reason.strip() != "")
    per = ev.group_by(person_id=ev.entity_id).aggregate(
        rejected_at=ev.entered_at.min(), has_reason=has.cast("int64").max()
    )
    cond = _segment_filter(store, sla, "people")
    if cond is not None:
        people = store.table("people")
        per = per.filter(per.person_id.isin(people.filter(cond).person_id))
    return per.mutate(_b=_bucket(per.rejected_at, rng)), note


def _feedback(cache: Cache, sla: ServiceLevel, rng: Range) -> pd.DataFrame:
    per, note = rejected_leads(cache, sla, rng)
    got = _by_bucket(per, rng, num=lambda t: t.has_reason.sum(), den=lambda t: t.count())
    frame = _share(_frame(rng), got["num"].to_numpy(float), got["den"].to_numpy(float))
    frame["note"] = note
    return frame


def _opportunities(store: Store, sla: ServiceLevel) -> ir.Table:
    o = store.table("opportunities")
    cond = _segment_filter(store, sla, "opportunities")
    return o if cond is None else o.filter(cond)


def _win_rate(cache: Cache, sla: ServiceLevel, rng: Range) -> pd.DataFrame:
    o = _opportunities(cache.store, sla)
    closed_at = o.close_date.cast("timestamp")
    o = o.filter(o.is_closed.fill_null(False) & (closed_at < rng.hi))
    o = o.mutate(_b=_bucket(closed_at, rng), _won=o.is_won.fill_null(False).cast("int64"))
    got = _by_bucket(o, rng, num=lambda t: t._won.sum(), den=lambda t: t.count())
    return _share(_frame(rng), got["num"].to_numpy(float), got["den"].to_numpy(float))


def _amount(cache: Cache, sla: ServiceLevel, rng: Range) -> pd.DataFrame:
    o = _opportunities(cache.store, sla)
    if sla.kind == "revenue":
        when = o.close_date.cast("timestamp")
        o = o.filter(o.is_won.fill_null(False) & (when < rng.hi))
    else:
        when = o.created_at
        o = o.filter(when < rng.hi)
    o = o.mutate(_b=_bucket(when, rng), _amt=o.amount.fill_null(0.0))
    got = _by_bucket(o, rng, total=lambda t: t._amt.sum())
    frame = _frame(rng)
    frame["actual"] = frame["numerator"] = got["total"].to_numpy(float)
    return frame


_KINDS = {
    "volume": _volume,
    "quality": _quality,
    "response_time": _waits,
    "coverage": _waits,
    "feedback": _feedback,
    "win_rate": _win_rate,
    "pipeline_created": _amount,
    "revenue": _amount,
}


def evaluate(
    store: Store,
    contract: Contract,
    sla: ServiceLevel,
    periods: list[Period],
    as_of: datetime,
    cache: Cache | None = None,
) -> pd.DataFrame:
    """The service level's actual value in each of ``periods`` (consecutive, oldest first),
    counting only what happened before ``as_of``. Columns: :data:`RESULT_COLUMNS`. Pass one
    :class:`Cache` to several calls with the same ``as_of`` to share their scans."""
    if not periods:
        raise UsageError("no periods to evaluate")
    rng = Range(periods, as_of)
    if rng.lo >= as_of:
        return _frame(rng)
    cache = cache or Cache(store, contract, as_of)
    frame = _KINDS[sla.kind](cache, sla, rng)
    frame.loc[[p.start_dt >= as_of for p in periods], ["actual", "numerator", "denominator"]] = (
        np.nan
    )
    return frame[list(RESULT_COLUMNS)]


__all__ = [
    "RESULT_COLUMNS",
    "Cache",
    "Range",
    "evaluate",
    "lead_waits",
    "quality_leads",
    "rejected_leads",
]
