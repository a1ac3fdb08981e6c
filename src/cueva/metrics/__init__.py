"""Metrics: each defined once (:mod:`cueva.metrics.registry`), built as Ibis expressions that
the engine runs, returning small pandas frames with documented columns."""

from __future__ import annotations

from cueva.metrics.funnel import (
    conversion_by_cohort,
    conversion_by_period,
    data_period,
    deal_metrics,
    funnel_report,
    open_pipeline,
    segment_columns,
    stage_counts,
    stage_entries,
    stage_times,
    with_segment,
)

__all__ = [
    "conversion_by_cohort",
    "conversion_by_period",
    "data_period",
    "deal_metrics",
    "funnel_report",
    "open_pipeline",
    "segment_columns",
    "stage_counts",
    "stage_entries",
    "stage_times",
    "with_segment",
]
