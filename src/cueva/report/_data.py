"""What the meeting pack shows: the results of the library's metric functions, as plain
frames, gathered once by :func:`cueva.report.collect_pack` and rendered by
:func:`cueva.report.render_html`. Nothing in the rendering step computes a metric."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING

import pandas as pd

from cueva.periods import Period

if TYPE_CHECKING:
    from cueva.contract import Contract

#: The pack's sections, in the order of the issue and of the document.
SECTIONS: tuple[str, ...] = (
    "summary",
    "scorecard",
    "funnel",
    "gap",
    "attribution",
    "glossary",
    "agenda",
    "actions",
)


#: ``PackData.unavailable`` value of a section whose part is not in this version of Cueva.
NOT_COMPUTED = "not_computed"


@dataclass
class PackData:
    """Everything the pack shows, as small result frames (columns documented per field).

    A section whose results could not be produced has its key in ``unavailable`` with the
    reason; it is shown as such in the pack, never with invented numbers.
    """

    company: str
    period: Period
    vs_label: str  # "plan" or the comparison period's label, e.g. "2026-Q1"
    currency: str
    today: date
    generated_at: datetime
    #: stages of ``cueva.metrics.funnel.funnel_report`` for the period: stage, label, owner,
    #: entered, next_stage, conversion_period, conversion_cohort, median_days, p90_days, ...
    funnel: pd.DataFrame | None = None
    #: the same for the comparison period: the --vs period, or the previous period when the
    #: pack compares with the plan
    funnel_vs: pd.DataFrame | None = None
    compare_label: str | None = None
    #: planned entries per stage: stage, planned
    funnel_plan: pd.DataFrame | None = None
    #: deal metrics (one row) of the period and of the comparison period:
    #: won, lost, win_rate, won_amount, avg_deal_size, sales_cycle_median_days, ...
    deals: pd.DataFrame | None = None
    deals_vs: pd.DataFrame | None = None
    #: service levels (cueva.sla.scorecard, renamed): name, kind, giver, receiver, target,
    #: actual, unit, status (met, on track, at risk, missed, no data, no target), trend
    #: (list of earlier actuals, oldest first)
    scorecard: pd.DataFrame | None = None
    #: gap factors: factor, label, owner, base, actual (factor values), contribution
    gap: pd.DataFrame | None = None
    #: revenue of the base (plan or earlier period) and of the period, from the gap analysis
    revenue_base: float | None = None
    revenue_actual: float | None = None
    #: the gap analysis's note on what its rates mean (cueva.gap.caveat), in its language
    gap_caveat: str | None = None
    #: the contract's revenue target for the period (targets.<period>.revenue)
    revenue_plan: float | None = None
    #: gap by segment (GapResult.segment_table): segment, one column per factor key with
    #: its contribution in that segment, total
    gap_segments: pd.DataFrame | None = None
    gap_segment_labels: dict[str, str] = field(default_factory=dict)
    gap_segment_by: str | None = None
    #: the segment column asked for the breakdown (e.g. channel)
    segment_by: str | None = None
    #: attribution per channel (cueva.attribution.attribute_store, the contract's model):
    #: channel, conversions, pipeline, revenue, margin, spend, roi ((revenue - spend) / spend)
    attribution: pd.DataFrame | None = None
    #: marketing-sourced vs influenced pipeline: kind (sourced, influenced), pipeline, share
    sourced: pd.DataFrame | None = None
    attribution_model: str | None = None
    #: the milestone credited (lead, mql, sql, opportunity, won), from the contract
    attribution_milestone: str | None = None
    sourced_rule: str | None = None
    #: glossary excerpt: name (metric or stage), label, definition, owner, source (contract,
    #: registry), in ``lang``
    glossary: pd.DataFrame | None = None
    #: open action items (cueva.actions.list_actions) as of ``today``
    actions: pd.DataFrame | None = None
    #: agenda threshold: a gap factor gets its own agenda item when its contribution is at
    #: least this share of the base revenue
    agenda_threshold: float = 0.05
    #: the language the results were computed for (texts made by other parts, e.g. factor
    #: labels, follow it)
    lang: str = "en"
    unavailable: dict[str, str] = field(default_factory=dict)
    #: section -> the module that would compute it, for sections marked NOT_COMPUTED
    missing_parts: dict[str, str] = field(default_factory=dict)
    #: names of the metrics shown (for the glossary excerpt)
    metrics_shown: list[str] = field(default_factory=list)
    #: the workspace's contract (plain data, not a connection): the pack shows its own text
    #: (stage labels, service-level names and promises, glossary definitions) in the report
    #: language from its ``translations``, else as written
    contract: Contract | None = None


__all__ = ["NOT_COMPUTED", "SECTIONS", "PackData"]
