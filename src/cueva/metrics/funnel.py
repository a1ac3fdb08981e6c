"""Funnel metrics: stage entries, conversion, time between stages, win rate, deal size,
sales cycle and open pipeline.

Everything here builds Ibis expressions that the engine runs (DuckDB by default, and the same
code on PostgreSQL); only small aggregated results come back as pandas frames. The metrics are
registered, with their definitions, in :mod:`cueva.metrics.registry` and documented in
``docs/metrics.md``.

:func:`stage_entries` is the one place that reads the contract's stage entry rules. The SLA
scorecard, attribution and gap analysis build on it.

Common arguments of the metric functions:

``period``
    a :class:`cueva.periods.Period`; a stage entry counts in it when ``entered_at`` is in
    ``[period.start, period.end)``.
``by``
    a segment: any column of ``people`` (extra columns kept by import included), else of
    ``accounts`` (through the entry's ``account_id``), or ``owner`` for the entity's own
    ``owner_id``. Opportunity rows take a people column from their person when the person is
    known, else from their account. The result gets a column named after ``by``; missing
    values read ``(none)``.
``grain``
    ``week``, ``month`` or ``quarter`` (fiscal, from the contract): the result gets a
    ``period`` column with the bucket's label (``2026-W18``, ``2026-05``, ``2026-Q2``).
``entries`` (keyword, stage metrics only)
    stage entries to use instead of computing them: the table :func:`stage_entries`
    returns, possibly filtered (e.g. to one opportunity type). Rows must stay unique per
    (stage, entity), as they are there.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import uuid
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import ibis
import numpy as np
import pandas as pd
from ibis.formats.pandas import PandasData

from cueva.errors import ContractError, UsageError
from cueva.periods import Grain, Period, bucket_labels, buckets, check_grain, truncate_expr
from cueva.store import Store
from cueva.store import cache as _cache

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cueva.contract import Contract, Stage

#: Columns of :func:`stage_entries`, in order.
ENTRY_COLUMNS: tuple[str, ...] = (
    "entity_type",
    "entity_id",
    "person_id",
    "opportunity_id",
    "account_id",
    "owner_id",
    "stage",
    "stage_order",
    "entered_at",
    "amount",
)

#: Value of a segment column where the entity has no value.
NONE_LABEL = "(none)"

#: ``by`` values that mean the entity's own owner.
OWNER_SEGMENTS = ("owner", "owner_id")

SECONDS_PER_DAY = 86400.0

_T = TypeVar("_T")


# --------------------------------------------------------------------------- stage entries


def stage_entries(
    store: Store, contract: Contract, stages: Sequence[str] | None = None
) -> ir.Table:
    """One row per (entity, stage): the entity's FIRST entry into the stage, as a lazy Ibis
    table (run in the engine).

    A stage's entry rule (``contract.funnel.stages[i].entry``) is read here and nowhere else:
    the entry time is the earliest of the stage events whose ``stage`` is one of ``events``
    (for the stage's entity type) and the non-null values of the ``field`` column; with
    ``where``, only entities whose boolean column ``where`` (on ``people`` for person stages,
    ``opportunities`` for opportunity stages) is true enter the stage; with ``filter``
    (column -> allowed values of that same table, ``null`` for a missing value), only entities
    whose columns hold one of the listed values (e.g. ``{type: [new]}``: new business only).
    Date columns count as midnight of that day.

    Columns:

    - ``entity_type``: ``person`` or ``opportunity``
    - ``entity_id``: the person_id or opportunity_id
    - ``person_id``: the person (for opportunity stages the opportunity's ``person_id``; may
      be null)
    - ``opportunity_id``: null for person stages
    - ``account_id``: the person's account, or the opportunity's (else its person's)
    - ``owner_id``: the entity's own owner
    - ``stage``: the contract's stage name; ``stage_order``: its 0-based position
    - ``entered_at``: timestamp (naive wall-clock time in the contract's timezone)
    - ``amount``: the opportunity's amount (null for person stages)

    ``stages`` restricts the result to the named stages (UsageError for an unknown name).
    """
    store = _snap(store)
    funnel = contract.funnel
    names = [s.name for s in funnel.stages]
    if stages is not None:
        unknown = [s for s in stages if s not in names]
        if unknown:
            raise UsageError(
                f"unknown stage {unknown[0]!r}; the contract's stages are: {', '.join(names)}"
            )
    chosen = [
        (order, stage)
        for order, stage in enumerate(funnel.stages)
        if stages is None or stage.name in stages
    ]
    if not chosen:
        raise UsageError("no stages selected")
    return _build_entries(store, chosen, None)


class _Snapshot(Store):
    """The store with each table looked up once, for the duration of one metric call (a
    lookup asks the engine's catalog; a call needs the same tables many times)."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.version: tuple[Any, ...] | None = None
        self.adapter = inner.adapter
        self.url = inner.url
        self._tables: dict[str, ir.Table] = {}

    def table(self, name: str) -> ir.Table:
        if name not in self._tables:
            self._tables[name] = self.adapter.ibis.table(name)
        return self._tables[name]


def _snap(store: Store) -> Store:
    return store if isinstance(store, _Snapshot) else _Snapshot(store)


def _columns(store: Store, table: str) -> dict[str, Any]:
    return dict(store.table(table).schema().items())


def _first_entries(store: Store, stage: Stage) -> tuple[ir.Table, ir.Table | None, str | None]:
    """The pieces of one stage's entry rule.

    Returns ``(entity table, events, field)``: the entity table (people or opportunities,
    filtered by ``where``), the first matching stage event per entity (``_eid``, ``_ev``;
    None without ``events``) and the name of the ``field`` column of the entity table (None
    without ``field``).
    """
    entry = stage.entry
    etype = entry.entity_type
    base_name = "people" if etype == "person" else "opportunities"
    base = store.table(base_name)
    ctx = f"stage {stage.name!r}"
    types = _columns(store, base_name)
    if entry.where is not None:
        if entry.where not in types:
            raise ContractError(
                f"{ctx}: 'where' column {entry.where!r} is not a column of {base_name}"
            )
        if not types[entry.where].is_boolean():
            raise ContractError(
                f"{ctx}: 'where' column {base_name}.{entry.where} is {types[entry.where]}, "
                "not a boolean"
            )
        base = base.filter(base[entry.where].fill_null(False))
    if entry.filter:
        base = base.filter(value_filter(base, entry.filter, f"{ctx}: filter", base_name, types))
    events = None
    if entry.events:
        ev = store.table("stage_events")
        ev = ev.filter((ev.entity_type == etype) & ev.stage.isin(list(entry.events)))
        events = ev.group_by(_eid=ev.entity_id).aggregate(_ev=ev.entered_at.min())
    field = None
    if entry.field is not None:
        table, _, column = entry.field.partition(".")
        if table != base_name:
            raise ContractError(
                f"{ctx}: entry field {entry.field} is not a column of {base_name}, "
                f"the table of its {etype} entity"
            )
        if column not in types:
            raise ContractError(
                f"{ctx}: entry field {entry.field} is not a column of the store's {table}"
            )
        if not (types[column].is_timestamp() or types[column].is_date()):
            raise ContractError(
                f"{ctx}: entry field {entry.field} is {types[column]}, not a date or timestamp"
            )
        field = column
    return base, events, field


def value_filter(
    table: ir.Table,
    allowed: Mapping[str, Sequence[str | None]],
    ctx: str,
    table_name: str,
    types: Mapping[str, Any] | None = None,
) -> ir.BooleanValue:
    """The condition of a value filter (column -> allowed values; ``None`` allows a missing
    value) on ``table``: true where every named column holds one of its values. Values are
    compared as text (a non-string column is cast to string). ContractError names ``ctx``
    when a column is not in the table."""
    types = dict(table.schema().items()) if types is None else types
    cond: ir.BooleanValue = ibis.literal(True)
    for column, values in allowed.items():
        if column not in types:
            raise ContractError(
                f"{ctx}: {column!r} is not a column of {table_name}; "
                f"its columns are: {', '.join(types)}"
            )
        col = table[column] if types[column].is_string() else table[column].cast("string")
        listed = [v for v in values if v is not None]
        ok = col.isin(listed) if listed else ibis.literal(False)
        if len(listed) < len(values):
            ok = col.isnull() | ok
        cond = cond & ok.fill_null(False)
    return cond


def _earliest(a: ir.Value, b: ir.Value) -> ir.Value:
    """The earlier of two nullable timestamps (null only when both are)."""
    return ibis.least(a.coalesce(b), b.coalesce(a))


def _build_entries(store: Store, chosen: Sequence[tuple[int, Stage]], by: str | None) -> ir.Table:
    """The stage entries of ``chosen`` (position, stage) pairs, plus ``_seg`` when ``by``.

    Built for the engine's sake with as few scans and joins as the rules allow: a stage
    entered by a column of its entity table is read from that table directly (the key is
    unique, so no grouping), joined only with the first matching event when it also has
    ``events``; event-only stages are grouped on the (small) stage events and joined with
    their entity table once for all of them; the segment's people column is carried by
    those same joins.
    """
    seg_people = by is not None and by not in OWNER_SEGMENTS and by in _columns(store, "people")
    seg_accounts = by is not None and by not in OWNER_SEGMENTS and by in _columns(store, "accounts")
    people = store.table("people")
    opps = store.table("opportunities")

    def person_attrs(t: ir.Table) -> dict[str, Any]:
        cols: dict[str, Any] = {"_pid": t.person_id, "_acc": t.account_id, "_own": t.owner_id}
        if seg_people:
            cols["_sp"] = t[by].cast("string")
        return cols

    def opp_attrs(t: ir.Table) -> dict[str, Any]:
        return {
            "_oid": t.opportunity_id,
            "_pid": t.person_id,
            "_acc": t.account_id,
            "_own": t.owner_id,
            "_amt": t.amount.cast("float64"),
        }

    sides: list[ir.Table] = []
    for etype in ("person", "opportunity"):
        of_type = [(o, s) for o, s in chosen if s.entry.entity_type == etype]
        if not of_type:
            continue
        attrs = person_attrs if etype == "person" else opp_attrs
        key = "person_id" if etype == "person" else "opportunity_id"
        direct: list[ir.Table] = []
        by_events: list[ir.Table] = []
        for order, stage in of_type:
            base, events, field = _first_entries(store, stage)
            tag = {"stage": ibis.literal(stage.name), "stage_order": ibis.literal(order, "int64")}
            if field is not None:
                if events is not None:
                    j = base.left_join(events, base[key] == events._eid)
                    at = _earliest(j[field].cast("timestamp"), j._ev)
                    part = j.select(**attrs(j), **tag, _at=at.cast("timestamp"))
                else:
                    part = base.select(**attrs(base), **tag, _at=base[field].cast("timestamp"))
                direct.append(part.filter(part._at.notnull()))
            else:
                assert events is not None
                if stage.entry.where is not None or stage.entry.filter:
                    events = events.filter(events._eid.isin(base[key]))
                by_events.append(
                    events.select(_eid=events._eid, **tag, _at=events._ev.cast("timestamp"))
                )
        if by_events:
            u = ibis.union(*by_events, distinct=False) if len(by_events) > 1 else by_events[0]
            base = people if etype == "person" else opps
            a = base.select(**attrs(base))
            id_col = "_pid" if etype == "person" else "_oid"
            j = u.join(a, u._eid == a[id_col])
            direct.append(j.select(*a.columns, "stage", "stage_order", "_at"))
        side = ibis.union(*direct, distinct=False) if len(direct) > 1 else direct[0]
        if etype == "person":
            rows = side.select(
                entity_type=ibis.literal("person"),
                entity_id=side._pid,
                person_id=side._pid,
                opportunity_id=ibis.null("string"),
                account_id=side._acc,
                owner_id=side._own,
                stage=side.stage,
                stage_order=side.stage_order,
                entered_at=side._at,
                amount=ibis.null("float64"),
                **({"_sp": side._sp} if seg_people else {}),
            )
        else:
            p = people.select(
                _ppid=people.person_id,
                _pacc=people.account_id,
                **({"_sp": people[by].cast("string")} if seg_people else {}),
            )
            j = side.left_join(p, side._pid == p._ppid)
            rows = j.select(
                entity_type=ibis.literal("opportunity"),
                entity_id=j._oid,
                person_id=j._pid,
                opportunity_id=j._oid,
                account_id=j._acc.coalesce(j._pacc),
                owner_id=j._own,
                stage=j.stage,
                stage_order=j.stage_order,
                entered_at=j._at,
                amount=j._amt,
                **({"_sp": j._sp} if seg_people else {}),
            )
        sides.append(rows)
    out = ibis.union(*sides, distinct=False) if len(sides) > 1 else sides[0]
    if by is None:
        return out
    if by in OWNER_SEGMENTS:
        return out.mutate(_seg=out.owner_id.cast("string").fill_null(NONE_LABEL))
    value: Any
    if seg_accounts:
        acc = store.table("accounts")
        acc = acc.select(_aid=acc.account_id, _sa=acc[by].cast("string"))
        out = out.left_join(acc, out.account_id == acc._aid)
        value = out.person_id.notnull().ifelse(out._sp, out._sa) if seg_people else out._sa
    else:
        value = out._sp
    return out.select(*ENTRY_COLUMNS, _seg=value.fill_null(NONE_LABEL))


# --------------------------------------------------------------------------- segments


def segment_columns(store: Store) -> list[str]:
    """Valid ``by`` values: ``owner``, then people's columns, then accounts' (extra columns
    kept by import included)."""
    store = _snap(store)
    cols = ["owner"]
    for table in ("people", "accounts"):
        cols += [c for c in _columns(store, table) if c not in cols]
    return cols


def deal_segment_columns(store: Store) -> list[str]:
    """Valid ``by`` values of the deal metrics: :func:`segment_columns`, then the columns of
    ``opportunities`` that are not already there (e.g. ``type``, ``stage``, ``lost_reason``).
    A name in both (e.g. ``created_at``) means the people/accounts column."""
    store = _snap(store)
    cols = segment_columns(store)
    return cols + [c for c in _columns(store, "opportunities") if c not in cols]


def check_segment(store: Store, by: str | None, *, deals: bool = False) -> str | None:
    """``by`` if it is a valid segment (of the deal metrics with ``deals``), else UsageError
    listing the valid ones."""
    if by is None:
        return None
    valid = deal_segment_columns(store) if deals else segment_columns(store)
    if by not in valid and by not in OWNER_SEGMENTS:
        opp = (
            ""
            if deals or by not in _columns(_snap(store), "opportunities")
            else (
                f"; {by!r} is a column of opportunities: it segments the deal sections only "
                "(deals, pipeline)"
            )
        )
        raise UsageError(f"unknown segment column {by!r}{opp}; valid columns: {', '.join(valid)}")
    return by


def with_segment(table: ir.Table, store: Store, by: str | None, name: str = "segment") -> ir.Table:
    """``table`` (with ``person_id``, ``account_id`` and ``owner_id`` columns, like
    :func:`stage_entries` or ``opportunities``) plus a string column ``name`` holding the
    segment ``by`` (see the module docs); ``(none)`` where the value is missing."""
    store = _snap(store)
    by = check_segment(store, by)
    if by is None:
        return table.mutate(**{name: ibis.literal(NONE_LABEL)})
    if by in OWNER_SEGMENTS:
        return table.mutate(**{name: table.owner_id.cast("string").fill_null(NONE_LABEL)})
    people_cols = _columns(store, "people")
    account_cols = _columns(store, "accounts")
    in_people, in_accounts = by in people_cols, by in account_cols
    t = table
    if in_accounts:
        a = store.table("accounts")
        a = a.select(_seg_aid=a.account_id, _seg_av=a[by].cast("string"))
        t = t.left_join(a, t.account_id == a._seg_aid)
    if in_people:
        p = store.table("people")
        p = p.select(_seg_pid=p.person_id, _seg_pv=p[by].cast("string"))
        t = t.left_join(p, t.person_id == p._seg_pid)
    if in_people and in_accounts:
        value: Any = t.person_id.notnull().ifelse(t._seg_pv, t._seg_av)
    else:
        value = t._seg_pv if in_people else t._seg_av
    out = t.mutate(**{name: value.fill_null(NONE_LABEL)})
    return out.select(*table.columns, name)


# --------------------------------------------------------------------------- shared helpers


@dataclass(frozen=True)
class _Query:
    store: Store
    contract: Contract
    period: Period
    by: str | None
    grain: Grain | None

    @property
    def fys(self) -> int:
        return self.contract.fiscal_year_start

    def in_period(self, value: ir.Value) -> ir.BooleanValue:
        if value.type().is_date():
            return (value >= self.period.start) & (value < self.period.end)
        return (value >= self.period.start_dt) & (value < self.period.end_dt)

    def group(self, t: ir.Table, time: ir.Value) -> tuple[ir.Table, list[str]]:
        """``t`` with ``_seg`` (when segmented) and ``_bucket`` (when a grain) columns added.

        A ``_bucket`` column already in ``t`` (precomputed for the entries by
        :func:`_pairable`) is used as it is: it must be the bucket of ``time``."""
        cols: list[str] = []
        extra: dict[str, Any] = {}
        if self.by is not None:
            cols.append("_seg")
        if self.grain is not None:
            if "_bucket" not in t.columns:
                extra["_bucket"] = truncate_expr(time, self.grain, self.fys)
            cols.append("_bucket")
        return (t.mutate(**extra) if extra else t), cols

    def finish(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Rename ``_seg``/``_bucket`` to their public names and label the buckets."""
        frame = frame.copy()
        if self.grain is not None:
            frame["_bucket"] = bucket_labels(frame["_bucket"], self.grain, self.fys)
            frame = frame.rename(columns={"_bucket": "period"})
        if self.by is not None:
            frame = frame.rename(columns={"_seg": self.by})
        return frame

    def grid(self, frame: pd.DataFrame, segments: Sequence[str] | None = None) -> pd.DataFrame:
        """Every (segment, bucket) combination, for filling zeros: segments seen in
        ``frame`` (or ``segments``) times every bucket overlapping the period."""
        levels: dict[str, Any] = {}
        if self.by is not None:
            levels["_seg"] = sorted(set(segments if segments is not None else frame["_seg"]))
        if self.grain is not None:
            starts = [b.start for b in buckets(self.period, self.grain, self.fys)]
            levels["_bucket"] = pd.to_datetime(starts)
        if not levels:
            return pd.DataFrame(index=[0])
        index = pd.MultiIndex.from_product(list(levels.values()), names=list(levels))
        return index.to_frame(index=False)


def _query(
    store: Store,
    contract: Contract,
    period: Period,
    by: str | None,
    grain: str | None,
    deals: bool = False,
) -> _Query:
    store = _snap(store)
    seg = check_segment(store, by, deals=deals)
    return _Query(store, contract, period, seg, check_grain(grain))


#: Compiled queries: expression -> (its SQL, its schema). Ibis compiles an expression in Python
#: each time it runs (20-30 ms for a stage metric), and a table over compiled SQL
#: (``con.sql``) has that SQL parsed again by sqlglot on every run (~25 ms a query, 0.1 s of a
#: warm report); warm calls ask the same queries over the same cached entries again, so the
#: SQL the backend's own compiler wrote is kept and run as it is (:meth:`Adapter.query`),
#: its small result typed by the expression's schema. Least recently used dropped beyond the
#: size.
_COMPILED: weakref.WeakKeyDictionary[Any, dict[Any, tuple[str, Any]]] = weakref.WeakKeyDictionary()
COMPILED_SIZE = 64


def _execute(expr: ir.Table | None, store: Store | None = None, key: Any = None) -> pd.DataFrame:
    """Run ``expr`` (a query with a small result); with ``store``, through the compiled-query
    cache (under ``key``, default the expression; with a ``key`` already cached, ``expr``
    may be None)."""
    if store is None:
        assert expr is not None
        frame: pd.DataFrame = expr.execute()
    else:
        # per adapter (one connection), not per Ibis backend: backends over one file compare
        # equal, and a query compiled on one is bound to it
        compiled = _COMPILED.setdefault(store.adapter, {})
        if key is None:
            assert expr is not None
            key = expr.op()
        entry = compiled.pop(key, None)
        if entry is None:
            assert expr is not None
            entry = (str(store.con.compile(expr)), expr.schema())
        compiled[key] = entry  # most recently used last
        while len(compiled) > COMPILED_SIZE:
            compiled.pop(next(iter(compiled)))
        sql, schema = entry
        rows = store.adapter.query(sql)
        frame = PandasData.convert_table(
            pd.DataFrame.from_records(rows, columns=list(schema.names), nrows=len(rows)), schema
        )
    if "_bucket" in frame.columns:
        frame["_bucket"] = pd.to_datetime(frame["_bucket"])
    return frame


def _execute_wide(q: _Query, w: _Wide, build: Callable[[], ir.Table], *tag: Any) -> pd.DataFrame:
    """Run the stage query ``build()`` over the wide tables ``w`` through the compiled-query
    cache, keyed by what the query depends on (the wide tables, which stand for the contract's
    stages and the data version, the period, segment, grain, fiscal start and ``tag``) rather
    than by the expression: a warm call then builds no Ibis expression (~10 ms a query)."""
    compiled = _COMPILED.setdefault(q.store.adapter, {})
    names = tuple(t.get_name() if t is not None else None for t in (w.people, w.opps))
    key = ("wide", names, w.segs, q.period.start, q.period.end, q.by, q.grain, q.fys, *tag)
    entry = compiled.get(key)
    if entry is None:
        expr = build()
        entry = (str(q.store.con.compile(expr)), expr.schema())
        compiled[key] = entry
    return _execute(None, q.store, key)


def _pairs(contract: Contract) -> list[tuple[Stage, Stage]]:
    stages = contract.funnel.stages
    return list(itertools.pairwise(stages))


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    """num / den as floats, NaN where den is 0."""
    n = num.astype("float64")
    d = den.astype("float64")
    return pd.Series(np.where(d > 0, n / d.where(d > 0, 1.0), np.nan), index=num.index)


def _entries(q: _Query, entries: ir.Table | None) -> ir.Table:
    if entries is None:
        return _build_entries(q.store, list(enumerate(q.contract.funnel.stages)), q.by)
    e = entries
    if q.by is not None and "_seg" not in e.columns:
        e = with_segment(e, q.store, q.by, "_seg")
    return e


# --------------------------------------------------------------------------- stage counts


def stage_counts(
    store: Store,
    contract: Contract,
    period: Period,
    by: str | None = None,
    grain: str | None = None,
    *,
    entries: ir.Table | None = None,
) -> pd.DataFrame:
    """How many entities entered each stage (first entry) in the period.

    Columns: [``by``], [``period``], ``stage``, ``entered``. Every stage appears for every
    segment and bucket (zero when nobody entered), in funnel order.
    """
    q = _query(store, contract, period, by, grain)
    with _wide(q, entries) as w:
        return q.finish(_counts(q, w))


def _counts_expr(q: _Query, w: _Wide) -> ir.Table:
    parts = []
    for i in range(len(q.contract.funnel.stages)):
        t = w.side(q, i)
        f = t.filter(q.in_period(t[f"_at{i}"]))
        parts.append(f.select(**_keys(q, f, i, day=True), stage_order=ibis.literal(i, "int64")))
    u = _union(parts)
    return _by_day(q, u, "stage_order", {"entered": u.count()})


def _counts(q: _Query, w: _Wide) -> pd.DataFrame:
    cols = _grid_cols(q)
    raw = w.decode(q, _execute_wide(q, w, lambda: _counts_expr(q, w), "counts"))
    raw = raw.rename(columns={"stage_order": "_order"})
    grid = q.grid(raw)
    stages = pd.DataFrame(
        {
            "stage": [s.name for s in q.contract.funnel.stages],
            "_order": range(len(q.contract.funnel.stages)),
        }
    )
    full = grid.merge(stages, how="cross") if len(grid.columns) else stages
    full = full.merge(raw, on=[*cols, "_order"], how="left")
    full["entered"] = full["entered"].fillna(0).astype("int64")
    full = full.sort_values([*cols, "_order"], kind="stable").drop(columns="_order")
    return full.reset_index(drop=True)


# --------------------------------------------------------------------------- conversion


def conversion_by_period(
    store: Store,
    contract: Contract,
    period: Period,
    by: str | None = None,
    grain: str | None = None,
    *,
    entries: ir.Table | None = None,
) -> pd.DataFrame:
    """Stage-to-stage conversion by period: entries into B in the period divided by entries
    into A in the same period, for each pair of consecutive stages (A, B).

    Columns: [``by``], [``period``], ``from_stage``, ``to_stage``, ``from_entered``,
    ``to_entered``, ``conversion_period`` (NaN when nobody entered A).
    """
    q = _query(store, contract, period, by, grain)
    with _wide(q, entries) as w:
        counts = _counts(q, w)
    return q.finish(_period_conversion(q, counts))


def _period_conversion(q: _Query, counts: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in ("_seg", "_bucket") if c in counts.columns]
    pairs = _pairs(q.contract)
    nxt = {a.name: b.name for a, b in pairs}
    order = {a.name: i for i, (a, _) in enumerate(pairs)}
    fa = counts[counts["stage"].isin(list(nxt))].rename(
        columns={"stage": "from_stage", "entered": "from_entered"}
    )
    fa = fa.assign(to_stage=fa["from_stage"].map(nxt))
    fb = counts.rename(columns={"stage": "to_stage", "entered": "to_entered"})
    out = fa.merge(fb, on=[*cols, "to_stage"])
    out["conversion_period"] = _ratio(out["to_entered"], out["from_entered"])
    out["_o"] = out["from_stage"].map(order)
    out = out.sort_values([*cols, "_o"], kind="stable").drop(columns="_o")
    columns = [*cols, "from_stage", "to_stage", "from_entered", "to_entered", "conversion_period"]
    return out[columns].reset_index(drop=True)


def _boundary(contract: Contract) -> int:
    """Position of the first opportunity stage that follows a person stage (-1 if none):
    the step into it links a person to their opportunities through ``person_id``."""
    stages = contract.funnel.stages
    for i in range(1, len(stages)):
        if (
            stages[i].entry.entity_type == "opportunity"
            and stages[i - 1].entry.entity_type == "person"
        ):
            return i
    return -1


def _name_pairs(q: _Query, raw: pd.DataFrame) -> pd.DataFrame:
    """``raw`` with ``from_stage``/``to_stage`` named from its ``_pair`` positions."""
    names = [s.name for s in q.contract.funnel.stages]
    raw = raw.copy()
    pos = raw["_pair"].astype("int64")
    raw["from_stage"] = pos.map(dict(enumerate(names)))
    raw["to_stage"] = (pos + 1).map(dict(enumerate(names)))
    return raw.drop(columns="_pair")


def _days(later: ir.Value, earlier: ir.Value) -> ir.FloatingValue:
    return (later.epoch_seconds() - earlier.epoch_seconds()).cast("float64") / SECONDS_PER_DAY


def conversion_by_cohort(
    store: Store,
    contract: Contract,
    period: Period,
    by: str | None = None,
    grain: str | None = None,
    window_days: int | None = None,
    *,
    entries: ir.Table | None = None,
) -> pd.DataFrame:
    """Stage-to-stage conversion by cohort: of those who entered A in the period, the share
    whose first entry into B came no later than ``window_days`` days after their entry into A
    (default: the contract's ``conversion_window_days``), for consecutive stages (A, B).

    Both stages of one entity type: the same entity. A person stage then an opportunity stage:
    linked through ``person_id`` (the person's first opportunity entry). An entry into B that
    predates the entry into A (out-of-order data) counts as reached. Segment and bucket are
    the A entry's. Cohorts younger than the window are not complete yet.

    Columns: [``by``], [``period``], ``from_stage``, ``to_stage``, ``cohort``, ``reached``,
    ``conversion_cohort`` (NaN for an empty cohort).
    """
    q = _query(store, contract, period, by, grain)
    window = _window(contract, window_days)
    with _wide(q, entries) as w:
        return q.finish(_cohort(q, w, window))


def _window(contract: Contract, window_days: int | None) -> int:
    n = contract.funnel.conversion_window_days if window_days is None else window_days
    if n < 1:
        raise UsageError(f"the conversion window must be at least 1 day, got {n}")
    return n


def _cohort_expr(q: _Query, w: _Wide, window: int) -> ir.Table:
    # the cohort: entries into A in the period, on A's wide table (for the step from a person
    # stage to an opportunity stage, the person's row holds their first such opportunity)
    parts = []
    for i in range(len(q.contract.funnel.stages) - 1):
        t = w.side(q, i)
        f = t.filter(q.in_period(t[f"_at{i}"]))
        # _d<i>: days from the entry into A to the first linked entry into B (negative for
        # out-of-order data, which counts as reached; null when B was never entered)
        reached = (_gap(f, i) <= window).fill_null(False)
        parts.append(
            f.select(
                **_keys(q, f, i, day=True),
                _pair=ibis.literal(i, "int64"),
                _reached=reached.cast("int64"),
            )
        )
    u = _union(parts)
    return _by_day(q, u, "_pair", {"cohort": u.count(), "reached": u._reached.sum()})


def _cohort(q: _Query, w: _Wide, window: int) -> pd.DataFrame:
    expr = functools.partial(_cohort_expr, q, w, window)
    raw = _name_pairs(q, w.decode(q, _execute_wide(q, w, expr, "cohort", window)))
    return _complete_pairs(
        q, raw, {"cohort": 0, "reached": 0}, "conversion_cohort", "reached", "cohort"
    )


def _complete_pairs(
    q: _Query,
    raw: pd.DataFrame,
    zeros: dict[str, Any],
    rate: str | None = None,
    num: str | None = None,
    den: str | None = None,
) -> pd.DataFrame:
    """``raw`` on the full (segment, bucket, pair) grid, in funnel order."""
    cols = [c for c in ("_seg", "_bucket") if c in raw.columns or c in _grid_cols(q)]
    grid = q.grid(raw, sorted(set(raw["_seg"])) if "_seg" in raw.columns else None)
    pairs = pd.DataFrame(
        {
            "from_stage": [a.name for a, _ in _pairs(q.contract)],
            "to_stage": [b.name for _, b in _pairs(q.contract)],
            "_o": range(len(_pairs(q.contract))),
        }
    )
    full = grid.merge(pairs, how="cross") if len(grid.columns) else pairs
    full = full.merge(raw, on=[*cols, "from_stage", "to_stage"], how="left")
    for col, z in zeros.items():
        full[col] = full[col].fillna(z).astype(type(z)) if z == 0 else full[col]
    if rate is not None and num is not None and den is not None:
        full[rate] = _ratio(full[num], full[den])
    full = full.sort_values([*cols, "_o"], kind="stable").drop(columns="_o")
    return full.reset_index(drop=True)


def _grid_cols(q: _Query) -> list[str]:
    return [c for c, on in (("_seg", q.by is not None), ("_bucket", q.grain is not None)) if on]


# --------------------------------------------------------------------------- time between stages


def stage_times(
    store: Store,
    contract: Contract,
    period: Period,
    by: str | None = None,
    grain: str | None = None,
    *,
    entries: ir.Table | None = None,
) -> pd.DataFrame:
    """Time between consecutive stages, in days: for each entry into B in the period that
    has a linked earlier (or simultaneous) entry into A, the days from A to B; their median
    and 90th percentile (linear interpolation). Linking as in :func:`conversion_by_cohort`.
    Segment and bucket are the B entry's.

    Columns: [``by``], [``period``], ``from_stage``, ``to_stage``, ``pairs``,
    ``median_days``, ``p90_days`` (NaN when there are no pairs).
    """
    q = _query(store, contract, period, by, grain)
    with _wide(q, entries) as w:
        return q.finish(_times(q, w))


def _times_expr(q: _Query, w: _Wide) -> ir.Table:
    # entries into B in the period, on B's wide table, with the linked entry into A (for an
    # opportunity stage after a person stage: the person's entry, ``_atp``)
    parts = []
    for i in range(len(q.contract.funnel.stages) - 1):
        t = w.side(q, i + 1)
        a = t[f"_at{i}"] if f"_at{i}" in t.columns else t._atp
        b = t[f"_at{i + 1}"]
        # a linked entry into A no later than this one (days >= 0: compared as timestamps)
        f = t.filter(q.in_period(b) & (a <= b))
        keys = _keys(q, f, i + 1, key=True)
        parts.append(f.select(**keys, _pair=ibis.literal(i, "int64"), _d=_gap(f, i)))
    u = _union(parts)
    groups = [c for c in ("_seg", "_bkey", "_bucket") if c in u.columns]
    # both quantiles from one aggregate state (one copy of each group's values, not two)
    return u.group_by([*groups, "_pair"]).aggregate(pairs=u.count(), _q=u._d.quantile([0.5, 0.9]))


def _times(q: _Query, w: _Wide) -> pd.DataFrame:
    raw = w.decode(q, _execute_wide(q, w, lambda: _times_expr(q, w), "times"))
    if "_bkey" in raw.columns:
        raw.insert(0, "_bucket", _key_starts(q, raw.pop("_bkey")))
    qs = np.array([list(v) for v in raw.pop("_q")], dtype="float64").reshape(-1, 2)
    raw["median_days"], raw["p90_days"] = qs[:, 0], qs[:, 1]
    return _complete_pairs(q, _name_pairs(q, raw), {"pairs": 0})


# --------------------------------------------------------------------------- deals


def won_stage(contract: Contract) -> Stage | None:
    """The won stage: the funnel's last opportunity stage (None without one)."""
    opp = [s for s in contract.funnel.stages if s.entry.entity_type == "opportunity"]
    return opp[-1] if opp else None


def deal_filter(
    contract: Contract, override: Mapping[str, Sequence[str | None]] | None = None
) -> dict[str, list[str | None]]:
    """The value filter of the deal metrics (:func:`deal_metrics`, :func:`open_pipeline`):
    ``override`` when given (``{}``: every opportunity), else the won stage's ``filter``, so
    win rate and pipeline count the same deals as the funnel's won stage."""
    if override is not None:
        return {k: list(v) for k, v in override.items()}
    won = won_stage(contract)
    return dict(won.entry.filter or {}) if won is not None else {}


def _opportunities(q: _Query, only: Mapping[str, Sequence[str | None]] | None) -> ir.Table:
    """The opportunities the deal metrics read (``_won``, ``_closed``, ``_amt``,
    ``close_date``, ``created_at``, ``_seg`` with ``by``), computed once per store, data
    version, filter and segment into a temporary table."""
    allowed = deal_filter(q.contract, only)
    key = "|".join(["deals", json.dumps(allowed, sort_keys=True), str(q.by)])

    def build(names: list[str]) -> ir.Table:
        o = _deal_rows(q, allowed)
        cols = ["_won", "_closed", "_amt", "close_date", "created_at"]
        cols += ["_seg"] if q.by is not None else []
        return _cache.temp_table(q.store, o.select(*cols), names)

    return _cached(q.store, q.contract, key, build)


def _deal_rows(q: _Query, allowed: Mapping[str, Sequence[str | None]]) -> ir.Table:
    o = q.store.table("opportunities")
    if allowed:
        o = o.filter(value_filter(o, allowed, "deal filter", "opportunities"))
    is_won = o.is_won.fill_null(False)
    closed = o.is_closed.fill_null(False) | is_won
    o = o.mutate(_won=is_won, _closed=closed, _amt=o.amount.cast("float64"))
    if q.by is not None:
        if q.by in OWNER_SEGMENTS or q.by in segment_columns(q.store):
            o = with_segment(o, q.store, q.by, "_seg")
        else:  # an opportunity column (deal_segment_columns)
            o = o.mutate(_seg=o[q.by].cast("string").fill_null(NONE_LABEL))
    return o


def deal_metrics(
    store: Store,
    contract: Contract,
    period: Period,
    by: str | None = None,
    grain: str | None = None,
    *,
    opportunity_filter: Mapping[str, Sequence[str | None]] | None = None,
) -> pd.DataFrame:
    """Win rate, deal size and sales cycle over the opportunities closed in the period
    (``is_closed`` or ``is_won`` true, ``close_date`` in the period; bucketed by close date).

    Only the opportunities that pass the won stage's ``filter`` count (e.g. new business),
    or ``opportunity_filter`` instead (``{}``: every opportunity); see :func:`deal_filter`.
    ``by`` may also be a column of ``opportunities`` (e.g. ``type``;
    :func:`deal_segment_columns`).

    Columns: [``by``], [``period``], ``won``, ``lost``, ``win_rate`` (won / (won + lost)),
    ``won_amount``, ``lost_amount``, ``win_rate_value`` (won amount / (won + lost amount)),
    ``avg_deal_size`` (mean amount of won deals), ``sales_cycle_median_days`` and
    ``sales_cycle_mean_days`` (close date minus creation date, won deals).
    """
    q = _query(store, contract, period, by, grain, deals=True)
    o = _opportunities(q, opportunity_filter)
    o = o.filter(o._closed & q.in_period(o.close_date))
    o = o.mutate(_cycle=o.close_date.delta(o.created_at.date(), unit="day").cast("float64"))
    o, cols = q.group(o, o.close_date)
    lost = ~o._won
    metrics = {
        "won": o._won.sum(),
        "lost": lost.sum(),
        "won_amount": o._amt.sum(where=o._won),
        "lost_amount": o._amt.sum(where=lost),
        "avg_deal_size": o._amt.mean(where=o._won),
        "sales_cycle_median_days": o._cycle.quantile(0.5, where=o._won),
        "sales_cycle_mean_days": o._cycle.mean(where=o._won),
    }
    raw = _execute(
        o.group_by(cols).aggregate(**metrics) if cols else o.aggregate(**metrics), q.store
    )
    full = q.grid(raw).merge(raw, on=cols, how="left") if cols else raw
    for c in ("won", "lost"):
        full[c] = full[c].fillna(0).astype("int64")
    for c in ("won_amount", "lost_amount"):
        full[c] = full[c].astype("float64").fillna(0.0)
    full["win_rate"] = _ratio(full["won"], full["won"] + full["lost"])
    full["win_rate_value"] = _ratio(full["won_amount"], full["won_amount"] + full["lost_amount"])
    order = [
        *cols,
        "won",
        "lost",
        "win_rate",
        "won_amount",
        "lost_amount",
        "win_rate_value",
        "avg_deal_size",
        "sales_cycle_median_days",
        "sales_cycle_mean_days",
    ]
    full = full[order].astype({c: "float64" for c in order[len(cols) + 2 :]})
    return q.finish(full.sort_values(cols).reset_index(drop=True) if cols else full)


def _check_target(target: float | None) -> None:
    if target is not None and not target > 0:
        raise UsageError(f"the pipeline target must be a positive amount, got {target}")


def open_pipeline(
    store: Store,
    contract: Contract,
    period: Period,
    by: str | None = None,
    grain: str | None = None,
    target: float | None = None,
    *,
    opportunity_filter: Mapping[str, Sequence[str | None]] | None = None,
) -> pd.DataFrame:
    """Open pipeline as of the end of the period (with a grain: of each bucket, cut at the
    period's end): opportunities created before that moment and not closed by it (closed
    means ``is_closed`` or ``is_won`` with ``close_date`` before it, or no close date).
    Pipeline coverage = open amount / ``target``. Opportunities, ``opportunity_filter`` and
    ``by`` as in :func:`deal_metrics`.

    Columns: [``by``], [``period``], ``as_of`` (the last day included), ``open_deals``,
    ``open_pipeline``, ``pipeline_coverage`` (NaN without a target).
    """
    q = _query(store, contract, period, by, grain, deals=True)
    _check_target(target)
    o = _opportunities(q, opportunity_filter)
    if q.grain is None:
        ends = pd.DataFrame({"_end": [period.end]})
    else:
        bs = buckets(period, q.grain, q.fys)
        ends = pd.DataFrame(
            {"_end": [min(b.end, period.end) for b in bs], "_bucket": [b.start for b in bs]}
        )
    ends_t = ibis.memtable(ends.assign(_end=pd.to_datetime(ends["_end"]).dt.date))
    if "_bucket" in ends.columns:
        ends_t = ends_t.mutate(_bucket=ends_t._bucket.cast("date"))
    j = o.cross_join(ends_t)
    end_ts = j._end.cast("timestamp")
    closed_by = j._closed & (j.close_date.isnull() | (j.close_date < j._end))
    j = j.filter((j.created_at < end_ts) & ~closed_by)
    cols = [c for c in ("_seg", "_bucket") if c in j.columns and (c != "_seg" or q.by)]
    group = [*cols, "_end"]
    raw = _execute(j.group_by(group).aggregate(open_deals=j.count(), open_pipeline=j._amt.sum()))
    grid = q.grid(raw)
    ends["_end"] = pd.to_datetime(ends["_end"])
    if q.grain is not None:
        ends["_bucket"] = pd.to_datetime(ends["_bucket"])
        grid = grid.merge(ends, on="_bucket")
    elif q.by is not None:
        grid = grid.merge(ends, how="cross")
    else:
        grid = ends
    raw["_end"] = pd.to_datetime(raw["_end"])
    full = grid.merge(raw, on=group, how="left")
    full["open_deals"] = full["open_deals"].fillna(0).astype("int64")
    full["open_pipeline"] = full["open_pipeline"].astype("float64").fillna(0.0)
    full["pipeline_coverage"] = full["open_pipeline"] / target if target else np.nan
    full["as_of"] = (full["_end"] - pd.Timedelta(days=1)).dt.date
    full = full.sort_values(cols) if cols else full
    full = full[[*cols, "as_of", "open_deals", "open_pipeline", "pipeline_coverage"]]
    return q.finish(full.reset_index(drop=True))


# --------------------------------------------------------------------------- the report


@contextlib.contextmanager
def materialized(store: Store, expr: ir.Table) -> Iterator[ir.Table]:
    """``expr`` computed once into a temporary table of the store's engine, for several
    queries over it (dropped on exit). Building the stage entries once instead of in every
    query keeps both the engine's work and Ibis's compile time small."""
    name = f"_cueva_tmp_{uuid.uuid4().hex[:12]}"
    con = store.con
    table = con.create_table(name, expr, temp=True)
    try:
        yield table
    finally:
        _drop(store, [name])


# --------------------------------------------------------------------------- wide entries


@dataclass(frozen=True)
class _Wide:
    """Stage entries pivoted to one row per entity, the shape the stage metrics read.

    ``people``: one row per person with ``_at<i>`` (entry into person stage ``i``) and, for
    the first opportunity stage after the person stages (position ``boundary``),
    ``_at<boundary>``: the person's first opportunity entry into it. ``opps``: one row per
    opportunity with ``_at<i>`` for the opportunity stages and ``_atp``, its person's entry
    into the stage before ``boundary``. Both carry ``_seg`` (with ``by``: a small integer,
    the position of the label in ``segs``).

    Nothing else is kept (no ids, no buckets, no durations): the tables are cached in the
    engine's memory for every later query, so they hold only what cannot be derived cheaply
    from them. The days between two entries (:func:`_gap`) and an entry's bucket
    (:func:`_keys`) are computed by the queries, on the rows they keep.

    Every metric is then a scan of these tables without joins: a stage pair is two columns
    of one row.
    """

    people: ir.Table | None
    opps: ir.Table | None
    #: segment labels: ``_seg`` holds their positions (small integers group faster than text)
    segs: tuple[str, ...] | None = None

    def decode(self, q: _Query, raw: pd.DataFrame) -> pd.DataFrame:
        """``raw`` with its ``_seg`` codes turned back into labels."""
        if q.by is not None and self.segs is not None:
            labels = raw["_seg"].map(dict(enumerate(self.segs)))
            raw["_seg"] = labels.astype(object).where(labels.notna(), NONE_LABEL)
        return raw

    def side(self, q: _Query, i: int) -> ir.Table:
        """The table that holds the entries into stage ``i``."""
        person = q.contract.funnel.stages[i].entry.entity_type == "person"
        t = self.people if person else self.opps
        assert t is not None
        return t


def _keys(q: _Query, t: ir.Table, i: int, day: bool = False, key: bool = False) -> dict[str, Any]:
    """The grouping columns of an entry into stage ``i`` of wide table ``t``: ``_seg`` with
    a segment, ``_bucket`` with a grain (or, with ``day``, ``_day``: the entry's date, for
    :func:`_by_day`; with ``key``, ``_bkey`` where :func:`_bucket_key` numbers the grain's
    buckets, for :func:`_key_starts` on the result)."""
    keys: dict[str, Any] = {}
    if q.by is not None:
        keys["_seg"] = t._seg
    if q.grain is not None:
        at = t[f"_at{i}"]
        number = _bucket_key(q, at) if key else None
        if number is not None:
            keys["_bkey"] = number
        elif day:
            keys["_day"] = at.date()
        else:
            keys["_bucket"] = truncate_expr(at, q.grain, q.fys)
    return keys


def _bucket_key(q: _Query, at: ir.TimestampValue) -> ir.IntegerValue | None:
    """An integer numbering the month or quarter bucket of each timestamp (months since year 0
    = year * 12 + month - 1; fiscal quarters: (that - (fiscal start - 1)) // 3), for grouping
    many rows: two date parts per row instead of a date and its truncation (on the ``large``
    demo ~10 ms of CPU less per 700k rows). None for weeks."""
    if q.grain not in ("month", "quarter"):
        return None
    months: ir.IntegerValue = at.year() * 12 + at.month() - 1
    return months if q.grain == "month" else (months - (q.fys - 1)) // 3


def _key_starts(q: _Query, keys: pd.Series) -> pd.Series:
    """The first days (datetime64) of the buckets numbered by :func:`_bucket_key`."""
    months = keys.to_numpy(dtype="int64")
    if q.grain == "quarter":
        months = months * 3 + (q.fys - 1)
    starts = (months - 1970 * 12).astype("datetime64[M]")
    return pd.Series(pd.to_datetime(starts.astype("datetime64[ns]")), index=keys.index)


def _by_day(q: _Query, u: ir.Table, key: str, sums: Mapping[str, ir.Value]) -> ir.Table:
    """``sums`` (counts and sums only) of ``u`` (rows keyed by :func:`_keys` with ``day``)
    grouped by segment, bucket and ``key``: summed by day first, then by bucket (bucketing
    the few hundred days instead of every row: on the ``large`` demo a bucket of each of 1M
    rows cost ~40 ms of CPU, a date 7 ms)."""
    seg = ["_seg"] if q.by is not None else []
    if q.grain is None:
        return u.group_by([*seg, key]).aggregate(**sums)
    d = u.group_by([*seg, "_day", key]).aggregate(**sums)
    d = d.mutate(_bucket=truncate_expr(d._day, q.grain, q.fys))
    return d.group_by([*seg, "_bucket", key]).aggregate(**{c: d[c].sum() for c in sums})


def _gap(t: ir.Table, i: int) -> ir.FloatingValue:
    """On wide table ``t``: days from the entry into stage ``i`` to the linked entry into
    ``i + 1`` (on ``opps``, the entry into the stage before the boundary is the person's,
    ``_atp``); negative for out-of-order data, null when either is missing."""
    a = t[f"_at{i}"] if f"_at{i}" in t.columns else t._atp
    return _days(t[f"_at{i + 1}"], a)


def _union(parts: Sequence[ir.Table]) -> ir.Table:
    return ibis.union(*parts, distinct=False) if len(parts) > 1 else parts[0]


def _orders(contract: Contract, etype: str) -> list[int]:
    return [i for i, s in enumerate(contract.funnel.stages) if s.entry.entity_type == etype]


def _pivot_people(q: _Query, e: ir.Table) -> ir.Table | None:
    orders = _orders(q.contract, "person")
    if not orders:
        return None
    boundary = _boundary(q.contract)
    keep = e.stage_order.isin(orders)
    if boundary > 0:
        keep = keep | ((e.stage_order == boundary) & e.person_id.notnull())
    src = e.filter(keep)
    if boundary > 0:
        src = src.mutate(_k=(src.stage_order == boundary).ifelse(src.person_id, src.entity_id))
    else:
        src = src.mutate(_k=src.entity_id)
    aggs: dict[str, Any] = {
        f"_at{i}": src.entered_at.min(where=src.stage_order == i)
        for i in [*orders, *([boundary] if boundary > 0 else [])]
    }
    if q.by is not None:
        aggs["_seg"] = src._seg.max(where=src.stage_order != boundary)
    t = src.group_by("_k").aggregate(**aggs)
    return t.drop("_k")


def _pivot_opps(q: _Query, e: ir.Table) -> ir.Table | None:
    orders = _orders(q.contract, "opportunity")
    if not orders:
        return None
    boundary = _boundary(q.contract)
    src = e.filter(e.stage_order.isin(orders))
    aggs: dict[str, Any] = {
        f"_at{i}": src.entered_at.min(where=src.stage_order == i) for i in orders
    }
    aggs["_pid"] = src.person_id.max()
    if q.by is not None:
        aggs["_seg"] = src._seg.max()
    o = src.group_by(_k=src.entity_id).aggregate(**aggs)
    if boundary > 0 and _orders(q.contract, "person"):
        # the person's entry into the stage before the boundary (entries are unique per
        # stage and entity: no grouping needed)
        before = e.filter(e.stage_order == boundary - 1)
        p = before.select(_pk=before.entity_id, _atp=before.entered_at)
        j = o.left_join(p, o._pid == p._pk)
        o = j.select(*o.columns, "_atp")
    return o.drop("_k", "_pid")


def _lazy_wide(q: _Query, e: ir.Table) -> _Wide:
    """The wide tables of entries ``e`` as expressions (nothing computed)."""
    return _Wide(_pivot_people(q, e), _pivot_opps(q, e))


def _segment_labels(q: _Query) -> tuple[str, ...]:
    """Every label the entries' ``_seg`` can hold (a superset: the values of the segment's
    column(s) and ``(none)``), sorted; one small query."""
    store, by = q.store, q.by
    assert by is not None
    values: list[ir.Table] = []
    if by in OWNER_SEGMENTS:
        for name in ("people", "opportunities"):
            t = store.table(name)
            values.append(t.select(_v=t.owner_id.cast("string")).distinct())
    else:
        for name in ("people", "accounts"):
            if by in _columns(store, name):
                t = store.table(name)
                values.append(t.select(_v=t[by].cast("string")).distinct())
    found = _union(values).distinct().execute()["_v"]
    return tuple(sorted({str(v) for v in found if not pd.isna(v)} | {NONE_LABEL}))


def _encode(e: ir.Table, segs: Sequence[str], cols: Sequence[str]) -> ir.Table:
    """``e``'s columns ``cols`` and its ``_seg`` label replaced by its position in ``segs``."""
    codes = ibis.memtable(
        pd.DataFrame({"_sl": list(segs), "_sc": np.arange(len(segs), dtype="int32")})
    )
    e = e.select(*cols, "_seg").view()  # a join of its own, not one more link of e's
    j = e.left_join(codes, e._seg == codes._sl)
    return j.select(*cols, _seg=j._sc)


def _people_by_rules(q: _Query, segs: Sequence[str] | None) -> ir.Table | None:
    """The ``people`` wide table of the contract's entries, read from the stage rules: every
    person's row with each person stage's entry (a column of the row, or the first matching
    event, joined) and the first entry of their opportunities into the boundary stage.

    The same rows as :func:`_pivot_people` over :func:`stage_entries` where they count (it
    also keeps people who entered no stage: they match no period), but the only hash tables
    are the (smaller) grouped events and opportunities, probed by the people as they stream:
    grouping every entry by a text person id held 1M keys at once on the ``large`` demo."""
    store, contract = q.store, q.contract
    orders = _orders(contract, "person")
    if not orders:
        return None
    boundary = _boundary(contract)
    people = store.table("people")
    types = _columns(store, "people")
    cols: dict[str, Any] = {"_pid": people.person_id}
    linked: list[tuple[list[str], ir.Table]] = []  # (columns of the result, table by _eid)
    by_events: dict[int, list[str]] = {}  # stage position -> its event names
    for i in orders:
        stage = contract.funnel.stages[i]
        _, events, field = _first_entries(store, stage)  # validates the rule
        entry = stage.entry
        cond: ir.BooleanValue = ibis.literal(True)
        if entry.where is not None:
            cond = cond & people[entry.where].fill_null(False)
        if entry.filter:
            cond = cond & value_filter(people, entry.filter, "", "people", types)
        at: Any = people[field].cast("timestamp") if field is not None else None
        if events is not None:
            by_events[i] = list(entry.events)
        cols[f"_f{i}"] = ibis.ifelse(cond, at, ibis.null("timestamp")) if at is not None else None
        cols[f"_c{i}"] = cond
    by = q.by
    from_accounts = by is not None and by not in OWNER_SEGMENTS and by not in types
    if by in OWNER_SEGMENTS:
        cols["_seg"] = people.owner_id.cast("string").fill_null(NONE_LABEL)
    elif by is not None and not from_accounts:
        cols["_seg"] = people[by].cast("string").fill_null(NONE_LABEL)
    elif from_accounts:
        cols["_acc"] = people.account_id
    base = people.select(**{k: v for k, v in cols.items() if v is not None})
    if from_accounts:
        # a person's segment from their account (as _build_entries gives their entries)
        acc = store.table("accounts")
        acc = acc.select(_aid=acc.account_id, _sa=acc[by].cast("string"))
        j = base.left_join(acc, base._acc == acc._aid)
        base = j.select(*base.columns, _seg=j._sa.fill_null(NONE_LABEL))
    if by_events:
        # every event-entered person stage from one grouping of the events (one hash table
        # keyed by person instead of one per stage)
        sev = store.table("stage_events")
        wanted = sorted({name for names in by_events.values() for name in names})
        sev = sev.filter((sev.entity_type == "person") & sev.stage.isin(wanted))
        firsts = {
            f"_ev{i}": sev.entered_at.min(where=sev.stage.isin(names)).cast("timestamp")
            for i, names in by_events.items()
        }
        linked.append((list(firsts), sev.group_by(_eid=sev.entity_id).aggregate(**firsts)))
    if boundary > 0:
        first = _first_by_person(store, contract.funnel.stages[boundary])
        linked.append(([f"_ev{boundary}"], first.rename({f"_ev{boundary}": "_ev"})))
    t = base
    for new_cols, right in linked:
        right = right.view()
        j = t.left_join(right, t._pid == right._eid)
        t = j.select(*t.columns, *new_cols)
    out: dict[str, Any] = {}
    for i in orders:
        f = t[f"_f{i}"] if f"_f{i}" in t.columns else None
        ev = t[f"_ev{i}"] if f"_ev{i}" in t.columns else None
        if ev is not None:
            ev = ibis.ifelse(t[f"_c{i}"], ev, ibis.null("timestamp"))
        at = _earliest(f, ev) if f is not None and ev is not None else (f if ev is None else ev)
        out[f"_at{i}"] = at.cast("timestamp")
    if boundary > 0:
        out[f"_at{boundary}"] = t[f"_ev{boundary}"]
    if q.by is not None:
        out["_seg"] = t._seg
    wide = t.select(**out)
    if q.by is not None and segs is not None:
        wide = _encode(wide, segs, [c for c in out if c != "_seg"])
    return wide


def _first_by_person(store: Store, stage: Stage) -> ir.Table:
    """Of an opportunity stage: each person's first entry (``_eid``: the person_id,
    ``_ev<i>``) of their opportunities, from the stage's rule on the opportunities alone (the
    entries' other columns, which join the people, are not needed here)."""
    base, events, field = _first_entries(store, stage)
    if field is not None and events is not None:
        j = base.left_join(events, base.opportunity_id == events._eid)
        at: Any = _earliest(j[field].cast("timestamp"), j._ev)
        rows = j.select(_p=j.person_id, _a=at.cast("timestamp"))
    elif field is not None:
        rows = base.select(_p=base.person_id, _a=base[field].cast("timestamp"))
    else:
        assert events is not None
        j = events.join(base, events._eid == base.opportunity_id)
        rows = j.select(_p=j.person_id, _a=j._ev.cast("timestamp"))
    rows = rows.filter(rows._p.notnull() & rows._a.notnull())
    return rows.group_by(_eid=rows._p).aggregate(_ev=rows._a.min())


def _build_wide(q: _Query, e: ir.Table | None, names: list[str]) -> _Wide:
    """The wide tables of entries ``e`` (None: the contract's, with the people table read
    from the stage rules by :func:`_people_by_rules`), computed into temporary tables of the
    engine (their names are appended to ``names``), each straight from the entries'
    expression: the entries are not materialised (on the ``large`` demo that long table
    alone was ~90 MB)."""

    def temp(expr: ir.Table) -> ir.Table:
        return _cache.temp_table(q.store, expr, names)

    given = e is not None
    if e is None:
        e = _entries(q, None)
    cols = ["entity_id", "person_id", "stage_order", "entered_at"]
    segs = None
    if q.by is not None:
        # the labels come from the segment's columns, as the entries' (and with_segment's)
        segs = _segment_labels(q)
        e = _encode(e, segs, cols)
    else:
        e = e.select(*cols)
    people = _pivot_people(q, e) if given else _people_by_rules(q, segs)
    opps = _pivot_opps(q, e)
    return _Wide(
        temp(people) if people is not None else None,
        temp(opps) if opps is not None else None,
        segs,
    )


def _drop(store: Store, names: Sequence[str]) -> None:
    """Drop temporary tables (Ibis' ``drop_table`` needs sqlglot < 30, pinned in pyproject)."""
    con = store.con
    for name in names:
        with contextlib.suppress(Exception):
            con.drop_table(name, force=True)


#: A placeholder period for the queries that build the cached wide entries (which do not
#: depend on the period).
_ALL_TIME = Period(date(1, 1, 1), date(9999, 12, 31), "all time")


def data_version(store: Store) -> tuple[Any, ...]:
    """What changes when data change (:func:`cueva.store.cache.data_version`: the number and
    time of the store's imports and the row counts of the tables the entries read), asked once
    per metric call."""
    store = _snap(store)
    assert isinstance(store, _Snapshot)
    if store.version is None:
        store.version = _cache.data_version(store)
    return store.version


@contextlib.contextmanager
def _wide(q: _Query, entries: ir.Table | None) -> Iterator[_Wide]:
    """The wide entries for ``q``: of the given ``entries`` (computed for this call), else of
    the contract's stage entries, cached per store and data version."""
    if entries is not None:
        names: list[str] = []
        try:
            yield _build_wide(q, _entries(q, entries), names)
        finally:
            _drop(q.store, names)
        return
    yield _cached_wide(q)


def _cached(store: Store, contract: Contract, key: str, build: Callable[[list[str]], _T]) -> _T:
    """``build(names)`` (which computes temporary tables and appends their names) through the
    store's result cache (:mod:`cueva.store.cache`), under ``key`` and the contract."""
    return _cache.cached(
        store, "funnel", key, build, contract=contract, version=data_version(store)
    )


def _cached_wide(q: _Query) -> _Wide:
    # one table per segment for every grain and period: buckets are computed by the queries
    key = "|".join(["wide", str(q.by)])
    return _cached(q.store, q.contract, key, lambda names: _build_wide(q, None, names))


def clear_cache(store: Store) -> None:
    """Drop the store's cached results (stage entries, deal tables, and those of the other
    modules: one cache, :func:`cueva.store.cache.clear_cache`); rebuilt when next needed."""
    _cache.clear_cache(store)


def data_period(store: Store, contract: Contract) -> Period:
    """The whole data range: from the first to the last stage entry or close date of a
    closed deal (expected close dates of open deals, often in the future, do not count).

    Read from the cached wide entries (each stage entry is one ``_at`` value of them), which
    every funnel query over the period then reuses: the entries are built once, not once
    for the range and again for the metrics."""
    store = _snap(store)
    q = _Query(store, contract, _ALL_TIME, None, None)
    w = _cached_wide(q)
    parts = [
        t.aggregate(lo=t[c].min(), hi=t[c].max())
        for t in (w.people, w.opps)
        if t is not None
        for c in t.columns
        if c.startswith("_at") and c != "_atp"
    ]
    u = _union(parts)
    r = u.aggregate(lo=u.lo.min(), hi=u.hi.max()).execute()
    o = store.table("opportunities")
    o = o.filter(o.is_closed.fill_null(False) | o.is_won.fill_null(False))
    c = o.aggregate(lo=o.close_date.min(), hi=o.close_date.max()).execute()
    los = [v for v in (r["lo"][0], c["lo"][0]) if not pd.isna(v)]
    his = [v for v in (r["hi"][0], c["hi"][0]) if not pd.isna(v)]
    if not los:
        raise UsageError("the store has no funnel data yet; import people and opportunities first")
    first = min(pd.Timestamp(v) for v in los).date()
    last = max(pd.Timestamp(v) for v in his).date()
    return Period(first, last + timedelta(days=1), f"{first} to {last}", "custom")


def funnel_report(
    store: Store,
    contract: Contract,
    period: Period | None = None,
    by: str | None = None,
    grain: str | None = None,
    window_days: int | None = None,
    target_pipeline: float | None = None,
    *,
    sections: Sequence[str] | None = None,
    opportunity_filter: Mapping[str, Sequence[str | None]] | None = None,
) -> dict[str, pd.DataFrame]:
    """The whole funnel for a period (default: the whole data range) as three frames
    (``sections``: only the named ones; by default all, or only ``deals`` and ``pipeline``
    when ``by`` is a column of opportunities only, which segments deals, not stages):

    - ``stages``: [``by``], [``period``], ``stage``, ``label``, ``owner``, ``entered``, and for
      the step to the next stage ``next_stage``, ``conversion_period``, ``cohort``,
      ``reached``, ``conversion_cohort``, ``median_days``, ``p90_days`` (null on the last
      stage);
    - ``deals``: the columns of :func:`deal_metrics`;
    - ``pipeline``: the columns of :func:`open_pipeline`.

    ``opportunity_filter`` is passed to the deal sections.
    """
    store = _snap(store)
    if sections is None:
        deal_only = by is not None and check_segment(store, by, deals=True) not in (
            *segment_columns(store),
            *OWNER_SEGMENTS,
        )
        sections = SECTIONS[1:] if deal_only else SECTIONS
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        raise UsageError(f"unknown section {unknown[0]!r}; sections: {', '.join(SECTIONS)}")
    window = _window(contract, window_days)
    _check_target(target_pipeline)
    if period is None:
        period = data_period(store, contract)
    out: dict[str, pd.DataFrame] = {}
    if "stages" in sections:
        out["stages"] = _stage_section(store, contract, period, by, grain, window)
    if "deals" in sections:
        out["deals"] = deal_metrics(
            store, contract, period, by, grain, opportunity_filter=opportunity_filter
        )
    if "pipeline" in sections:
        out["pipeline"] = open_pipeline(
            store,
            contract,
            period,
            by,
            grain,
            target_pipeline,
            opportunity_filter=opportunity_filter,
        )
    return out


#: The sections of :func:`funnel_report`, in order.
SECTIONS: tuple[str, ...] = ("stages", "deals", "pipeline")


def _stage_section(
    store: Store, contract: Contract, period: Period, by: str | None, grain: str | None, window: int
) -> pd.DataFrame:
    q = _query(store, contract, period, by, grain)
    with _wide(q, None) as w:
        counts = _counts(q, w)
        cohort = _cohort(q, w, window)
        times = _times(q, w)
    conv = _period_conversion(q, counts)
    cols = _grid_cols(q)
    step = conv[[*cols, "from_stage", "to_stage", "conversion_period"]]
    step = step.merge(cohort, on=[*cols, "from_stage", "to_stage"], how="left")
    step = step.merge(
        times[[*cols, "from_stage", "to_stage", "median_days", "p90_days"]],
        on=[*cols, "from_stage", "to_stage"],
        how="left",
    )
    step = step.rename(columns={"from_stage": "stage", "to_stage": "next_stage"})
    stages = counts.merge(step, on=[*cols, "stage"], how="left")
    meta = pd.DataFrame(
        {
            "stage": [s.name for s in contract.funnel.stages],
            "label": [s.display for s in contract.funnel.stages],
            "owner": [s.owner for s in contract.funnel.stages],
        }
    )
    stages = stages.merge(meta, on="stage", how="left")
    stages["cohort"] = stages["cohort"].astype("Int64")
    stages["reached"] = stages["reached"].astype("Int64")
    stages = stages[
        [
            *cols,
            "stage",
            "label",
            "owner",
            "entered",
            "next_stage",
            "conversion_period",
            "cohort",
            "reached",
            "conversion_cohort",
            "median_days",
            "p90_days",
        ]
    ]
    return q.finish(stages)


__all__ = [
    "ENTRY_COLUMNS",
    "NONE_LABEL",
    "SECTIONS",
    "clear_cache",
    "conversion_by_cohort",
    "conversion_by_period",
    "data_period",
    "data_version",
    "deal_filter",
    "deal_metrics",
    "deal_segment_columns",
    "funnel_report",
    "materialized",
    "open_pipeline",
    "segment_columns",
    "stage_counts",
    "stage_entries",
    "stage_times",
    "value_filter",
    "with_segment",
    "won_stage",
]
