"""A process killed during an import leaves the store readable and unchanged."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest

from cueva.importer import import_files
from cueva.schema import LOAD_ORDER
from cueva.store import IMPORTS_TABLE
from cueva.workspace import Workspace
from tests.conftest import write

ROWS = 150_000

CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from cueva.importer import import_files
    from cueva.store.duckdb import DuckDBAdapter
    from cueva.workspace import Workspace

    point, ws_path, *files = sys.argv[1:]

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    def after(name, kill_after):
        original = getattr(DuckDBAdapter, name)
        def wrapped(self, *a, **k):
            result = original(self, *a, **k)
            if kill_after == "after":
                die()
            return result
        setattr(DuckDBAdapter, name, wrapped)

    if point == "staged":
        after("stage", "after")
    elif point == "checked":
        after("check", "after")
    elif point == "one-table-written":
        after("_write_one", "after")
    elif point == "before-commit":
        after("record_import", "after")
    ws = Workspace.open(ws_path)
    print("start", flush=True)
    import_files(ws.store(), [Path(f) for f in files], timezone="Europe/Madrid")
    ws.close()
    print("done", flush=True)
    """
)


def snapshot(ws_path: Path) -> dict[str, Any]:
    with Workspace.open(ws_path) as ws:
        a = ws.store().adapter
        out: dict[str, Any] = {
            n: a.query(f'SELECT count(*), sum(hash(t)) FROM "{n}" t')[0]
            for n in (*LOAD_ORDER, IMPORTS_TABLE)
        }
        out["tables"] = sorted(ws.store().con.list_tables())
        return out


@pytest.fixture(scope="module")
def big_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    d = tmp_path_factory.mktemp("big")
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT 'q' || i AS person_id, 'a1' AS account_id, "
        f"strftime(TIMESTAMP '2026-01-01' + to_seconds(i), '%Y-%m-%d %H:%M:%S') AS created_at, "
        f"'channel ' || (i % 9) AS channel, repeat('x', 40) AS note FROM range({ROWS}) t(i)) "
        f"TO '{d / 'people.csv'}' (HEADER)"
    )
    con.execute(
        f"COPY (SELECT 'tp' || i AS touchpoint_id, 'q' || (i % {ROWS}) AS person_id, "
        f"'email' AS channel, TIMESTAMP '2026-02-01' + to_seconds(i) AS occurred_at "
        f"FROM range({2 * ROWS}) t(i)) TO '{d / 'touchpoints.parquet'}' (FORMAT parquet)"
    )
    # The same people as Parquet: an all-Parquet batch checks beside the write (two threads).
    con.execute(
        f"COPY (SELECT * FROM read_csv('{d / 'people.csv'}', all_varchar = true)) "
        f"TO '{d / 'people.parquet'}' (FORMAT parquet)"
    )
    con.close()
    return [d / "people.csv", d / "touchpoints.parquet", d / "people.parquet"]


def start(point: str, ws_path: Path, files: list[Path]) -> subprocess.Popen[str]:
    """The import in a child process, once it has opened the store and is about to start."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, point, str(ws_path), *map(str, files)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "start"
    return child


@pytest.mark.slow
@pytest.mark.parametrize(
    ("point", "kind"),
    [
        ("staged", "mixed"),
        ("checked", "mixed"),
        ("one-table-written", "mixed"),
        ("before-commit", "mixed"),
        ("mid-way", "mixed"),
        # All Parquet: the checks run in a thread beside the write.
        ("checked", "parquet"),
        ("one-table-written", "parquet"),
        ("mid-way", "parquet"),
    ],
)
def test_killed_import_leaves_store_unchanged(
    tmp_path: Path, big_files: list[Path], point: str, kind: str
) -> None:
    csv, touchpoints, parquet = big_files
    big_files = [csv if kind == "mixed" else parquet, touchpoints]
    ws = Workspace.init(tmp_path / "ws", "Kill Co")
    import_files(
        ws.store(),
        [
            write(tmp_path / "owners.csv", "owner_id,team\no1,sales\n"),
            write(tmp_path / "accounts.csv", "account_id,owner_id\na1,o1\n"),
        ],
        timezone="Europe/Madrid",
    )
    ws.close()
    before = snapshot(ws.path)
    delay = None
    if point == "mid-way":
        # Time a full import of a copy, then kill the real one 40% of the way through.
        shutil.copytree(ws.path, tmp_path / "ref")
        ref = start(point, tmp_path / "ref", big_files)
        started = time.perf_counter()
        out, err = ref.communicate(timeout=300)
        assert "done" in out, err
        delay = 0.4 * (time.perf_counter() - started)
    child = start(point, ws.path, big_files)
    if delay is not None:
        time.sleep(delay)
        os.kill(child.pid, signal.SIGKILL)
    out, err = child.communicate(timeout=300)
    assert child.returncode == -signal.SIGKILL, (out, err)
    assert "done" not in out
    # The store opens (DuckDB replays its write-ahead log) and holds exactly what it held.
    assert snapshot(ws.path) == before
    # ...and the same import then succeeds.
    with Workspace.open(ws.path) as again:
        import_files(again.store(), big_files, timezone="Europe/Madrid")
        assert again.store().row_count("people") == ROWS
        assert again.store().row_count("touchpoints") == 2 * ROWS
