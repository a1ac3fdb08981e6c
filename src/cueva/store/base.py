"""What a backend module provides to the rest of Cueva."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

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


@dataclass(frozen=True)
class SourceFile:
    """One input file as the importer resolved it.

    For CSV the importer has already read the header (in Python: one line) and chosen the
    separator, so the engine reads the data with a fixed dialect and no guessing.
    """

    path: Path  # what the engine reads (a UTF-8 copy for other encodings)
    shown: str  # the name used in messages
    kind: Literal["csv", "parquet"]
    #: The file's columns in order: (engine column name, engine type). For CSV the engine
    #: names are positional (``c0``, ``c1``, ...) and every type is text.
    columns: tuple[tuple[str, str], ...] = ()
    #: Canonical or extra column name -> engine column name.
    mapping: dict[str, str] = field(default_factory=dict)
    sep: str = ","


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
        """Run backend SQL: hand-written SQL belongs only in backend modules and tests; other
        modules may run SQL that Ibis compiled for this backend (the funnel's warm queries)."""

    @abstractmethod
    def file_columns(self, src: SourceFile) -> list[tuple[str, str]]:
        """(name, backend type) of each column of a Parquet file, read from its metadata."""

    @abstractmethod
    def stage(self, src: SourceFile, spec: Table, opts: ReadOptions) -> Staged:
        """Read one file into a temporary, typed staging table (one pass over the file)."""

    @abstractmethod
    def check(self, staged: list[Staged]) -> tuple[list[RowError], dict[str, int]]:
        """Located problems in staged files: (first ones per file, count per file)."""

    @abstractmethod
    def extra_type_conflicts(self, staged: list[Staged]) -> list[RowError]:
        """Extra columns whose type differs from the same column already in the store."""

    @abstractmethod
    def write(self, staged: list[Staged]) -> dict[str, int]:
        """Replace rows with the same key, insert the rest (inside a transaction)."""

    @abstractmethod
    def record_import(self, values: list[tuple[Any, ...]]) -> None: ...

    @abstractmethod
    def drop_staged(self, staged: list[Staged]) -> None: ...

    def iter_tables(self) -> Iterator[str]:
        yield from self.ibis.list_tables()
