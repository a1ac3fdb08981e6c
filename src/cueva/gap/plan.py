"""The reverse-funnel plan: from a target back to the leads, MQLs, SQLs and opportunities needed,
and the month in which each must arrive.

Inputs are a :class:`Baseline` (counts per segment over a trailing window, and the median days
between consecutive stages) and a target: ``revenue`` (money won), ``new_customers`` (deals
won) or ``pipeline`` (amount of opportunities created). Per segment ``s`` the rates are the
window's within-window ratios ``r_sk = entries_k / entries_(k-1)``; the deal size is
``revenue / won`` and the opportunity size ``pipeline / opportunities``. With a lead mix
``m_s`` (default: the window's share of leads), the leads needed are::

    N = target / sum_s m_s * r_s1 * ... * r_sj * u_s

where ``j`` is the target's stage and ``u_s`` its value per entry (deal size, opportunity size
or 1). Every stage's count is then ``N * m_s * r_s1 * ... * r_sk`` (stages after the target's
are the plan's expectation). Timing: the target stage's entries spread over the period in
proportion to days; each earlier stage must arrive earlier by the sum of the median lags
between it and the target stage, spread over the calendar months that window covers.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import numpy as np
import pandas as pd

from cueva.contract import Contract
from cueva.errors import UsageError
from cueva.periods import Period, add_months

TargetKind = Literal["revenue", "new_customers", "pipeline"]
TARGET_KINDS: tuple[TargetKind, ...] = ("revenue", "new_customers", "pipeline")
_TARGET_ALIASES = {
    "customers": "new_customers",
    "won": "new_customers",
    "deals_won": "new_customers",
}

#: Columns of :attr:`Plan.needed` besides the stage names.
MONEY_COLUMNS = ("revenue", "pipeline")
#: Columns of :attr:`Plan.schedule`.
SCHEDULE_COLUMNS = ("segment", "stage", "month", "needed")


@dataclass(frozen=True)
class Baseline:
    """What the funnel did over a trailing window: the input of a plan.

    ``counts``: counts frame indexed by segment (``all`` when not segmented) with one column
    per stage (entries in the window), ``revenue`` (won amount) and ``pipeline`` (amount of
    opportunities created). ``lags``: median days from the previous stage, keyed by stage.
    """

    window: Period
    stages: tuple[str, ...]
    counts: pd.DataFrame
    lags: dict[str, float]
    by: str | None = None
    opportunity_stage: str | None = None


@dataclass(frozen=True)
class Plan:
    """A reverse-funnel plan for one period.

    ``rates``: per segment the mix share, the rate into each stage, ``deal_size`` and
    ``opportunity_size``. ``needed``: per segment the entries needed into each stage plus the
    expected ``revenue`` and ``pipeline`` (a counts frame, usable as the base of a gap).
    ``schedule``: per segment, stage and month, the entries that must arrive then.
    """

    period: Period
    target_kind: TargetKind
    target: float
    stages: tuple[str, ...]
    rates: pd.DataFrame
    needed: pd.DataFrame
    schedule: pd.DataFrame
    lags: dict[str, float]
    window: str
    by: str | None = None
    opportunity_stage: str | None = None
    assumptions: dict[str, float] = field(default_factory=dict)

    def totals(self) -> pd.DataFrame:
        """Entries needed per stage over all segments, with the lead time before the period."""
        total = self.needed.sum()
        lead = _lead_days(self.stages, self.lags, self.target_stage)
        rows = [
            {"stage": s, "needed": float(total[s]), "days_before_target": lead[s]}
            for s in self.stages
        ]
        return pd.DataFrame(rows)

    @property
    def target_stage(self) -> str:
        return _target_stage(self.target_kind, self.stages, self.opportunity_stage)

    def forward(self) -> float:
        """Run the plan forwards: leads x rates x value per entry, summed over segments."""
        r = self.rates
        leads = self.needed[self.stages[0]]
        j = self.stages.index(self.target_stage)
        yield_ = np.prod(r[[_rate_col(s) for s in self.stages[1 : j + 1]]].to_numpy(), axis=1)
        return float((leads.to_numpy() * yield_ * _unit(r, self.target_kind).to_numpy()).sum())

    def to_dict(self) -> dict[str, Any]:
        """Plain data for saving (YAML/JSON)."""
        return {
            "period": self.period.label,
            "target": {"kind": self.target_kind, "value": self.target},
            "by": self.by,
            "window": self.window,
            "lags_days": {k: _num(v) for k, v in self.lags.items()},
            "assumptions": dict(self.assumptions),
            "segments": {
                str(seg): {str(k): _num(v) for k, v in row.items()}
                for seg, row in self.needed.to_dict(orient="index").items()
            },
        }


def _num(v: Any) -> float | None:
    f = float(v)
    return None if math.isnan(f) else f


def _rate_col(stage: str) -> str:
    return f"{stage}_rate"


def _unit(rates: pd.DataFrame, kind: TargetKind) -> pd.Series:
    if kind == "revenue":
        return rates["deal_size"]
    if kind == "pipeline":
        return rates["opportunity_size"]
    return pd.Series(1.0, index=rates.index)


def _target_stage(kind: TargetKind, stages: tuple[str, ...], opp: str | None) -> str:
    if kind == "pipeline":
        if opp is None:
            raise UsageError("a pipeline target needs an opportunity stage in the contract")
        return opp
    return stages[-1]


def _lead_days(stages: tuple[str, ...], lags: dict[str, float], target: str) -> dict[str, float]:
    """Days by which each stage's entries precede the target stage's (negative: after it)."""
    j = stages.index(target)
    out: dict[str, float] = {}
    for k, s in enumerate(stages):
        if k <= j:
            out[s] = float(sum(lags.get(t, 0.0) for t in stages[k + 1 : j + 1]))
        else:
            out[s] = -float(sum(lags.get(t, 0.0) for t in stages[j + 1 : k + 1]))
    return out


def parse_target(text: str) -> tuple[TargetKind, float]:
    """``revenue=1200000`` -> ("revenue", 1200000.0); 1.2M and 300k are accepted."""
    name, sep, value = text.partition("=")
    name = _TARGET_ALIASES.get(name.strip(), name.strip())
    if not sep or name not in TARGET_KINDS:
        raise UsageError(
            f"--target must be KIND=VALUE with KIND one of {', '.join(TARGET_KINDS)}; got {text!r}"
        )
    amount = parse_amount(value, "--target")
    if not amount > 0:
        raise UsageError(f"--target {name} must be positive, got {value!r}")
    return name, amount


def parse_amount(text: str, what: str) -> float:
    v = text.strip().replace("_", "").replace(",", "")
    mult = 1.0
    if v[-1:].lower() in ("k", "m"):
        mult = 1e3 if v[-1].lower() == "k" else 1e6
        v = v[:-1]
    pct = v.endswith("%")
    if pct:
        v = v[:-1]
    try:
        out = float(v) * mult / (100 if pct else 1)
    except ValueError:
        raise UsageError(f"{what}: not a number: {text!r}") from None
    if not math.isfinite(out):
        raise UsageError(f"{what}: not a finite number: {text!r}")
    return out


def parse_assumptions(items: list[str] | None) -> dict[str, float]:
    """``["win_rate=0.3", "deal_size=25k", "sql_days=5"]`` -> a dict; UsageError on bad items."""
    out: dict[str, float] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--assume must be NAME=VALUE (e.g. win_rate=0.3), got {item!r}")
        out[key.strip()] = parse_amount(value, f"--assume {key.strip()}")
    return out


def parse_mix(text: str | None) -> dict[str, float] | None:
    """``"events=0.3,paid_search=0.7"`` -> shares of leads per segment."""
    if not text:
        return None
    out: dict[str, float] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--mix must be SEGMENT=SHARE,... (e.g. events=0.3), got {part!r}")
        out[key.strip()] = parse_amount(value, f"--mix {key.strip()}")
    return out


def window_rates(baseline: Baseline) -> pd.DataFrame:
    """Per segment: ``mix`` (share of leads), ``<stage>_rate`` for each stage after the first,
    ``deal_size`` and ``opportunity_size``. A rate that is undefined in a segment (no entries
    at its base) takes the all-segment rate; undefined overall, it is an error."""
    c = baseline.counts.astype("float64")
    stages = list(baseline.stages)
    total = c.sum()
    if total[stages[0]] <= 0:
        raise UsageError(
            f"no {stages[0]} entries in the trailing window {baseline.window.label}; "
            "choose another window (--window)"
        )
    rates = pd.DataFrame(index=c.index)
    rates["mix"] = c[stages[0]] / total[stages[0]]

    def ratio(num: str, den: str, label: str) -> pd.Series:
        if total[den] <= 0:
            raise UsageError(
                f"no {den} entries in the trailing window {baseline.window.label}, so the "
                f"{label} is unknown; give it with --assume {label}=..."
            )
        overall = total[num] / total[den]
        seg = c[num] / c[den].where(c[den] > 0)
        return seg.fillna(overall)

    for prev, stage in itertools.pairwise(stages):
        rates[_rate_col(stage)] = ratio(stage, prev, _rate_col(stage))
    rates["deal_size"] = (
        ratio("revenue", stages[-1], "deal_size") if total[stages[-1]] > 0 else np.nan
    )
    opp = baseline.opportunity_stage
    if opp is not None and total[opp] > 0:
        rates["opportunity_size"] = ratio("pipeline", opp, "opportunity_size")
    else:
        rates["opportunity_size"] = np.nan
    return rates


def _month_starts(start: date, end: date) -> list[date]:
    first = date(start.year, start.month, 1)
    out = [first]
    while out[-1] < end:
        out.append(add_months(out[-1], 1))
    return out


def spread_over_months(start: float, end: float, total: float) -> dict[str, float]:
    """``total`` spread uniformly over the days ``[start, end)`` (ordinal days, fractional
    allowed), summed per calendar month (labels ``YYYY-MM``)."""
    if end <= start:
        return {}
    d0 = date.fromordinal(math.floor(start))
    d1 = date.fromordinal(math.ceil(end))
    bounds = _month_starts(d0, d1)
    edges = np.array([b.toordinal() for b in bounds], dtype=np.float64)
    lo = np.maximum(edges[:-1], start)
    hi = np.minimum(edges[1:], end)
    share = np.clip(hi - lo, 0.0, None) / (end - start)
    return {
        f"{b.year:04d}-{b.month:02d}": float(total * s)
        for b, s in zip(bounds[:-1], share, strict=True)
        if s > 0
    }


def build_plan(
    contract: Contract,
    baseline: Baseline,
    period: Period,
    target_kind: TargetKind,
    target: float,
    *,
    mix: dict[str, float] | None = None,
    assume: dict[str, float] | None = None,
) -> Plan:
    """The reverse-funnel plan for ``target`` in ``period`` (see the module docs).

    ``assume`` overrides rates for every segment: ``<stage>_rate`` (``win_rate`` for the last
    stage), ``deal_size``, ``opportunity_size``, and lags as ``<stage>_days`` (days from the
    previous stage). ``mix`` sets each segment's share of leads (shares are normalised; a
    segment left out gets none).
    """
    if target_kind not in TARGET_KINDS:
        raise UsageError(f"unknown target {target_kind!r}; use one of {', '.join(TARGET_KINDS)}")
    if not (math.isfinite(target) and target > 0):
        raise UsageError(f"the target must be a positive number, got {target}")
    stages = baseline.stages
    rates = window_rates(baseline)
    lags = {s: float(baseline.lags.get(s, 0.0) or 0.0) for s in stages[1:]}
    assume = dict(assume or {})
    valid = {_rate_col(s) for s in stages[1:-1]} | {"win_rate", "deal_size", "opportunity_size"}
    valid_lags = {f"{s}_days" for s in stages[1:]}
    for key, value in assume.items():
        col = _rate_col(stages[-1]) if key == "win_rate" else key
        if key in valid_lags:
            if value < 0:
                raise UsageError(f"--assume {key}: days must be >= 0, got {value:g}")
            lags[key[: -len("_days")]] = value
            continue
        if key not in valid and col not in rates.columns:
            raise UsageError(
                f"--assume {key}: unknown name; use one of " + ", ".join(sorted(valid | valid_lags))
            )
        if value < 0 or (col == _rate_col(stages[-1]) and value > 1):
            raise UsageError(f"--assume {key}: {value:g} is not a valid value")
        rates[col] = value
    if mix is not None:
        unknown = sorted(set(mix) - {str(s) for s in rates.index})
        if unknown:
            raise UsageError(
                f"--mix: unknown segment(s) {', '.join(unknown)}; the window has: "
                + ", ".join(str(s) for s in rates.index)
            )
        total_mix = sum(mix.values())
        if not total_mix > 0 or any(v < 0 for v in mix.values()):
            raise UsageError("--mix shares must be >= 0 and not all zero")
        rates["mix"] = [mix.get(str(s), 0.0) / total_mix for s in rates.index]

    tstage = _target_stage(target_kind, stages, baseline.opportunity_stage)
    j = stages.index(tstage)
    unit = _unit(rates, target_kind)
    if unit.isna().any():
        missing = "deal_size" if target_kind == "revenue" else "opportunity_size"
        raise UsageError(
            f"the window {baseline.window.label} has no data for the {missing}; "
            f"give it with --assume {missing}=..."
        )
    cum = np.cumprod(
        np.column_stack(
            [np.ones(len(rates))] + [rates[_rate_col(s)].to_numpy() for s in stages[1:]]
        ),
        axis=1,
    )
    per_lead = float((rates["mix"].to_numpy() * cum[:, j] * unit.to_numpy()).sum())
    if not per_lead > 0:
        raise UsageError(
            f"the rates from {baseline.window.label} make no {tstage} from leads "
            "(a rate is zero); override it with --assume"
        )
    leads = target / per_lead
    seg_leads = leads * rates["mix"].to_numpy()
    needed = pd.DataFrame(seg_leads[:, None] * cum, index=rates.index, columns=list(stages))
    needed["revenue"] = needed[stages[-1]] * rates["deal_size"].fillna(0.0)
    opp = baseline.opportunity_stage
    needed["pipeline"] = (
        needed[opp] * rates["opportunity_size"].fillna(0.0) if opp is not None else 0.0
    )
    if "gross_margin" in baseline.counts.columns:
        # expected gross margin at the window's margin rate (for a margin gap against the plan)
        c = baseline.counts.astype("float64")
        overall = c["gross_margin"].sum() / c["revenue"].sum() if c["revenue"].sum() > 0 else 0.0
        rate = (c["gross_margin"] / c["revenue"].where(c["revenue"] > 0)).fillna(overall)
        needed["gross_margin"] = needed["revenue"] * rate.reindex(needed.index).fillna(overall)

    lead = _lead_days(stages, lags, tstage)
    start, end = float(period.start.toordinal()), float(period.end.toordinal())
    rows: list[dict[str, Any]] = []
    values = needed[list(stages)].to_numpy(dtype=np.float64)
    for i, seg in enumerate(needed.index):
        for k, s in enumerate(stages):
            spread = spread_over_months(start - lead[s], end - lead[s], float(values[i, k]))
            for m, n in spread.items():
                rows.append({"segment": str(seg), "stage": s, "month": m, "needed": n})
    schedule = pd.DataFrame(rows, columns=list(SCHEDULE_COLUMNS))
    return Plan(
        period=period,
        target_kind=target_kind,
        target=float(target),
        stages=stages,
        rates=rates,
        needed=needed,
        schedule=schedule,
        lags=lags,
        window=baseline.window.label,
        by=baseline.by,
        opportunity_stage=opp,
        assumptions=assume,
    )


def monthly_schedule(plan: Plan) -> pd.DataFrame:
    """The schedule summed over segments: one row per month, one column per stage."""
    if plan.schedule.empty:
        return pd.DataFrame(columns=["month", *plan.stages])
    wide = plan.schedule.pivot_table(
        index="month", columns="stage", values="needed", aggfunc="sum", fill_value=0.0
    )
    wide = wide.reindex(columns=list(plan.stages), fill_value=0.0).sort_index()
    return wide.reset_index()


__all__ = [
    "SCHEDULE_COLUMNS",
    "TARGET_KINDS",
    "Baseline",
    "Plan",
    "TargetKind",
    "build_plan",
    "monthly_schedule",
    "parse_amount",
    "parse_assumptions",
    "parse_mix",
    "parse_target",
    "spread_over_months",
    "window_rates",
]
