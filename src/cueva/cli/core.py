"""init, import, status."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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
from cueva.workspace import Workspace

# The library (Ibis, pandas, the importer) is imported inside the commands: start-up of the
# command line stays light (see cueva.cli).

PROGRESS_MIN_BYTES = 4 << 20


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("import")(import_cmd)
    app.command("status")(status)


def init(
    path: WorkspaceArg,
    company: Annotated[
        str | None, typer.Option(help="Company name (default: the folder name).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing cueva.yaml.")] = False,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            help="Store URL the workspace keeps using (recorded in store.url), e.g. "
            "postgresql://me@db:5432/cueva; no password in it (PGPASSWORD or ~/.pgpass). "
            "Default: the workspace's own cueva.duckdb.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Create a workspace: a commented starter cueva.yaml and an empty store.

    Example: cueva init ./acme --company "Acme Robotics"

    Example (a team's PostgreSQL store): cueva init ./team --store postgresql://me@db:5432/cueva
    """
    ws = Workspace.init(path, company, force=force, store_url=store)
    console.print(f"created {ws.contract_path} and the store {ws.store_label}")
    console.print("next: edit the contract with both teams, then 'cueva import' your data")


def import_cmd(
    path: WorkspaceArg,
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="CSV or Parquet files named after their table.", show_default=False),
    ] = None,
    encoding: Annotated[
        str, typer.Option(help="Encoding of CSV files, e.g. utf-8, latin-1, cp1252.")
    ] = "utf-8",
    sep: Annotated[
        str | None, typer.Option(help="CSV separator (default: detect ',' or ';').")
    ] = None,
    decimal: Annotated[str, typer.Option(help="Decimal mark in CSV numbers: '.' or ','.")] = ".",
    force: Annotated[
        bool, typer.Option(help="Import files even if the same content was imported before.")
    ] = False,
    mapping: Annotated[
        Path | None,
        typer.Option(
            help="Import any CRM's files through a mapping.yaml instead (see 'cueva mapping suggest').",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option(help="With --mapping: show what would be imported, write nothing.")
    ] = False,
    quarantine: Annotated[
        bool,
        typer.Option(help="With --mapping: import the rows that map, hold back the others."),
    ] = False,
    store: StoreOpt = None,
) -> None:
    """Import canonical CSV/Parquet files, all or nothing (or any CRM's files with --mapping).

    Example: cueva import ./acme data/people.csv data/opportunities.parquet --encoding cp1252 --sep ';' --decimal ,

    Example: cueva import ./acme --mapping mapping.yaml --dry-run
    """
    if mapping is not None:
        if files:
            raise UsageError("give either files or --mapping (the mapping names its own files)")
        from cueva.cli.sources import print_summary
        from cueva.sources import import_mapping

        with open_workspace(path, store) as ws:
            summary = import_mapping(
                ws.store(), mapping, ws.contract, dry_run=dry_run, quarantine=quarantine
            )
            print_summary(summary, OutputFormat.table)
        return
    if dry_run or quarantine:
        raise UsageError("--dry-run and --quarantine go with --mapping (or use 'cueva import-crm')")
    if not files:
        raise UsageError("name the files to import, or give --mapping FILE")
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

    from cueva.importer import import_files

    with open_workspace(path, store) as ws:
        big = sum(f.stat().st_size for f in files if f.is_file()) >= PROGRESS_MIN_BYTES
        with Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=not big,
            transient=True,
        ) as bar:
            task = bar.add_task("importing", total=None)

            def on_progress(message: str, done: int, total: int) -> None:
                bar.update(task, description=message, completed=done, total=total)

            result = import_files(
                ws.store(),
                files,
                encoding=encoding,
                sep=sep,
                decimal=decimal,
                timezone=ws.contract.timezone,
                force=force,
                progress=on_progress,
            )
        for f in result.files:
            if f.skipped:
                console.print(f"{f.file}: unchanged since its last import, skipped")
            else:
                console.print(f"{f.file}: {f.rows:,} rows -> {f.table}")
        rate = result.rows / result.seconds if result.seconds else 0
        console.print(
            f"imported {result.rows:,} rows in {result.seconds:.2f}s ({rate:,.0f} rows/s)"
        )


def status(path: WorkspaceArg, fmt: FormatOpt = OutputFormat.table, store: StoreOpt = None) -> None:
    """What is loaded: tables, rows, date ranges, last import.

    Example: cueva status ./acme --format json
    """
    from cueva.output import emit
    from cueva.status import status as store_status

    with open_workspace(path, store) as ws:
        frame = store_status(ws.store())
        emit(
            frame,
            fmt.value if hasattr(fmt, "value") else fmt,
            console=console,
            title=f"store: {ws.store().url}",
        )
