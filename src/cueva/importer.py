"""Import canonical CSV and Parquet files into the store: validated, all or nothing.

The engine reads, parses and checks the files (``read_csv``/``read_parquet`` into staging
tables, set-based checks, one transaction for the write). Python only reads each CSV's header
line, hashes the files and, for encodings other than UTF-8, re-encodes them in 1 MiB chunks
into a temporary UTF-8 copy.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cueva.errors import ImportValidationError, RowError, StoreError, UsageError
from cueva.schema import TABLES, Table, column_key, table_for_file
from cueva.store import IMPORTS_TABLE, Store
from cueva.store.base import Adapter, ReadOptions, SourceFile

CHUNK = 1 << 20
CSV_SUFFIXES = (".csv", ".tsv", ".txt")
SUFFIXES = (*CSV_SUFFIXES, ".parquet")
#: Separators tried, in order of preference, when ``sep`` is not given.
SEPARATORS = (",", ";", "\t", "|")

#: ``progress(description, bytes_done, bytes_total)``: called as the import advances.
Progress = Callable[[str, int, int], None]

ENCODING_HINT = (
    "if the file comes from Excel or an older CRM, import it again with --encoding cp1252 "
    "(or --encoding latin-1)"
)


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


def _file_error(shown: str, message: str, column: str | None = None) -> RowError:
    return RowError(shown, None, column, None, message)


def _transcode(path: Path, shown: str, encoding: str, workdir: Path) -> Path:
    """A UTF-8 copy of ``path`` (decoded from ``encoding``), written in chunks."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    out = workdir / f"{uuid.uuid4().hex}.csv"
    offset = 0
    with path.open("rb") as src, out.open("w", encoding="utf-8", newline="") as dst:
        while chunk := src.read(CHUNK):
            try:
                dst.write(decoder.decode(chunk))
            except UnicodeDecodeError as exc:
                raise ImportValidationError(
                    [_file_error(shown, f"byte {offset + exc.start} is not valid {encoding}")],
                    {shown: 1},
                ) from None
            offset += len(chunk)
        dst.write(decoder.decode(b"", final=True))
    return out


def read_header(path: Path, shown: str, sep: str | None) -> tuple[list[str], str]:
    """The header's names and the separator of a UTF-8 CSV file (read from its first line).

    Raises :class:`ImportValidationError` for an empty, binary or non-UTF-8 file."""

    def fail(message: str, row: int | None = None) -> ImportValidationError:
        return ImportValidationError([RowError(shown, row, None, None, message)], {shown: 1})

    with path.open("rb") as fh:
        head = fh.read(CHUNK)
    if not head.strip():
        raise fail("the file is empty: expected a header row naming the columns")
    if b"\x00" in head:
        raise fail(
            "this is not a CSV text file (it contains NUL bytes); export it as CSV or Parquet"
        )
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
    try:
        text = decoder.decode(head, final=len(head) < CHUNK)
    except UnicodeDecodeError as exc:
        line = head[: exc.start].count(b"\n") + 1
        raise fail(f"this line is not valid UTF-8; {ENCODING_HINT}", line) from None
    first = text.splitlines()[0] if text else ""
    if sep is None:
        counts = {s: len(next(csv.reader([first], delimiter=s))) for s in SEPARATORS}
        sep = max(SEPARATORS, key=lambda s: (counts[s], -SEPARATORS.index(s)))
    names = next(csv.reader([first], delimiter=sep))
    return names, sep


def _mapping(
    shown: str, spec: Table, columns: list[tuple[str, str]], names: list[str]
) -> tuple[dict[str, str], list[RowError]]:
    """Canonical/extra column name -> engine column, and header problems."""
    mapping: dict[str, str] = {}
    written_as: dict[str, str] = {}
    errors: list[RowError] = []
    for (engine, _), name in zip(columns, names, strict=True):
        key = column_key(name)
        if not key:
            continue  # a header cell without a name (e.g. a trailing separator): ignored
        if key in mapping:
            errors.append(
                _file_error(
                    shown,
                    f"the header has this column twice (as {written_as[key]!r} and {name!r})",
                    key,
                )
            )
            continue
        mapping[key] = engine
        written_as[key] = name
    for col in spec.required:
        if col not in mapping and not (spec.name == "touchpoints" and col == "touchpoint_id"):
            errors.append(_file_error(shown, "required column is missing from the header", col))
    return mapping, errors


def _resolve(paths: Sequence[Path]) -> list[tuple[Path, Table, str]]:
    plan: list[tuple[Path, Table, str]] = []
    seen: set[Path] = set()
    shown_names: set[str] = set()
    for p in paths:
        path = Path(p)
        if path.is_dir():
            raise UsageError(
                f"{path}: is a folder; give the files in it (e.g. {path}/*.csv {path}/*.parquet)"
            )
        if not path.is_file():
            raise UsageError(f"{path}: no such file")
        if path.suffix.lower() not in SUFFIXES:
            raise UsageError(f"{path.name}: expected a .csv or .parquet file")
        spec = table_for_file(path.stem)
        if spec is None:
            raise UsageError(
                f"{path.name}: the file name does not name a canonical table "
                f"({', '.join(sorted(TABLES))}; e.g. people.csv or people_2026-05.csv; "
                "see docs/import-format.md)"
            )
        real = path.resolve()
        if real in seen:
            raise UsageError(f"{path}: given twice")
        seen.add(real)
        shown = path.name if path.name not in shown_names else str(path)
        shown_names.add(path.name)
        plan.append((path, spec, shown))
    return plan


def _unchanged(store: Store) -> set[tuple[str, str]]:
    """(sha256, table) of the files in each table's most recent import: importing one of
    them again would change nothing."""
    rows = store.adapter.query(
        f"SELECT sha256, table_name FROM {IMPORTS_TABLE} i WHERE imported_at = "
        f"(SELECT max(imported_at) FROM {IMPORTS_TABLE} j WHERE j.table_name = i.table_name)"
    )
    return {(r[0], r[1]) for r in rows}


def import_files(
    store: Store,
    paths: Sequence[Path],
    *,
    encoding: str = "utf-8",
    sep: str | None = None,
    decimal: str = ".",
    timezone: str = "UTC",
    force: bool = False,
    progress: Progress | None = None,
    validate_only: bool = False,
) -> ImportResult:
    """Import ``paths`` (several tables, any order) in one transaction.

    Raises :class:`ImportValidationError` listing the problems (file, row, column, value; the
    first 20 per file and a count) and writes nothing when any file is invalid. A file whose
    content is already the latest import of its table is skipped (``force`` imports it
    anyway). ``validate_only`` stages and checks the files exactly as an import does (same
    errors, same result rows) and then writes nothing (a dry run)."""
    if decimal not in (".", ","):
        raise UsageError("--decimal must be '.' or ','")
    if sep is not None and (len(sep) != 1 or sep in '"\r\n'):
        raise UsageError("--sep must be one character, e.g. ',' or ';'")
    try:
        codec = codecs.lookup(encoding).name
    except LookupError:
        raise UsageError(f"unknown encoding {encoding!r} (e.g. utf-8, latin-1, cp1252)") from None
    started = time.perf_counter()
    adapter = store.adapter
    opts = ReadOptions(encoding=encoding, sep=sep, decimal=decimal, timezone=timezone)
    result = ImportResult()
    plan = _resolve(paths)
    total = sum(p.stat().st_size for p, _, _ in plan) or 1
    done = 0

    def tell(message: str) -> None:
        if progress:
            progress(message, done, total)

    unchanged = set() if force else _unchanged(store)
    staged = []
    records = []
    # The files are hashed in two threads (hashlib releases the GIL), ahead of the loop that
    # needs each digest, while the engine reads the files' metadata.
    with (
        tempfile.TemporaryDirectory(prefix="cueva-import-") as tmp,
        ThreadPoolExecutor(2) as hashing,
    ):
        digests = [hashing.submit(sha256_of, path) for path, _, _ in plan]
        try:
            todo: list[tuple[SourceFile, Table, int, str]] = []
            header_errors: list[RowError] = []
            for (path, spec, shown), hashed in zip(plan, digests, strict=True):
                size = path.stat().st_size
                tell(f"hashing {shown}")
                digest = hashed.result()
                if (digest, spec.name) in unchanged:
                    result.files.append(FileResult(shown, spec.name, 0, skipped=True))
                    done += size
                    continue
                try:
                    src = _source(adapter, path, shown, spec, codec, sep, Path(tmp))
                except ImportValidationError as exc:
                    header_errors += exc.errors
                    continue
                todo.append((src, spec, size, digest))
            if header_errors:
                raise ImportValidationError(header_errors, _count(header_errors))
            for src, spec, size, digest in todo:
                tell(f"reading {src.shown}")
                st = adapter.stage(src, spec, opts)
                staged.append(st)
                done += size
                result.files.append(FileResult(src.shown, spec.name, st.rows))
                records.append((src.shown, spec.name, size, digest, st.rows))
            if staged:
                conflicts = adapter.extra_type_conflicts(staged)
                beside = getattr(adapter, "checks_beside_write", None)
                if validate_only or conflicts or not (beside and beside(staged)):
                    tell("checking")
                    errors, counts = adapter.check(staged)
                    errors += conflicts
                    for k, v in _count(conflicts).items():
                        counts[k] = counts.get(k, 0) + v
                    _raise_if_any(errors, counts)
                    if validate_only:
                        result.seconds = time.perf_counter() - started
                        return result
                    tell("writing")
                    with adapter.transaction():
                        adapter.write(staged)
                        _record(adapter, records, started)
                else:
                    # The checks run in a thread beside the write (both are engine work that
                    # releases the GIL, so the two cores stay busy); the transaction commits
                    # only when the checks found nothing, else it rolls back.
                    tell("checking and writing")
                    with adapter.transaction(), ThreadPoolExecutor(1) as pool:
                        checks = pool.submit(adapter.check, staged)
                        try:
                            adapter.write(staged)
                        except BaseException:
                            # A problem in the files explains a failed write better.
                            if checks.exception() is None:
                                _raise_if_any(*checks.result())
                            raise
                        _raise_if_any(*checks.result())
                        _record(adapter, records, started)
        finally:
            for hashed in digests:
                hashed.cancel()  # files not hashed yet when the import stopped early
            adapter.drop_staged(staged)
    result.seconds = time.perf_counter() - started
    return result


def _raise_if_any(errors: list[RowError], counts: dict[str, int]) -> None:
    if counts:
        raise ImportValidationError(errors, counts)


def _record(
    adapter: Adapter, records: list[tuple[str, str, int, str, int]], started: float
) -> None:
    """Record the import of each file (inside the import's transaction)."""
    now = datetime.now()
    import_id = uuid.uuid4().hex[:12]
    elapsed = time.perf_counter() - started
    adapter.record_import([(import_id, f, t, s, d, r, now, elapsed) for f, t, s, d, r in records])


def _count(errors: list[RowError]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for e in errors:
        counts[e.file] = counts.get(e.file, 0) + 1
    return counts


def _source(
    adapter: Adapter,
    path: Path,
    shown: str,
    spec: Table,
    codec: str,
    sep: str | None,
    workdir: Path,
) -> SourceFile:
    """How the engine should read ``path``: its columns, and for CSV the separator (and a
    UTF-8 copy when the file is in another encoding)."""
    if path.suffix.lower() == ".parquet":
        if path.stat().st_size == 0:
            raise ImportValidationError([_file_error(shown, "the file is empty")], {shown: 1})
        try:
            columns = adapter.file_columns(SourceFile(path, shown, "parquet"))
        except StoreError as exc:
            raise ImportValidationError(
                [_file_error(shown, f"not a readable Parquet file ({exc})")], {shown: 1}
            ) from None
        names = [c[0] for c in columns]
        return SourceFile(
            path, shown, "parquet", tuple(columns), _names(shown, spec, columns, names)
        )
    if codec not in ("utf-8", "utf-8-sig") and path.stat().st_size:
        path = _transcode(path, shown, codec, workdir)
    names, chosen = read_header(path, shown, sep)
    columns = [(f"c{i}", "VARCHAR") for i in range(len(names))]
    return SourceFile(
        path, shown, "csv", tuple(columns), _names(shown, spec, columns, names), chosen
    )


def _names(
    shown: str, spec: Table, columns: list[tuple[str, str]], names: list[str]
) -> dict[str, str]:
    mapping, errors = _mapping(shown, spec, columns, names)
    if errors:
        raise ImportValidationError(errors, _count(errors))
    return mapping


__all__ = ["FileResult", "ImportResult", "Progress", "import_files", "read_header", "sha256_of"]
