"""The store: canonical tables in an Ibis backend (an embedded DuckDB file by default).

Backend-specific SQL lives in one module per backend (``cueva.store.duckdb``,
``cueva.store.postgres``); everything
else talks to :class:`Store` and Ibis expressions.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from cueva.errors import StoreError
from cueva.store.base import Adapter

if TYPE_CHECKING:
    import ibis.expr.types as ir

STORE_FILE = "cueva.duckdb"
IMPORTS_TABLE = "_cueva_imports"


def _adapter_for(url: str) -> Adapter:
    scheme = url.split("://", 1)[0] if "://" in url else "duckdb"
    if scheme == "duckdb":
        from cueva.store.duckdb import DuckDBAdapter

        path = url.split("://", 1)[1] if "://" in url else url
        return DuckDBAdapter(path)
    if scheme in ("postgresql", "postgres"):
        from cueva.store.postgres import PostgresAdapter

        return PostgresAdapter(url)
    raise StoreError(
        f"no Cueva adapter for store URL scheme {scheme!r} (supported: duckdb://PATH, "
        "postgresql://USER@HOST:PORT/DATABASE)"
    )


class Store:
    """A connection to the canonical tables.

    ``Store.open("duckdb:///path/cueva.duckdb")`` or
    ``Store.open("postgresql://user@host:5432/cueva")``; use as a context manager to close it.
    """

    def __init__(self, adapter: Adapter, url: str) -> None:
        self.adapter = adapter
        self.url = url
        self.adapter.ensure_schema()

    @classmethod
    def open(cls, url: str) -> Store:
        return cls(_adapter_for(url), url)

    @classmethod
    def for_workspace(cls, workspace: Path, url: str | None = None) -> Store:
        return cls.open(url or f"duckdb://{workspace / STORE_FILE}")

    @property
    def con(self) -> Any:
        """The Ibis backend."""
        return self.adapter.ibis

    def table(self, name: str) -> ir.Table:
        """A canonical table as an Ibis expression."""
        return self.adapter.ibis.table(name)

    def row_count(self, name: str) -> int:
        return int(self.table(name).count().execute())

    def close(self) -> None:
        self.adapter.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["IMPORTS_TABLE", "STORE_FILE", "Store"]
