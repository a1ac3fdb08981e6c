"""Every metric, defined once: name, label, unit, owner team, which direction is good and a
one-line definition in plain words.

A metric's ``name`` is the column that holds it in the result frames, in JSON output, in
reports and in the contract; ``docs/metrics.md`` documents each one (a test checks it).
``builder`` names the function that computes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Unit = Literal["count", "rate", "days", "money", "ratio"]
Owner = Literal["marketing", "sales", "shared"]


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    unit: Unit
    owner: Owner
    higher_is_better: bool
    definition: str
    #: The function that computes it (``module:function``).
    builder: str
    #: The result section it appears in (``funnel_report`` key).
    section: str


_F = "cueva.metrics.funnel:"

METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric(
            "entered",
            "Entered",
            "count",
            "shared",
            True,
            "Entities (people or opportunities) whose first entry into the stage falls in the "
            "period.",
            _F + "stage_counts",
            "stages",
        ),
        Metric(
            "conversion_period",
            "Conversion (period)",
            "rate",
            "shared",
            True,
            "Entries into the next stage in the period divided by entries into this stage in "
            "the same period.",
            _F + "conversion_by_period",
            "stages",
        ),
        Metric(
            "conversion_cohort",
            "Conversion (cohort)",
            "rate",
            "shared",
            True,
            "Of those who entered this stage in the period, the share that reached the next "
            "stage within the conversion window (N days).",
            _F + "conversion_by_cohort",
            "stages",
        ),
        Metric(
            "median_days",
            "Median days to next stage",
            "days",
            "shared",
            False,
            "Median time from entering this stage to entering the next, over entries into the "
            "next stage in the period.",
            _F + "stage_times",
            "stages",
        ),
        Metric(
            "p90_days",
            "P90 days to next stage",
            "days",
            "shared",
            False,
            "90th percentile of the time from entering this stage to entering the next, over "
            "entries into the next stage in the period.",
            _F + "stage_times",
            "stages",
        ),
        Metric(
            "win_rate",
            "Win rate",
            "rate",
            "sales",
            True,
            "Won deals / (won + lost deals), over opportunities closed in the period.",
            _F + "deal_metrics",
            "deals",
        ),
        Metric(
            "win_rate_value",
            "Win rate by value",
            "rate",
            "sales",
            True,
            "Amount won / (amount won + amount lost), over opportunities closed in the period.",
            _F + "deal_metrics",
            "deals",
        ),
        Metric(
            "avg_deal_size",
            "Average deal size",
            "money",
            "sales",
            True,
            "Mean amount of the deals won in the period.",
            _F + "deal_metrics",
            "deals",
        ),
        Metric(
            "sales_cycle_median_days",
            "Sales cycle (median)",
            "days",
            "sales",
            False,
            "Median days from an opportunity's creation to its close date, over deals won in "
            "the period.",
            _F + "deal_metrics",
            "deals",
        ),
        Metric(
            "sales_cycle_mean_days",
            "Sales cycle (mean)",
            "days",
            "sales",
            False,
            "Mean days from an opportunity's creation to its close date, over deals won in the "
            "period.",
            _F + "deal_metrics",
            "deals",
        ),
        Metric(
            "open_deals",
            "Open deals",
            "count",
            "sales",
            True,
            "Opportunities created before the end of the period and not closed by then.",
            _F + "open_pipeline",
            "pipeline",
        ),
        Metric(
            "open_pipeline",
            "Open pipeline",
            "money",
            "sales",
            True,
            "Total amount of the open deals at the end of the period.",
            _F + "open_pipeline",
            "pipeline",
        ),
        Metric(
            "pipeline_coverage",
            "Pipeline coverage",
            "ratio",
            "sales",
            True,
            "Open pipeline divided by the target it must cover (e.g. next quarter's bookings "
            "target).",
            _F + "open_pipeline",
            "pipeline",
        ),
    )
}


def metric(name: str) -> Metric:
    """The registered metric ``name`` (KeyError with the valid names otherwise)."""
    try:
        return METRICS[name]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}; known: {', '.join(METRICS)}") from None


def rate_columns() -> list[str]:
    """Names of the metrics shown as percentages."""
    return [m.name for m in METRICS.values() if m.unit == "rate"]


__all__ = ["METRICS", "Metric", "Owner", "Unit", "metric", "rate_columns"]
