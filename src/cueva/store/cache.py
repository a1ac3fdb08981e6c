"""One result cache per store connection, shared by every metric module.

The funnel (wide stage entries, deal tables), gap analysis (new-business funnel entries) and
the SLA scorecard (per-lead tables) all ask for the same expensive intermediate results again
and again: a dashboard page, a report or a scorecard with its trend. Each keeps them here,
keyed by

    (store data version, function, arguments, contract hash)

- the **data version** (:func:`data_version`) changes with every import (the store records
  each import in ``_cueva_imports``) and with the row count of the tables the stage entries
  read. When a call sees a new data version, every entry of the old version is dropped at
  once, with the temporary tables it holds: nothing computed before an import is served
  after it;
- the **function** is a name chosen by the caller (``"funnel.wide"``, ``"gap.entries"``,
  ``"sla.leads"``, ...), the **arguments** any hashable value;
- the **contract hash** (:func:`contract_key`) is a digest of the whole contract, so two
  contracts (two workspaces' contracts over one store, or an edited contract) never share an
  entry.

The cache is bounded: at most :data:`CACHE_SIZE` entries per connection, and at most
:data:`CACHE_BYTES` of frames held in Python (a value's ``memory_usage``, shallow: engine tables
count nothing), the least recently used dropped first (with its temporary tables). It lives as long as the connection (a weak
reference: closing and forgetting the store frees it).

A value may own temporary tables of the engine: ``build(names)`` appends the name of each
table it creates (:func:`temp_table` does both), and the cache drops them when the entry goes.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import uuid
import weakref
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast

if TYPE_CHECKING:
    import ibis.expr.types as ir
    from pydantic import BaseModel

    from cueva.store import Store

_T = TypeVar("_T")

#: Entries kept per store connection (wide entries for a few segments and grains, deal
#: tables, the gap's funnel entries, a scorecard's lead tables).
CACHE_SIZE = 32

#: Bytes of in-memory values (pandas frames: the scorecard's per-lead tables, a few MB each on
#: a million-person store) kept per connection; the newest entry is always kept.
CACHE_BYTES = 256 << 20

#: Tables whose row counts are part of the data version besides the import log (the ones the
#: stage entries read: a write that bypasses the importer still changes the version).
VERSION_TABLES: tuple[str, ...] = ("people", "accounts", "stage_events", "opportunities")

#: Prefix of the temporary tables that cached values own.
TEMP_PREFIX = "_cueva_tmp_"


def _version_expr(store: Store) -> ir.Table:
    import ibis

    from cueva.store import IMPORTS_TABLE

    imports = store.table(IMPORTS_TABLE)
    parts = [
        imports.aggregate(
            t=ibis.literal(IMPORTS_TABLE),
            n=imports.count(),
            last=imports.imported_at.max().cast("string"),
        )
    ]
    for name in VERSION_TABLES:
        t = store.table(name)
        parts.append(t.aggregate(t=ibis.literal(name), n=t.count(), last=ibis.null("string")))
    return ibis.union(*parts)


#: The data version query compiled once per connection: compiling it through Ibis costs
#: about 25 ms of Python each time, running it well under 1 ms, and a metric call asks once.
_VERSION_SQL: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def data_version(store: Store) -> tuple[Any, ...]:
    """What changes when data change: the number and time of the store's imports and the row
    counts of :data:`VERSION_TABLES` (one small engine query, compiled once per connection by
    Ibis for the store's backend and run through its DB-API cursor)."""
    sql = _VERSION_SQL.get(store.adapter)
    if sql is None:
        sql = _VERSION_SQL[store.adapter] = str(store.con.compile(_version_expr(store)))
    cursor = store.con.raw_sql(sql)
    try:
        rows = cursor.fetchall()
    finally:
        # DuckDB's backend hands back its own connection (not to be closed); others a cursor
        if cursor is not getattr(store.con, "con", None):
            with contextlib.suppress(Exception):
                cursor.close()
    return tuple(
        sorted((str(t), int(n), None if last is None else str(last)) for t, n, last in rows)
    )


def contract_key(contract: BaseModel | None) -> str:
    """A digest of the whole contract (``""`` for none): equal contracts, equal keys."""
    if contract is None:
        return ""
    return hashlib.sha256(contract.model_dump_json().encode()).hexdigest()[:32]


@dataclass
class _Entry:
    value: Any
    names: list[str] = field(default_factory=list)
    nbytes: int = 0


def _nbytes(value: Any) -> int:
    """Bytes a value holds in Python: a frame's shallow ``memory_usage``, else 0."""
    usage = getattr(value, "memory_usage", None)
    if callable(usage):
        with contextlib.suppress(Exception):
            return int(usage(index=True).sum())
    return 0


@dataclass(frozen=True)
class CacheStats:
    """What a cache did since it was made: ``hits``, ``misses`` (builds), ``evictions``
    (entries dropped for the size bound) and ``invalidations`` (data version changes that
    dropped the entries of the old version)."""

    hits: int
    misses: int
    evictions: int
    invalidations: int
    entries: int


class ResultCache:
    """The result cache of one store connection (get it with :func:`result_cache`)."""

    def __init__(self, con: Any, size: int | None = None) -> None:
        self._con = weakref.ref(con)
        self.size = size
        self.version: tuple[Any, ...] | None = None
        self._entries: dict[tuple[Any, ...], _Entry] = {}
        self._lock = threading.RLock()
        self._hits = self._misses = self._evictions = self._invalidations = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def nbytes(self) -> int:
        """Bytes of the in-memory values kept (frames; engine tables count 0)."""
        return sum(e.nbytes for e in self._entries.values())

    @property
    def stats(self) -> CacheStats:
        return CacheStats(
            self._hits, self._misses, self._evictions, self._invalidations, len(self._entries)
        )

    def get(
        self,
        store: Store,
        function: str,
        args: Hashable,
        build: Callable[[list[str]], _T],
        *,
        contract: BaseModel | None = None,
        version: tuple[Any, ...] | None = None,
    ) -> _T:
        """The value of ``build(names)`` for (data version, ``function``, ``args``,
        ``contract``), built on a miss. ``version``: the store's data version when the caller
        knows it already (else asked here)."""
        if version is None:
            version = data_version(store)
        key = (function, args, contract_key(contract))
        with self._lock:
            self._check_version(version)
            hit = self._entries.pop(key, None)
            if hit is not None:
                self._entries[key] = hit  # most recently used last
                self._hits += 1
                return cast("_T", hit.value)
            self._misses += 1
        names: list[str] = []
        try:
            value = build(names)
        except BaseException:
            self._drop(names)
            raise
        with self._lock:
            # Another thread saw a newer data version while this one built, or built the same
            # entry at the same time: the value is returned but not kept, and its tables are
            # left to the connection (temporary tables end with it), since a caller uses them.
            if version != self.version or key in self._entries:
                return value
            self._entries[key] = _Entry(value, names, _nbytes(value))
            limit = CACHE_SIZE if self.size is None else self.size
            while len(self._entries) > 1 and (
                len(self._entries) > limit or self.nbytes > CACHE_BYTES
            ):
                self._evictions += 1
                self._drop(self._entries.pop(next(iter(self._entries))).names)
        return value

    def _check_version(self, version: tuple[Any, ...]) -> None:
        if version != self.version:
            if self._entries:
                self._invalidations += 1
            self.clear()
            self.version = version

    def clear(self) -> None:
        """Drop every entry and its temporary tables."""
        with self._lock:
            entries, self._entries = self._entries, {}
            for entry in entries.values():
                self._drop(entry.names)

    def _drop(self, names: list[str]) -> None:
        con = self._con()
        if con is None:
            return
        for name in names:
            with contextlib.suppress(Exception):  # a closed connection holds nothing
                con.drop_table(name, force=True)


#: One cache per connection (temporary tables belong to the connection), keyed by the
#: store's adapter, which owns the connection. Not by the Ibis backend itself: Ibis backends
#: compare equal when they open the same database file, and two connections to one file do
#: not share temporary tables.
_CACHES: weakref.WeakKeyDictionary[Any, ResultCache] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def result_cache(store: Store) -> ResultCache:
    """The result cache of ``store``'s connection (made on first use)."""
    with _CACHES_LOCK:
        cache = _CACHES.get(store.adapter)
        if cache is None:
            cache = _CACHES[store.adapter] = ResultCache(store.con)
        return cache


def cached(
    store: Store,
    function: str,
    args: Hashable,
    build: Callable[[list[str]], _T],
    *,
    contract: BaseModel | None = None,
    version: tuple[Any, ...] | None = None,
) -> _T:
    """``build(names)`` through ``store``'s result cache: see :meth:`ResultCache.get`."""
    return result_cache(store).get(store, function, args, build, contract=contract, version=version)


def temp_table(store: Store, expr: ir.Table, names: list[str]) -> ir.Table:
    """``expr`` computed into a new temporary table of the store's engine, its name appended
    to ``names`` (for a ``build`` function: the cache drops it with the entry)."""
    name = f"{TEMP_PREFIX}{uuid.uuid4().hex[:12]}"
    table = store.con.create_table(name, expr, temp=True)
    names.append(name)
    return table


def clear_cache(store: Store) -> None:
    """Drop every cached result of ``store``'s connection (rebuilt when next needed)."""
    with _CACHES_LOCK:
        cache = _CACHES.get(store.adapter)
    if cache is not None:
        cache.clear()


__all__ = [
    "CACHE_BYTES",
    "CACHE_SIZE",
    "TEMP_PREFIX",
    "VERSION_TABLES",
    "CacheStats",
    "ResultCache",
    "cached",
    "clear_cache",
    "contract_key",
    "data_version",
    "result_cache",
    "temp_table",
]
