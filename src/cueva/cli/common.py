"""Options and helpers shared by the command modules."""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from cueva.workspace import Workspace

# Rich falls back to 80 columns when stdout is not a terminal (make, pipes, CI logs), which
# truncates wide tables; use a roomier width there unless COLUMNS says otherwise.
_width = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 160
console = Console(highlight=False, soft_wrap=True, width=_width)


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


WorkspaceArg = Annotated[
    Path,
    typer.Argument(
        help="Workspace folder (holds cueva.yaml and cueva.duckdb or store.url).",
        show_default=False,
    ),
]
FormatOpt = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="Output format: table, csv or json.")
]
StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Store URL for this command instead of the workspace's store (also env CUEVA_STORE).",
        show_default=False,
    ),
]


def open_workspace(path: Path, store: str | None = None) -> Workspace:
    return Workspace.open(path, store)
