"""What a backend module provides to the rest of Cueva."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cueva.errors import RowError
from cueva.schema import Table

if TYPE_CHECKING:
    from cueva.store.duckdb import Staged


@dataclass(frozen=True)
class ReadOptions:
    """How to read an input file."""

    encoding: str = "utf-8"
    sep: str | None = None  # None: detect ',' or ';'
    decimal: str = "."
    timezone: str = "UTC"


class Adapter(ABC):
    """One backend: its Ibis connection plus the few operations Ibis cannot express
    portably (reading files, typed parsing with located errors, atomic replace)."""

    ibis: Any

    @abstractmethod
    def ensure_schema(self) -> None:
        """Create every canonical table (and Cueva's own tables) that does not exist."""

    @abstractmethod
    def transaction(self) -> AbstractContextManager[None]:
        """All statements inside commit together or not at all."""

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run backend SQL; only backend modules and tests should need it."""

    @abstractmethod
    def stage(self, path: Path, spec: Table, opts: ReadOptions, shown_name: str) -> Staged:
        """Read one file into a temporary, typed staging table."""

    @abstractmethod
    def check(self, staged: list[Staged]) -> tuple[list[RowError], dict[str, int]]:
        """Located problems in staged files: (first ones per file, count per file)."""

    @abstractmethod
    def write(self, staged: list[Staged]) -> dict[str, int]:
        """Replace rows with the same key, insert the rest (inside a transaction)."""

    @abstractmethod
    def record_import(self, values: list[tuple[Any, ...]]) -> None: ...

    @abstractmethod
    def drop_staged(self, staged: list[Staged]) -> None: ...

    def iter_tables(self) -> Iterator[str]:
        yield from self.ibis.list_tables()
