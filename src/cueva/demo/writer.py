"""Write the demo company as Parquet files and as a ready workspace (contract + imported store)."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from cueva.contract import CONTRACT_FILE
from cueva.demo.generator import Scale, generate, scale_of
from cueva.errors import UsageError
from cueva.importer import ImportResult, import_files
from cueva.schema import LOAD_ORDER
from cueva.store import STORE_FILE
from cueva.workspace import Workspace

DATA_DIR = "data"
#: Rows per Parquet row group: DuckDB's own row group size. DuckDB scans a Parquet file one
#: row group per thread and compresses what it writes per row group, so a 1M-row table in
#: one row group (pyarrow's default size) is imported on one core; in row groups of this size
#: both cores of a laptop work on it (docs/benchmarks.md, Foundation). Exports of CRMs and
#: warehouses often come chunked like this too.
ROW_GROUP_ROWS = 122_880


def demo_contract_text() -> str:
    """The demo company's contract (``cueva.yaml``), shipped as package data."""
    return resources.files("cueva.demo").joinpath("demo_contract.yaml").read_text("utf-8")


def write_demo(directory: Path | str, seed: int = 7, scale: str | Scale = "medium") -> list[Path]:
    """Generate the demo company and write one Parquet file per table under
    ``directory/data/``. Returns the paths, in load order."""
    tables = generate(seed, scale)
    return _write_tables(Path(directory), tables)


def _write_tables(directory: Path, tables: dict[str, pa.Table]) -> list[Path]:
    data = directory / DATA_DIR
    data.mkdir(parents=True, exist_ok=True)
    paths = [data / f"{name}.parquet" for name in LOAD_ORDER]

    def write(item: tuple[str, Path]) -> None:
        name, path = item
        tmp = path.with_suffix(".parquet.tmp")
        pq.write_table(tables[name], tmp, compression="snappy", row_group_size=ROW_GROUP_ROWS)
        tmp.replace(path)

    # pyarrow releases the GIL while encoding: two files at a time keep both cores busy.
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(write, zip(LOAD_ORDER, paths, strict=True)))
    return paths


@dataclass
class DemoResult:
    """What ``create_demo`` did: the files written, the rows per table and the time taken."""

    path: Path
    files: list[Path]
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    imported: ImportResult | None = None


def _demo_files(directory: Path) -> list[Path]:
    data = directory / DATA_DIR
    return [
        directory / CONTRACT_FILE,
        directory / STORE_FILE,
        directory / (STORE_FILE + ".wal"),
        *(data / f"{name}.parquet" for name in LOAD_ORDER),
    ]


def create_demo(
    directory: Path | str,
    seed: int = 7,
    scale: str | Scale = "medium",
    *,
    force: bool = False,
    on_step: Callable[[str], None] | None = None,
) -> DemoResult:
    """Create a demo workspace in ``directory``: the demo contract, the Parquet files under
    ``data/`` and the store, filled through :func:`cueva.importer.import_files`.

    Refuses a folder that exists and is not empty unless ``force``; with ``force`` it replaces
    the demo's own files (cueva.yaml, cueva.duckdb, data/<table>.parquet) and leaves any other
    file alone.
    """
    sc = scale_of(scale)
    path = Path(directory)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{path} is a file, not a folder")
    if path.is_dir() and any(path.iterdir()):
        if not force:
            raise UsageError(
                f"{path} exists and is not empty; use --force to replace the demo there "
                "(only cueva.yaml, cueva.duckdb and data/*.parquet are replaced)"
            )
        for f in _demo_files(path):
            f.unlink(missing_ok=True)
    step = on_step or (lambda _msg: None)
    seconds: dict[str, float] = {}

    step(f"generating the {sc.name} demo company (seed {seed})")
    t0 = time.perf_counter()
    tables = generate(seed, sc)
    seconds["generate"] = time.perf_counter() - t0

    step("writing Parquet files")
    t0 = time.perf_counter()
    path.mkdir(parents=True, exist_ok=True)
    files = _write_tables(path, tables)
    seconds["write"] = time.perf_counter() - t0
    rows = {name: tables[name].num_rows for name in LOAD_ORDER}
    del tables

    (path / CONTRACT_FILE).write_text(demo_contract_text(), encoding="utf-8")
    step("importing into the store")
    t0 = time.perf_counter()
    with Workspace.open(path) as ws:
        imported = import_files(ws.store(), files, timezone=ws.contract.timezone)
    seconds["import"] = time.perf_counter() - t0
    return DemoResult(path, files, rows, seconds, imported)


__all__ = [
    "DATA_DIR",
    "ROW_GROUP_ROWS",
    "DemoResult",
    "create_demo",
    "demo_contract_text",
    "write_demo",
]
