"""``import_files(..., validate_only=True)``: the canonical import's checks without the write
(what a source dry run calls)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cueva.errors import ImportValidationError
from cueva.importer import import_files
from cueva.schema import LOAD_ORDER
from cueva.store import IMPORTS_TABLE
from cueva.workspace import Workspace
from tests.conftest import write

OWNERS = "owner_id,name,team\no1,Ana,sales\no2,Luis,marketing\n"
PEOPLE = (
    "person_id,created_at,owner_id,channel\n"
    "p1,2026-01-05 10:00,o1,paid_search\n"
    "p2,2026-02-01,o2,events\n"
    "p3,2026-02-03,o1,events\n"
)


def snapshot(ws: Workspace) -> dict[str, list[tuple[Any, ...]]]:
    """Every canonical table's full contents (sorted), and the import log."""
    a = ws.store().adapter
    return {
        n: sorted(a.query(f'SELECT * FROM "{n}"'), key=repr) for n in [*LOAD_ORDER, IMPORTS_TABLE]
    }


def check(ws: Workspace, *paths: Path) -> Any:
    return import_files(ws.store(), list(paths), timezone=ws.contract.timezone, validate_only=True)


def test_valid_files_are_counted_and_not_written(workspace: Workspace, tmp_path: Path) -> None:
    owners = write(tmp_path / "owners.csv", OWNERS)
    people = write(tmp_path / "people.csv", PEOPLE)
    before = snapshot(workspace)
    result = check(workspace, people, owners)
    assert {(f.table, f.rows, f.skipped) for f in result.files} == {
        ("owners", 2, False),
        ("people", 3, False),
    }
    assert result.rows == 5
    assert snapshot(workspace) == before
    assert before["people"] == [] and before[IMPORTS_TABLE] == []
    # Nothing recorded either: the real import afterwards is not skipped as "unchanged".
    real = import_files(workspace.store(), [people, owners], timezone=workspace.contract.timezone)
    assert real.rows == 5
    assert len(snapshot(workspace)["people"]) == 3


def test_problems_raise_the_import_errors_and_write_nothing(
    workspace: Workspace, tmp_path: Path
) -> None:
    owners = write(tmp_path / "owners.csv", OWNERS)
    # Row 3: created_at missing (required); row 4: unknown owner.
    people = write(
        tmp_path / "people.csv",
        "person_id,created_at,owner_id\np1,2026-01-05,o1\np2,,o1\np3,2026-02-03,o9\n",
    )
    before = snapshot(workspace)
    with pytest.raises(ImportValidationError) as info:
        check(workspace, people, owners)
    # The same errors as the real import gives.
    with pytest.raises(ImportValidationError) as real:
        import_files(workspace.store(), [people, owners], timezone=workspace.contract.timezone)
    assert str(info.value) == str(real.value)
    assert info.value.counts == {"people.csv": 2}
    assert [(e.row, e.column) for e in info.value.errors] == [(3, "created_at"), (4, "owner_id")]
    assert snapshot(workspace) == before
