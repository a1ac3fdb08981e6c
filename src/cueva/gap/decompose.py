"""Blame-free gap decomposition: the revenue gap split exactly into owned funnel factors.

:func:`decompose` takes two counts frames (see :mod:`cueva.gap.factors`) — a base (the plan
or an earlier period) and the actual — and returns a :class:`GapResult` whose factor
contributions sum to ``actual - base`` (LMDI-I, :mod:`cueva.gap.lmdi`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cueva.contract import Contract
from cueva.gap.factors import Factor, funnel_factors, metric_shape, paired_factors
from cueva.gap.lmdi import lmdi

#: Columns of :attr:`GapResult.factors`.
FACTOR_COLUMNS = ("factor", "label", "owner", "base", "actual", "change", "contribution", "share")
#: Columns of :attr:`GapResult.segments`.
SEGMENT_COLUMNS = ("segment", "factor", "label", "owner", "contribution")


@dataclass(frozen=True)
class GapResult:
    """The decomposition of ``actual - base`` into factor contributions.

    ``factors``: one row per factor (columns :data:`FACTOR_COLUMNS`): the factor's value in
    the base and the actual (for segmented results the lead-weighted aggregate rate), the
    relative change, its contribution in money and its share of the gap. ``by_segment``: the
    long table of contributions per segment and factor (empty without segments); within a
    segment, ``leads`` + ``mix`` is that segment's lead volume effect.
    """

    period: str
    base_label: str
    metric: str  # revenue, gross_margin, pipeline or a stage name
    base_total: float
    actual_total: float
    factors: pd.DataFrame
    by_segment: pd.DataFrame
    by: str | None = None
    cohort: bool = False
    currency: str = "EUR"
    language: str = "en"
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def gap(self) -> float:
        return self.actual_total - self.base_total

    def factor_list(self) -> list[Factor]:
        rows = self.factors[["factor", "label", "owner"]].astype(str).to_numpy().tolist()
        return [Factor(str(k), str(label), str(owner), "", None) for k, label, owner in rows]

    def by_owner(self) -> pd.DataFrame:
        """Contributions summed per owning team."""
        frame = self.factors.groupby("owner", sort=False)["contribution"].sum().reset_index()
        return frame.sort_values("contribution", key=np.abs, ascending=False, ignore_index=True)

    def segment_table(self) -> pd.DataFrame:
        """Segments as rows, factors as columns, plus each segment's total change."""
        if self.by_segment.empty:
            return pd.DataFrame()
        wide = self.by_segment.pivot_table(
            index="segment", columns="factor", values="contribution", aggfunc="sum", sort=False
        )
        wide = wide[[f for f in self.factors["factor"] if f in wide.columns]]
        wide["total"] = wide.sum(axis=1)
        return wide.reset_index()


def _aggregate_values(
    counts: pd.DataFrame, stages: list[str], value: str | None, margin: bool
) -> np.ndarray:
    """The factor values of the whole (all segments summed), for display."""
    total = counts.sum()

    def ratio(num: str, den: str) -> float:
        return float(total[num]) / float(total[den]) if total[den] else np.nan

    vals = [float(total[stages[0]])]
    vals += [ratio(stage, prev) for prev, stage in itertools.pairwise(stages)]
    if value is not None:
        vals.append(ratio(value, stages[-1]))
        if margin:
            vals.append(ratio("gross_margin", value))
    return np.array(vals)


_LABELS_TIMING = {"en": "cohort timing", "es": "desfase de cohortes"}


def _segment_values(counts: pd.DataFrame, segments: list[str], col: str) -> np.ndarray:
    frame = counts[[col]].copy()
    frame.index = frame.index.map(str)
    summed = frame.groupby(level=0)[col].sum().reindex(segments, fill_value=0.0)
    return summed.to_numpy(dtype=np.float64)


def decompose(
    contract: Contract,
    base: pd.DataFrame,
    actual: pd.DataFrame,
    *,
    period: str = "",
    base_label: str = "base",
    by: str | None = None,
    metric: str = "revenue",
    margin: bool = False,
    cohort: bool = False,
    language: str | None = None,
) -> GapResult:
    """Split ``actual - base`` of ``metric`` into funnel factors.

    ``metric``: ``revenue`` (leads x rates x deal size), ``gross_margin`` (x margin rate; also
    ``margin=True``), ``pipeline`` (leads x rates up to the opportunity stage x opportunity
    size) or a stage name (the count of entries into it: leads x rates up to it).

    ``base`` and ``actual`` are counts frames indexed by segment (a single row, e.g. ``all``,
    without ``by``). With ``by``, a mix factor (each segment's share of leads) is added and
    ``by_segment`` holds the per-segment contributions; totals still add up to the gap.
    """
    lang = language or contract.language
    if margin:
        metric = "gross_margin"
    stages, value, with_margin = metric_shape(contract, metric)
    factors = funnel_factors(contract, metric=metric, by=by, language=lang)
    segmented = by is not None
    segments, x0, x1 = paired_factors(
        base,
        actual,
        stages,
        value=value,
        margin=with_margin,
        segmented=segmented,
        names=(base_label, period or "actual"),
    )
    broken = np.isnan(x0).any(axis=1) | np.isnan(x1).any(axis=1)
    table = lmdi(np.where(broken[:, None], 1.0, x0), np.where(broken[:, None], 1.0, x1))
    table[broken] = 0.0
    seg_v0 = np.where(broken, 0.0, np.prod(np.nan_to_num(x0, nan=1.0), axis=1))
    seg_v1 = np.where(broken, 0.0, np.prod(np.nan_to_num(x1, nan=1.0), axis=1))
    if broken.any():
        # Segments whose within-period chain breaks (entries at a stage with none at the stage
        # before, e.g. wins from opportunities of an earlier period): their whole change is
        # booked as cohort timing, so the split still adds up to the gap.
        col = ("gross_margin" if with_margin else value) or stages[-1]
        direct0 = _segment_values(base, segments, col)
        direct1 = _segment_values(actual, segments, col)
        seg_v0 = np.where(broken, direct0, seg_v0)
        seg_v1 = np.where(broken, direct1, seg_v1)
        timing = np.where(broken, direct1 - direct0, 0.0)
        table = np.column_stack([table, timing])
        labels = _LABELS_TIMING.get(lang, _LABELS_TIMING["en"])
        factors = [*factors, Factor("timing", labels, "shared", "timing", None)]
    per_factor = table.sum(axis=0)
    v0 = float(seg_v0.sum())
    v1 = float(seg_v1.sum())
    gap = v1 - v0

    agg0 = _aggregate_values(base, stages, value, with_margin)
    agg1 = _aggregate_values(actual, stages, value, with_margin)
    if segmented:
        # the mix has no aggregate value
        agg0 = np.insert(agg0, 1, np.nan)
        agg1 = np.insert(agg1, 1, np.nan)
    if broken.any():
        agg0 = np.append(agg0, np.nan)
        agg1 = np.append(agg1, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        change = np.where(agg0 > 0, agg1 / agg0 - 1.0, np.nan)
    frame = pd.DataFrame(
        {
            "factor": [f.key for f in factors],
            "label": [f.label for f in factors],
            "owner": [f.owner for f in factors],
            "base": agg0,
            "actual": agg1,
            "change": change,
            "contribution": per_factor,
            "share": per_factor / gap if gap != 0 else np.zeros(len(factors)),
        }
    )
    if segmented:
        seg = pd.DataFrame(
            {
                "segment": np.repeat(segments, len(factors)),
                "factor": [f.key for f in factors] * len(segments),
                "label": [f.label for f in factors] * len(segments),
                "owner": [f.owner for f in factors] * len(segments),
                "contribution": table.reshape(-1),
            }
        )
    else:
        seg = pd.DataFrame(columns=list(SEGMENT_COLUMNS))
    return GapResult(
        period=period,
        base_label=base_label,
        metric=metric,
        base_total=v0,
        actual_total=v1,
        factors=frame,
        by_segment=seg,
        by=by,
        cohort=cohort,
        currency=contract.currency,
        language=lang,
    )


__all__ = ["FACTOR_COLUMNS", "SEGMENT_COLUMNS", "GapResult", "decompose"]
