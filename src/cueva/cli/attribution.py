"""cueva attribute: credit channels and campaigns with pipeline, revenue and margin."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from cueva.cli.common import FormatOpt, OutputFormat, StoreOpt, console, open_workspace
from cueva.errors import UsageError


class Show(StrEnum):
    credits = "credits"
    comparison = "comparison"
    removal = "removal"
    transitions = "transitions"
    campaigns = "campaigns"
    positions = "positions"
    summary = "summary"


def register(app: typer.Typer) -> None:
    app.command("attribute")(attribute)


def attribute(
    workspace: Annotated[
        Path | None,
        typer.Argument(help="Workspace folder (not needed with --paths).", show_default=False),
    ] = None,
    paths: Annotated[
        Path | None,
        typer.Option(
            "--paths",
            help="Aggregated path file (path;total_conversions;total_conversion_value;"
            "total_null) instead of the store.",
            show_default=False,
        ),
    ] = None,
    sep: Annotated[str, typer.Option(help="Column separator of the path file.")] = ";",
    path_sep: Annotated[str, typer.Option(help="Channel separator inside a path.")] = ">",
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="Model(s): first_touch, last_touch, last_non_direct, linear, time_decay, "
            "position_based, w_shaped, full_path, custom, markov, shapley, shapley_ordered; "
            "a comma list or 'all' (default: the contract's).",
            show_default=False,
        ),
    ] = None,
    order: Annotated[
        int | None, typer.Option(help="Markov order (1-6).", show_default=False)
    ] = None,
    milestone: Annotated[
        str | None,
        typer.Option(
            help="Credited stage: lead, mql, sql, opportunity, won...", show_default=False
        ),
    ] = None,
    lookback_days: Annotated[
        int | None, typer.Option(help="Touches this many days before the milestone count.")
    ] = None,
    inactivity_days: Annotated[
        int | None,
        typer.Option(help="Split journeys after this many days without touches."),
    ] = None,
    level: Annotated[
        str | None, typer.Option(help="person or account journeys.", show_default=False)
    ] = None,
    sourced_rule: Annotated[
        str | None,
        typer.Option(
            help="first_touch_marketing, lead_source or marketing_touch_before_sales_activity.",
            show_default=False,
        ),
    ] = None,
    half_life_days: Annotated[
        float | None, typer.Option(help="Time-decay half-life in days.", show_default=False)
    ] = None,
    shapley_value: Annotated[
        str | None,
        typer.Option(help="Shapley coalition value: conversions or conversion_rate."),
    ] = None,
    period: Annotated[
        str | None,
        typer.Option(help="Milestones in this period, e.g. 2026-Q2.", show_default=False),
    ] = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="First day (YYYY-MM-DD).", show_default=False)
    ] = None,
    to: Annotated[
        str | None, typer.Option("--to", help="Last day, inclusive.", show_default=False)
    ] = None,
    show: Annotated[
        Show | None,
        typer.Option(
            help="What to print: credits, comparison (default for several models), removal "
            "(Markov removal effects), transitions (Markov matrix), campaigns, positions "
            "(ordered Shapley credit per position), summary.",
            show_default=False,
        ),
    ] = None,
    fmt: FormatOpt = OutputFormat.table,
    store: StoreOpt = None,
) -> None:
    """Multi-touch attribution: which channels earned the pipeline, revenue and margin.

    Example: cueva attribute --paths Data.csv --sep ';' --model markov --order 1 --format csv

    Example: cueva attribute ./acme --model all --milestone won --level account --period 2026-Q2

    Example: cueva attribute ./acme -m shapley_ordered --show positions
    """
    from cueva.attribution.report import attribute_paths, attribute_store
    from cueva.attribution.settings import AttributionSettings

    changes = {
        "markov_order": order,
        "milestone": milestone,
        "lookback_days": lookback_days,
        "inactivity_days": inactivity_days,
        "level": level,
        "sourced_rule": sourced_rule,
        "half_life_days": half_life_days,
        "shapley_value": shapley_value,
    }

    def settings_from(base: AttributionSettings) -> AttributionSettings:
        from pydantic import ValidationError

        try:
            return base.override(**changes)
        except ValidationError as exc:
            first = exc.errors()[0]
            key = str(first["loc"][0]) if first["loc"] else "settings"
            option = "order" if key == "markov_order" else key.replace("_", "-")
            raise UsageError(f"--{option}: {first['msg']}") from None

    if paths is not None:
        if workspace is not None and (workspace / "cueva.yaml").is_file():
            base = open_workspace(workspace, store).contract.attribution
        else:
            base = AttributionSettings.model_validate({})
        if period or from_ or to:
            raise UsageError("--period/--from/--to need the store (a path file has no dates)")
        s = settings_from(base)
        result = attribute_paths(paths, model or "markov", s, sep=sep, path_sep=path_sep)
        what = f"{paths.name}"
    else:
        if workspace is None:
            raise UsageError("give a workspace folder, or a path file with --paths")
        from cueva.cli.contract import _period

        with open_workspace(workspace, store) as ws:
            s = settings_from(ws.contract.attribution)
            p = _period(ws.contract.fiscal_year_start, period, from_, to)
            result = attribute_store(
                ws.store(),
                ws.contract,
                model or s.model,
                s,
                start=p.start_dt if p else None,
                end=p.end_dt if p else None,
            )
        what = (
            f"milestone {s.milestone}, {s.level} journeys, {s.lookback_days}-day lookback, "
            f"sourced rule: {s.sourced_rule}" + (f", {p.label}" if p else "")
        )

    models = result.meta["models"]
    chosen = show or (Show.comparison if len(models) > 1 else Show.credits)
    if chosen == Show.credits:
        frame = result.credits
    elif chosen == Show.comparison:
        frame = result.comparison
    elif chosen == Show.summary:
        frame = result.summary
    elif chosen == Show.campaigns:
        if result.campaigns is None:
            raise UsageError("campaign credit needs the store (a path file has no campaigns)")
        frame = result.campaigns
    elif chosen == Show.positions:
        if result.positions is None:
            raise UsageError(
                "--show positions needs the ordered Shapley model (--model shapley_ordered)"
            )
        frame = result.positions
    else:
        table = result.removal_effects if chosen == Show.removal else result.transition_matrix
        if table is None:
            raise UsageError(f"--show {chosen.value} needs the markov model (--model markov)")
        frame = table
    label = ", ".join(
        f"markov order {result.meta['markov_order']}" if m == "markov" else m for m in models
    )
    from cueva.output import emit

    emit(
        frame,
        fmt.value,
        console=console,
        title=f"Attribution ({label}) - {what} - {chosen.value}",
        meta={**result.meta, "show": chosen.value},
    )
