"""Joint plan and blame-free gap analysis (docs/gap.md).

- :func:`make_plan`: the reverse funnel from a target to stage counts and arrival months;
  :func:`save_plan` / :func:`load_plan` keep it beside the contract (and in its targets).
- :func:`gap_report`: the exact LMDI-I split of a gap into funnel factors owned by teams.
- :func:`summary`, :func:`caveat`, :func:`waterfall_spec`, :func:`render`: what views show.
"""

from __future__ import annotations

from cueva.gap.chart import render, waterfall_frame, waterfall_spec
from cueva.gap.decompose import GapResult, decompose
from cueva.gap.factors import Factor, funnel_factors
from cueva.gap.lmdi import lmdi, lmdi_segments, logmean
from cueva.gap.plan import Baseline, Plan, build_plan, monthly_schedule
from cueva.gap.run import gap_report, load_plan, make_plan, save_plan
from cueva.gap.summary import caveat, summary

__all__ = [
    "Baseline",
    "Factor",
    "GapResult",
    "Plan",
    "build_plan",
    "caveat",
    "decompose",
    "funnel_factors",
    "gap_report",
    "lmdi",
    "lmdi_segments",
    "load_plan",
    "logmean",
    "make_plan",
    "monthly_schedule",
    "render",
    "save_plan",
    "summary",
    "waterfall_frame",
    "waterfall_spec",
]
