"""The DuckDB backend: the only module that writes DuckDB SQL.

Imports are staged into temporary tables straight from ``read_csv``/``read_parquet`` (the
engine streams the file; no Python row loop), parsed to canonical types with ``try_cast``,
checked with set-based queries that return only the first offending rows, and written in one
transaction.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import ibis

from cueva.errors import RowError, StoreError
from cueva.schema import LOAD_ORDER, TABLES, ColumnType, Table
from cueva.store.base import Adapter, ReadOptions

SQL_TYPES: dict[ColumnType, str] = {
    "string": "VARCHAR",
    "int64": "BIGINT",
    "float64": "DOUBLE",
    "boolean": "BOOLEAN",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
}

TRUE_WORDS = ("true", "t", "1", "yes", "y", "si", "sí", "verdadero", "sim")
FALSE_WORDS = ("false", "f", "0", "no", "n", "falso", "não", "nao")

MAX_ERRORS_PER_FILE = 20


def q(name: str) -> str:
    """Quote an identifier."""
    return '"' + name.replace('"', '""') + '"'


def lit(value: str) -> str:
    """Quote a string literal."""
    return "'" + value.replace("'", "''") + "'"


@dataclass
class Staged:
    """One input file, staged and parsed to canonical types in a temporary table."""

    file: str
    table: Table
    raw: str  # temp table with __row and the file's columns as read
    typed: str  # temp table with __row and canonical (plus extra) columns
    rows: int
    columns: dict[str, str]  # canonical or extra column name -> source column name
    source_types: dict[str, str]
    extra_types: dict[str, str] = field(default_factory=dict)
    derived_key: bool = False


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
        self._n = 0

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
        with contextlib.suppress(Exception):
            self.ibis.disconnect()

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        return self.raw.execute(sql, params or []).fetchall()

    def table_columns(self, name: str) -> dict[str, str]:
        rows = self.query(f"DESCRIBE {q(name)}")
        return {r[0]: r[1] for r in rows}

    # ------------------------------------------------------------------ staging

    def _tmp(self, prefix: str) -> str:
        self._n += 1
        return f"_cueva_{prefix}_{self._n}"

    def stage(self, path: Path, spec: Table, opts: ReadOptions, shown_name: str) -> Staged:
        """Read ``path`` into a temp table and parse it to ``spec``'s types."""
        raw = self._tmp("raw")
        suffix = path.suffix.lower()
        self.raw.execute(f"SET TimeZone = {lit(opts.timezone)}")
        try:
            if suffix == ".parquet":
                src = f"read_parquet({lit(str(path))})"
                first_row = 1
            else:
                args = [
                    lit(str(path)),
                    "header = true",
                    "all_varchar = true",
                    "quote = '\"'",
                    "escape = '\"'",
                    "null_padding = false",
                    "sample_size = -1",
                ]
                if opts.sep:
                    args.append(f"delim = {lit(opts.sep)}")
                src = f"read_csv({', '.join(args)})"
                first_row = 2  # the header is row 1, as a spreadsheet shows it
            self.raw.execute(
                f"CREATE TEMP TABLE {raw} AS SELECT "
                f"CAST(row_number() OVER () + {first_row - 1} AS BIGINT) AS __row, * FROM {src}"
            )
        except duckdb.Error as exc:
            raise StoreError(f"{shown_name}: cannot read the file: {_clean(exc)}") from exc
        described = self.table_columns(raw)
        del described["__row"]
        columns: dict[str, str] = {}
        for source_name in described:
            key = source_name.strip().lower().lstrip("\ufeff")
            if key not in columns:
                columns[key] = source_name
        source_types = {k: described[v] for k, v in columns.items()}
        rows = self.query(f"SELECT count(*) FROM {raw}")[0][0]

        typed = self._tmp("typed")
        selects = ["__row"]
        extra_types: dict[str, str] = {}
        for col in spec.columns:
            if col.name in columns:
                expr = self._parse(q(columns[col.name]), source_types[col.name], col.type, opts)
            else:
                expr = f"CAST(NULL AS {SQL_TYPES[col.type]})"
            selects.append(f"{expr} AS {q(col.name)}")
        for key, source_name in columns.items():
            if spec.has(key) or key.startswith("__") or not re.fullmatch(r"[a-z_][a-z0-9_]*", key):
                continue
            stype = source_types[key]
            expr = q(source_name)
            if stype == "VARCHAR":
                expr = f"NULLIF(trim({expr}), '')"
            selects.append(f"{expr} AS {q(key)}")
            extra_types[key] = stype
        derived = False
        if spec.name == "touchpoints":
            derived = True
            parts = ", ".join(
                f"coalesce(CAST({q(c)} AS VARCHAR), '')"
                for c in (
                    "person_id",
                    "account_id",
                    "campaign_id",
                    "channel",
                    "touch_type",
                    "occurred_at",
                )
            )
            selects = [s for s in selects if not s.endswith(' AS "touchpoint_id"')]
            tp = (
                self._parse(q(columns["touchpoint_id"]), "VARCHAR", "string", opts)
                if "touchpoint_id" in columns
                else "NULL"
            )
            inner = f"SELECT {', '.join(selects)}, {tp} AS __tp FROM {raw}"
            self.raw.execute(
                f"CREATE TEMP TABLE {typed} AS SELECT * EXCLUDE (__tp), "
                f"coalesce(__tp, 'h:' || md5(concat_ws('|', {parts}))) AS touchpoint_id FROM ({inner})"
            )
        else:
            self.raw.execute(f"CREATE TEMP TABLE {typed} AS SELECT {', '.join(selects)} FROM {raw}")
        return Staged(
            shown_name, spec, raw, typed, rows, columns, source_types, extra_types, derived
        )

    def _parse(self, src: str, source_type: str, target: ColumnType, opts: ReadOptions) -> str:
        """SQL that turns a source column into the canonical type (NULL when unparsable)."""
        tz = lit(opts.timezone)
        if source_type != "VARCHAR":
            if target == "timestamp":
                if "WITH TIME ZONE" in source_type:
                    return f"timezone({tz}, {src})"
                return f"TRY_CAST({src} AS TIMESTAMP)"
            if target == "date" and "WITH TIME ZONE" in source_type:
                return f"CAST(timezone({tz}, {src}) AS DATE)"
            if target == "string":
                return f"NULLIF(trim(CAST({src} AS VARCHAR)), '')"
            return f"TRY_CAST({src} AS {SQL_TYPES[target]})"
        s = f"NULLIF(trim({src}), '')"
        if target == "string":
            return s
        if target == "timestamp":
            return f"timezone({tz}, TRY_CAST({s} AS TIMESTAMPTZ))"
        if target == "date":
            return f"coalesce(TRY_CAST({s} AS DATE), CAST(timezone({tz}, TRY_CAST({s} AS TIMESTAMPTZ)) AS DATE))"
        if target == "boolean":
            t = ", ".join(lit(w) for w in TRUE_WORDS)
            f = ", ".join(lit(w) for w in FALSE_WORDS)
            return (
                f"(CASE WHEN lower({s}) IN ({t}) THEN true WHEN lower({s}) IN ({f}) THEN false END)"
            )
        if opts.decimal == ",":
            s = f"replace(replace({s}, '.', ''), ',', '.')"
        return f"TRY_CAST({s} AS {SQL_TYPES[target]})"

    # ------------------------------------------------------------------ checks

    def check(self, staged: list[Staged]) -> tuple[list[RowError], dict[str, int]]:
        """Every problem in the staged files: (first errors per file, count per file)."""
        found: dict[str, list[RowError]] = {}
        counts: dict[str, int] = {}

        def add(file: str, sql: str, column: str | None, message: str) -> None:
            """``sql`` selects (__row, value) of offending rows."""
            total = self.query(f"SELECT count(*) FROM ({sql})")[0][0]
            if not total:
                return
            counts[file] = counts.get(file, 0) + total
            sample = self.query(f"SELECT * FROM ({sql}) ORDER BY 1 LIMIT {MAX_ERRORS_PER_FILE}")
            found.setdefault(file, []).extend(
                RowError(file, r[0], column, None if r[1] is None else str(r[1]), message)
                for r in sample
            )

        by_table: dict[str, list[Staged]] = {}
        for st in staged:
            by_table.setdefault(st.table.name, []).append(st)
            spec = st.table
            missing = [c for c in spec.required if c not in st.columns]
            if spec.name == "touchpoints":
                missing = [c for c in missing if c != "touchpoint_id"]
            for name in missing:
                counts[st.file] = counts.get(st.file, 0) + 1
                found.setdefault(st.file, []).append(
                    RowError(
                        st.file, None, name, None, "required column is missing from the header"
                    )
                )
            if missing:
                continue
            for col in spec.columns:
                if col.name not in st.columns:
                    continue
                src = q(st.columns[col.name])
                raw_nonempty = f"r.{src} IS NOT NULL AND trim(CAST(r.{src} AS VARCHAR)) <> ''"
                join = f"FROM {st.typed} t JOIN {st.raw} r USING (__row)"
                if col.required:
                    add(
                        st.file,
                        f"SELECT r.__row, CAST(r.{src} AS VARCHAR) {join} WHERE t.{q(col.name)} IS NULL AND NOT ({raw_nonempty})",
                        col.name,
                        "required value is missing",
                    )
                if col.type != "string":
                    add(
                        st.file,
                        f"SELECT r.__row, CAST(r.{src} AS VARCHAR) {join} WHERE t.{q(col.name)} IS NULL AND {raw_nonempty}",
                        col.name,
                        _expected(col.type),
                    )
                if col.nonnegative:
                    add(
                        st.file,
                        f"SELECT __row, CAST({q(col.name)} AS VARCHAR) FROM {st.typed} WHERE {q(col.name)} < 0",
                        col.name,
                        "must not be negative",
                    )
                if col.choices:
                    allowed = ", ".join(lit(c) for c in col.choices)
                    add(
                        st.file,
                        f"SELECT __row, {q(col.name)} FROM {st.typed} WHERE lower({q(col.name)}) NOT IN ({allowed})",
                        col.name,
                        "must be one of: " + ", ".join(col.choices),
                    )

        # keys: unique within the batch
        for name, group in by_table.items():
            spec = TABLES[name]
            ok = [
                s
                for s in group
                if all(k in s.columns or (s.derived_key and k == "touchpoint_id") for k in spec.key)
            ]
            if not ok:
                continue
            keys = ", ".join(q(k) for k in spec.key)
            union = " UNION ALL ".join(
                f"SELECT {lit(s.file)} AS __file, __row, {keys} FROM {s.typed}" for s in ok
            )
            dupes = (
                f"SELECT __file, __row, concat_ws(' / ', {', '.join(f'CAST({q(k)} AS VARCHAR)' for k in spec.key)}) AS k, "
                f"count(*) OVER (PARTITION BY {keys}) AS n, row_number() OVER (PARTITION BY {keys} ORDER BY __file, __row) AS i "
                f"FROM ({union})"
            )
            where = "n > 1 AND i > 1"
            if spec.name == "touchpoints":
                # A derived id means the rows are identical: the same touch listed twice.
                where += " AND NOT starts_with(k, 'h:')"
            for s in ok:
                add(
                    s.file,
                    f"SELECT __row, k FROM ({dupes}) WHERE {where} AND __file = {lit(s.file)}",
                    ", ".join(spec.key),
                    "duplicate key: an earlier row has the same " + ", ".join(spec.key),
                )

        # references: the id must exist in the store or in this batch
        for name, group in by_table.items():
            spec = TABLES[name]
            for ref in spec.references:
                target = TABLES[ref.table]
                target_key = q(target.key[0])
                pool = [f"SELECT {target_key} AS id FROM {q(ref.table)}"]
                pool += [
                    f"SELECT {target_key} AS id FROM {s.typed}"
                    for s in by_table.get(ref.table, [])
                    if target.key[0] in s.columns
                ]
                ids = " UNION ALL ".join(pool)
                for s in group:
                    if ref.column not in s.columns:
                        continue
                    cond = f"t.{q(ref.column)} IS NOT NULL"
                    if ref.when:
                        cond += f" AND t.{q(ref.when[0])} = {lit(ref.when[1])}"
                    add(
                        s.file,
                        f"SELECT t.__row, t.{q(ref.column)} FROM {s.typed} t WHERE {cond} "
                        f"AND NOT EXISTS (SELECT 1 FROM ({ids}) p WHERE p.id = t.{q(ref.column)})",
                        ref.column,
                        f"unknown id: no {ref.table} row has this {target.key[0]}",
                    )

        errors: list[RowError] = []
        for errs in found.values():
            errs.sort(key=lambda e: e.row if e.row is not None else -1)
            errors.extend(errs[:MAX_ERRORS_PER_FILE])
        return errors, counts

    # ------------------------------------------------------------------ writing

    def write(self, staged: list[Staged]) -> dict[str, int]:
        """Replace rows with the same key and insert the rest, inside the caller's transaction.
        Returns rows written per table."""
        written: dict[str, int] = {}
        order = {n: i for i, n in enumerate(LOAD_ORDER)}
        for st in sorted(staged, key=lambda s: order[s.table.name]):
            name = st.table.name
            have = self.table_columns(name)
            for col, stype in st.extra_types.items():
                if col not in have:
                    self.raw.execute(f"ALTER TABLE {q(name)} ADD COLUMN {q(col)} {stype}")
                    have[col] = stype
            cols = [c.name for c in st.table.columns] + [c for c in st.extra_types]
            key = st.table.key
            match = " AND ".join(f"{q(name)}.{q(k)} IS NOT DISTINCT FROM s.{q(k)}" for k in key)
            self.raw.execute(
                f"DELETE FROM {q(name)} USING (SELECT DISTINCT {', '.join(q(k) for k in key)} FROM {st.typed}) s WHERE {match}"
            )
            src = (
                f"SELECT DISTINCT ON ({', '.join(q(k) for k in key)}) {', '.join(q(c) for c in cols)} FROM {st.typed}"
                if st.derived_key
                else f"SELECT {', '.join(q(c) for c in cols)} FROM {st.typed}"
            )
            self.raw.execute(f"INSERT INTO {q(name)} ({', '.join(q(c) for c in cols)}) {src}")
            written[name] = written.get(name, 0) + st.rows
        return written

    def record_import(self, values: list[tuple[Any, ...]]) -> None:
        self.raw.executemany("INSERT INTO _cueva_imports VALUES (?, ?, ?, ?, ?, ?, ?, ?)", values)

    def drop_staged(self, staged: list[Staged]) -> None:
        for st in staged:
            for t in (st.raw, st.typed):
                with contextlib.suppress(duckdb.Error):
                    self.raw.execute(f"DROP TABLE IF EXISTS {t}")


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
