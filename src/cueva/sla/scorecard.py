"""The SLA scorecard: each service level's target, actual, attainment, status and trend.

Status (see ``docs/scorecard.md``):

- ``met`` / ``missed``: the period is over (or, for a count that must reach a target, the
  target is already reached) and the actual meets / misses the target;
- ``on track`` / ``at risk``: the period is not over, and the projection meets / misses the
  target. Counts and money project at the pace so far (actual x period length / time
  elapsed); shares project as the share so far, pulled toward the trend of the last periods
  when there is one (the mean of the share so far and the linear trend's next value);
- ``no data``: nothing to measure yet (no leads, no closed deals); ``no target``: a
  ``target: plan`` with no value in ``targets`` for the period.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from cueva.contract import CUMULATIVE_KINDS, Contract, ServiceLevel
from cueva.errors import UsageError
from cueva.periods import Period, bucket, previous, truncate
from cueva.sla.evaluate import Cache, Range, evaluate, lead_waits, quality_leads, rejected_leads
from cueva.store import Store

#: How many earlier periods the trend shows.
HISTORY = 6

#: Columns of :func:`scorecard`'s result.
SCORECARD_COLUMNS = (
    "service_level",
    "kind",
    "owner",
    "receiver",
    "period",
    "comparison",
    "target",
    "actual",
    "attainment",
    "projected",
    "status",
    "measured",
    "pending",
    "p50_hours",
    "p90_hours",
    "trend",
    "description",
    "note",
)

STATUSES = ("met", "on track", "at risk", "missed", "no data", "no target")
#: Statuses that make ``cueva check`` fail.
FAILING = ("at risk", "missed")


def now_in(contract: Contract) -> datetime:
    """The current wall-clock time in the contract's timezone (naive, like the store)."""
    return datetime.now(ZoneInfo(contract.timezone)).replace(tzinfo=None, microsecond=0)


def current_period(sla: ServiceLevel, contract: Contract, as_of: datetime) -> Period:
    """The SLA's own period (week, month or quarter) that holds ``as_of``."""
    start = truncate(as_of, sla.period, contract.fiscal_year_start)
    return bucket(start, sla.period, contract.fiscal_year_start)


def _months(p: Period) -> float:
    """Length of ``p`` in months (whole months when it is made of them, else days/30.4375)."""
    if p.start.day == 1 and p.end.day == 1:
        return float((p.end.year - p.start.year) * 12 + p.end.month - p.start.month)
    return p.days / 30.4375


def target_for(sla: ServiceLevel, contract: Contract, period: Period) -> float | None:
    """The SLA's target for ``period``: a count or money target is scaled from the SLA's own
    period to ``period``'s length (a monthly 100 MQLs is 300 for a quarter); shares are not.
    ``target: plan`` reads ``targets`` (a quarter with only monthly values sums them)."""
    if sla.target == "plan":
        metric = sla.plan_metric
        entry = contract.targets.get(period.label)
        if entry is not None and entry.get(metric) is not None:
            return entry.get(metric)
        if sla.kind in CUMULATIVE_KINDS and period.start.day == 1:
            months = [
                bucket(m, "month")
                for m in pd.date_range(period.start, period.last_day, freq="MS").date
            ]
            values = [contract.targets.get(m.label) for m in months]
            got = [v.get(metric) if v is not None else None for v in values]
            if months and all(v is not None for v in got):
                return float(sum(v for v in got if v is not None))
        return None
    target = float(sla.target)
    if sla.kind not in CUMULATIVE_KINDS:
        return target
    own = {"week": 7 / 30.4375, "month": 1.0, "quarter": 3.0}[sla.period]
    if sla.period == "week" and period.kind != "week":
        return target * period.days / 7
    return target * _months(period) / own


def _meets(value: float, target: float, comparison: str) -> bool:
    return value >= target - 1e-12 if comparison == ">=" else value <= target + 1e-12


def _attainment(actual: float, target: float, comparison: str) -> float:
    if math.isnan(actual):
        return math.nan
    if comparison == ">=":
        return actual / target if target else math.inf if actual > 0 else 1.0
    return target / actual if actual else math.inf if target > 0 else 1.0


def _status(
    sla: ServiceLevel,
    period: Period,
    as_of: datetime,
    actual: float,
    target: float | None,
    history: np.ndarray,
) -> tuple[str, float]:
    """(status, projected value) for one period."""
    if target is None:
        return "no target", math.nan
    if as_of <= period.start_dt:
        return "no data", math.nan  # the period has not started
    over = as_of >= period.end_dt
    cumulative = sla.kind in CUMULATIVE_KINDS
    if math.isnan(actual):
        if over or not cumulative:
            return "no data", math.nan
        actual = 0.0
    if over:
        return ("met" if _meets(actual, target, sla.comparison) else "missed"), actual
    if cumulative:
        elapsed = max((as_of - period.start_dt).total_seconds(), 1.0)
        total = (period.end_dt - period.start_dt).total_seconds()
        projected = actual * total / elapsed
        if sla.comparison == ">=" and _meets(actual, target, ">="):
            return "met", projected  # a count that reached its target cannot fall back
        if sla.comparison == "<=" and not _meets(actual, target, "<="):
            return "missed", projected  # a ceiling already passed
    else:
        projected = actual
        past = history[~np.isnan(history)]
        if len(past) >= 2:
            x = np.arange(len(past), dtype=float)
            slope, intercept = np.polyfit(x, past, 1)
            projected = float(np.clip((actual + intercept + slope * len(past)) / 2, 0.0, 1.0))
    return ("on track" if _meets(projected, target, sla.comparison) else "at risk"), projected


@dataclass(frozen=True)
class _Pick:
    sla: ServiceLevel
    period: Period


def _picks(
    contract: Contract, period: Period | None, as_of: datetime, only: list[str] | None
) -> list[_Pick]:
    slas = contract.service_levels
    if only:
        slas = [contract.service_level(n) for n in only]
    return [_Pick(s, period or current_period(s, contract, as_of)) for s in slas]


def scorecard(
    store: Store,
    contract: Contract,
    period: Period | None = None,
    as_of: datetime | None = None,
    service_levels: list[str] | None = None,
    history: int = HISTORY,
) -> pd.DataFrame:
    """One row per service level for ``period`` (default: each SLA's own current week, month
    or quarter at ``as_of``), with the trend over the ``history`` periods before it.

    ``as_of`` pins "now" (naive, contract timezone; default: the current time): nothing
    after it is counted, and a period that ends after it is not over. Columns:
    :data:`SCORECARD_COLUMNS`; ``trend`` is a list of the earlier actuals, oldest first.
    """
    as_of = as_of or now_in(contract)
    if not contract.service_levels:
        raise UsageError("the contract has no service_levels to score (see docs/contract.md)")
    rows = []
    cache = Cache(store, contract, as_of)
    for pick in _picks(contract, period, as_of, service_levels):
        sla, p = pick.sla, pick.period
        periods = [*previous(p, history), p]
        frame = evaluate(store, contract, sla, periods, as_of, cache)
        cur = frame.iloc[-1]
        past = frame["actual"].to_numpy(float)[:-1]
        target = target_for(sla, contract, p)
        actual = float(cur["actual"])
        status, projected = _status(sla, p, as_of, actual, target, past)
        if math.isnan(actual) and sla.kind in CUMULATIVE_KINDS and p.start_dt < as_of:
            actual = 0.0
        rows.append(
            {
                "service_level": sla.name,
                "kind": sla.kind,
                "owner": sla.giver,
                "receiver": sla.receiver,
                "period": p.label,
                "comparison": sla.comparison,
                "target": math.nan if target is None else target,
                "actual": actual,
                "attainment": math.nan
                if target is None
                else _attainment(actual, target, sla.comparison),
                "projected": projected,
                "status": status,
                "measured": float(cur["denominator"]) if sla.is_share else math.nan,
                "pending": int(cur["pending"]),
                "p50_hours": float(cur["p50_hours"]),
                "p90_hours": float(cur["p90_hours"]),
                "trend": [None if math.isnan(v) else float(v) for v in past],
                "description": sla.description,
                "note": cur["note"],
            }
        )
    return pd.DataFrame(rows, columns=list(SCORECARD_COLUMNS))


def _pick_detail(contract: Contract, name: str) -> ServiceLevel:
    names = [s.name for s in contract.service_levels]
    if name in names:
        return contract.service_level(name)
    by_kind = [s for s in contract.service_levels if s.kind == name]
    if len(by_kind) == 1:
        return by_kind[0]
    if len(by_kind) > 1:
        raise UsageError(
            f"several {name} service levels: {', '.join(s.name for s in by_kind)}; name one"
        )
    return contract.service_level(name)  # raises with the list of names


DETAIL_KINDS = ("response_time", "coverage", "quality", "feedback")


def detail(
    store: Store,
    contract: Contract,
    name: str,
    period: Period | None = None,
    as_of: datetime | None = None,
) -> pd.DataFrame:
    """The leads that breached service level ``name`` (or the only SLA of kind ``name``) in
    ``period``: person_id, owner_id, owner, entered_at, contact_at, the elapsed business
    hours (or days) and status ``late`` (contacted too late or not contacted in time).
    Rejected leads without a reason for ``feedback``; MQLs not accepted in time for
    ``quality``. Sorted by the longest wait first."""
    sla = _pick_detail(contract, name)
    as_of = as_of or now_in(contract)
    p = period or current_period(sla, contract, as_of)
    rng = Range([p], as_of)
    if sla.kind not in DETAIL_KINDS:
        raise UsageError(
            f"service level {sla.name!r} ({sla.kind}) has no per-lead detail; detail works for "
            + ", ".join(DETAIL_KINDS)
        )
    if rng.lo >= as_of:
        raise UsageError(f"period {p.label} has not started at {as_of:%Y-%m-%d %H:%M}")
    cache = Cache(store, contract, as_of)
    if sla.kind in ("response_time", "coverage"):
        df = lead_waits(cache, sla, rng, ids=True)
        df = df[(df["_b"] == 0) & (df["status"] == "late")]
        unit = "business_hours" if sla.kind == "response_time" else "business_days"
        df = df.rename(columns={"elapsed": unit})
        cols = ["person_id", "owner_id", "entered_at", "contact_at", unit]
        out = df[cols].sort_values(unit, ascending=False, kind="stable")
    elif sla.kind == "quality":
        df = quality_leads(cache, sla, rng, ids=True)
        df = df[(df["_b"] == 0) & (df["status"] == "late")]
        out = df[["person_id", "owner_id", "entered_at", "accepted_at"]].sort_values("entered_at")
    else:
        per, _ = rejected_leads(cache, sla, rng)
        per = per.filter((per._b == 0) & (per.has_reason == 0))
        out = per.select("person_id", "rejected_at").order_by("rejected_at").execute()
        people = store.table("people").select("person_id", "owner_id").execute()
        out = out.merge(people, on="person_id", how="left")
    return _with_owner_names(store, out.reset_index(drop=True))


def _with_owner_names(store: Store, frame: pd.DataFrame) -> pd.DataFrame:
    owners = store.table("owners").select("owner_id", owner="name", team="team").execute()
    out = frame.merge(owners, on="owner_id", how="left")
    cols = ["person_id", "owner", "team", *[c for c in frame.columns if c != "person_id"]]
    return out[cols]


__all__ = [
    "FAILING",
    "HISTORY",
    "SCORECARD_COLUMNS",
    "STATUSES",
    "current_period",
    "detail",
    "now_in",
    "scorecard",
    "target_for",
]
