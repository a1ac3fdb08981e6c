"""import-crm, import-warehouse, mapping suggest, quarantine: bring your own data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

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

if TYPE_CHECKING:
    from cueva.sources import SourceSummary

mapping_app = typer.Typer(
    help="Mapping files for CRMs and spreadsheets Cueva does not know.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def register(app: typer.Typer) -> None:
    app.command("import-crm")(import_crm)
    app.command("import-warehouse")(import_wh)
    app.command("quarantine")(show_quarantine)
    mapping_app.command("suggest")(suggest)
    app.add_typer(mapping_app, name="mapping")


DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Read, map and summarise; write nothing.")
]
QuarantineOpt = Annotated[
    bool,
    typer.Option(
        "--quarantine",
        help="Import the rows that map; hold back the others in the quarantine table.",
    ),
]


def print_summary(summary: SourceSummary, fmt: OutputFormat) -> None:
    """Print an import summary; a dry run that would fail exits 1."""
    import pandas as pd

    from cueva.output import emit

    if fmt == OutputFormat.json:
        console.print_json(json.dumps(summary.to_dict(), default=str))
    elif fmt == OutputFormat.csv:
        emit(pd.DataFrame([t.__dict__ for t in summary.tables]), "csv", console=console)
    else:
        for line in summary.lines():
            console.print(line, markup=False)
    if summary.dry_run and summary.import_problems:
        raise UsageError(
            f"the canonical import would reject {summary.import_problems:,} problem(s): "
            "nothing would be written (fix the mapping; see the problems above)"
        )
    if summary.dry_run and summary.problem_rows and not summary.quarantine:
        raise UsageError(
            f"{summary.problem_rows:,} row(s) did not map: the import would fail "
            "(fix the mapping or add --quarantine)"
        )


def _stage_dates(items: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        stage, sep, field = item.partition("=")
        if not sep or not stage.strip() or not field.strip():
            raise UsageError(
                f"--stage-date expects STAGE=FIELD, e.g. mql=MQL_Date__c; got {item!r}"
            )
        out[stage.strip()] = field.strip()
    return out


def import_crm(
    path: WorkspaceArg,
    salesforce: Annotated[
        Path | None, typer.Option(help="Folder of a Salesforce export (Lead.csv, ...).")
    ] = None,
    hubspot: Annotated[
        Path | None, typer.Option(help="Folder of HubSpot exports (contacts, companies, deals).")
    ] = None,
    mapping: Annotated[
        Path | None, typer.Option(help="A mapping.yaml describing any CRM's files.")
    ] = None,
    values: Annotated[
        Path | None,
        typer.Option(help="YAML of value maps that extend the defaults (lead_status, ...)."),
    ] = None,
    stage_date: Annotated[
        list[str] | None,
        typer.Option(help="Salesforce: STAGE=Field__c holding the date a lead entered STAGE."),
    ] = None,
    source_timezone: Annotated[
        str | None,
        typer.Option(help="HubSpot: time zone of the export's timestamps (default: contract's)."),
    ] = None,
    dry_run: DryRunOpt = False,
    quarantine: QuarantineOpt = False,
    fmt: FormatOpt = OutputFormat.table,
    store: StoreOpt = None,
) -> None:
    """Import a CRM export: Salesforce, HubSpot, or any CRM through a mapping file.

    Prints what was read, mapped, merged, dropped and not understood.

    Example: cueva import-crm ./acme --salesforce exports/sf-2026-05 --dry-run
    """
    from cueva.sources import import_hubspot, import_mapping, import_salesforce, load_value_maps

    chosen = [x for x in (salesforce, hubspot, mapping) if x is not None]
    if len(chosen) != 1:
        raise UsageError("give exactly one of --salesforce DIR, --hubspot DIR, --mapping FILE")
    maps = load_value_maps(values) if values else None
    if mapping is not None and (maps or stage_date):
        raise UsageError(
            "--values and --stage-date apply to --salesforce/--hubspot; put value "
            "maps in the mapping file"
        )
    with open_workspace(path, store) as ws:
        st = ws.store()
        if salesforce is not None:
            summary = import_salesforce(
                st,
                salesforce,
                ws.contract,
                values=maps,
                stage_dates=_stage_dates(stage_date),
                dry_run=dry_run,
                quarantine=quarantine,
            )
        elif hubspot is not None:
            summary = import_hubspot(
                st,
                hubspot,
                ws.contract,
                values=maps,
                source_timezone=source_timezone,
                dry_run=dry_run,
                quarantine=quarantine,
            )
        else:
            assert mapping is not None
            summary = import_mapping(
                st, mapping, ws.contract, dry_run=dry_run, quarantine=quarantine
            )
        print_summary(summary, fmt)


def import_wh(
    path: WorkspaceArg,
    url: Annotated[
        str,
        typer.Option(
            help="Ibis URL of the warehouse, e.g. duckdb:///data/wh.duckdb, postgres://..."
        ),
    ],
    kind: Annotated[
        str, typer.Option(help="auto, salesforce (dbt_salesforce) or hubspot (dbt_hubspot).")
    ] = "auto",
    dry_run: DryRunOpt = False,
    quarantine: QuarantineOpt = False,
    fmt: FormatOpt = OutputFormat.table,
    store: StoreOpt = None,
) -> None:
    """Import Fivetran dbt_salesforce / dbt_hubspot final models from a warehouse.

    Example: cueva import-warehouse ./acme --url duckdb:///data/warehouse.duckdb --dry-run
    """
    from cueva.sources import import_warehouse

    with open_workspace(path, store) as ws:
        summary = import_warehouse(
            ws.store(), url, ws.contract, kind=kind, dry_run=dry_run, quarantine=quarantine
        )
        print_summary(summary, fmt)


def show_quarantine(
    path: WorkspaceArg, fmt: FormatOpt = OutputFormat.table, store: StoreOpt = None
) -> None:
    """Rows held back by the last --quarantine import of each source, and why.

    Example: cueva quarantine ./acme --format csv > held-back.csv
    """
    from cueva.output import emit
    from cueva.sources import quarantined

    with open_workspace(path, store) as ws:
        emit(quarantined(ws.store()), fmt.value, console=console, title="quarantined rows")


def suggest(
    file: Annotated[Path, typer.Argument(help="A CSV export of any CRM or spreadsheet.")],
    table: Annotated[
        str | None, typer.Option(help="Canonical table to map to (default: best match).")
    ] = None,
    sep: Annotated[str | None, typer.Option(help="CSV separator (default: detect).")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the YAML here instead of stdout.")
    ] = None,
) -> None:
    """Propose a mapping.yaml by matching headers (English, Spanish, Portuguese).

    Example: cueva mapping suggest exports/leads.csv -o mapping.yaml
    """
    from cueva.sources import suggest_mapping

    text = suggest_mapping(file, sep=sep, table=table).to_yaml()
    if output is not None:
        if output.exists():
            raise UsageError(f"{output} exists already; choose another --output")
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {output}: edit it, then 'cueva import-crm WS --mapping {output}'")
    else:
        typer.echo(text, nl=False)
