"""The source engine: an embedded DuckDB where exports are read and turned into canonical
tables. This is the only module of :mod:`cueva.sources` that writes DuckDB SQL; the adapters
build Ibis expressions over the tables it returns.

The engine is independent of the store: it reads export files (or attaches a warehouse),
and writes canonical Parquet files that :func:`cueva.importer.import_files` loads into
whatever backend the store uses.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import ibis
import ibis.expr.datatypes as dt

from cueva.errors import CuevaError

if TYPE_CHECKING:
    import ibis.expr.types as ir


class SourceReadError(CuevaError, ValueError):
    """An export file could not be read (bad encoding, broken quoting, not CSV)."""


@ibis.udf.scalar.builtin(name="try_strptime")
def try_strptime(s: str, fmt: str) -> datetime:  # type: ignore[empty-body]
    """DuckDB's ``try_strptime``: NULL when ``s`` does not match ``fmt``."""


@ibis.udf.scalar.builtin(name="cueva_text")
def clean_text(s: str) -> str:  # type: ignore[empty-body]
    """Text trimmed of ASCII white space, '' as NULL (the engine macro :data:`TEXT_MACRO`)."""


#: ASCII white space, as Python's ``str.strip()`` and Ibis' ``strip`` remove it.
WHITESPACE = " \t\n\r\x0b\x0c"
#: ``cueva_text(x)``: ``x`` trimmed, '' as NULL. Only values that start or end with white
#: space go through TRIM: DuckDB's TRIM with a character set costs ~0.5 us a value, ten
#: times the prefix/suffix tests, and export values almost never need it. (The characters
#: stand in the SQL as they are: written as chr(n) they cost the planner ~0.5 s an import.)
TEXT_MACRO = (
    "CREATE OR REPLACE MACRO cueva_text(x) AS NULLIF(CASE WHEN "
    + " OR ".join(f"prefix(x, '{c}') OR suffix(x, '{c}')" for c in WHITESPACE)
    + f" THEN trim(x, '{WHITESPACE}') ELSE x END, '')"
)


@ibis.udf.scalar.builtin(name="cueva_bool")
def to_boolean(s: str) -> bool:  # type: ignore[empty-body]
    """Text as a boolean (the engine macro :data:`BOOL_MACRO`)."""


TRUE_WORDS = ("true", "t", "1", "yes", "y", "si", "sí", "verdadero", "sim", "x")
FALSE_WORDS = ("false", "f", "0", "no", "n", "falso", "não", "nao", "")


def _list(words: tuple[str, ...]) -> str:
    return "[" + ", ".join("'" + w.replace("'", "''") + "'" for w in words) + "]"


#: ``cueva_bool(x)``: true/false, t/f, 1/0 by a cast; other spellings (yes, sí, verdadero,
#: ...) by word lists, looked up with ``list_contains``: an ``IN`` list here is planned as a
#: join per list (measured: a quarter of the CampaignMember parse).
BOOL_MACRO = (
    "CREATE OR REPLACE MACRO cueva_bool(x) AS coalesce(TRY_CAST(x AS BOOLEAN), CASE "
    f"WHEN list_contains({_list(TRUE_WORDS)}, lower(x)) THEN true "
    f"WHEN list_contains({_list(FALSE_WORDS)}, lower(x)) THEN false END)"
)


@ibis.udf.scalar.builtin(name="hash")
def key_hash(key) -> dt.uint64:  # type: ignore[no-untyped-def]
    """DuckDB's 64-bit ``hash`` of a value (of a struct, for a key of several columns)."""


@ibis.udf.scalar.builtin(name="timezone")
def wall_clock_in(tz: str, ts: datetime) -> dt.Timestamp(timezone="UTC"):  # type: ignore[valid-type]
    """DuckDB's ``timezone(tz, naive)``: the instant when wall clocks in ``tz`` show ``ts``."""


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


class Engine:
    """An in-memory DuckDB (spilling to ``workdir``) holding one import's source tables."""

    def __init__(self, workdir: Path, timezone: str = "UTC") -> None:
        self.workdir = workdir
        self.con = ibis.duckdb.connect()
        self.raw: duckdb.DuckDBPyConnection = self.con.con
        self.raw.execute(f"SET temp_directory = {_lit(str(workdir / 'spill'))}")
        self.raw.execute("SET preserve_insertion_order = true")
        self.raw.execute(TEXT_MACRO)
        self.raw.execute(BOOL_MACRO)
        self.set_timezone(timezone)
        self._n = 0

    def set_timezone(self, timezone: str) -> None:
        """Timestamps without an offset are read in ``timezone``."""
        self.raw.execute(f"SET TimeZone = {_lit(timezone)}")

    def _name(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}_{self._n}"

    def read_csv(
        self, path: Path, shown: str, *, encoding: str = "utf-8", sep: str | None = None
    ) -> ir.Table:
        """``path`` as an all-text table with ``__row`` (the spreadsheet row: header is 1)."""
        args = [
            _lit(str(path)),
            "header = true",
            "all_varchar = true",
            "quote = '\"'",
            "escape = '\"'",
            # The dialect is sniffed from the first rows (DuckDB's default sample), not the
            # whole file: sample_size = -1 made the sniffer read every file twice (~20% of
            # the read of a large export).
            "sample_size = 20480",
            "null_padding = false",
        ]
        enc = encoding.lower().replace("_", "-")
        if enc in ("latin-1", "latin1", "iso-8859-1", "cp1252", "windows-1252"):
            args.append("encoding = 'latin-1'")
        elif enc in ("utf-16", "utf16"):
            args.append("encoding = 'utf-16'")
        elif enc not in ("utf-8", "utf8", "utf-8-sig"):
            raise SourceReadError(
                f"{shown}: unsupported encoding {encoding!r} (use utf-8, latin-1 or utf-16)"
            )
        if sep:
            args.append(f"delim = {_lit(sep)}")
        name = self._name("src")
        try:
            # A parallel read; with preserve_insertion_order the table's rowid is the record's
            # position in the file, so __row costs no window over the whole file.
            self.raw.execute(
                f"CREATE TABLE {name}_data AS SELECT * FROM read_csv({', '.join(args)})"
            )
            self.raw.execute(
                f"CREATE VIEW {name} AS SELECT CAST(rowid + 2 AS BIGINT) AS __row, * "
                f"FROM {name}_data"
            )
        except duckdb.Error as exc:
            raise SourceReadError(f"{shown}: cannot read the file: {_first_line(exc)}") from exc
        return self.con.table(name)

    def sniff_delimiter(self, path: Path, shown: str) -> str:
        try:
            rows = self.raw.execute(
                f"SELECT Delimiter FROM sniff_csv({_lit(str(path))})"
            ).fetchall()
        except duckdb.Error as exc:
            raise SourceReadError(f"{shown}: cannot read the file: {_first_line(exc)}") from exc
        return str(rows[0][0]) if rows else ","

    def header(self, path: Path, shown: str, *, sep: str | None = None) -> list[str]:
        """The column names of a CSV file, as the engine reads them."""
        args = [_lit(str(path)), "header = true", "all_varchar = true", "sample_size = 2048"]
        if sep:
            args.append(f"delim = {_lit(sep)}")
        try:
            rows = self.raw.execute(
                f"DESCRIBE SELECT * FROM read_csv({', '.join(args)})"
            ).fetchall()
        except duckdb.Error as exc:
            raise SourceReadError(f"{shown}: cannot read the file: {_first_line(exc)}") from exc
        return [str(r[0]) for r in rows]

    def attach(self, path: str, alias: str = "wh") -> list[str]:
        """Attach a DuckDB warehouse file read-only (no copy); returns its table names."""
        try:
            self.raw.execute(f"ATTACH {_lit(path)} AS {_q(alias)} (READ_ONLY)")
            rows = self.raw.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_catalog = ?",
                [alias],
            ).fetchall()
        except duckdb.Error as exc:
            raise SourceReadError(f"{path}: cannot open the warehouse: {_first_line(exc)}") from exc
        return [str(r[0]) for r in rows]

    def attached_as_text(self, alias: str, table: str, columns: dict[str, str]) -> ir.Table:
        """A view over an attached table, ``columns`` (source -> new name) cast to text."""
        name = self._name("wh")
        sel = ", ".join(
            f"NULLIF(CAST({_q(src)} AS VARCHAR), '') AS {_q(dst)}" for src, dst in columns.items()
        )
        self.raw.execute(
            f"CREATE VIEW {name} AS SELECT CAST(row_number() OVER () AS BIGINT) AS __row, {sel} "
            f"FROM {_q(alias)}.main.{_q(table)}"
        )
        return self.con.table(name)

    def from_arrow(self, batches: Any) -> ir.Table:
        """Load an Arrow record-batch reader (streamed) into a table with ``__row``."""
        name = self._name("arrow")
        self.raw.register(name + "_in", batches)
        try:
            self.raw.execute(
                f"CREATE TABLE {name} AS SELECT CAST(row_number() OVER () AS BIGINT) AS __row, * "
                f"FROM {name}_in"
            )
        finally:
            with contextlib.suppress(duckdb.Error):
                self.raw.unregister(name + "_in")
        return self.con.table(name)

    def materialize(self, expr: ir.Table, prefix: str = "b") -> ir.Table:
        return self.con.create_table(self._name(prefix), expr)

    def to_parquet(self, expr: ir.Table, path: Path) -> None:
        self.write_parquet([(expr, path)])

    def write_parquet(self, jobs: list[tuple[ir.Table, Path]], threads: int = 2) -> None:
        """Write each ``(expr, path)`` as a Parquet file, ``threads`` files at a time.

        The files are intermediate (the canonical import reads them once, from the same
        machine), so they are written uncompressed: no codec to run on the write nor on the
        read. Each file is written by its own cursor (a connection to the same in-memory
        database, with this engine's time zone), so a small file's single-threaded tail
        overlaps with another file's write.
        """
        tz = self.raw.execute("SELECT current_setting('TimeZone')").fetchone()
        sqls = [
            f"COPY ({self.con.compile(expr)}) TO {_lit(str(path))} "
            "(FORMAT parquet, COMPRESSION uncompressed)"
            for expr, path in jobs
        ]

        def run(sql: str) -> None:
            cur = self.raw.cursor()
            try:
                if tz:
                    cur.execute(f"SET TimeZone = {_lit(str(tz[0]))}")
                cur.execute(sql)
            finally:
                cur.close()

        if threads <= 1 or len(sqls) <= 1:
            for sql in sqls:
                run(sql)
            return
        with ThreadPoolExecutor(max_workers=threads) as pool:
            for fut in [pool.submit(run, sql) for sql in sqls]:
                fut.result()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.con.disconnect()


__all__ = [
    "FALSE_WORDS",
    "TRUE_WORDS",
    "Engine",
    "SourceReadError",
    "clean_text",
    "key_hash",
    "to_boolean",
    "try_strptime",
    "wall_clock_in",
]
