"""The package's exceptions: one root, specific errors that also subclass the matching built-in.

Errors from DuckDB, Ibis or the file system are translated once, where they cross into Cueva,
with ``raise ... from exc``; the CLI turns any :class:`CuevaError` into one line and exit code 1.
"""

from __future__ import annotations

from dataclasses import dataclass


class CuevaError(Exception):
    """Root of every error Cueva raises on purpose."""


class WorkspaceError(CuevaError, FileNotFoundError):
    """A workspace folder or its files are missing or unusable."""


class StoreError(CuevaError, RuntimeError):
    """The store (an Ibis backend) could not be opened or written."""


class ContractError(CuevaError, ValueError):
    """The alignment contract (cueva.yaml) is invalid."""


class UsageError(CuevaError, ValueError):
    """Arguments that do not make sense together (bad period, unknown column, ...)."""


@dataclass(frozen=True)
class RowError:
    """One located problem in an input file."""

    file: str
    row: int | None
    column: str | None
    value: str | None
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f" row {self.row}"
        if self.column is not None:
            where += f", column {self.column}"
        shown = ""
        if self.value is not None:
            v = self.value if len(self.value) <= 60 else self.value[:57] + "..."
            shown = f" {v!r}:"
        return f"{where}:{shown} {self.message}"


class ImportValidationError(CuevaError, ValueError):
    """An import was rejected; nothing was written.

    ``errors`` holds the first problems per file (at most 20 each); ``counts`` the total
    number of problems per file.
    """

    def __init__(self, errors: list[RowError], counts: dict[str, int]) -> None:
        self.errors = errors
        self.counts = counts
        total = sum(counts.values())
        lines = [f"import rejected, nothing was written: {total} problem(s)"]
        shown_per_file: dict[str, int] = {}
        for err in errors:
            shown_per_file[err.file] = shown_per_file.get(err.file, 0) + 1
            lines.append(f"  {err}")
        for file, n in counts.items():
            more = n - shown_per_file.get(file, 0)
            if more > 0:
                lines.append(f"  {file}: ... and {more} more problem(s)")
        super().__init__("\n".join(lines))
