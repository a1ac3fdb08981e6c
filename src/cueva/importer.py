"""Import canonical CSV and Parquet files into the store: validated, all or nothing.

The engine reads and checks the files; Python only hashes them and, for non-UTF-8 CSV,
re-encodes them in 1 MiB chunks into a temporary UTF-8 copy.
"""

from __future__ import annotations

import codecs
import hashlib
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cueva.errors import ImportValidationError, RowError, UsageError
from cueva.schema import table_for_file
from cueva.store import Store
from cueva.store.base import ReadOptions

CHUNK = 1 << 20
SUFFIXES = (".csv", ".tsv", ".txt", ".parquet")


@dataclass
class FileResult:
    file: str
    table: str
    rows: int
    skipped: bool = False


@dataclass
class ImportResult:
    files: list[FileResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files if not f.skipped)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _transcode(path: Path, encoding: str, workdir: Path) -> Path:
    """A UTF-8 copy of ``path`` (decoded from ``encoding``), written in chunks."""
    try:
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    except LookupError:
        raise UsageError(f"unknown encoding {encoding!r} (e.g. utf-8, latin-1, cp1252)") from None
    out = workdir / (path.stem + ".utf8.csv")
    offset = 0
    with path.open("rb") as src, out.open("w", encoding="utf-8", newline="") as dst:
        while chunk := src.read(CHUNK):
            try:
                dst.write(decoder.decode(chunk))
            except UnicodeDecodeError as exc:
                raise ImportValidationError(
                    [
                        RowError(
                            path.name,
                            None,
                            None,
                            None,
                            f"byte {offset + exc.start} is not valid {encoding}",
                        )
                    ],
                    {path.name: 1},
                ) from None
            offset += len(chunk)
        dst.write(decoder.decode(b"", final=True))
    return out


def import_files(
    store: Store,
    paths: Sequence[Path],
    *,
    encoding: str = "utf-8",
    sep: str | None = None,
    decimal: str = ".",
    timezone: str = "UTC",
    force: bool = False,
    on_file: Callable[[str], None] | None = None,
) -> ImportResult:
    """Import ``paths`` in one transaction. Raises :class:`ImportValidationError` listing the
    problems (and writes nothing) when any file is invalid."""
    if decimal not in (".", ","):
        raise UsageError("--decimal must be '.' or ','")
    if sep is not None and len(sep) != 1:
        raise UsageError("--sep must be one character, e.g. ',' or ';'")
    started = time.perf_counter()
    adapter = store.adapter
    opts = ReadOptions(encoding=encoding, sep=sep, decimal=decimal, timezone=timezone)
    result = ImportResult()
    plan: list[tuple[Path, str, str, int]] = []
    seen_names: set[str] = set()
    for p in paths:
        path = Path(p)
        if not path.is_file():
            raise UsageError(f"{path}: no such file")
        if path.suffix.lower() not in SUFFIXES:
            raise UsageError(f"{path.name}: expected a .csv or .parquet file")
        spec = table_for_file(path.stem)
        if spec is None:
            raise UsageError(
                f"{path.name}: the file name does not name a canonical table "
                "(people.csv, opportunities.parquet, ...; see docs/import-format.md)"
            )
        shown = path.name if path.name not in seen_names else str(path)
        seen_names.add(path.name)
        plan.append((path, spec.name, shown, path.stat().st_size))

    previous = {
        (r[0], r[1]) for r in adapter.query("SELECT sha256, table_name FROM _cueva_imports")
    }
    staged = []
    records = []
    with tempfile.TemporaryDirectory(prefix="cueva-import-") as tmp:
        try:
            for path, table, shown, size in plan:
                digest = sha256_of(path)
                if not force and (digest, table) in previous:
                    result.files.append(FileResult(shown, table, 0, skipped=True))
                    continue
                if on_file:
                    on_file(shown)
                source = path
                if path.suffix.lower() != ".parquet" and codecs.lookup(encoding).name not in (
                    "utf-8",
                    "utf-8-sig",
                ):
                    source = _transcode(path, encoding, Path(tmp))
                from cueva.schema import TABLES

                st = adapter.stage(source, TABLES[table], opts, shown)
                staged.append(st)
                result.files.append(FileResult(shown, table, st.rows))
                records.append((shown, table, size, digest, st.rows))
            if staged:
                errors, counts = adapter.check(staged)
                if counts:
                    raise ImportValidationError(errors, counts)
                now = datetime.now().replace(microsecond=0)
                import_id = uuid.uuid4().hex[:12]
                with adapter.transaction():
                    adapter.write(staged)
                    elapsed = time.perf_counter() - started
                    adapter.record_import(
                        [(import_id, f, t, s, d, r, now, elapsed) for f, t, s, d, r in records]
                    )
        finally:
            adapter.drop_staged(staged)
    result.seconds = time.perf_counter() - started
    return result


__all__ = ["FileResult", "ImportResult", "import_files", "sha256_of"]
