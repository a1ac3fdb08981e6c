"""The PostgreSQL backend: the only module that writes PostgreSQL SQL.

An import into PostgreSQL is parsed and validated by the same in-process DuckDB code that the
DuckDB store uses (:class:`cueva.store.duckdb.DuckDBAdapter` over a scratch file in a temp
folder: a library, not a server), so the errors are the same, located by file, row and column.
Reference checks (an opportunity's ``account_id`` ...) must also see the ids already in the
PostgreSQL store: before the checks, the key columns of the referenced tables are copied from
PostgreSQL (``COPY ... TO STDOUT``, keys only) into the scratch engine's tables of the same
name.

The write is one PostgreSQL transaction: each staged file is written by the engine as CSV
into the temp folder and bulk-loaded with ``COPY ... FROM STDIN`` (Python moves 1 MiB chunks
of bytes, never rows) into a temporary table, then merged by key (``DELETE`` the rows whose
key is in the file, ``INSERT`` the file's rows). A file for an empty table is copied straight
into it. Each written table is locked against other writers for the transaction (readers are
not blocked), so two imports at once cannot both insert the same key.

URLs: ``postgresql://USER@HOST:PORT/DATABASE`` (also ``postgres://``), any libpq URI
(``?host=/run/postgresql``, ``?sslmode=require`` ...); a third path part
(``/DATABASE/SCHEMA``) selects a schema, as in Ibis. Passwords come from ``PGPASSWORD`` or
``~/.pgpass`` like any libpq client; one written in the URL works but is never shown.
"""

from __future__ import annotations

import contextlib
import functools
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import ibis
import psycopg
import sqlglot.expressions as sge
from ibis.backends.postgres import Backend as PostgresBackend
from ibis.backends.sql.compilers.postgres import PostgresCompiler
from psycopg import sql as pgsql
from psycopg.types.numeric import FloatLoader

from cueva.errors import RowError, StoreError
from cueva.schema import LOAD_ORDER, TABLES, ColumnType, Table
from cueva.store.base import Adapter, ReadOptions, SourceFile
from cueva.store.duckdb import DuckDBAdapter, Staged

PG_TYPES: dict[ColumnType, str] = {
    "string": "TEXT",
    "int64": "BIGINT",
    "float64": "DOUBLE PRECISION",
    "boolean": "BOOLEAN",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
}

#: Engine (DuckDB) type of an extra column -> PostgreSQL type.
_EXTRA_TYPES = {
    "VARCHAR": "TEXT",
    "BIGINT": "BIGINT",
    "INTEGER": "INTEGER",
    "SMALLINT": "SMALLINT",
    "TINYINT": "SMALLINT",
    "UTINYINT": "SMALLINT",
    "USMALLINT": "INTEGER",
    "UINTEGER": "BIGINT",
    "UBIGINT": "NUMERIC(20,0)",
    "HUGEINT": "NUMERIC(38,0)",
    "DOUBLE": "DOUBLE PRECISION",
    "FLOAT": "REAL",
    "BOOLEAN": "BOOLEAN",
    "DATE": "DATE",
    "TIMESTAMP": "TIMESTAMP",
    "TIMESTAMP_S": "TIMESTAMP",
    "TIMESTAMP_MS": "TIMESTAMP",
    "TIMESTAMP_NS": "TIMESTAMP",
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMPTZ",
    "TIME": "TIME",
}
#: PostgreSQL's ``format_type`` spelling of the types above, to compare with the store's.
_FORMAT_TYPE = {
    "TEXT": "text",
    "BIGINT": "bigint",
    "INTEGER": "integer",
    "SMALLINT": "smallint",
    "DOUBLE PRECISION": "double precision",
    "REAL": "real",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "TIMESTAMP": "timestamp without time zone",
    "TIMESTAMPTZ": "timestamp with time zone",
    "TIME": "time without time zone",
    "NUMERIC(20,0)": "numeric(20,0)",
    "NUMERIC(38,0)": "numeric(38,0)",
}
#: PostgreSQL truncates longer identifiers (with only a notice).
MAX_IDENTIFIER_BYTES = 63
#: ``work_mem`` of an import's write transaction (the merges hash-join the file's keys).
WORK_MEM = "128MB"
#: Bytes moved per COPY write.
CHUNK = 1 << 20


def pg_type(engine_type: str) -> str:
    """The PostgreSQL column type for an extra column of engine type ``engine_type``."""
    if engine_type in _EXTRA_TYPES:
        return _EXTRA_TYPES[engine_type]
    m = re.fullmatch(r"DECIMAL\((\d+),\s*(\d+)\)", engine_type)
    if m:
        return f"NUMERIC({m.group(1)},{m.group(2)})"
    return "TEXT"  # lists, structs, ...: kept as their text form


def redact(url: str) -> str:
    """``url`` without its password (for messages)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{parts.username or ''}:***@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def split_url(url: str) -> tuple[str, str | None]:
    """(libpq URI, schema): the Ibis-style ``/DATABASE/SCHEMA`` path split in two."""
    parts = urlsplit(url)
    scheme = "postgresql" if parts.scheme in ("postgres", "postgresql") else parts.scheme
    path = parts.path
    schema = None
    pieces = path.lstrip("/").split("/")
    if len(pieces) == 2 and pieces[1]:
        path, schema = "/" + pieces[0], pieces[1]
    return urlunsplit(parts._replace(scheme=scheme, path=path)), schema


class Compiler(PostgresCompiler):
    """Ibis' PostgreSQL compiler, with what Cueva's metric expressions need beyond it."""

    def visit_Cast(self, op: Any, *, arg: Any, to: Any) -> Any:
        # PostgreSQL casts boolean only to integer (int4): CAST(flag AS BIGINT) is an error.
        if op.arg.dtype.is_boolean() and to.is_integer() and not to.is_int32():
            arg = self.cast(arg, ibis.dtype("int32"))
        return super().visit_Cast(op, arg=arg, to=to)

    visit_TryCast = visit_Cast

    def visit_DateTruncate(self, op: Any, *, arg: Any, unit: Any) -> Any:
        # date_trunc(unit, date) gives a timestamp WITH time zone in PostgreSQL; Ibis declares
        # a date. Truncate the plain timestamp and keep the date.
        stamp = self.cast(arg, ibis.dtype("timestamp"))
        got = self.visit_TimestampTruncate(op, arg=stamp, unit=unit)
        return self.cast(got, ibis.dtype("date"))

    def visit_Select(self, op: Any, *, qualified: Any, **kw: Any) -> Any:
        # A filter on a window (Ibis' QUALIFY) becomes a subquery filtered outside; sqlglot
        # moves the windows inside but leaves the other columns of the filter qualified with
        # the inner table's alias ("t0"."version" = _w), which PostgreSQL rejects. Outside a
        # window they name the subquery's output columns: drop the qualifier.
        return super().visit_Select(op, qualified=[_unqualify(p) for p in qualified], **kw)


COMPILER = Compiler()


def _translated(method: Any) -> Any:
    """``method`` with PostgreSQL's errors raised as :class:`StoreError` (the CLI prints one
    line instead of a traceback), the original chained."""

    @functools.wraps(method)
    def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except psycopg.Error as exc:
            raise StoreError(f"the PostgreSQL store failed: {_clean(exc)}") from exc

    return run


class Backend(PostgresBackend):
    """Ibis' PostgreSQL backend with Cueva's compiler; its errors become StoreError."""

    compiler = COMPILER
    execute = _translated(PostgresBackend.execute)
    to_pyarrow = _translated(PostgresBackend.to_pyarrow)

    @_translated
    def create_table(self, name: str, /, obj: Any = None, **kwargs: Any) -> Any:
        table = super().create_table(name, obj, **kwargs)
        if kwargs.get("temp") and obj is not None:
            # Autovacuum never analyzes temporary tables: without statistics the planner
            # guesses the size of the metrics' intermediate tables (cached stage entries).
            with self.con.cursor() as cur:
                cur.execute(pgsql.SQL("ANALYZE {}").format(pgsql.Identifier(name)))
        return table

    drop_table = _translated(PostgresBackend.drop_table)
    insert = _translated(PostgresBackend.insert)
    raw_sql = _translated(PostgresBackend.raw_sql)
    get_schema = _translated(PostgresBackend.get_schema)
    list_tables = _translated(PostgresBackend.list_tables)
    _get_schema_using_query = _translated(PostgresBackend._get_schema_using_query)


def _unqualify(pred: Any) -> Any:
    pred = pred.copy()
    for col in list(pred.find_all(sge.Column)):
        if col.find_ancestor(sge.Window) is None:
            col.set("table", None)
    return pred


def q(name: str) -> pgsql.Identifier:
    return pgsql.Identifier(name)


def _clean(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class PostgresAdapter(Adapter):
    """A PostgreSQL database (one schema) as the store."""

    def __init__(self, url: str) -> None:
        self.url = url
        conninfo, schema = split_url(url)
        try:
            self.con: psycopg.Connection[Any] = psycopg.connect(conninfo, autocommit=True)
        except psycopg.Error as exc:
            raise StoreError(f"cannot open the store {redact(url)}: {_clean(exc)}") from exc
        self.schema = schema
        if schema:
            with self.con.cursor() as cur:
                cur.execute("SELECT set_config('search_path', %s, false)", (schema,))
        # numeric results (sum of a bigint, avg, ...) as float, the type Ibis declares for
        # them: Ibis' Arrow batches reject Decimal where its schema says float64.
        self.con.adapters.register_loader("numeric", FloatLoader)
        self.ibis = Backend.from_connection(self.con)
        self._workdir: Path | None = None
        self._stager: DuckDBAdapter | None = None
        self._n = 0

    # ------------------------------------------------------------------ basics

    @property
    def stager(self) -> DuckDBAdapter:
        """The scratch DuckDB that reads, parses and checks import files (made on first use)."""
        if self._stager is None:
            if self._workdir is None:
                self._workdir = Path(tempfile.mkdtemp(prefix="cueva-pg-"))
            self._stager = DuckDBAdapter(str(self._workdir / "staging.duckdb"))
            self._stager.ensure_schema()
        return self._stager

    def _exec(self, statement: Any, params: Any = None) -> list[tuple[Any, ...]]:
        with self.con.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall() if cur.description else []

    def ensure_schema(self) -> None:
        try:
            with self.con.transaction():
                if self.schema:
                    self._exec(pgsql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(q(self.schema)))
                for name in LOAD_ORDER:
                    spec = TABLES[name]
                    cols = pgsql.SQL(", ").join(
                        pgsql.SQL("{} {}").format(q(c.name), pgsql.SQL(PG_TYPES[c.type]))
                        for c in spec.columns
                    )
                    self._exec(
                        pgsql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(q(name), cols)
                    )
                self._exec(
                    "CREATE TABLE IF NOT EXISTS _cueva_imports (import_id TEXT, file TEXT, "
                    "table_name TEXT, size BIGINT, sha256 TEXT, rows BIGINT, "
                    "imported_at TIMESTAMP, seconds DOUBLE PRECISION)"
                )
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot create Cueva's tables in {redact(self.url)}: {_clean(exc)}"
            ) from exc

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with self.con.transaction():
            yield

    def close(self) -> None:
        if self._stager is not None:
            self._stager.close()
            self._stager = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        with contextlib.suppress(Exception):
            self.con.close()

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """PostgreSQL SQL; ``?`` placeholders (as for DuckDB) when ``params`` are given."""
        if params:
            sql = sql.replace("%", "%%").replace("?", "%s")
        return self._exec(sql, params or None)

    def table_columns(self, name: str) -> dict[str, str]:
        """Column name -> PostgreSQL type (``format_type`` spelling) of a store table."""
        rows = self._exec(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped "
            "ORDER BY a.attnum",
            (pgsql.Identifier(name).as_string(self.con),),
        )
        return {r[0]: r[1] for r in rows}

    def iter_tables(self) -> Iterator[str]:
        yield from self.ibis.list_tables()

    # ------------------------------------------------------------------ staging and checks

    def file_columns(self, src: SourceFile) -> list[tuple[str, str]]:
        return self.stager.file_columns(src)

    def stage(self, src: SourceFile, spec: Table, opts: ReadOptions) -> Staged:
        return self.stager.stage(src, spec, opts)

    def check(self, staged: list[Staged]) -> tuple[list[RowError], dict[str, int]]:
        """The DuckDB checks, with the referenced tables' ids copied in from PostgreSQL."""
        wanted = sorted(
            {
                ref.table
                for st in staged
                for ref in st.table.references
                if ref.column in st.src.mapping
            }
        )
        for name in wanted:
            self._mirror_keys(name)
        try:
            return self.stager.check(staged)
        finally:
            for name in wanted:
                self._mirror_keys(name, empty=True)

    def _mirror_keys(self, name: str, empty: bool = False) -> None:
        """Fill the scratch engine's ``name`` with the key column of the store's ``name``
        (or empty it)."""
        import pyarrow as pa
        import pyarrow.csv as pacsv

        key = TABLES[name].key[0]
        stager = self.stager
        if empty:
            ids = pa.table({key: pa.array([], pa.string())})
        else:
            path = self._tmpfile("keys")
            try:
                copy = pgsql.SQL(
                    "COPY (SELECT DISTINCT {k} FROM {t} WHERE {k} IS NOT NULL) "
                    "TO STDOUT (FORMAT csv)"
                ).format(k=q(key), t=q(name))
                with self.con.cursor() as cur, cur.copy(copy) as cp, path.open("wb") as out:
                    for chunk in cp:
                        out.write(chunk)
                if path.stat().st_size:
                    ids = pacsv.read_csv(
                        path,
                        read_options=pacsv.ReadOptions(column_names=[key]),
                        convert_options=pacsv.ConvertOptions(
                            column_types={key: pa.string()}, strings_can_be_null=False
                        ),
                    )
                else:
                    ids = pa.table({key: pa.array([], pa.string())})
            except psycopg.Error as exc:
                raise StoreError(f"reading the ids of {name} failed: {_clean(exc)}") from exc
            finally:
                path.unlink(missing_ok=True)
        stager.ibis.insert(name, ids, overwrite=True)

    def extra_type_conflicts(self, staged: list[Staged]) -> list[RowError]:
        """Extra columns whose type differs from the same column in the store (or whose name
        PostgreSQL would truncate)."""
        errors = []
        for st in staged:
            have = self.table_columns(st.table.name)
            for col, stype in st.extra_types.items():
                if len(col.encode()) > MAX_IDENTIFIER_BYTES:
                    errors.append(
                        RowError(
                            st.file,
                            None,
                            col,
                            None,
                            f"extra column name is longer than PostgreSQL's "
                            f"{MAX_IDENTIFIER_BYTES} bytes; rename it in the file",
                        )
                    )
                    continue
                want = _FORMAT_TYPE.get(pg_type(stype), pg_type(stype).lower())
                if col in have and have[col] not in (want, "text"):
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

    def _tmpfile(self, prefix: str) -> Path:
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix="cueva-pg-"))
        self._n += 1
        return self._workdir / f"{prefix}_{self._n}.csv"

    def write(self, staged: list[Staged]) -> dict[str, int]:
        """Bulk-load and merge each staged file, inside the caller's transaction."""
        written: dict[str, int] = {}
        order = {n: i for i, n in enumerate(LOAD_ORDER)}
        touched: list[str] = []
        try:
            # Room for the merges' hash joins (this transaction only).
            self._exec(pgsql.SQL("SET LOCAL work_mem = {}").format(pgsql.Literal(WORK_MEM)))
            for st in sorted(staged, key=lambda s: order[s.table.name]):
                name = st.table.name
                if name not in touched:
                    self._exec(
                        pgsql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(q(name))
                    )
                    touched.append(name)
                written[name] = written.get(name, 0) + self._write_one(st)
            for name in touched:  # fresh statistics for the metric queries' plans
                self._exec(pgsql.SQL("ANALYZE {}").format(q(name)))
        except psycopg.Error as exc:
            raise StoreError(f"writing to the store failed: {_clean(exc)}") from exc
        return written

    def _write_one(self, st: Staged) -> int:
        name = st.table.name
        have = self.table_columns(name)
        for col, stype in st.extra_types.items():
            if col not in have:
                self._exec(
                    pgsql.SQL("ALTER TABLE {} ADD COLUMN {} {}").format(
                        q(name), q(col), pgsql.SQL(pg_type(stype))
                    )
                )
        names = [c.name for c in st.table.columns] + list(st.extra_types)
        cols = pgsql.SQL(", ").join(q(c) for c in names)
        path = self._tmpfile("rows")
        try:
            typed = self.stager.ibis.table(st.typed)
            self.stager.ibis.to_csv(typed.select(*names), path, header=False)
            empty = not self._exec(pgsql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(q(name)))[
                0
            ][0]
            if empty and not st.dedupe:
                self._copy_in(pgsql.SQL("{} ({})").format(q(name), cols), path)
                return st.rows
            load = pgsql.Identifier(f"_cueva_load_{self._n}")
            self._exec(
                pgsql.SQL(
                    "CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA"
                ).format(load, cols, q(name))
            )
            self._copy_in(pgsql.SQL("{} ({})").format(load, cols), path)
        finally:
            path.unlink(missing_ok=True)
        if not empty:
            self._exec(
                pgsql.SQL("DELETE FROM {t} USING {s} AS s WHERE {m}").format(
                    t=q(name), s=load, m=_key_match(st.table, name)
                )
            )
        distinct: pgsql.Composable = pgsql.SQL("")
        if st.dedupe:
            distinct = pgsql.SQL("DISTINCT ON ({}) ").format(
                pgsql.SQL(", ").join(q(k) for k in st.table.key)
            )
        self._exec(
            pgsql.SQL("INSERT INTO {t} ({c}) SELECT {d}{c} FROM {s}").format(
                t=q(name), c=cols, d=distinct, s=load
            )
        )
        self._exec(pgsql.SQL("DROP TABLE {}").format(load))
        return st.rows

    def _copy_in(self, target: pgsql.Composable, path: Path) -> None:
        statement = pgsql.SQL("COPY {} FROM STDIN (FORMAT csv)").format(target)
        with self.con.cursor() as cur, cur.copy(statement) as cp, path.open("rb") as fh:
            while chunk := fh.read(CHUNK):
                cp.write(chunk)

    def record_import(self, values: list[tuple[Any, ...]]) -> None:
        with self.con.cursor() as cur:
            cur.executemany(
                "INSERT INTO _cueva_imports VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", values
            )

    def drop_staged(self, staged: list[Staged]) -> None:
        if self._stager is not None:
            self._stager.drop_staged(staged)


class Warehouse:
    """Read-only access to a PostgreSQL schema of warehouse tables (e.g. dbt models), for
    :mod:`cueva.sources.warehouse`: names, columns, and a table's columns as text, written as
    CSV by the server (``COPY ... TO STDOUT``) for the source engine to read."""

    def __init__(self, url: str) -> None:
        self.url = url
        conninfo, schema = split_url(url)
        try:
            self.con: psycopg.Connection[Any] = psycopg.connect(conninfo, autocommit=True)
            with self.con.cursor() as cur:
                # Timestamps with a time zone are written with their UTC offset.
                cur.execute("SET TimeZone = 'UTC'")
                if schema:
                    cur.execute("SELECT set_config('search_path', %s, false)", (schema,))
                cur.execute("SELECT current_schema()")
                row = cur.fetchone()
        except psycopg.Error as exc:
            raise StoreError(f"cannot open the warehouse {redact(url)}: {_clean(exc)}") from exc
        self.schema = str(row[0]) if row and row[0] else "public"

    def tables(self) -> list[str]:
        """Tables, views and materialized views of the schema."""
        rows = self._rows(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'v', 'm', 'p', 'f') ORDER BY 1",
            (self.schema,),
        )
        return [str(r[0]) for r in rows]

    def columns(self, table: str) -> list[str]:
        rows = self._rows(
            "SELECT a.attname FROM pg_attribute a WHERE a.attrelid = to_regclass(%s) "
            "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            (pgsql.Identifier(self.schema, table).as_string(self.con),),
        )
        return [str(r[0]) for r in rows]

    def export_csv(self, table: str, columns: dict[str, str], path: Path) -> None:
        """``columns`` (column -> new name) of ``table`` as text, to a CSV file with a header;
        NULL and empty text are both empty fields."""
        select = pgsql.SQL(", ").join(
            pgsql.SQL("NULLIF(CAST({} AS TEXT), '') AS {}").format(q(src), q(dst))
            for src, dst in columns.items()
        )
        copy = pgsql.SQL("COPY (SELECT {} FROM {}) TO STDOUT (FORMAT csv, HEADER)").format(
            select, pgsql.Identifier(self.schema, table)
        )
        try:
            with self.con.cursor() as cur, cur.copy(copy) as cp, path.open("wb") as out:
                for chunk in cp:
                    out.write(chunk)
        except psycopg.Error as exc:
            raise StoreError(f"reading {table} from the warehouse failed: {_clean(exc)}") from exc

    def _rows(self, statement: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        try:
            with self.con.cursor() as cur:
                cur.execute(statement, params)
                return cur.fetchall()
        except psycopg.Error as exc:
            raise StoreError(f"reading the warehouse failed: {_clean(exc)}") from exc

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.con.close()


def _key_match(spec: Table, name: str) -> pgsql.Composable:
    """``t.key = s.key`` for every key column, null-safe for the optional ones in a form
    PostgreSQL can hash-join (``IS NOT DISTINCT FROM`` cannot be)."""
    parts: list[pgsql.Composable] = []
    for k in spec.key:
        t = pgsql.SQL("{}.{}").format(q(name), q(k))
        s = pgsql.SQL("s.{}").format(q(k))
        # A touchpoint without an id got one derived from its content while staging.
        if spec.column(k).required or (spec.name, k) == ("touchpoints", "touchpoint_id"):
            parts.append(pgsql.SQL("{} = {}").format(t, s))
        else:
            parts.append(
                pgsql.SQL(
                    "({t} IS NULL) = ({s} IS NULL) AND "
                    "coalesce(CAST({t} AS TEXT), '') = coalesce(CAST({s} AS TEXT), '')"
                ).format(t=t, s=s)
            )
    return pgsql.SQL(" AND ").join(parts)


__all__ = ["PostgresAdapter", "Warehouse", "pg_type", "redact", "split_url"]
