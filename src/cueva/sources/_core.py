"""What every source adapter shares: reading columns by any of their spellings, parsing
text to canonical types, value maps that report what did not map, contract stage names,
and the pipeline that checks, summarises, quarantines and hands canonical Parquet files to
:func:`cueva.importer.import_files` (so validation, all-or-nothing and idempotence stay in
one place).

Every canonical table an adapter builds is an Ibis table with the canonical columns (any
subset), extra columns, and five bookkeeping columns: ``__file`` and ``__row`` (where the
row came from) and ``__problem``, ``__pcol``, ``__pval`` (why the row cannot be imported:
reason, source column, source value; NULL when the row is fine).
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
import pandas as pd

from cueva.contract import Contract
from cueva.errors import CuevaError, ImportValidationError, RowError
from cueva.importer import import_files
from cueva.schema import LOAD_ORDER, TABLES, ColumnType
from cueva.sources._engine import Engine, clean_text, key_hash, to_boolean, wall_clock_in

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cueva.store import Store

QUARANTINE_TABLE = "_cueva_quarantine"
QUARANTINE_SCHEMA = {
    "source": "string",
    "file": "string",
    "row": "int64",
    "table_name": "string",
    "column_name": "string",
    "value": "string",
    "reason": "string",
    "quarantined_at": "timestamp",
}
BOOK = ("__file", "__row", "__problem", "__pcol", "__pval")
_UNMAPPED = "#cueva-unmapped#"
#: Reason of rows held back because a row they reference was.
CASCADE = "references a quarantined"

IBIS_TYPE: dict[ColumnType, str] = {
    "string": "string",
    "int64": "int64",
    "float64": "float64",
    "boolean": "boolean",
    "timestamp": "timestamp('UTC')",
    "date": "date",
}


class SourceMappingError(CuevaError, ValueError):
    """Source values did not map onto canonical values; nothing was written."""

    def __init__(self, message: str, summary: SourceSummary) -> None:
        super().__init__(message)
        self.summary = summary


def norm_header(name: str) -> str:
    """Header spelling used for matching: no BOM, lower case, single spaces."""
    return re.sub(r"[\s]+", " ", name.replace("\ufeff", "").strip().lower())


def norm_value(name: str) -> str:
    return re.sub(r"\s+", " ", name.strip().casefold())


class Raw:
    """One source file (or warehouse table) as an all-text Ibis table with ``__row``.

    Columns are looked up by any of their known spellings; the ones never looked up are the
    file's ignored columns.
    """

    def __init__(self, file: str, table: ir.Table) -> None:
        self.file = file
        self.t = table
        self.by_norm: dict[str, str] = {}
        for c in table.columns:
            if c != "__row":
                self.by_norm.setdefault(norm_header(c), c)
        self.used: set[str] = set()
        self.rows: int | None = None

    def name(self, *spellings: str) -> str | None:
        for s in spellings:
            found = self.by_norm.get(norm_header(s))
            if found is not None:
                self.used.add(found)
                return found
        return None

    def has(self, *spellings: str) -> bool:
        return any(norm_header(s) in self.by_norm for s in spellings)

    def col(self, *spellings: str) -> ir.StringValue:
        """The first column with one of ``spellings``, trimmed, '' as NULL; NULL if absent."""
        found = self.name(*spellings)
        if found is None:
            return ibis.null("string")
        return clean_text(self.t[found].cast("string"))

    def matching(self, pattern: str) -> dict[str, str]:
        """Columns whose normalised name matches ``pattern`` (a regex with one group):
        {group value: column name}; marks them used."""
        out: dict[str, str] = {}
        rx = re.compile(pattern)
        for n, c in self.by_norm.items():
            m = rx.fullmatch(n)
            if m:
                out[m.group(1)] = c
                self.used.add(c)
        return out

    @property
    def ignored(self) -> list[str]:
        return [c for c in self.t.columns if c != "__row" and c not in self.used]

    def book(self) -> dict[str, ir.Value]:
        """Where each row came from."""
        return {"__file": ibis.literal(self.file), "__row": self.t["__row"].cast("int64")}


# ------------------------------------------------------------------ parsing text


def ts(v: ir.StringValue) -> ir.TimestampValue:
    """ISO 8601 text as a timestamp with time zone; text without an offset is read in the
    engine's time zone (the source's)."""
    return v.try_cast("timestamp('UTC')")


def day(v: ir.StringValue) -> ir.DateValue:
    """A date, or the date part of a timestamp."""
    return ibis.coalesce(v.try_cast("date"), v.try_cast("timestamp('UTC')").date())


def day_start(v: ir.StringValue, tz: str) -> ir.TimestampValue:
    """A calendar date (or the date part of a timestamp) as midnight in ``tz``."""
    return wall_clock_in(tz, day(v).cast("timestamp"))


def boolean(v: ir.StringValue) -> ir.BooleanValue:
    """true/false, t/f, 1/0, yes/no, sí, verdadero, sim, x, ... (the engine's word lists)."""
    return to_boolean(v)


def num(v: ir.StringValue) -> ir.FloatingValue:
    return v.try_cast("float64")


class ValueMap:
    """Source values (matched case- and space-insensitively) to canonical values. A value
    mapped to ``None`` is known but carries nothing (e.g. a lead status with no stage)."""

    def __init__(self, name: str, mapping: Mapping[str, str | None]) -> None:
        self.name = name
        self.mapping = {norm_value(k): v for k, v in mapping.items()}

    def updated(self, more: Mapping[str, str | None] | None) -> ValueMap:
        out = ValueMap(self.name, {})
        out.mapping = dict(self.mapping)
        for k, v in (more or {}).items():
            out.mapping[norm_value(str(k))] = None if v is None else str(v)
        return out

    def apply(self, v: ir.StringValue) -> tuple[ir.StringValue, ir.BooleanValue]:
        """(mapped value or NULL, True where a non-empty value is not in the map) for
        cleaned text ``v`` (:meth:`Raw.col`). An inline CASE: for small tables; over large
        ones :func:`apply_map` evaluates the map once (a CASE repeated in several columns
        and checks costs the engine's planner seconds)."""
        if not self.mapping:
            return ibis.null("string"), v.notnull()
        key = v.lower()
        table = {k: ("" if t is None else t) for k, t in self.mapping.items()}
        got = key.substitute(table, else_=_UNMAPPED)
        return got.nullif(_UNMAPPED).nullif(""), v.notnull() & (got == _UNMAPPED)


def apply_map(t: ir.Table, vmap: ValueMap, column: str, name: str) -> ir.Table:
    """``t`` with ``t[column]`` (cleaned text) mapped by a hash join with the (small) map
    table, evaluated once: columns ``__v_<name>`` (the mapped value or NULL) and
    ``__u_<name>`` (True where a non-empty value is not in the map)."""
    v = t[column]
    if not vmap.mapping:
        return t.mutate(**{f"__v_{name}": ibis.null("string"), f"__u_{name}": v.notnull()})
    keys = list(vmap.mapping)
    m = ibis.memtable(
        {
            f"__k_{name}": keys,
            f"__m_{name}": ["" if vmap.mapping[k] is None else vmap.mapping[k] for k in keys],
        },
        schema={f"__k_{name}": "string", f"__m_{name}": "string"},
    )
    j = t.left_join(m, v.lower() == m[f"__k_{name}"])
    return j.select(
        *[j[c] for c in t.columns],
        **{
            f"__v_{name}": j[f"__m_{name}"].nullif(""),
            f"__u_{name}": j[column].notnull() & j[f"__k_{name}"].isnull(),
        },
    )


@dataclass(frozen=True)
class Check:
    """Rows where ``cond`` holds cannot be imported: ``reason``, naming ``column``/``value``."""

    cond: ir.BooleanValue
    column: str
    value: ir.Value
    reason: str


def flag(*checks: Check) -> dict[str, ir.Value]:
    """The three problem columns for a row: the first failing check wins."""
    if not checks:
        return {
            "__problem": ibis.null("string"),
            "__pcol": ibis.null("string"),
            "__pval": ibis.null("string"),
        }
    return {
        "__problem": ibis.cases(*[(c.cond, c.reason) for c in checks], else_=ibis.null("string")),
        "__pcol": ibis.cases(*[(c.cond, c.column) for c in checks], else_=ibis.null("string")),
        "__pval": ibis.cases(
            *[(c.cond, c.value.cast("string")) for c in checks], else_=ibis.null("string")
        ),
    }


# ------------------------------------------------------------------ contract stages


class Stages:
    """Stage names and event aliases from the contract, for each entity type."""

    def __init__(self, contract: Contract) -> None:
        self.alias: dict[str, tuple[str, str]] = {}
        for s in contract.funnel.stages:
            event = s.entry.events[0] if s.entry.events else s.name
            for a in [s.name, *s.entry.events]:
                self.alias.setdefault(norm_value(a), (s.entry.entity_type, event))
        self.first = contract.funnel.stages[0].name

    def event(self, target: str | None, entity: str) -> str | None:
        """The stage-event name for a mapped value, if the contract has it for ``entity``."""
        if target is None:
            return None
        found = self.alias.get(norm_value(target))
        if found is None or found[0] != entity:
            return None
        return found[1]

    def names(self, entity: str) -> list[str]:
        return sorted(a for a, (e, _) in self.alias.items() if e == entity)


# ------------------------------------------------------------------ the build


@dataclass
class Build:
    """One import in progress: the source engine, the files read, the tables built."""

    source: str
    contract: Contract
    engine: Engine
    raws: list[Raw] = field(default_factory=list)
    tables: dict[str, ir.Table] = field(default_factory=dict)
    merged: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    fx_rates: list[dict[str, Any]] = field(default_factory=list)
    currencies: dict[str, int] = field(default_factory=dict)
    #: (canonical table, source file, canonical column) -> the source column it was read
    #: from, where an adapter knows it: errors of the canonical import name that column.
    source_columns: dict[tuple[str, str, str], str] = field(default_factory=dict)

    @property
    def stages(self) -> Stages:
        return Stages(self.contract)

    def add(self, name: str, expr: ir.Table) -> None:
        """Add rows for canonical table ``name`` (several adds are unioned)."""
        expr = conform(name, expr)
        if name in self.tables:
            prev = self.tables[name]
            cols = list(dict.fromkeys([*prev.columns, *expr.columns]))
            prev = prev.select([_col_or_null(prev, c, expr) for c in cols])
            expr = expr.select([_col_or_null(expr, c, prev) for c in cols])
            expr = prev.union(expr)
        self.tables[name] = expr

    def count(self, expr: ir.Table) -> int:
        return int(self.engine.con.execute(expr.count()))


def _col_or_null(t: ir.Table, c: str, other: ir.Table) -> ir.Value:
    if c in t.columns:
        return t[c]
    return ibis.null(other[c].type()).name(c)


def conform(name: str, expr: ir.Table) -> ir.Table:
    """``expr`` with the canonical columns in schema order and types, then extras, then the
    bookkeeping columns."""
    spec = TABLES[name]
    sel: list[ir.Value] = []
    for col in spec.columns:
        ty = IBIS_TYPE[col.type]
        sel.append(
            (expr[col.name].cast(ty) if col.name in expr.columns else ibis.null(ty)).name(col.name)
        )
    for name_ in expr.columns:
        if not spec.has(name_) and name_ not in BOOK:
            sel.append(expr[name_])
    for c, t in (
        ("__file", "string"),
        ("__row", "int64"),
        ("__problem", "string"),
        ("__pcol", "string"),
        ("__pval", "string"),
    ):
        sel.append((expr[c].cast(t) if c in expr.columns else ibis.null(t)).name(c))
    return expr.select(sel)


# ------------------------------------------------------------------ summary


@dataclass
class FileRead:
    file: str
    rows: int
    ignored_columns: list[str]


@dataclass
class TableRows:
    table: str
    rows: int
    quarantined: int
    first: str | None
    last: str | None


@dataclass
class Unmapped:
    table: str
    column: str
    value: str | None
    reason: str
    count: int
    file: str
    row: int


@dataclass
class SourceSummary:
    """What an import understood and what it did not. Rendered by the CLI."""

    source: str
    dry_run: bool
    quarantine: bool
    files: list[FileRead] = field(default_factory=list)
    tables: list[TableRows] = field(default_factory=list)
    unmapped: list[Unmapped] = field(default_factory=list)
    #: Rows that did not map, plus the problems the canonical import found (``import_problems``).
    problem_rows: int = 0
    #: Dry run: problems the canonical import (types, required values, keys, references) found
    #: in the rows that would be written; the real import would be rejected. ``import_errors``
    #: holds the first ones (at most 20 per file), located in the source files.
    import_problems: int = 0
    import_errors: list[str] = field(default_factory=list)
    merged: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    currencies: dict[str, int] = field(default_factory=dict)
    fx_rates: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    written: bool = False
    imported_rows: int = 0
    seconds: float = 0.0

    @property
    def rows_read(self) -> int:
        return sum(f.rows for f in self.files)

    def table_rows(self, name: str) -> int:
        return next((t.rows for t in self.tables if t.table == name), 0)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        """The summary as plain text lines."""
        out = [
            f"source: {self.source}"
            + (" (dry run: nothing written)" if self.dry_run else "")
            + f"; {self.rows_read:,} rows read from {len(self.files)} file(s)"
        ]
        for f in self.files:
            ign = f"; ignored columns: {', '.join(f.ignored_columns)}" if f.ignored_columns else ""
            out.append(f"  {f.file}: {f.rows:,} rows{ign}")
        out.append("canonical rows:")
        for t in self.tables:
            rng = f" ({t.first} .. {t.last})" if t.first else ""
            q = f", {t.quarantined:,} quarantined" if t.quarantined else ""
            out.append(f"  {t.table}: {t.rows:,}{q}{rng}")
        if self.unmapped:
            unmapped = self.problem_rows - self.import_problems
            out.append(f"values that did not map ({unmapped:,} rows; top 10):")
            for u in self.unmapped:
                out.append(
                    f"  {u.table}.{u.column} {u.value!r}: {u.reason} ({u.count:,} rows; "
                    f"first at {u.file} row {u.row})"
                )
        for k, v in self.merged.items():
            out.append(f"merged: {v:,} {k}")
        for k, v in self.dropped.items():
            out.append(f"dropped: {v:,} {k}")
        if self.currencies:
            out.append(
                "currencies: " + ", ".join(f"{c} ({n:,})" for c, n in self.currencies.items())
            )
        for r in self.fx_rates:
            out.append(
                f"fx: {r['currency']} -> {r['to']}: {r['rows']:,} amounts converted with "
                f"{r['rates']} rate(s) dated {r['first']} .. {r['last']}"
            )
        out.extend(f"note: {n}" for n in self.notes)
        if self.import_problems:
            out.append(
                f"the canonical import would reject this: {self.import_problems:,} problem(s)"
                + (" (--quarantine does not hold these back):" if self.quarantine else ":")
            )
            out.extend(f"  {e}" for e in self.import_errors)
            shown = len(self.import_errors)
            if self.import_problems > shown:
                out.append(f"  ... and {self.import_problems - shown:,} more problem(s)")
        if self.written:
            q = (
                f"; {self.problem_rows:,} rows quarantined in {QUARANTINE_TABLE}"
                if self.problem_rows
                else ""
            )
            out.append(f"imported {self.imported_rows:,} rows in {self.seconds:.2f}s{q}")
        return out


def _iso(v: Any, tz: str) -> str | None:
    """A min/max value as ISO text; aware timestamps as wall-clock time in ``tz``."""
    if v is None or v is pd.NaT or (isinstance(v, float) and pd.isna(v)):
        return None
    if isinstance(v, datetime) and v.tzinfo is not None:
        v = pd.Timestamp(v).tz_convert(tz).tz_localize(None).to_pydatetime()
    if hasattr(v, "isoformat"):
        return str(v.isoformat())
    return str(v)


# ------------------------------------------------------------------ the pipeline


def finish(
    build: Build,
    store: Store | None,
    *,
    dry_run: bool = False,
    quarantine: bool = False,
    on_step: Callable[[str], None] | None = None,
) -> SourceSummary:
    """Check, summarise and (unless ``dry_run``) import what ``build`` holds."""
    started = time.perf_counter()
    eng = build.engine
    con = eng.con
    summary = SourceSummary(build.source, dry_run, quarantine)
    tz = build.contract.timezone
    for r in build.raws:
        rows = r.rows if r.rows is not None else int(con.execute(r.t.count()))
        summary.files.append(FileRead(r.file, rows, r.ignored))

    # Materialise each table once, dedupe by key, cascade quarantine to dependants.
    built: dict[str, ir.Table] = {}
    bad_counts: dict[str, int] = {}
    one_file: set[str] = set()  # tables whose written rows all come from one file
    for name in LOAD_ORDER:
        if name not in build.tables:
            continue
        if on_step:
            on_step(name)
        spec = TABLES[name]
        t = build.tables[name]
        for ref in spec.references:
            if ref.table == name or not bad_counts.get(ref.table):
                continue
            target = built[ref.table]
            bad_ids = target.filter(target["__problem"].notnull())[TABLES[ref.table].key[0]]
            cond = t["__problem"].isnull() & t[ref.column].isin(bad_ids)
            if ref.when:
                cond = cond & (t[ref.when[0]] == ref.when[1])
            t = t.mutate(
                __problem=ibis.ifelse(cond, f"{CASCADE} {ref.table} row", t["__problem"]),
                __pcol=ibis.ifelse(cond, ref.column, t["__pcol"]),
                __pval=ibis.ifelse(cond, t[ref.column].cast("string"), t["__pval"]),
            )
        keys = list(spec.key)
        t = eng.materialize(t, name)
        counts = con.execute(t.aggregate(**_table_counts(spec, t))).iloc[0]
        # Rows with the same key (same id listed twice, the same stage event derived twice):
        # keep the last one. As many distinct key hashes as rows prove there are none (one
        # scan, in the counts' query); otherwise a hash aggregate finds the repeated keys,
        # and they are ranked only when there are any.
        if int(counts["n_keys"] or 0) < int(counts["n_ok"] or 0):
            ok = t.filter(t["__problem"].isnull())
            groups = ok.group_by(keys).aggregate(__n=ok.count())
            dupes = int(con.execute(groups.filter(groups["__n"] > 1)["__n"].sum()) or 0)
            if dupes:
                is_ok = t["__problem"].isnull()
                rank = ibis.row_number().over(
                    group_by=[is_ok, *[t[k] for k in keys]],
                    order_by=[ibis.desc(t["__file"]), ibis.desc(t["__row"])],
                )
                t = eng.materialize(t.filter(~is_ok | (rank == 0)), name)
                n_groups = int(con.execute(groups.filter(groups["__n"] > 1).count()))
                build.merged[f"duplicate {name} rows (same {', '.join(keys)})"] = dupes - n_groups
                counts = con.execute(t.aggregate(**_table_counts(spec, t))).iloc[0]
        final = t
        n_ok = int(counts["n_ok"] or 0)
        n_bad = int(counts["n_bad"] or 0)
        bad_counts[name] = n_bad
        built[name] = final
        if int(counts["n_files"] or 0) <= 1:
            one_file.add(name)
        first = last = None
        if spec.time_column and n_ok:
            first, last = _iso(counts["a"], tz), _iso(counts["b"], tz)
        summary.tables.append(TableRows(name, n_ok, n_bad, first, last))

    problems = [
        t.filter(t["__problem"].notnull()).select(
            __table=ibis.literal(n),
            __file=t["__file"],
            __row=t["__row"],
            __problem=t["__problem"],
            __pcol=t["__pcol"],
            __pval=t["__pval"],
        )
        for n, t in built.items()
        if bad_counts.get(n)
    ]
    all_problems = None
    if problems:
        all_problems = problems[0]
        for p in problems[1:]:
            all_problems = all_problems.union(p)
        top = con.execute(
            all_problems.group_by(["__table", "__pcol", "__pval", "__problem"])
            .aggregate(
                n=all_problems.count(),
                f=all_problems["__file"].min(),
                r=all_problems["__row"].min(),
            )
            .order_by(
                [
                    ibis._["__problem"].startswith(CASCADE),
                    ibis.desc("n"),
                    "__table",
                    "__pcol",
                    "__pval",
                ]
            )
            .limit(10)
        )
        summary.unmapped = [
            Unmapped(
                str(row["__table"]),
                str(row["__pcol"]),
                None if pd.isna(row["__pval"]) else str(row["__pval"]),
                str(row["__problem"]),
                int(row["n"]),
                str(row["f"]),
                int(row["r"]),
            )
            for row in top.to_dict("records")
        ]
        summary.problem_rows = sum(bad_counts.values())

    summary.merged = dict(build.merged)
    summary.dropped = dict(build.dropped)
    summary.notes = list(build.notes)
    summary.fx_rates = list(build.fx_rates)
    summary.currencies = dict(build.currencies)

    if summary.problem_rows and not quarantine and not dry_run:
        lines = [
            f"{summary.problem_rows:,} row(s) of the {build.source} export did not map; "
            "nothing was written (fix the mapping, or use --quarantine to import the rest):"
        ]
        for u in summary.unmapped:
            lines.append(
                f"  {u.file} row {u.row}, column {u.column} {u.value!r}: {u.reason} "
                f"({u.count:,} row(s) -> {u.table})"
            )
        raise SourceMappingError("\n".join(lines), summary)
    if store is None:
        summary.seconds = time.perf_counter() - started
        return summary

    # The rows that would be written go to the canonical import as Parquet files, in a
    # defined order (source file, source row, key: unique among these rows after the dedupe)
    # so that a Parquet row it reports can be traced back to its source file and row. The
    # file is sorted by its rank among the table's files, and left out when all rows come
    # from one: a file name, equal on most pairs of rows, costs a full string comparison per
    # pair. A dry run runs the same checks and writes nothing.
    with tempfile.TemporaryDirectory(prefix="cueva-source-") as tmp:
        paths: list[Path] = []
        written: dict[str, tuple[str, ir.Table, list[ir.Value]]] = {}
        jobs: list[tuple[ir.Table, Path]] = []
        for name, t in built.items():
            if not next(x.rows for x in summary.tables if x.table == name):
                continue
            good = t.filter(t["__problem"].isnull())
            files = [] if name in one_file else _files_of(con, good)
            order = _write_order(name, good, files)
            path = Path(tmp) / f"{name}.parquet"
            jobs.append((good.order_by(order).drop(*BOOK), path))
            paths.append(path)
            written[path.name] = (name, good, order)
        eng.write_parquet(jobs)
        if on_step:
            on_step("check" if dry_run else "import")
        try:
            result = import_files(
                store,
                paths,
                timezone=build.contract.timezone,
                force=True,
                validate_only=dry_run,
            )
        except ImportValidationError as exc:
            located = _locate(build, written, exc)
            if not dry_run:
                raise located from exc
            summary.import_problems = sum(located.counts.values())
            summary.import_errors = [str(e) for e in located.errors]
            summary.problem_rows += summary.import_problems
    if dry_run:
        summary.seconds = time.perf_counter() - started
        return summary
    summary.imported_rows = result.rows
    summary.written = True
    if all_problems is not None:
        _write_quarantine(store, build.source, con.execute(all_problems))
    elif QUARANTINE_TABLE in store.con.list_tables():
        _write_quarantine(store, build.source, pd.DataFrame(columns=[*BOOK, "__table"]))
    summary.seconds = time.perf_counter() - started
    return summary


def _table_counts(spec: Any, t: ir.Table) -> dict[str, ir.Value]:
    """The aggregates :func:`finish` reads of a built table: rows that pass and fail, source
    files, the time range, and distinct key hashes among the passing rows."""
    good = t["__problem"].isnull()
    key = spec.key[0] if len(spec.key) == 1 else None
    aggs: dict[str, ir.Value] = {
        "n_ok": good.sum(),
        "n_bad": t["__problem"].notnull().sum(),
        "n_files": t["__file"].nunique(where=good),
        "n_keys": key_hash(t[key] if key else ibis.struct({k: t[k] for k in spec.key})).nunique(
            where=good
        ),
    }
    if spec.time_column:
        aggs["a"] = t[spec.time_column].min(where=good)
        aggs["b"] = t[spec.time_column].max(where=good)
    return aggs


def _write_order(name: str, good: ir.Table, files: list[str]) -> list[ir.Value]:
    """The order the rows of ``good`` are written in: source file (by its rank in
    ``files`` sorted by name, when there are several), source row, key; a total order (keys
    are unique among the rows that are written)."""
    keys = [good[k] for k in TABLES[name].key]
    if len(files) <= 1:
        return [good["__row"], *keys]
    ranked = sorted(files)
    rank = ibis.cases(*[(good["__file"] == f, i) for i, f in enumerate(ranked)], else_=len(ranked))
    return [rank, good["__row"], *keys]


def _locate(
    build: Build,
    written: dict[str, tuple[str, ir.Table, list[ir.Value]]],
    exc: ImportValidationError,
) -> ImportValidationError:
    """``exc`` (about the Parquet files :func:`finish` wrote) about the source files: each
    reported Parquet row becomes its source file and row (one query per file, for the <= 20
    reported rows), the column the source column it was read from where known, and the
    counts are keyed by the same names as the errors."""
    con = build.engine.con
    errors: list[RowError] = []
    counts: dict[str, int] = {}
    for parquet in dict.fromkeys([*[e.file for e in exc.errors], *exc.counts]):
        errs = [e for e in exc.errors if e.file == parquet]
        name, good, order = written.get(parquet, (Path(parquet).stem, None, []))
        label = f"{name} (built from the {build.source} export)"
        where: dict[int, tuple[str, int]] = {}
        rows = sorted({e.row for e in errs if e.row is not None})
        if good is not None and rows:
            n = (ibis.row_number().over(order_by=order) + 1).name("__n")
            numbered = good.select(good["__file"], good["__row"], n)
            got = con.execute(numbered.filter(numbered["__n"].isin(rows)))
            where = {
                int(r["__n"]): (str(r["__file"]), int(r["__row"])) for r in got.to_dict("records")
            }
        raw_values = _source_values(build, name, errs, where)
        for e in errs:
            if e.row is None or e.row not in where:
                errors.append(RowError(label, e.row, e.column, e.value, e.message))
                counts[label] = counts.get(label, 0) + 1
                continue
            file, row = where[e.row]
            column, value, message = e.column, e.value, e.message
            source = build.source_columns.get((name, file, e.column or ""))
            if source is not None:
                column = source
                raw = raw_values.get((file, row, source))
                if value is None and raw is not None:
                    value, message = raw, f"{message} (the mapping turns this value into null)"
            errors.append(RowError(file, row, column, value, message))
            counts[file] = counts.get(file, 0) + 1
        more = exc.counts.get(parquet, 0) - len(errs)
        if more > 0:
            files = [] if good is None else _files_of(con, good)
            target = files[0] if len(files) == 1 else label
            counts[target] = counts.get(target, 0) + more
    return ImportValidationError(errors, counts)


def _files_of(con: Any, good: ir.Table) -> list[str]:
    return [str(f) for f in con.execute(good.select("__file").distinct())["__file"]]


def _source_values(
    build: Build, name: str, errs: list[RowError], where: dict[int, tuple[str, int]]
) -> dict[tuple[str, int, str], str]:
    """(file, row, source column) -> the source text, for the reported rows whose column
    has a known source column (one small query per source file)."""
    wanted: dict[str, dict[str, set[int]]] = {}
    for e in errs:
        if e.row is None or e.row not in where:
            continue
        file, row = where[e.row]
        source = build.source_columns.get((name, file, e.column or ""))
        if source is not None:
            wanted.setdefault(file, {}).setdefault(source, set()).add(row)
    out: dict[tuple[str, int, str], str] = {}
    for file, by_col in wanted.items():
        raw = next((r for r in build.raws if r.file == file), None)
        if raw is None:
            continue
        cols = [c for c in by_col if c in raw.t.columns]
        rows = sorted(set().union(*[by_col[c] for c in cols])) if cols else []
        if not rows:
            continue
        t = raw.t
        got = build.engine.con.execute(
            t.filter(t["__row"].cast("int64").isin(rows)).select("__row", *cols)
        )
        for rec in got.to_dict("records"):
            for c in cols:
                v = rec[c]
                if v is not None and not (isinstance(v, float) and pd.isna(v)) and str(v) != "":
                    out[(file, int(rec["__row"]), c)] = str(v)
    return out


def _write_quarantine(store: Store, source: str, frame: pd.DataFrame) -> None:
    """Replace this source's rows in the store's quarantine table (small: problems only)."""
    new = pd.DataFrame(
        {
            "source": source,
            "file": frame["__file"].astype(str),
            "row": frame["__row"].astype("int64"),
            "table_name": frame["__table"].astype(str),
            "column_name": frame["__pcol"].astype(str),
            "value": frame["__pval"].astype("string"),
            "reason": frame["__problem"].astype(str),
            "quarantined_at": pd.Timestamp(datetime.now().replace(microsecond=0)),
        }
    )
    con = store.con
    if QUARANTINE_TABLE in con.list_tables():
        old = con.table(QUARANTINE_TABLE)
        keep = old.filter(old.source != source).to_pandas()
        new = pd.concat([keep, new], ignore_index=True)
        # (Ibis create_table(overwrite=True) and drop_table are broken with this sqlglot.)
        con.insert(QUARANTINE_TABLE, ibis.memtable(new, schema=QUARANTINE_SCHEMA), overwrite=True)
    else:
        con.create_table(QUARANTINE_TABLE, ibis.memtable(new, schema=QUARANTINE_SCHEMA))


def quarantined(store: Store) -> pd.DataFrame:
    """The rows held back by the last ``--quarantine`` import of each source."""
    con = store.con
    if QUARANTINE_TABLE not in con.list_tables():
        return pd.DataFrame(columns=list(QUARANTINE_SCHEMA))
    return con.table(QUARANTINE_TABLE).order_by(["source", "file", "row"]).to_pandas()


def run_build(
    source: str,
    contract: Contract,
    store: Store | None,
    fill: Callable[[Build], object],
    *,
    source_timezone: str | None = None,
    dry_run: bool = False,
    quarantine: bool = False,
    on_step: Callable[[str], None] | None = None,
) -> SourceSummary:
    """Create an engine, let ``fill`` add tables, then :func:`finish`."""
    with tempfile.TemporaryDirectory(prefix="cueva-engine-") as tmp:
        eng = Engine(Path(tmp), source_timezone or contract.timezone)
        try:
            build = Build(source, contract, eng)
            fill(build)
            return finish(build, store, dry_run=dry_run, quarantine=quarantine, on_step=on_step)
        finally:
            eng.close()


def existing_ids(store: Store | None, table: str, limit: int = 1_000_000) -> list[str]:
    """Keys already in the store (for small tables such as owners)."""
    if store is None:
        return []
    key = TABLES[table].key[0]
    t = store.table(table)
    return [str(v) for v in t.select(key).limit(limit).to_pyarrow().column(0).to_pylist()]


def id_map(build: Build, pairs: list[tuple[ir.Table, str]], deleted: list[ir.Table]) -> ir.Table:
    """(src, dst): ids of live records to their target id, plus merged-away records
    (deleted with a master) to their master's target."""
    live = union_all(p.select(src=p.id, dst=p[col]) for p, col in pairs)
    live = build.engine.materialize(live.distinct(on="src", keep="first"), "map")
    if not deleted:
        return live
    dead = union_all(d.select(src=d.id, master=d.master) for d in deleted)
    via = dead.join(live, dead.master == live.src).select(src=dead.src, dst=live.dst)
    via = via.filter(~via.src.isin(live.src))
    return build.engine.materialize(live.union(via).distinct(on="src", keep="first"), "map")


def lookup(ids: ir.Table, t: ir.Table, column: str, out: str) -> ir.Table:
    """``t`` with ``out`` = the mapped id of ``t[column]`` (NULL when unknown); ``ids`` has
    one row per ``src`` (as :func:`id_map` builds it)."""
    m = ids.select(__k=ids.src, __v=ids.dst)
    j = t.left_join(m, t[column] == m["__k"])
    return j.select(*[j[c] for c in t.columns], **{out: j["__v"]})


def union_all(parts: Iterable[ir.Table]) -> ir.Table:
    items = list(parts)
    out = items[0]
    for p in items[1:]:
        out = out.union(p)
    return out


# ------------------------------------------------------------------ shared builders
# The canonical tables the CRM adapters (Salesforce, HubSpot) build the same way from
# differently named source columns. Each builder takes a table whose columns carry the
# builder's names, and the source column names: for the messages of its checks, and recorded
# in ``Build.source_columns`` so that the canonical import's errors name them too.


def note_sources(build: Build, table: str, file: str, columns: Mapping[str, str | None]) -> None:
    """Record that canonical ``table``'s rows from ``file`` read canonical column -> source
    column (``None``: not read from one column)."""
    for canonical, source in columns.items():
        if source is not None:
            build.source_columns[(table, file, canonical)] = source


def whole(v: ir.StringValue) -> ir.IntegerValue:
    """A whole number written as text ("12", "12.0", "1e3"); NULL for other text ("12.5",
    "a"). (The engine's own cast to an integer rounds "12.5" to 13.)"""
    f = v.try_cast("float64")
    return ibis.ifelse(f == f.floor(), f.try_cast("int64"), ibis.null("int64"))


def add_referenced_owners(
    build: Build,
    refs: list[ir.Table],
    store: Store | None,
    *,
    listed: ir.Column | None,
    note: str,
    label: str,
) -> None:
    """Owners that rows reference (``refs``: tables with one column ``owner``) and that are
    neither ``listed`` (the export's owners) nor in the store: added with team 'unassigned'
    (their id as name) and ``note`` (formatted with ``n``, their count)."""
    if not refs:
        return
    referenced = union_all(refs).filter(ibis._.owner.notnull()).distinct()
    known = existing_ids(store, "owners")
    if known:
        referenced = referenced.filter(~referenced.owner.isin(known))
    if listed is not None:
        referenced = referenced.filter(~referenced.owner.isin(listed))
    referenced = build.engine.materialize(referenced, "owners")
    n = build.count(referenced)
    if not n:
        return
    build.notes.append(note.format(n=n))
    build.add(
        "owners",
        referenced.select(
            owner_id=referenced.owner,
            name=referenced.owner,
            team=ibis.literal("unassigned"),
            __file=ibis.literal(label),
            __row=ibis.literal(0).cast("int64"),
        ),
    )


def add_accounts(build: Build, t: ir.Table, *, file: str, src: Mapping[str, str | None]) -> None:
    """Accounts from ``t`` (id, name, website, industry, segment, country, employees as text,
    owner, created): the domain is the website's host name without ``www.``."""
    domain = (
        t.website.lower()
        .re_replace(r"^[a-z]+://", "")
        .re_replace(r"^www\.", "")
        .re_replace(r"/.*$", "")
    )
    employees = whole(t.employees)
    build.add(
        "accounts",
        t.select(
            account_id=t.id,
            name=t.name,
            domain=domain,
            industry=t.industry,
            segment=t.segment if "segment" in t.columns else ibis.null("string"),
            country=t.country,
            employees=employees,
            owner_id=t.owner,
            created_at=t.created,
            __file=t["__file"],
            __row=t["__row"],
            **flag(
                Check(
                    t.employees.notnull() & employees.isnull(),
                    src.get("employees") or "employees",
                    t.employees,
                    "not a whole number",
                )
            ),
        ),
    )
    note_sources(build, "accounts", file, src)


def add_opportunities(
    build: Build,
    t: ir.Table,
    *,
    stage_map: ValueMap,
    type_map: ValueMap,
    rates: ir.Table | None,
    file: str,
    src: Mapping[str, str | None],
    extras: Callable[[ir.Table], dict[str, ir.Value]],
    checks: Callable[[ir.Table], list[Check]],
    what: str = "opportunity",
) -> ir.Table:
    """Opportunities from ``t`` (id, account_id, person_id, owner, type, created,
    created_raw, close, stage, is_closed, is_won, amount, amount_raw, currency, lost_reason,
    name, and what ``extras``/``checks`` read): stage and type through their maps, amounts
    converted to the contract currency when ``rates`` are given (dated at the close date, or
    the creation date without one). Returns the fx table (id, rate, ...) for the history."""
    from cueva.sources._fx import convert  # (_fx builds on this module)

    home = build.contract.currency
    t = build.engine.materialize(t, "opps")  # the lookups, evaluated once for fx and maps
    deals = t.select(
        id=t.id,
        currency=t.currency,
        on_date=ibis.coalesce(t.close, t.created.date()),
        amount=t.amount,
    )
    fx = convert(build, deals, rates)
    t = t.left_join(fx, t.id == fx.id).select(
        *[t[c] for c in t.columns],
        amount_converted=fx.amount_converted,
        fx_missing=fx.fx_missing,
    )
    t = apply_map(t, stage_map, "stage", "stage")
    t = apply_map(t, type_map, "type", "type")
    stage, stage_unmapped = t["__v_stage"], t["__u_stage"]
    otype, type_unmapped = t["__v_type"], t["__u_type"]
    converted = rates is not None
    more: dict[str, ir.Value] = {}
    if converted:
        more = {
            "amount_original": t.amount,
            "currency_original": ibis.coalesce(t.currency, ibis.literal(home)),
        }
    build.add(
        "opportunities",
        t.select(
            opportunity_id=t.id,
            account_id=t.account_id,
            person_id=t.person_id,
            owner_id=t.owner,
            type=otype,
            created_at=t.created,
            close_date=t.close,
            stage=stage,
            is_closed=ibis.coalesce(t.is_closed, stage.isin(["won", "lost"])),
            is_won=ibis.coalesce(t.is_won, stage == "won"),
            amount=t.amount_converted if converted else t.amount,
            currency=ibis.literal(home)
            if converted
            else ibis.coalesce(t.currency, ibis.literal(home)),
            lost_reason=t.lost_reason,
            name=t.name,
            **extras(t),
            crm_stage=t.stage,
            **more,
            __file=t["__file"],
            __row=t["__row"],
            **flag(
                Check(
                    t.created.isnull(),
                    src.get("created_at") or "",
                    t.created_raw,
                    "not a timestamp",
                ),
                Check(stage_unmapped, src.get("stage") or "", t.stage, f"{what} stage not mapped"),
                Check(type_unmapped, src.get("type") or "", t.type, f"{what} type not mapped"),
                Check(
                    t.amount_raw.notnull() & t.amount.isnull(),
                    src.get("amount") or "",
                    t.amount_raw,
                    "not a number",
                ),
                Check(
                    t.fx_missing,
                    src.get("currency") or "",
                    t.currency,
                    "no fx rate for this currency dated on or before the close date",
                ),
                *checks(t),
            ),
        ),
    )
    note_sources(build, "opportunities", file, src)
    return fx


def add_opportunity_events(
    build: Build,
    h: ir.Table,
    stage_map: ValueMap,
    *,
    entity_id: ir.StringValue,
    stage: ir.StringValue,
    entered_at: ir.TimestampValue,
    problems: dict[str, ir.Value],
) -> None:
    """Opportunity stage events from history rows ``h`` (``stage``: the mapped stage), for
    the stages the contract has; rows with problems are kept so they are reported."""
    stages = build.stages
    events = {
        str(t): e
        for t in set(stage_map.mapping.values())
        if t is not None and (e := stages.event(t, "opportunity")) is not None
    }
    if not events:
        return
    ev = h.select(
        entity_type=ibis.literal("opportunity"),
        entity_id=entity_id,
        stage=stage.substitute(events, else_=ibis.null("string")),
        entered_at=entered_at,
        __file=h["__file"],
        __row=h["__row"],
        **problems,
    )
    build.add("stage_events", ev.filter(ev.stage.notnull() | ev["__problem"].notnull()))


__all__ = [
    "QUARANTINE_TABLE",
    "Build",
    "Check",
    "FileRead",
    "Raw",
    "SourceMappingError",
    "SourceSummary",
    "Stages",
    "TableRows",
    "Unmapped",
    "ValueMap",
    "add_accounts",
    "add_opportunities",
    "add_opportunity_events",
    "add_referenced_owners",
    "apply_map",
    "boolean",
    "day",
    "day_start",
    "existing_ids",
    "finish",
    "flag",
    "id_map",
    "lookup",
    "note_sources",
    "num",
    "quarantined",
    "run_build",
    "ts",
    "whole",
]
