"""plan, gap: the joint reverse-funnel plan and the blame-free gap analysis."""

from __future__ import annotations

from pathlib import Path
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
from cueva.periods import parse_period

if TYPE_CHECKING:
    import pandas as pd

# The gap analysis (Ibis, pandas, charts) is imported inside the commands: start-up of the
# command line stays light (see cueva.cli).


def register(app: typer.Typer) -> None:
    app.command("plan")(plan)
    app.command("gap")(gap)


PeriodOpt = Annotated[
    str, typer.Option("--period", "-p", help="Period: a quarter (2026-Q2), month or year.")
]
ByOpt = Annotated[
    str | None,
    typer.Option("--by", help="Split by a segment column: channel, segment, country, owner..."),
]


def plan(
    path: WorkspaceArg,
    period: PeriodOpt,
    target: Annotated[
        str,
        typer.Option(
            "--target",
            "-t",
            help="KIND=VALUE with KIND revenue, new_customers or pipeline (1.2M, 300k allowed).",
        ),
    ],
    window: Annotated[
        str | None,
        typer.Option(
            help="Trailing window for rates and lags, e.g. 2026-Q1..2026-Q2 "
            "(default: the last two full quarters before the period)."
        ),
    ] = None,
    by: ByOpt = None,
    mix: Annotated[
        str | None,
        typer.Option(
            help="Share of leads per segment (with --by), e.g. events=0.3,paid_search=0.7."
        ),
    ] = None,
    assume: Annotated[
        list[str] | None,
        typer.Option(
            help="What-if override, repeatable: win_rate=0.3, mql_rate=25%, deal_size=30k, "
            "won_days=60."
        ),
    ] = None,
    save: Annotated[
        bool,
        typer.Option(help="Save the plan (plans/PERIOD.yaml) and its targets into cueva.yaml."),
    ] = False,
    fmt: FormatOpt = OutputFormat.table,
    store: StoreOpt = None,
) -> None:
    """Work back from a target to the leads, MQLs, SQLs and opportunities needed, and the
    month each must arrive, from the trailing conversion rates and stage lags.

    Example: cueva plan ./acme --period 2027-Q1 --target revenue=1.2M --by channel --assume win_rate=0.3 --save
    """
    from cueva.gap.data import parse_window
    from cueva.gap.plan import monthly_schedule, parse_assumptions, parse_mix, parse_target
    from cueva.gap.run import make_plan, save_plan
    from cueva.output import emit, records

    kind, value = parse_target(target)
    with open_workspace(path, store) as ws:
        contract = ws.contract
        p = parse_period(period, contract.fiscal_year_start)
        win = parse_window(window) if window else None
        result = make_plan(
            ws.store(),
            contract,
            p,
            kind,
            value,
            window=win,
            by=by,
            mix=parse_mix(mix),
            assume=parse_assumptions(assume),
        )
        saved: tuple[Path, bool] | None = save_plan(ws, result) if save else None
    totals = result.totals()
    months = monthly_schedule(result)
    if fmt == OutputFormat.json:
        meta: dict[str, Any] = {
            **result.to_dict(),
            "schedule": records(months),
            "saved": str(saved[0]) if saved else None,
        }
        emit(totals, "json", console=console, meta=meta)
        return
    if fmt == OutputFormat.csv:
        emit(months, "csv", console=console)
        return
    console.print(
        f"Plan for {p.label}: {kind.replace('_', ' ')} {value:,.0f} "
        f"(rates and lags from {result.window})",
        markup=False,
    )
    emit(totals, "table", console=console, title="Entries needed per stage")
    emit(months, "table", console=console, title="When they must arrive (by month)")
    if by is not None:
        seg = result.needed.reset_index().rename(columns={"index": by})
        emit(seg, "table", console=console, title=f"Per {by}")
    if result.assumptions:
        shown = ", ".join(f"{k}={v:g}" for k, v in result.assumptions.items())
        console.print(f"assumptions: {shown}", markup=False)
    if saved:
        where = " and the targets in cueva.yaml" if saved[1] else ""
        console.print(f"saved {saved[0]}{where}", markup=False)


def gap(
    path: WorkspaceArg,
    period: PeriodOpt,
    vs: Annotated[
        str,
        typer.Option(help="Compare with 'plan' (the saved plan) or another period, e.g. 2026-Q1."),
    ] = "plan",
    by: ByOpt = None,
    metric: Annotated[
        str,
        typer.Option(
            help="What to decompose: revenue, pipeline, or a stage's count (mql, sql...)."
        ),
    ] = "revenue",
    margin: Annotated[
        bool, typer.Option(help="Decompose the gross margin (x gross-margin rate) instead.")
    ] = False,
    cohort: Annotated[
        bool,
        typer.Option(help="Count each stage after the plan's lags, so rates follow one cohort."),
    ] = False,
    chart: Annotated[
        Path | None,
        typer.Option(
            help="Write the waterfall chart to this .svg, .png or .json (Vega-Lite) file."
        ),
    ] = None,
    lang: Annotated[
        str | None, typer.Option(help="Summary language: en or es (default: the contract's).")
    ] = None,
    fmt: FormatOpt = OutputFormat.table,
    store: StoreOpt = None,
) -> None:
    """Split the revenue gap between plan (or another period) and actual exactly into funnel
    factors (LMDI-I), each owned by a team: lead volume, stage rates, win rate, deal size.

    Example: cueva gap ./acme --period 2026-Q2 --vs 2026-Q1 --by channel --chart gap.svg
    """
    from cueva.gap.chart import render, waterfall_spec
    from cueva.gap.run import gap_report, plan_for
    from cueva.gap.summary import caveat, summary
    from cueva.output import emit, records

    if lang is not None and lang not in ("en", "es"):
        raise UsageError(f"--lang must be en or es, got {lang!r}")
    if chart is not None and chart.suffix.lower() not in (".svg", ".png", ".json"):
        raise UsageError(f"--chart {chart}: use a .svg, .png or .json file name")
    with open_workspace(path, store) as ws:
        contract = ws.contract
        p = parse_period(period, contract.fiscal_year_start)
        saved = plan_for(ws, p, by) if vs == "plan" else None
        other = None if vs == "plan" else parse_period(vs, contract.fiscal_year_start)
        result = gap_report(
            ws.store(),
            contract,
            p,
            vs=other,
            plan=saved,
            by=by,
            metric=metric,
            margin=margin,
            cohort=cohort,
            language=lang,
        )
    text = summary(result)
    note = caveat(result)
    if saved is not None and saved.get("derived"):
        note = (
            f"No saved plan for {p.label}: the plan is the contract's revenue target worked back "
            f"through the rates and lags of {saved.get('window')} (save one with 'cueva plan "
            f"--save' to fix it). " + note
        )
    if chart is not None:
        spec = waterfall_spec(result)
        suffix = chart.suffix.lower()
        if suffix == ".json":
            import json

            chart.write_text(json.dumps(spec, indent=2), encoding="utf-8")
        elif suffix == ".svg":
            chart.write_text(str(render(spec, "svg")), encoding="utf-8")
        else:
            png = render(spec, "png")
            chart.write_bytes(png if isinstance(png, bytes) else png.encode())
    table = result.factors[["factor", "label", "owner", "base", "actual", "contribution", "share"]]
    shown = table.drop(columns="factor")
    if fmt == OutputFormat.json:
        meta = {
            "period": result.period,
            "vs": result.base_label,
            "metric": result.metric,
            "base": result.base_total,
            "actual": result.actual_total,
            "gap": result.gap,
            "by": by,
            "cohort": cohort,
            "summary": text,
            "caveat": note,
            "by_owner": records(result.by_owner()),
            "by_segment": records(result.segment_table()) if by else [],
        }
        emit(table, "json", console=console, meta=meta)
        return
    if fmt == OutputFormat.csv:
        emit(result.by_segment if by else table, "csv", console=console)
        return
    console.print(text, markup=False)
    emit(
        shown,
        "table",
        console=console,
        title=f"{result.metric} {result.period} vs {result.base_label}: gap {result.gap:,.0f}",
        percent_columns=("share",),
    )
    emit(result.by_owner(), "table", console=console, title="By owning team")
    if by is not None:
        emit(_segments(result.segment_table()), "table", console=console, title=f"By {by}")
    console.print(note, markup=False, style="dim")
    if chart is not None:
        console.print(f"wrote {chart}", markup=False)


def _segments(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("total", key=lambda s: s.abs(), ascending=False)


__all__ = ["gap", "plan", "register"]
