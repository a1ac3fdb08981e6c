"""The engine's memory budget: small for a session that queries, larger while importing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from cueva.importer import import_files
from cueva.store.duckdb import (
    DEFAULT_MEMORY_LIMIT,
    IMPORT_MEMORY_LIMIT,
    MEMORY_LIMIT_ENV,
    DuckDBAdapter,
)
from cueva.workspace import Workspace

#: DuckDB reads "MB" and "GB" as powers of 1000.
BYTES = {"256MB": 256_000_000, "1GB": 1_000_000_000}


def limit(a: DuckDBAdapter) -> int:
    """The current memory_limit in bytes (DuckDB prints it rounded, e.g. '953.6 MiB')."""
    number, unit = a.query("SELECT current_setting('memory_limit')")[0][0].split()
    return int(float(number) * {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[unit])


def people(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(
        {
            "person_id": ["p1", "p2"],
            "created_at": pd.to_datetime(["2026-01-05 10:00", "2026-02-01 00:00"]),
        }
    ).to_parquet(path)
    return path


def during_import(ws: Workspace, path: Path, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    seen: list[int] = []
    original = DuckDBAdapter.write

    def spy(self: DuckDBAdapter, *a: Any) -> Any:
        seen.append(limit(self))
        return original(self, *a)

    monkeypatch.setattr(DuckDBAdapter, "write", spy)
    import_files(ws.store(), [path], timezone=ws.contract.timezone)
    return seen


def test_queries_get_the_small_budget_imports_the_large_one(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(MEMORY_LIMIT_ENV, raising=False)
    with Workspace.open(workspace.path) as ws:
        a = ws.store().adapter
        assert isinstance(a, DuckDBAdapter)
        query_budget = limit(a)
        assert abs(query_budget - BYTES[DEFAULT_MEMORY_LIMIT]) < 1 << 20
        seen = during_import(ws, people(tmp_path / "people.parquet"), monkeypatch)
        assert len(seen) == 1 and abs(seen[0] - BYTES[IMPORT_MEMORY_LIMIT]) < 1 << 20
        assert limit(a) == query_budget  # back to the query budget after the import


def test_a_failed_import_also_gives_the_budget_back(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cueva.errors import ImportValidationError

    monkeypatch.delenv(MEMORY_LIMIT_ENV, raising=False)
    with Workspace.open(workspace.path) as ws:
        a = ws.store().adapter
        assert isinstance(a, DuckDBAdapter)
        before = limit(a)
        bad = tmp_path / "people.parquet"
        pd.DataFrame(
            {"person_id": ["p1", "p1"], "created_at": pd.to_datetime(["2026-01-05"] * 2)}
        ).to_parquet(bad)
        with pytest.raises(ImportValidationError):
            import_files(ws.store(), [bad], timezone=ws.contract.timezone)
        assert limit(a) == before


def test_the_variable_fixes_the_budget_of_every_session(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "300MB")
    with Workspace.open(workspace.path) as ws:
        a = ws.store().adapter
        assert isinstance(a, DuckDBAdapter)
        fixed = limit(a)
        assert abs(fixed - 300_000_000) < 1 << 20
        seen = during_import(ws, people(tmp_path / "people.parquet"), monkeypatch)
        assert seen == [fixed] and limit(a) == fixed
