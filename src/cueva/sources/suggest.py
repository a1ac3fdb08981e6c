"""``cueva mapping suggest FILE.csv``: propose a mapping by matching the file's headers
against known names in English, Spanish and Portuguese (and the CRMs' own field names).

The proposal is a starting point the user edits: it names the canonical table that matches
most headers, the column each header fills, the required columns it could not find, and the
headers it did not recognise.
"""

from __future__ import annotations

import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from cueva.errors import UsageError
from cueva.schema import TABLES
from cueva.sources._core import norm_header
from cueva.sources._engine import Engine
from cueva.sources._vocab import HEADER_SYNONYMS


def _shown(header: str) -> str:
    """A header as it can sit in a YAML comment (control characters escaped)."""
    return header if header.isprintable() else repr(header)


def _key(name: str) -> str:
    """Header spelling for matching: lower case, no accents, no punctuation."""
    text = unicodedata.normalize("NFKD", norm_header(name))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join("".join(ch if ch.isalnum() else " " for ch in text).split())


@dataclass
class Suggestion:
    file: str
    table: str
    columns: dict[str, str] = field(default_factory=dict)  # canonical -> header
    missing_required: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    sep: str | None = None

    def to_yaml(self) -> str:
        table: dict[str, object] = {"file": self.file}
        if self.sep and self.sep != ",":
            table["sep"] = self.sep
        table["columns"] = dict(self.columns)
        body = yaml.safe_dump({"tables": {self.table: table}}, allow_unicode=True, sort_keys=False)
        notes = [
            f"# Proposed by 'cueva mapping suggest' for {_shown(self.file)}: check every line.",
            "# Add 'values' maps (source value -> canonical value), 'constants',",
            "# 'date_formats' (e.g. \"%d/%m/%Y\") and 'stage_events' as needed (docs/sources.md).",
        ]
        if self.missing_required:
            notes.append(
                "# Required columns not found: "
                + ", ".join(self.missing_required)
                + " (add them to 'columns' or 'constants')"
            )
        if self.unmatched:
            notes.append(
                "# Headers not recognised (ignored): "
                + ", ".join(_shown(h) for h in self.unmatched)
            )
        return "\n".join(notes) + "\n" + body


def suggest_for_headers(headers: list[str], file: str, table: str | None = None) -> Suggestion:
    """The best canonical table for ``headers`` (or ``table``) and the column matches."""
    keyed = [(h, _key(h)) for h in headers]

    def match(name: str) -> dict[str, str]:
        found: dict[str, str] = {}
        used: set[str] = set()
        for col, names in HEADER_SYNONYMS.get(name, {}).items():
            wanted = {_key(n) for n in (col, *names)}
            for h, k in keyed:
                if k in wanted and h not in used:
                    found[col] = h
                    used.add(h)
                    break
        return found

    if table is not None:
        if table not in TABLES:
            raise UsageError(f"--table: {table!r} is not a canonical table")
        best = table
    else:
        scores = {
            name: (
                len(m := match(name)),
                sum(1 for c in TABLES[name].required if c in m),
            )
            for name in HEADER_SYNONYMS
        }
        best = max(scores, key=lambda n: scores[n])
        if scores[best][0] == 0:
            raise UsageError(
                f"{file}: no header matches a known column name; write the mapping by hand "
                "(see docs/sources.md)"
            )
    cols = match(best)
    spec = TABLES[best]
    missing = [
        c
        for c in spec.required
        if c not in cols and not (best == "touchpoints" and c == "touchpoint_id")
    ]
    matched = set(cols.values())
    return Suggestion(
        file=file,
        table=best,
        columns=cols,
        missing_required=missing,
        unmatched=[h for h in headers if h not in matched],
    )


def suggest_mapping(
    path: Path | str, *, sep: str | None = None, table: str | None = None
) -> Suggestion:
    """Read ``path``'s header (through the engine) and propose a mapping."""
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"{p}: no such file")
    with tempfile.TemporaryDirectory(prefix="cueva-suggest-") as tmp:
        eng = Engine(Path(tmp))
        try:
            headers = eng.header(p, p.name, sep=sep)
            sep = sep or eng.sniff_delimiter(p, p.name)
        finally:
            eng.close()
    s = suggest_for_headers(headers, p.name, table)
    s.sep = sep
    return s


__all__ = ["Suggestion", "suggest_for_headers", "suggest_mapping"]
