"""Errors the canonical import finds in a mapping import name the source file, row and
column, and count the problems not shown per source file (issue 6, bugs found on Leads.csv);
expected rows are computed with plain pandas on the same CSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cueva.errors import ImportValidationError
from cueva.sources import import_mapping
from cueva.workspace import Workspace
from tests.conftest import write

MAPPING = """\
tables:
  people:
    file: leads.csv
    columns: {person_id: Codigo, created_at: Alta, owner_id: Vendedor}
    stage_events:
      - {stage: mql, at: Fecha MQL}
  stage_events:
    file: eventos.csv
    columns: {entity_id: Lead, entered_at: Fecha}
    constants: {entity_type: person, stage: sql}
"""


def export(tmp_path: Path, n: int, seed: int) -> tuple[Path, pd.DataFrame, pd.DataFrame]:
    """``n`` leads in shuffled id order (so source order is not key order), a third of them
    with an owner the store does not know; and ``n`` events, half for unknown leads."""
    rng = np.random.default_rng(seed)
    ids = [f"L{i:04d}" for i in rng.permutation(n)]
    leads = pd.DataFrame(
        {
            "Codigo": ids,
            "Alta": "2026-01-05 10:00:00",
            "Vendedor": rng.choice(["", "nadie"], size=n, p=[2 / 3, 1 / 3]),
            "Fecha MQL": "2026-01-06 10:00:00",
        }
    )
    unknown = rng.random(n) < 0.5
    events = pd.DataFrame(
        {
            "Lead": np.where(unknown, [f"X{i:04d}" for i in range(n)], ids),
            "Fecha": "2026-01-07 10:00:00",
        }
    )
    leads.to_csv(tmp_path / "leads.csv", index=False)
    events.to_csv(tmp_path / "eventos.csv", index=False)
    return write(tmp_path / "mapping.yaml", MAPPING), leads, events


def rows_where(frame: pd.DataFrame, mask: pd.Series) -> list[int]:
    """CSV row numbers (header is row 1) of the rows where ``mask`` holds."""
    return [i + 2 for i in frame.index[mask]]


def test_errors_name_source_rows_and_columns(workspace: Workspace, tmp_path: Path) -> None:
    path, leads, events = export(tmp_path, 90, seed=7)
    with pytest.raises(ImportValidationError) as info:
        import_mapping(workspace.store(), path, workspace.contract)
    exc = info.value
    bad_owner = rows_where(leads, leads.Vendedor == "nadie")
    bad_lead = rows_where(events, events.Lead.str.startswith("X"))
    assert len(bad_owner) > 20 and len(bad_lead) > 20  # more than the importer shows
    by_file: dict[str, list[tuple[int | None, str | None, str | None]]] = {}
    for e in exc.errors:
        by_file.setdefault(e.file, []).append((e.row, e.column, e.value))
    # The source column (Vendedor, Lead), the source rows in order, the first 20 per file.
    assert by_file["leads.csv"] == [(r, "Vendedor", "nadie") for r in bad_owner[:20]]
    lead_of = dict(zip(rows_where(events, events.Lead != ""), events.Lead, strict=True))
    assert by_file["eventos.csv"] == [(r, "Lead", lead_of[r]) for r in bad_lead[:20]]
    assert set(by_file) == {"leads.csv", "eventos.csv"}
    # Every problem counted once, under the names the errors use: people come from one file
    # (the rest is leads.csv's); stage_events from two (the rest under the table's name).
    assert sum(exc.counts.values()) == len(bad_owner) + len(bad_lead)
    assert exc.counts["leads.csv"] == len(bad_owner)
    rest = len(bad_lead) - 20
    assert exc.counts == {
        "leads.csv": len(bad_owner),
        "eventos.csv": 20,
        "stage_events (built from the mapping export)": rest,
    }
    text = str(exc)
    assert f"leads.csv: ... and {len(bad_owner) - 20} more problem(s)" in text
    assert f"stage_events (built from the mapping export): ... and {rest} more problem(s)" in text
    assert workspace.store().table("people").count().to_pyarrow().as_py() == 0


def test_dry_run_lists_the_same_errors(workspace: Workspace, tmp_path: Path) -> None:
    path, leads, events = export(tmp_path, 30, seed=3)
    with pytest.raises(ImportValidationError) as info:
        import_mapping(workspace.store(), path, workspace.contract)
    dry = import_mapping(workspace.store(), path, workspace.contract, dry_run=True)
    assert dry.import_errors == [str(e) for e in info.value.errors]
    assert dry.import_problems == sum(info.value.counts.values()) == dry.problem_rows
    assert (
        dry.import_problems
        == (leads.Vendedor == "nadie").sum() + events.Lead.str.startswith("X").sum()
    )
    assert workspace.store().table("stage_events").count().to_pyarrow().as_py() == 0


def test_clean_dry_run_reports_no_import_problems(workspace: Workspace, tmp_path: Path) -> None:
    path, leads, _ = export(tmp_path, 30, seed=5)
    (tmp_path / "eventos.csv").write_text("Lead,Fecha\n", encoding="utf-8")
    leads.assign(Vendedor="").to_csv(tmp_path / "leads.csv", index=False)
    dry = import_mapping(workspace.store(), path, workspace.contract, dry_run=True)
    assert (dry.import_problems, dry.problem_rows, dry.import_errors) == (0, 0, [])
    assert dry.table_rows("people") == 30
    assert workspace.store().table("people").count().to_pyarrow().as_py() == 0
    real = import_mapping(workspace.store(), path, workspace.contract)
    assert real.written and real.imported_rows == 60  # 30 people, 30 mql events
