"""cueva funnel: stage counts, conversion, time between stages, deals and pipeline."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cueva.cli.common import (
    FormatOpt,
    OutputFormat,
    StoreOpt,
    WorkspaceArg,
    console,
    open_workspace,
)
from cueva.errors import UsageError
from cueva.periods import GRAINS, PERIOD_FORMS, Period, parse_period, period_from_range

if TYPE_CHECKING:
    import pandas as pd

# The metrics (Ibis, pandas) are imported inside the command: start-up of the command line
# stays light (see cueva.cli).

SECTION_TITLES = {
    "stages": "Funnel stages",
    "deals": "Deals closed: win rate, deal size, sales cycle",
    "pipeline": "Open pipeline",
}


class Section(StrEnum):
    stages = "stages"
    deals = "deals"
    pipeline = "pipeline"


class GrainOpt(StrEnum):
    week = "week"
    month = "month"
    quarter = "quarter"


def register(app: typer.Typer) -> None:
    app.command("funnel")(funnel)


def funnel(
    path: WorkspaceArg,
    from_: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="First day (YYYY-MM-DD); default: the data's first day.",
            show_default=False,
        ),
    ] = None,
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="Last day, included (YYYY-MM-DD); default: the data's last day.",
            show_default=False,
        ),
    ] = None,
    period: Annotated[
        str | None,
        typer.Option(
            help=f"A named period instead of --from/--to: {PERIOD_FORMS}.", show_default=False
        ),
    ] = None,
    by: Annotated[
        str | None,
        typer.Option(
            help="Segment by a column of people (e.g. channel, lead_source, segment, country, "
            "any extra column), else of accounts (e.g. industry), or 'owner'; a column of "
            "opportunities (e.g. type) segments the deal sections only (deals, pipeline).",
            show_default=False,
        ),
    ] = None,
    grain: Annotated[
        GrainOpt | None,
        typer.Option(help=f"Time grain: {', '.join(GRAINS)}.", show_default=False),
    ] = None,
    window_days: Annotated[
        int | None,
        typer.Option(
            help="Cohort conversion window in days (default: the contract's "
            "conversion_window_days).",
            show_default=False,
        ),
    ] = None,
    target_pipeline: Annotated[
        float | None,
        typer.Option(
            help="Target for pipeline coverage (open pipeline / target).", show_default=False
        ),
    ] = None,
    section: Annotated[
        Section | None,
        typer.Option(
            help="Show one section only: stages, deals or pipeline (CSV shows one; default "
            "stages, or deals when --by is a column of opportunities).",
            show_default=False,
        ),
    ] = None,
    all_deals: Annotated[
        bool,
        typer.Option(
            "--all-deals",
            help="Deal sections count every opportunity, not only those the won stage's "
            "'filter' keeps (e.g. also expansions and renewals).",
        ),
    ] = False,
    fmt: FormatOpt = OutputFormat.table,
    store: StoreOpt = None,
) -> None:
    """The funnel for a period: how many entered each stage, conversion to the next stage
    (by period and by cohort), days between stages, win rate, deal size, sales cycle and
    open pipeline.

    Example: cueva funnel ./acme --from 2026-01-01 --to 2026-06-30 --by channel --grain month

    Example (win rate by deal type, every type): cueva funnel ./acme --period 2026-Q1 --by type
    --all-deals
    """
    from cueva.metrics.funnel import deal_filter, funnel_report
    from cueva.metrics.registry import rate_columns
    from cueva.output import emit, records

    with open_workspace(path, store) as ws:
        contract = ws.contract
        st = ws.store()
        chosen = _period(st, contract, from_, to, period)
        report = funnel_report(
            st,
            contract,
            chosen,
            by=by,
            grain=grain.value if grain is not None else None,
            window_days=window_days,
            target_pipeline=target_pipeline,
            sections=[section.value] if section is not None else None,
            opportunity_filter={} if all_deals else None,
        )
        window = window_days if window_days is not None else contract.funnel.conversion_window_days
    fmt_value = fmt.value if hasattr(fmt, "value") else str(fmt)
    names = list(report)
    if fmt_value == "json":
        payload: dict[str, Any] = {
            "period": {
                "label": chosen.label,
                "first_day": chosen.start.isoformat(),
                "last_day": chosen.last_day.isoformat(),
            },
            "by": by,
            "grain": grain.value if grain is not None else None,
            "window_days": window,
            "target_pipeline": target_pipeline,
            "deal_filter": deal_filter(contract, {} if all_deals else None),
            "currency": contract.currency,
        }
        payload.update({n: records(report[n]) for n in names})
        console.file.write(json.dumps(payload, ensure_ascii=False, indent=2, default=str) + "\n")
        return
    if fmt_value == "csv":
        emit(report[names[0]], "csv", console=console)
        return
    console.print(
        f"{contract.company} funnel, {chosen.label} ({chosen.start} to {chosen.last_day})"
        f"{f', by {by}' if by else ''}; cohort window {window} days; amounts in {contract.currency}"
    )
    for n in names:
        emit(
            _for_display(report[n]),
            "table",
            console=console,
            title=SECTION_TITLES[n],
            percent_columns=[_LABELS.get(c, c) for c in rate_columns()],
        )


#: Short column headings for the table view (JSON and CSV keep the metric names).
_LABELS = {
    "next_stage": "next",
    "entered": "entered",
    "conversion_period": "conv. period",
    "cohort": "cohort",
    "reached": "reached",
    "conversion_cohort": "conv. cohort",
    "median_days": "median days",
    "p90_days": "p90 days",
    "won_amount": "won amount",
    "lost_amount": "lost amount",
    "win_rate": "win rate",
    "win_rate_value": "win rate (value)",
    "avg_deal_size": "avg deal",
    "sales_cycle_median_days": "cycle median days",
    "sales_cycle_mean_days": "cycle mean days",
    "as_of": "as of",
    "open_deals": "open deals",
    "open_pipeline": "open pipeline",
    "pipeline_coverage": "coverage",
}


def _for_display(frame: pd.DataFrame) -> pd.DataFrame:
    """Short headings, without the columns that only JSON/CSV need (the values are
    not changed)."""
    hidden = ("label", "owner", "next_stage", "won_amount", "lost_amount")
    shown = frame.drop(columns=[c for c in hidden if c in frame.columns])
    return shown.rename(columns=_LABELS)


def _period(
    store: Any, contract: Any, from_: str | None, to: str | None, period: str | None
) -> Period:
    from cueva.metrics.funnel import data_period

    if period is not None:
        if from_ is not None or to is not None:
            raise UsageError("give either --period or --from/--to, not both")
        return parse_period(period, contract.fiscal_year_start)
    if from_ is None and to is None:
        return data_period(store, contract)
    if from_ is None or to is None:
        whole = data_period(store, contract)
        return period_from_range(from_ or whole.start, to or whole.last_day)
    return period_from_range(from_, to)


__all__ = ["register"]
