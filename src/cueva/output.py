"""Render results (small frames) as a Rich table, CSV or JSON. Views compute nothing here."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Literal

import pandas as pd
from rich.console import Console
from rich.table import Table

Format = Literal["table", "csv", "json"]

#: Cells starting with these are read as formulas by spreadsheets; exported CSV neutralises them.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> Any:
    """Prefix text that a spreadsheet would run as a formula with a quote (OWASP advice)."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NaT:
        return None
    if isinstance(value, (pd.Timestamp, datetime, date)):
        return value.isoformat()
    if hasattr(value, "item"):
        return _plain(value.item())
    return value


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): _plain(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def to_csv(frame: pd.DataFrame) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([csv_safe(str(c)) for c in frame.columns])
    for row in records(frame):
        writer.writerow(["" if v is None else csv_safe(v) for v in row.values()])
    return buf.getvalue()


def to_json(frame: pd.DataFrame, meta: dict[str, Any] | None = None) -> str:
    payload: Any = records(frame)
    if meta is not None:
        payload = {**meta, "rows": payload}
    return json.dumps(payload, ensure_ascii=False, indent=2, default=str)


def _cell(value: Any, column: str, percent_columns: Sequence[str]) -> str:
    value = _plain(value)
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if column in percent_columns:
            return f"{value:.1%}"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def rich_table(
    frame: pd.DataFrame, title: str | None = None, percent_columns: Sequence[str] = ()
) -> Table:
    table = Table(title=title, header_style="bold")
    for col in frame.columns:
        numeric = pd.api.types.is_numeric_dtype(frame[col])
        table.add_column(str(col), justify="right" if numeric else "left")
    for row in records(frame):
        # markup=False semantics: CRM names are shown as text, never as Rich markup
        from rich.text import Text

        table.add_row(*(Text(_cell(v, str(k), percent_columns)) for k, v in row.items()))
    return table


def emit(
    frame: pd.DataFrame,
    fmt: Format | str,
    *,
    console: Console | None = None,
    title: str | None = None,
    percent_columns: Sequence[str] = (),
    meta: dict[str, Any] | None = None,
) -> None:
    """Print ``frame`` in ``fmt`` to stdout."""
    console = console or Console()
    if fmt == "csv":
        console.file.write(to_csv(frame))
    elif fmt == "json":
        console.file.write(to_json(frame, meta) + "\n")
    else:
        console.print(rich_table(frame, title, percent_columns))


__all__ = [
    "FORMULA_PREFIXES",
    "Format",
    "csv_safe",
    "emit",
    "records",
    "rich_table",
    "to_csv",
    "to_json",
]
