"""The DuckDB backend: the only module that writes DuckDB SQL.

Imports are staged into temporary tables straight from ``read_csv``/``read_parquet`` (the
engine streams the file; no Python row loop), parsed to canonical types with ``try_cast``,
checked with set-based queries that return only the first offending rows, and written in one
transaction.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import ibis

from cueva.errors import ImportValidationError, RowError, StoreError
from cueva.schema import FALSE_WORDS, LOAD_ORDER, TABLES, TRUE_WORDS, Column, ColumnType, Table
from cueva.store.base import Adapter, ReadOptions, SourceFile

SQL_TYPES: dict[ColumnType, str] = {
    "string": "VARCHAR",
    "int64": "BIGINT",
    "float64": "DOUBLE",
    "boolean": "BOOLEAN",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
}

MAX_ERRORS_PER_FILE = 20

#: The engine's memory budget (DuckDB spills to disk beyond it); override with the variable.
MEMORY_LIMIT_ENV = "CUEVA_MEMORY_LIMIT"
#: The budget of a session that queries the store. Beyond it the engine spills (the metrics'
#: cached intermediate tables too): on the ``large`` demo the funnel's queries take the same
#: CPU time at 256 MB as at 1 GB, and the process peaks at about 0.50 GB instead of 0.69 GB
#: (docs/benchmarks.md, Foundation).
DEFAULT_MEMORY_LIMIT = "256MB"
#: The budget while an import runs (from its first staged file until the staged files are
#: dropped): its checks hash every key of the batch, beside the write.
IMPORT_MEMORY_LIMIT = "1GB"

#: The longest CSV record the reader accepts (a 10 MB note fits; more is refused, located).
MAX_LINE_SIZE = 32 << 20


def q(name: str) -> str:
    """Quote an identifier."""
    return '"' + name.replace('"', '""') + '"'


def lit(value: str) -> str:
    """Quote a string literal."""
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class BitCheck:
    """A check computed while staging: bit ``bit`` of ``__bad`` is set where ``condition``
    holds; ``engine`` is the file's column, re-read for the offending value."""

    bit: int
    column: str
    engine: str
    condition: str
    message: str


@dataclass
class Staged:
    """One input file, staged and parsed to canonical types in a temporary table."""

    file: str
    table: Table
    src: SourceFile
    typed: str  # temp table: __row, canonical and extra columns, __bad
    rows: int
    checks: list[BitCheck]
    extra_types: dict[str, str] = field(default_factory=dict)
    derived_key: bool = False
    reader: str = ""  # SELECT that reads the file again (for offending raw values)
    rejects: tuple[str, str] | None = None  # CSV reader's reject tables
    dedupe: bool = False  # identical derived-id touchpoints to collapse
    is_view: bool = False  # typed is a view over the file (Parquet), not a table


class DuckDBAdapter(Adapter):
    def __init__(self, path: str) -> None:
        self.path = path
        if path != ":memory:":
            parent = Path(path).parent
            if not parent.is_dir():
                raise StoreError(f"store folder {parent} does not exist")
        try:
            self.ibis = ibis.duckdb.connect(path)
        except duckdb.Error as exc:
            raise StoreError(f"cannot open the store {path}: {exc}") from exc
        self.raw: duckdb.DuckDBPyConnection = self.ibis.con
        #: A second connection to the same database for the import's checks, so that they can
        #: run beside the write (another thread); created on the first Parquet staging.
        self._side: duckdb.DuckDBPyConnection | None = None
        #: The connection the current checks run on (the side one when every file is Parquet).
        self._con: duckdb.DuckDBPyConnection = self.raw
        self._n = 0
        # DuckDB draws its own progress bar on stderr for queries over ~2 s; Cueva's commands
        # report progress themselves, and JSON/CSV output must not be mixed with it.
        self.raw.execute("SET enable_progress_bar = false")
        # Bound the engine's memory (it spills to a temp folder beside the store beyond it),
        # so that importing or querying a large store stays within a laptop's budget.
        #: The variable, when set, is the budget of every session (queries and imports).
        self._fixed_limit = os.environ.get(MEMORY_LIMIT_ENV)
        self._importing = False
        self._set_memory_limit(self._fixed_limit or DEFAULT_MEMORY_LIMIT)

    def _set_memory_limit(self, limit: str) -> None:
        try:
            self.raw.execute(f"SET memory_limit = {lit(limit)}")
        except duckdb.Error as exc:
            raise StoreError(f"{MEMORY_LIMIT_ENV}={limit!r}: {_clean(exc)}") from exc

    def _import_budget(self, on: bool) -> None:
        """Raise the memory budget for an import, and lower it again after."""
        if on == self._importing:
            return
        self._importing = on
        if not self._fixed_limit:
            self._set_memory_limit(IMPORT_MEMORY_LIMIT if on else DEFAULT_MEMORY_LIMIT)

    # ------------------------------------------------------------------ schema

    def ensure_schema(self) -> None:
        existing = set(self.ibis.list_tables())
        with self.transaction():
            for name in LOAD_ORDER:
                if name in existing:
                    continue
                spec = TABLES[name]
                cols = ", ".join(f"{q(c.name)} {SQL_TYPES[c.type]}" for c in spec.columns)
                self.raw.execute(f"CREATE TABLE {q(name)} ({cols})")
            if "_cueva_imports" not in existing:
                self.raw.execute(
                    "CREATE TABLE _cueva_imports (import_id VARCHAR, file VARCHAR, "
                    "table_name VARCHAR, size BIGINT, sha256 VARCHAR, rows BIGINT, "
                    "imported_at TIMESTAMP, seconds DOUBLE)"
                )

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        self.raw.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                self.raw.execute("ROLLBACK")
            raise
        else:
            self.raw.execute("COMMIT")

    def close(self) -> None:
        if self._side is not None:
            with contextlib.suppress(Exception):
                self._side.close()
            self._side = None
        with contextlib.suppress(Exception):
            self.ibis.disconnect()

    def _side_con(self) -> duckdb.DuckDBPyConnection:
        if self._side is None:
            self._side = self.raw.cursor()
            self._side.execute("SET enable_progress_bar = false")
        return self._side

    def checks_beside_write(self, staged: list[Staged]) -> bool:
        """Whether :meth:`check` of ``staged`` may run in another thread while :meth:`write`
        runs (the importer then overlaps them and commits only when the checks found
        nothing). True when every file is Parquet: the checks then read the files and the
        store's committed rows through their own connection."""
        return bool(staged) and all(st.is_view for st in staged)

    def _q(self, sql: str) -> list[tuple[Any, ...]]:
        """Run a check query on the checks' connection."""
        return self._con.execute(sql).fetchall()

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        return self.raw.execute(sql, params or []).fetchall()

    def table_columns(self, name: str) -> dict[str, str]:
        rows = self.query(f"DESCRIBE {q(name)}")
        return {r[0]: r[1] for r in rows}

    # ------------------------------------------------------------------ staging

    def _tmp(self, prefix: str) -> str:
        self._n += 1
        return f"_cueva_{prefix}_{self._n}"

    def file_columns(self, src: SourceFile) -> list[tuple[str, str]]:
        try:
            rows = self.query(f"DESCRIBE SELECT * FROM read_parquet({lit(str(src.path))})")
        except duckdb.Error as exc:
            raise StoreError(f"{src.shown}: cannot read the Parquet file: {_clean(exc)}") from exc
        return [(r[0], r[1]) for r in rows]

    def _reader(self, src: SourceFile, rejects: tuple[str, str] | None) -> str:
        """SELECT of the file's rows, numbered ``__row`` as documented (CSV: the header is
        row 1; Parquet: the first record is row 1), columns under their engine names."""
        path = lit(str(src.path))
        if src.kind == "parquet":
            return (
                "SELECT CAST(file_row_number + 1 AS BIGINT) AS __row, * EXCLUDE (file_row_number) "
                f"FROM read_parquet({path}, file_row_number = true)"
            )
        cols = ", ".join(f"{lit(name)}: 'VARCHAR'" for name, _ in src.columns)
        args = [
            path,
            "auto_detect = false",
            "header = true",
            f"delim = {lit(src.sep)}",
            "quote = '\"'",
            "escape = '\"'",
            f"columns = {{{cols}}}",
            "null_padding = false",
            f"max_line_size = {MAX_LINE_SIZE}",
        ]
        if rejects:
            args += [
                "store_rejects = true",
                f"rejects_table = {lit(rejects[0])}",
                f"rejects_scan = {lit(rejects[1])}",
            ]
        return (
            "SELECT CAST(row_number() OVER () + 1 AS BIGINT) AS __row, * "
            f"FROM read_csv({', '.join(args)})"
        )

    def stage(self, src: SourceFile, spec: Table, opts: ReadOptions) -> Staged:
        """Read ``src`` into a temp table parsed to ``spec``'s types, in one pass over the
        file. Each row gets ``__bad``: a bit mask of the parse checks it fails, so that the
        checks afterwards are one aggregate over the staged rows."""
        self._import_budget(True)
        types = dict(src.columns)
        rejects = (self._tmp("rej"), self._tmp("rejscan")) if src.kind == "csv" else None
        reader = self._reader(src, rejects)
        level2: list[str] = ["__row"]
        checks: list[BitCheck] = []
        present_cols: list[str] = []
        for col in spec.columns:
            engine = src.mapping.get(col.name)
            if engine is None:
                level2.append(f"CAST(NULL AS {SQL_TYPES[col.type]}) AS {q(col.name)}")
                continue
            stype = types[engine]
            level2.append(f"{_parse(q(engine), stype, col, opts)} AS {q(col.name)}")
            can_fail = col.type != "string" and not _safe_cast(stype, col.type)
            if col.required or can_fail:
                present = f"__p_{len(present_cols)}"
                present_cols.append(present)
                level2.append(f"{_present(q(engine), stype)} AS {present}")
                if col.required:
                    checks.append(
                        BitCheck(
                            len(checks),
                            col.name,
                            engine,
                            f"NOT {present}",
                            "required value is missing",
                        )
                    )
                if can_fail:
                    checks.append(
                        BitCheck(
                            len(checks),
                            col.name,
                            engine,
                            f"{present} AND {q(col.name)} IS NULL",
                            _expected(col.type),
                        )
                    )
        extra_types: dict[str, str] = {}
        for key, engine in src.mapping.items():
            if spec.has(key):
                continue
            stype = types[engine]
            expr = f"NULLIF({_trim(q(engine))}, '')" if stype == "VARCHAR" else q(engine)
            level2.append(f"{expr} AS {q(key)}")
            extra_types[key] = stype
        if len(checks) > 62:  # pragma: no cover - the schema has far fewer
            raise StoreError("too many checks for one bit mask")
        mask = (
            " + ".join(f"(CASE WHEN {c.condition} THEN {1 << c.bit} ELSE 0 END)" for c in checks)
            or "0"
        )
        exclude = list(present_cols)
        derived = spec.name == "touchpoints"
        extra_select = ""
        if derived:
            exclude.append("touchpoint_id")
            parts = ", ".join(f"coalesce(CAST({q(c)} AS VARCHAR), '')" for c in DERIVED_ID_COLUMNS)
            # CASE computes the hash only for the rows without an id (COALESCE computed it
            # for every row: 1.4 CPU s more per scan of the large demo's 9.9M touchpoints).
            extra_select = (
                ", CASE WHEN touchpoint_id IS NULL THEN "
                f"'h:' || md5(concat_ws('|', {parts})) ELSE touchpoint_id END AS touchpoint_id"
            )
        excl = f" EXCLUDE ({', '.join(exclude)})" if exclude else ""
        typed = self._tmp("typed")
        # Parquet is columnar and cheap to re-read: each check and the write read only the
        # columns they need, straight from the file, so nothing is materialised twice. A CSV
        # is parsed once into a temporary table (spilled to disk beyond the memory budget).
        kind = "VIEW" if src.kind == "parquet" else "TABLE"
        if derived and kind == "VIEW":
            # The file's own ids, apart: reading the derived ``touchpoint_id`` parses every
            # column it may hash (3 CPU s per scan of the large demo's 9.9M touchpoints),
            # while the key check only needs them when some touchpoint comes without an id.
            extra_select += f", touchpoint_id AS {FILE_IDS}"
        sql = (
            f"CREATE TEMP {kind} {typed} AS SELECT *{excl}, CAST({mask} AS BIGINT) AS __bad"
            f"{extra_select} FROM (SELECT {', '.join(level2)} FROM ({reader}))"
        )
        staged = Staged(
            src.shown, spec, src, typed, 0, checks, extra_types, derived, reader, rejects
        )
        staged.is_view = kind == "VIEW"
        try:
            self.raw.execute(sql)
            if staged.is_view:
                # Temporary views belong to their connection: the checks' one needs its own.
                self._side_con().execute(sql)
        except duckdb.Error as exc:
            self.drop_staged([staged])
            text = str(exc)
            line = re.search(r"CSV Error on Line: (\d+)", text)
            if line:
                detail = [
                    ln.strip()
                    for ln in text.splitlines()[1:]
                    if ln.strip() and not ln.startswith(("Original Line", "Possible", "*"))
                ]
                message = detail[0] if detail else _clean(exc)
                if "Maximum line size" in text:
                    message = (
                        f"the row is longer than {MAX_LINE_SIZE >> 20} MB "
                        "(or a quote is never closed)"
                    )
                error = RowError(src.shown, int(line.group(1)), None, None, message)
                raise ImportValidationError([error], {src.shown: 1}) from exc
            raise StoreError(f"{src.shown}: cannot read the file: {_clean(exc)}") from exc
        staged.rows = self.query(f"SELECT count(*) FROM {typed}")[0][0]
        return staged

    # ------------------------------------------------------------------ checks

    def check(self, staged: list[Staged]) -> tuple[list[RowError], dict[str, int]]:
        """Every problem in the staged files: (first errors per file, count per file).

        The cheap path is one aggregate per file plus one aggregate per key and reference;
        offending rows are located (and their raw values re-read) only when there are any."""
        # Parquet files are views that the side connection knows too: check there, so that
        # the write can run at the same time on the main one. CSV files are staged into
        # temporary tables of the main connection: check there.
        self._con = self._side_con() if self.checks_beside_write(staged) else self.raw
        try:
            return self._check(staged)
        finally:
            self._con = self.raw

    def _check(self, staged: list[Staged]) -> tuple[list[RowError], dict[str, int]]:
        found: dict[str, list[RowError]] = {}
        counts: dict[str, int] = {}

        def note(file: str, n: int, errors: list[RowError]) -> None:
            counts[file] = counts.get(file, 0) + n
            found.setdefault(file, []).extend(errors)

        def locate(file: str, n: int, sql: str, column: str | None, message: str) -> None:
            """``sql`` selects (__row, value) of the ``n`` offending rows."""
            if not n:
                return
            sample = self._q(f"SELECT * FROM ({sql}) ORDER BY 1 LIMIT {MAX_ERRORS_PER_FILE}")
            note(
                file,
                n,
                [
                    RowError(file, r[0], column, None if r[1] is None else str(r[1]), message)
                    for r in sample
                ],
            )

        usable: list[Staged] = []
        surplus: dict[str, int | None] = {}
        for st in staged:
            if st.rejects and self._rejected(st, note):
                continue
            if st.rows == 0:
                note(
                    st.file,
                    1,
                    [
                        RowError(
                            st.file, None, None, None, "no data rows: the file has only a header"
                        )
                    ],
                )
                continue
            usable.append(st)
            # A table's only file: its key check's first step rides on the same scan.
            alone = sum(1 for o in staged if o.table.name == st.table.name) == 1
            surplus[st.file] = self._check_rows(st, note, locate, alone)

        by_table: dict[str, list[Staged]] = {}
        for st in usable:
            by_table.setdefault(st.table.name, []).append(st)
        for name, group in by_table.items():
            known = surplus.get(group[0].file) if len(group) == 1 else None
            self._check_keys(TABLES[name], group, locate, known)
        for name, group in by_table.items():
            self._check_references(TABLES[name], group, by_table, locate)

        errors: list[RowError] = []
        for errs in found.values():
            errs.sort(key=lambda e: e.row if e.row is not None else -1)
            errors.extend(errs[:MAX_ERRORS_PER_FILE])
        return errors, counts

    def _rejected(self, st: Staged, note: Callable[[str, int, list[RowError]], None]) -> bool:
        """Rows the CSV reader could not split into the header's columns (or decode)."""
        assert st.rejects
        table = st.rejects[0]
        try:
            n = self._q(f"SELECT count(*) FROM {table}")[0][0]
        except duckdb.CatalogException:
            return False
        if not n:
            return False
        rows = self._q(
            f"SELECT line, error_type, csv_line, error_message FROM {table} "
            f"ORDER BY line LIMIT {MAX_ERRORS_PER_FILE}"
        )
        errors = []
        for line, kind, text, message in rows:
            if kind == "INVALID ENCODING":
                message = (
                    "this line is not valid UTF-8; if the file comes from Excel or an older "
                    "CRM, import it again with --encoding cp1252 (or latin-1)"
                )
                text = None
            elif "line size" in message.lower():
                message = (
                    f"the row is longer than {MAX_LINE_SIZE >> 20} MB (or a quote is never closed)"
                )
                text = None
            elif kind in ("MISSING COLUMNS", "TOO MANY COLUMNS"):
                message = f"{message.rstrip('.')} (the header has {len(st.src.columns)})"
            errors.append(RowError(st.file, int(line), None, text, message))
        note(st.file, n, errors)
        return True

    def _check_rows(
        self,
        st: Staged,
        note: Callable[[str, int, list[RowError]], None],
        locate: Callable[[str, int, str, str | None, str], None],
        key_hashes: bool = False,
    ) -> int | None:
        """Parse failures, missing values, negatives and enum values: one scan of the rows.

        With ``key_hashes``, the same scan also returns the rows beyond the first of each
        distinct key hash (the first step of :meth:`_check_keys`); else None."""
        spec = st.table
        aggs = [f"count(*) FILTER (WHERE __bad & {1 << c.bit} <> 0)" for c in st.checks]
        rules: list[tuple[str, str, str]] = []  # (column, condition, message)
        for col in spec.columns:
            if col.name not in st.src.mapping:
                continue
            if col.nonnegative:
                rules.append((col.name, f"{q(col.name)} < 0", "must not be negative"))
            if col.choices:
                allowed = ", ".join(lit(c) for c in col.choices)
                rules.append(
                    (
                        col.name,
                        f"{q(col.name)} NOT IN ({allowed})",
                        "must be one of: " + ", ".join(col.choices),
                    )
                )
        aggs += [f"count(*) FILTER (WHERE {cond})" for _, cond, _ in rules]
        extra = 0
        if key_hashes:
            keys = ", ".join(q(k) for k in spec.key)
            if st.derived_key and st.is_view:
                # Hash the file's own ids; valid as the key check's count only when every
                # touchpoint has one (else the key check hashes the derived ids itself).
                aggs.append(f"count(*) FILTER (WHERE {FILE_IDS} IS NULL)")
                keys = FILE_IDS
                extra += 1
            aggs.append(f"count(*) - count(DISTINCT hash({keys}))")
            extra += 1
        if not aggs:
            return None
        got = self._q(f"SELECT {', '.join(aggs)} FROM {st.typed}")[0]
        key_surplus = int(got[-1]) if key_hashes else None
        if key_hashes and extra == 2 and got[-2]:
            key_surplus = None  # some touchpoints have no id of their own
        got = got[: len(got) - extra]
        failed_bits = [(c, n) for c, n in zip(st.checks, got, strict=False) if n]
        if failed_bits:
            # Raw values of the first offending rows: re-read them from the file.
            bits = sum(1 << c.bit for c, _ in failed_bits)
            first = self._q(
                f"SELECT __row, __bad FROM {st.typed} WHERE __bad & {bits} <> 0 "
                f"ORDER BY __row LIMIT {MAX_ERRORS_PER_FILE}"
            )
            wanted = ", ".join(str(r[0]) for r in first)
            engines = sorted({c.engine for c, _ in failed_bits})
            raw_cols = ", ".join(f"CAST({q(e)} AS VARCHAR)" for e in engines)
            raw = {
                r[0]: dict(zip(engines, r[1:], strict=True))
                for r in self._q(
                    f"SELECT __row, {raw_cols} FROM ({st.reader}) WHERE __row IN ({wanted})"
                )
            }
            errors = [
                RowError(st.file, row, c.column, raw.get(row, {}).get(c.engine), c.message)
                for row, mask in first
                for c, _ in failed_bits
                if mask & (1 << c.bit)
            ]
            note(st.file, sum(n for _, n in failed_bits), errors)
        for (column, cond, message), n in zip(rules, got[len(st.checks) :], strict=True):
            locate(
                st.file,
                n,
                f"SELECT __row, CAST({q(column)} AS VARCHAR) FROM {st.typed} WHERE {cond}",
                column,
                message,
            )
        return key_surplus

    def _check_keys(
        self,
        spec: Table,
        group: list[Staged],
        locate: Callable[[str, int, str, str | None, str], None],
        hash_surplus: int | None = None,
    ) -> None:
        """Keys must be unique within the batch (rows with the same key in the store are
        replaced). Two identical touchpoints without an id are one touch listed twice.
        ``hash_surplus``: the rows beyond the first of each distinct key hash, when the
        row checks already counted them."""
        keys = ", ".join(q(k) for k in spec.key)
        union = " UNION ALL ".join(
            f"SELECT {lit(s.file)} AS __file, __row, {keys} FROM {s.typed}" for s in group
        )
        source = group[0].typed if len(group) == 1 else f"({union})"
        derived = "starts_with(touchpoint_id, 'h:')" if spec.name == "touchpoints" else "false"
        where = f"WHERE NOT {derived}"

        def surplus(distinct: str) -> tuple[int, int]:
            """Rows beyond the first of each key: (explicit keys, derived touchpoint ids)."""
            got = self._q(
                f"SELECT count(*) FILTER (WHERE NOT {derived}) - "
                f"count(DISTINCT {distinct}) FILTER (WHERE NOT {derived}), "
                f"count(*) FILTER (WHERE {derived}) - "
                f"count(DISTINCT {distinct}) FILTER (WHERE {derived}) FROM {source}"
            )[0]
            return int(got[0]), int(got[1])

        # Distinct 64-bit hashes prove distinct keys, cheaply; only a shortfall (a duplicate
        # or, rarely, a collision) needs the exact count on the keys themselves.
        n_dupes = derived_dupes = 0
        if hash_surplus is None:
            hash_surplus = self._q(f"SELECT count(*) - count(DISTINCT hash({keys})) FROM {source}")[
                0
            ][0]
        if hash_surplus:
            n_dupes, derived_dupes = surplus(f"({keys})")
        for s in group:
            s.dedupe = bool(derived_dupes)
        if not n_dupes:
            return
        shown = "concat_ws(' / ', " + ", ".join(f"CAST({q(k)} AS VARCHAR)" for k in spec.key) + ")"
        dupes = (
            f"SELECT __file, __row, {shown} AS k, row_number() OVER "
            f"(PARTITION BY {keys} ORDER BY __file, __row) AS i FROM ({union}) {where}"
        )
        for s in group:
            sql = f"SELECT __row, k FROM ({dupes}) WHERE i > 1 AND __file = {lit(s.file)}"
            n = self._q(f"SELECT count(*) FROM ({sql})")[0][0]
            locate(
                s.file,
                n,
                sql,
                ", ".join(spec.key),
                "duplicate key: an earlier row of this import has the same " + ", ".join(spec.key),
            )

    def _check_references(
        self,
        spec: Table,
        group: list[Staged],
        by_table: dict[str, list[Staged]],
        locate: Callable[[str, int, str, str | None, str], None],
    ) -> None:
        """Referenced ids must exist in the store or in this batch (any file order)."""
        for ref in spec.references:
            target = TABLES[ref.table]
            target_key = q(target.key[0])
            pool = [f"SELECT {target_key} AS id FROM {q(ref.table)}"]
            pool += [
                f"SELECT {target_key} AS id FROM {s.typed}" for s in by_table.get(ref.table, [])
            ]
            ids = " UNION ALL ".join(pool)
            for s in group:
                if ref.column not in s.src.mapping:
                    continue
                cond = f"t.{q(ref.column)} IS NOT NULL"
                when = f"t.{q(ref.when[0])} = {lit(ref.when[1])}" if ref.when else "true"
                anti = f"FROM {s.typed} t ANTI JOIN ({ids}) p ON p.id = t.{q(ref.column)}"
                sql = f"SELECT t.__row, t.{q(ref.column)} {anti} WHERE {cond} AND {when}"
                # Counted without a WHERE: pushed into the file scan, the filter parsed the
                # column twice more (2 CPU s on the large demo's touchpoints). count(column)
                # skips the rows without a reference.
                n = self._q(f"SELECT count(t.{q(ref.column)}) FILTER (WHERE {when}) {anti}")[0][0]
                locate(
                    s.file,
                    n,
                    sql,
                    ref.column,
                    f"unknown id: no {ref.table} row has this {target.key[0]} "
                    "(neither in the store nor in this import)",
                )

    def extra_type_conflicts(self, staged: list[Staged]) -> list[RowError]:
        """Extra columns whose type differs from the same column already in the store."""
        errors = []
        for st in staged:
            have = self.table_columns(st.table.name)
            for col, stype in st.extra_types.items():
                if col in have and have[col] != stype and have[col] != "VARCHAR":
                    errors.append(
                        RowError(
                            st.file,
                            None,
                            col,
                            None,
                            f"extra column has type {stype} here but {have[col]} in the store",
                        )
                    )
        return errors

    # ------------------------------------------------------------------ writing

    def write(self, staged: list[Staged]) -> dict[str, int]:
        """Replace rows with the same key and insert the rest, inside the caller's transaction.
        Returns rows written per table."""
        written: dict[str, int] = {}
        order = {n: i for i, n in enumerate(LOAD_ORDER)}
        try:
            for st in sorted(staged, key=lambda s: order[s.table.name]):
                written[st.table.name] = written.get(st.table.name, 0) + self._write_one(st)
        except duckdb.Error as exc:
            raise StoreError(f"writing to the store failed: {_clean(exc)}") from exc
        return written

    def _write_one(self, st: Staged) -> int:
        name = st.table.name
        have = self.table_columns(name)
        for col, stype in st.extra_types.items():
            if col not in have:
                self.raw.execute(f"ALTER TABLE {q(name)} ADD COLUMN {q(col)} {stype}")
                have[col] = stype
        cols = ", ".join(q(c) for c in [c.name for c in st.table.columns] + list(st.extra_types))
        key = st.table.key
        keys = ", ".join(q(k) for k in key)
        if self.query(f"SELECT EXISTS (SELECT 1 FROM {q(name)})")[0][0]:
            match = " AND ".join(f"{q(name)}.{q(k)} IS NOT DISTINCT FROM s.{q(k)}" for k in key)
            self.raw.execute(
                f"DELETE FROM {q(name)} USING (SELECT DISTINCT {keys} FROM {st.typed}) s "
                f"WHERE {match}"
            )
        src = f"SELECT {cols} FROM {st.typed}"
        if st.derived_key and st.is_view and self._rows_without_file_id(st):
            # The checks may still be running (beside the write): do not wait for their
            # verdict on identical touches without an id, collapse them here (the file's
            # own ids are unique, or the checks reject the import).
            src = (
                f"{src} WHERE {FILE_IDS} IS NOT NULL UNION ALL SELECT DISTINCT ON ({keys}) "
                f"{cols} FROM {st.typed} WHERE {FILE_IDS} IS NULL"
            )
        elif st.dedupe:
            src = f"SELECT DISTINCT ON ({keys}) {cols} FROM {st.typed}"
        self.raw.execute(f"INSERT INTO {q(name)} ({cols}) {src}")
        return st.rows

    def _rows_without_file_id(self, st: Staged) -> int:
        """Staged touchpoints that come without an id of their own. Counted first because
        the write that collapses their identical copies (a UNION of two scans of the file)
        costs 2.5-4 CPU s more than a plain one on the large demo's 9.9M touchpoints, all of
        which have ids; this count reads only the id column (0.9 CPU s)."""
        return int(self.query(f"SELECT count(*) - count({FILE_IDS}) FROM {st.typed}")[0][0])

    def record_import(self, values: list[tuple[Any, ...]]) -> None:
        self.raw.executemany("INSERT INTO _cueva_imports VALUES (?, ?, ?, ?, ?, ?, ?, ?)", values)

    def drop_staged(self, staged: list[Staged]) -> None:
        """Drop the staged files' temporary tables and views; the import is over, so the
        memory budget is a query session's again."""
        for st in staged:
            drops = [("VIEW" if st.is_view else "TABLE", st.typed)]
            drops += [("TABLE", t) for t in st.rejects or ()]
            cons = [self.raw]
            if st.is_view and self._side is not None:
                cons.append(self._side)
            for kind, name in drops:
                for con in cons:
                    with contextlib.suppress(duckdb.Error):
                        con.execute(f"DROP {kind} IF EXISTS {name}")
        with contextlib.suppress(StoreError, duckdb.Error):
            self._import_budget(False)


#: The staged touchpoints' ids as the file gives them (null where the id is derived).
FILE_IDS = "__file_id"

#: Columns whose content identifies a touchpoint that comes without an id.
DERIVED_ID_COLUMNS = (
    "person_id",
    "account_id",
    "campaign_id",
    "channel",
    "touch_type",
    "occurred_at",
)

_INT_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER"}
_FLOAT_TYPES = {"FLOAT", "DOUBLE"}


def _safe_cast(stype: str, target: ColumnType) -> bool:
    """Whether every non-null value of engine type ``stype`` converts to ``target``."""
    if target == "string":
        return True
    if target == "int64":
        return stype in _INT_TYPES
    if target == "float64":
        return stype in _INT_TYPES | _FLOAT_TYPES or stype.startswith("DECIMAL")
    if target == "boolean":
        return stype == "BOOLEAN"
    if target in ("timestamp", "date"):
        return stype == "DATE" or stype.startswith("TIMESTAMP")
    return False


def _trim(src: str) -> str:
    """``trim(src)`` (spaces at either end), called only for values that start or end with a
    space: DuckDB's trim costs about 0.2 us a value, three times the prefix/suffix tests, and
    almost no exported value needs it (touchpoints of the large demo: 2.9 -> 1.5 CPU s a scan
    of six text columns). ``src`` must be a plain column reference (it is repeated)."""
    return f"(CASE WHEN prefix({src}, ' ') OR suffix({src}, ' ') THEN trim({src}) ELSE {src} END)"


def _present(src: str, stype: str) -> str:
    if stype == "VARCHAR":
        return f"coalesce({_trim(src)} <> '', false)"
    return f"({src} IS NOT NULL)"


def _parse(src: str, stype: str, col: Column, opts: ReadOptions) -> str:
    """SQL that turns a source column into the canonical type (NULL when unparsable)."""
    target = col.type
    tz = lit(opts.timezone)
    if stype != "VARCHAR":
        if target == "string":
            s = f"NULLIF(trim(CAST({src} AS VARCHAR)), '')"
            return f"lower({s})" if col.choices else s
        if target == "timestamp":
            if "WITH TIME ZONE" in stype:
                return f"timezone({tz}, {src})"
            return f"TRY_CAST({src} AS TIMESTAMP)"
        if target == "date":
            if "WITH TIME ZONE" in stype:
                return f"CAST(timezone({tz}, {src}) AS DATE)"
            return f"TRY_CAST({src} AS DATE)"
        if target == "int64" and stype in _FLOAT_TYPES:
            return f"(CASE WHEN {src} = trunc({src}) THEN TRY_CAST({src} AS BIGINT) END)"
        if target == "float64":
            return f"(CASE WHEN isfinite(TRY_CAST({src} AS DOUBLE)) THEN TRY_CAST({src} AS DOUBLE) END)"
        return f"TRY_CAST({src} AS {SQL_TYPES[target]})"
    s = f"NULLIF({_trim(src)}, '')"
    if target == "string":
        return f"lower({s})" if col.choices else s
    if target == "timestamp":
        # An offset (Z, +02, -05:00) after the date part: convert to the contract's zone.
        # Without one the value is already wall-clock time there.
        tail = f"{s}[11:]"
        return (
            f"(CASE WHEN contains({tail}, '+') OR contains({tail}, '-') OR upper({s}[-1:]) = 'Z' "
            f"THEN timezone({tz}, TRY_CAST({s} AS TIMESTAMPTZ)) "
            f"ELSE TRY_CAST({s} AS TIMESTAMP) END)"
        )
    if target == "date":
        return f"TRY_CAST({s} AS DATE)"
    if target == "boolean":
        t = ", ".join(lit(w) for w in TRUE_WORDS)
        f = ", ".join(lit(w) for w in FALSE_WORDS)
        return f"(CASE WHEN lower({s}) IN ({t}) THEN true WHEN lower({s}) IN ({f}) THEN false END)"
    if opts.decimal == ",":
        # 1.234,56 or 1234,56: dots group thousands (in threes), the comma marks decimals.
        grouped = r"[+-]?([0-9]{1,3}(\.[0-9]{3})+|[0-9]*)(,[0-9]+)?([eE][+-]?[0-9]+)?"
        s = (
            f"(CASE WHEN regexp_full_match({s}, '{grouped}') "
            f"THEN replace(replace({s}, '.', ''), ',', '.') END)"
        )
    if target == "int64":
        return f"(CASE WHEN regexp_full_match({s}, '[+-]?[0-9]+') THEN TRY_CAST({s} AS BIGINT) END)"
    return f"(CASE WHEN isfinite(TRY_CAST({s} AS DOUBLE)) THEN TRY_CAST({s} AS DOUBLE) END)"


def _expected(t: ColumnType) -> str:
    return {
        "timestamp": "not a timestamp (expected ISO 8601, e.g. 2026-03-01T09:30:00 or 2026-03-01 09:30:00+01:00)",
        "date": "not a date (expected ISO 8601, e.g. 2026-03-01)",
        "int64": "not a whole number",
        "float64": "not a number (use --decimal , for decimal commas)",
        "boolean": "not a boolean (expected true/false, yes/no or 1/0)",
        "string": "not text",
    }[t]


def _clean(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


__all__ = ["DuckDBAdapter", "Staged"]
