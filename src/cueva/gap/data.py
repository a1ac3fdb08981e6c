"""Counts frames from the store: the funnel numbers that plans and gaps start from.

One engine query per period over :func:`cueva.metrics.funnel.stage_entries` (the one place
that reads the contract's stage rules): entries into each stage per segment, the amount of
the entries into the last stage (revenue) and into the opportunity stage (pipeline), and
with ``margin`` the gross margin of the won deals. Only the small aggregate comes back.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

import ibis
import pandas as pd

from cueva.errors import UsageError
from cueva.gap.plan import Baseline
from cueva.metrics.funnel import data_version, stage_entries, stage_times, with_segment
from cueva.periods import Period, previous, quarter
from cueva.store.cache import cached, temp_table

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cueva.contract import Contract
    from cueva.store import Store

#: Segment label when the counts are not split.
ALL = "all"
#: Opportunity types in the lead funnel (others, e.g. renewal and expansion, have no leads).
NEW_BUSINESS: tuple[str, ...] = ("new",)


def opportunity_stage(contract: Contract) -> str | None:
    """The first stage whose entity is the opportunity (where pipeline is created)."""
    for s in contract.funnel.stages:
        if s.entry.entity_type == "opportunity":
            return s.name
    return None


def _materialized(
    store: Store, contract: Contract, key: str, build: Callable[[], ir.Table]
) -> ir.Table:
    """``build()`` computed once into a temporary table of the store's engine, kept in the
    store's result cache (:mod:`cueva.store.cache`: keyed by data version, ``key`` and the
    contract). Building and compiling the stage rules (a union of joins over every table)
    costs far more than querying their result, and plans and gaps ask for the same entries
    with different windows."""
    return cached(
        store,
        "gap",
        key,
        lambda names: temp_table(store, build(), names),
        contract=contract,
        version=data_version(store),
    )


def funnel_entries(
    store: Store, contract: Contract, deal_types: tuple[str, ...] | None = NEW_BUSINESS
) -> ir.Table:
    """:func:`~cueva.metrics.funnel.stage_entries` restricted to the lead funnel: person
    stages, and opportunity stages of the ``deal_types`` (default ``new``, or no type).
    Renewals and expansions have no leads; counting them would break the funnel identity.

    The result is materialised once per store and data version (a temporary table)."""

    def build() -> ir.Table:
        e = stage_entries(store, contract)
        if deal_types is None:
            return e
        o = store.table("opportunities")
        o = o.select(_o_id=o.opportunity_id, _o_type=o.type.lower())
        j = e.left_join(o, e.opportunity_id == o._o_id)
        types = [t.lower() for t in deal_types]
        j = j.filter(j.opportunity_id.isnull() | j._o_type.isnull() | j._o_type.isin(types))
        return j.select(*e.columns)

    return _materialized(store, contract, f"entries|{deal_types!r}", build)


Window = tuple[Period, dict[str, float]]


def _segmented(store: Store, e: ir.Table, by: str | None, margin: bool) -> ir.Table:
    """Entries with the segment (``_seg``) and, for margin, the deal's gross margin (``_gm``)."""
    e = with_segment(e, store, by, "_seg")
    cols = ["_seg", "stage", "entered_at", "amount"]
    if margin:
        o = store.table("opportunities")
        o = o.select(_gm_id=o.opportunity_id, _gm=o.gross_margin.cast("float64"))
        e = e.left_join(o, e.opportunity_id == o._gm_id)
        cols.append("_gm")
    return e.select(*cols)


def _segmented_entries(
    store: Store,
    contract: Contract,
    by: str | None,
    margin: bool,
    deal_types: tuple[str, ...] | None,
) -> ir.Table:
    """:func:`_segmented` funnel entries, materialised per store, segment and data version."""
    key = f"seg|{deal_types!r}|{by}|{margin}"
    return _materialized(
        store,
        contract,
        key,
        lambda: _segmented(store, funnel_entries(store, contract, deal_types), by, margin),
    )


def period_counts(
    store: Store,
    contract: Contract,
    period: Period,
    by: str | None = None,
    *,
    margin: bool = False,
    shifts: dict[str, float] | None = None,
    deal_types: tuple[str, ...] | None = NEW_BUSINESS,
    entries: ir.Table | None = None,
) -> pd.DataFrame:
    """The counts frame of ``period``: index = segment (``all`` without ``by``); columns = one
    per stage (first entries in the period), ``revenue``, ``pipeline`` and with ``margin``
    ``gross_margin``.

    ``shifts`` moves each stage's window by that many days (the cohort variant: stage k is
    counted over ``[start + D_k, end + D_k)`` with ``D_k`` the plan's cumulative lag).

    ``deal_types``: opportunity types that belong to the lead funnel (see
    :func:`funnel_entries`); None counts every opportunity. Ignored with ``entries``.
    """
    windows: list[Window] = [(period, shifts or {})]
    return counts_for(
        store, contract, windows, by, margin=margin, deal_types=deal_types, entries=entries
    )[0]


def counts_for(
    store: Store,
    contract: Contract,
    windows: list[Window],
    by: str | None = None,
    *,
    margin: bool = False,
    deal_types: tuple[str, ...] | None = NEW_BUSINESS,
    entries: ir.Table | None = None,
) -> list[pd.DataFrame]:
    """:func:`period_counts` for several (period, shifts) windows in ONE engine query: the
    entries are joined with a small table of (window, stage, from, to) bounds, so windows may
    overlap. Returns one counts frame per window, in order."""
    stages = [s.name for s in contract.funnel.stages]
    last = stages[-1]
    opp = opportunity_stage(contract)
    if entries is not None:
        e = _segmented(store, entries, by, margin)
    else:
        e = _segmented_entries(store, contract, by, margin, deal_types)
    rows = []
    for w, (period, shifts) in enumerate(windows):
        for stage in stages:
            d = timedelta(days=float(shifts.get(stage, 0.0)))
            lo = datetime.combine(period.start, datetime.min.time()) + d
            hi = datetime.combine(period.end, datetime.min.time()) + d
            rows.append({"_w": w, "_w_stage": stage, "_lo": lo, "_hi": hi})
    bounds = ibis.memtable(pd.DataFrame(rows))
    bounds = bounds.mutate(_lo=bounds._lo.cast("timestamp"), _hi=bounds._hi.cast("timestamp"))
    j = e.inner_join(bounds, e.stage == bounds._w_stage)
    j = j.filter((j.entered_at >= j._lo) & (j.entered_at < j._hi))
    metrics = {"entered": j.count(), "amount": j.amount.cast("float64").fill_null(0.0).sum()}
    if margin:
        metrics["gm"] = j._gm.fill_null(0.0).sum()
    raw: pd.DataFrame = j.group_by(["_w", "_seg", "stage"]).aggregate(**metrics).execute()
    if by is None:
        raw["_seg"] = ALL
        index = [ALL]
    else:
        index = sorted(raw["_seg"].astype(str).unique())
    out = []
    for w in range(len(windows)):
        part = raw[raw["_w"] == w]
        wide = part.pivot_table(index="_seg", columns="stage", values="entered", aggfunc="sum")
        wide = wide.reindex(index=index, columns=stages).fillna(0).astype("float64")
        amounts = part.pivot_table(index="_seg", columns="stage", values="amount", aggfunc="sum")
        amounts = amounts.reindex(index=index).fillna(0.0)
        wide["revenue"] = amounts[last].astype("float64") if last in amounts else 0.0
        wide["pipeline"] = amounts[opp].astype("float64") if opp and opp in amounts else 0.0
        if margin:
            gm = part[part["stage"] == last].groupby("_seg")["gm"].sum()
            wide["gross_margin"] = gm.reindex(index).fillna(0.0).astype("float64")
        wide.index = pd.Index([str(i) for i in wide.index], name=by or "segment")
        wide.columns.name = None
        out.append(wide)
    return out


def data_end(store: Store, contract: Contract) -> date:
    """The day after the last stage entry (expected close dates of open deals do not count)."""
    e = funnel_entries(store, contract)
    last = e.aggregate(hi=e.entered_at.max()).execute()["hi"][0]
    if pd.isna(last):
        raise UsageError("the store has no funnel data yet; import people and opportunities first")
    return pd.Timestamp(last).date() + timedelta(days=1)


def default_window(store: Store, contract: Contract, period: Period, quarters: int = 2) -> Period:
    """The trailing window of a plan: the ``quarters`` full quarters before ``period``, or,
    when the data ends earlier, before the last full quarter in the data."""
    if quarters < 1:
        raise UsageError(f"the trailing window needs at least 1 quarter, got {quarters}")
    end = min(period.start, data_end(store, contract))
    q_start = date(end.year, 3 * ((end.month - 1) // 3) + 1, 1)
    anchor = quarter(q_start.year, (q_start.month - 1) // 3 + 1)
    # the quarter holding ``end`` (or starting at it) is not complete: the window ends at its start
    window = previous(anchor, quarters)
    first, last = window[0], window[-1]
    label = first.label if quarters == 1 else f"{first.label}..{last.label}"
    return Period(first.start, last.end, label, "custom")


def parse_window(text: str) -> Period:
    """``2026-Q1..2026-Q2`` or a single period (``2026``, ``2026-Q1``)."""
    from cueva.periods import parse_period

    if ".." in text:
        a, _, b = text.partition("..")
        p0, p1 = parse_period(a), parse_period(b)
        if p1.end <= p0.start:
            raise UsageError(f"--window {text!r} ends before it starts")
        return Period(p0.start, p1.end, f"{p0.label}..{p1.label}", "custom")
    return parse_period(text)


def baseline(
    store: Store,
    contract: Contract,
    window: Period,
    by: str | None = None,
) -> Baseline:
    """Counts and median lags over ``window``: the input of :func:`cueva.gap.plan.build_plan`."""
    e = funnel_entries(store, contract)
    counts = period_counts(store, contract, window, by, margin=True)
    times = stage_times(store, contract, window, entries=e)
    lags = {
        str(stage): float(days)
        for stage, days in zip(times["to_stage"], times["median_days"], strict=True)
        if pd.notna(days)
    }
    return Baseline(
        window=window,
        stages=tuple(s.name for s in contract.funnel.stages),
        counts=counts,
        lags=lags,
        by=by,
        opportunity_stage=opportunity_stage(contract),
    )


def cumulative_shifts(
    stages: tuple[str, ...] | list[str], lags: dict[str, float]
) -> dict[str, float]:
    """Days after the first stage at which each stage is counted in the cohort variant."""
    out: dict[str, float] = {}
    total = 0.0
    for i, s in enumerate(stages):
        if i:
            total += float(lags.get(s, 0.0) or 0.0)
        out[s] = total
    return out


__all__ = [
    "ALL",
    "NEW_BUSINESS",
    "baseline",
    "counts_for",
    "cumulative_shifts",
    "data_end",
    "data_version",
    "default_window",
    "funnel_entries",
    "opportunity_stage",
    "parse_window",
    "period_counts",
]
