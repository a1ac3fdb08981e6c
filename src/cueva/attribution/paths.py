"""Aggregated journeys ("paths") in a compact columnar form, and reading them from a path file.

A :class:`PathSet` holds ``n`` journeys (or aggregated paths) as flat arrays, like a CSR
matrix: ``touches[offsets[i]:offsets[i+1]]`` are the channel codes of journey ``i`` in time
order, ``channels[code]`` their names. Per journey it keeps the credited measures
(``conversions`` and money such as ``value``, ``pipeline``, ``revenue``, ``gross_margin``) and
``nulls`` (journeys of that path that did not convert). Per touch it may keep the touch's age
in days before the milestone (for time decay), milestone marks (for W-shaped / full path) and
the campaign.

The path file is read by pyarrow (row order kept for error messages) and checked, grouped
and split in the engine (Ibis over an in-memory DuckDB); only the grouped paths come into
numpy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cueva.errors import UsageError

#: Bit flags of ``PathSet.marks``: the touch that started the lead, the opportunity, the close.
MARK_LEAD = 1
MARK_OPPORTUNITY = 2
MARK_CLOSE = 4


class PathFileError(UsageError):
    """A path file is malformed; the message names the file, row and column."""


@dataclass
class PathSet:
    """Journeys as flat arrays (see the module docstring)."""

    channels: list[str]
    offsets: np.ndarray  # int64, len n+1
    touches: np.ndarray  # int32 channel codes, len offsets[-1]
    measures: dict[str, np.ndarray]  # float64, len n each; always has "conversions"
    nulls: np.ndarray  # float64, len n
    touch_age_days: np.ndarray | None = None  # float64 per touch
    marks: np.ndarray | None = None  # uint8 per touch (MARK_* flags)
    touch_campaign: np.ndarray | None = None  # int32 code into ``campaigns`` (-1: none)
    campaigns: list[str] = field(default_factory=list)
    campaign_channel: list[str] = field(default_factory=list)
    journey_sourced: np.ndarray | None = None  # bool per journey: marketing-sourced

    def __post_init__(self) -> None:
        if "conversions" not in self.measures:
            raise ValueError("a PathSet needs a 'conversions' measure")
        self.offsets = np.asarray(self.offsets, dtype=np.int64)
        self.touches = np.asarray(self.touches, dtype=np.int32)
        self.nulls = np.asarray(self.nulls, dtype=np.float64)
        self.measures = {k: np.asarray(v, dtype=np.float64) for k, v in self.measures.items()}

    @property
    def n_paths(self) -> int:
        return len(self.offsets) - 1

    @property
    def n_channels(self) -> int:
        return len(self.channels)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def path_of_touch(self) -> np.ndarray:
        """Index of the journey of every touch."""
        return np.repeat(np.arange(self.n_paths, dtype=np.int64), self.lengths)

    @property
    def position(self) -> np.ndarray:
        """0-based position of every touch within its journey."""
        return np.arange(len(self.touches), dtype=np.int64) - np.repeat(
            self.offsets[:-1], self.lengths
        )

    @property
    def conversions(self) -> np.ndarray:
        return self.measures["conversions"]

    def path_strings(self, sep: str = " > ") -> list[str]:
        """The paths as text (for small sets: display and tests)."""
        names = np.asarray(self.channels, dtype=object)
        return [
            sep.join(names[self.touches[a:b]])
            for a, b in zip(self.offsets[:-1], self.offsets[1:], strict=True)
        ]

    def channel_sets(self) -> np.ndarray:
        """Bit mask (uint64) of the distinct channels of every journey (at most 63 channels)."""
        if self.n_channels > 63:
            raise UsageError(f"{self.n_channels} channels: channel sets support at most 63")
        bits = np.left_shift(np.uint64(1), self.touches.astype(np.uint64))
        out = np.zeros(self.n_paths, dtype=np.uint64)
        nonempty = self.lengths > 0
        if nonempty.any():
            starts = self.offsets[:-1][nonempty]
            out[nonempty] = np.bitwise_or.reduceat(bits, starts)
        return out


def from_lists(
    paths: list[list[str]],
    conversions: Any,
    nulls: Any | None = None,
    **measures: Any,
) -> PathSet:
    """Build a PathSet from Python lists (for tests and small inputs)."""
    flat = [c for p in paths for c in p]
    names: list[str] = list(dict.fromkeys(flat))
    code = {c: i for i, c in enumerate(names)}
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in paths])]).astype(np.int64)
    n = len(paths)
    return PathSet(
        channels=names,
        offsets=offsets,
        touches=np.array([code[c] for c in flat], dtype=np.int32),
        measures={"conversions": np.asarray(conversions, dtype=float), **measures},
        nulls=np.zeros(n) if nulls is None else np.asarray(nulls, dtype=float),
    )


def _pathset_from_lists(
    parts: pa.ChunkedArray | pa.Array,
    measures: dict[str, np.ndarray],
    nulls: np.ndarray,
) -> PathSet:
    """Flatten a list<string> column into codes (dictionary encoding in first-seen order)."""
    arr = parts.combine_chunks() if isinstance(parts, pa.ChunkedArray) else parts
    offsets = np.asarray(arr.offsets, dtype=np.int64)
    offsets = offsets - offsets[0]
    flat = arr.flatten()
    enc = pc.dictionary_encode(flat)
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.combine_chunks()
    touches = np.asarray(enc.indices, dtype=np.int32)
    channels = [str(x) for x in enc.dictionary.to_pylist()]
    return PathSet(channels, offsets, touches, measures, nulls)


def read_path_file(
    path: Path | str,
    *,
    sep: str = ";",
    path_sep: str = ">",
    path_col: str = "path",
    conv_col: str = "total_conversions",
    value_col: str | None = "total_conversion_value",
    null_col: str | None = "total_null",
    known_channels: list[str] | None = None,
    encoding: str = "utf-8",
) -> PathSet:
    """Read a ChannelAttribution-style path file (``path;total_conversions;...``).

    ``path`` is channels separated by ``path_sep`` (spaces around names are trimmed). The
    value and null columns are optional: missing columns count as 0 (set ``value_col`` or
    ``null_col`` to None to ignore them). Conversions and values may be fractional. Rows with
    the same path are summed. With ``known_channels``, a channel not in the list is an error.
    Errors name the file, the row (1-based, the header is row 1) and the column.
    """
    import pyarrow.csv as pacsv

    p = Path(path)
    shown = p.name
    if not p.is_file():
        raise PathFileError(f"{p}: no such path file")
    if len(sep) != 1:
        raise PathFileError(f"--sep must be one character, got {sep!r}")
    if not path_sep.strip():
        raise PathFileError("the path separator must contain a visible character")
    try:
        table = pacsv.read_csv(
            p,
            read_options=pacsv.ReadOptions(encoding=encoding, block_size=16 << 20),
            parse_options=pacsv.ParseOptions(delimiter=sep),
            convert_options=pacsv.ConvertOptions(
                column_types={}, strings_can_be_null=False, auto_dict_encode=False
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError, LookupError) as exc:
        raise PathFileError(f"{shown}: cannot read as CSV with separator {sep!r}: {exc}") from exc
    cols = table.column_names
    if path_col not in cols or conv_col not in cols:
        missing = [c for c in (path_col, conv_col) if c not in cols]
        raise PathFileError(
            f"{shown}: missing column(s) {', '.join(missing)}; the file has: {', '.join(cols)}"
            + (" (wrong --sep?)" if len(cols) == 1 else "")
        )
    if table.num_rows == 0:
        raise PathFileError(f"{shown}: no rows")
    return _paths_from_arrow(
        table,
        shown=shown,
        path_sep=path_sep,
        path_col=path_col,
        conv_col=conv_col,
        value_col=value_col if value_col in cols else None,
        null_col=null_col if null_col in cols else None,
        known_channels=known_channels,
    )


def paths_from_frame(
    frame: Any,
    *,
    path_sep: str = ">",
    path_col: str = "path",
    conv_col: str = "total_conversions",
    value_col: str | None = "total_conversion_value",
    null_col: str | None = "total_null",
    known_channels: list[str] | None = None,
    name: str = "paths",
) -> PathSet:
    """Like :func:`read_path_file` for a pandas frame or pyarrow table already in memory."""
    table = (
        frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, preserve_index=False)
    )
    cols = table.column_names
    for c in (path_col, conv_col):
        if c not in cols:
            raise PathFileError(f"{name}: missing column {c}; it has: {', '.join(cols)}")
    return _paths_from_arrow(
        table,
        shown=name,
        path_sep=path_sep,
        path_col=path_col,
        conv_col=conv_col,
        value_col=value_col if value_col in cols else None,
        null_col=null_col if null_col in cols else None,
        known_channels=known_channels,
    )


def _paths_from_arrow(
    table: pa.Table,
    *,
    shown: str,
    path_sep: str,
    path_col: str,
    conv_col: str,
    value_col: str | None,
    null_col: str | None,
    known_channels: list[str] | None,
) -> PathSet:
    import ibis

    keep = {"path": table[path_col].cast(pa.string())}
    numeric = {"conversions": conv_col}
    if value_col:
        numeric["value"] = value_col
    if null_col:
        numeric["nulls"] = null_col
    for name, col in numeric.items():
        typ = table[col].type
        numeric_type = pa.types.is_integer(typ) or pa.types.is_floating(typ)
        keep[name] = table[col].cast(pa.float64() if numeric_type else pa.string())
    keep["row"] = pa.array(np.arange(2, table.num_rows + 2, dtype=np.int64))
    con = ibis.duckdb.connect()
    t = ibis.memtable(pa.table(keep))

    parsed = t.mutate(
        parts=t.path.split(path_sep).map(lambda s: s.strip()),
        **{
            name: (t[name].strip().try_cast("float64") if t[name].type().is_string() else t[name])
            for name in numeric
        },
    )

    # --- located errors, first rows first (the engine returns only the offending rows)
    problems: list[str] = []
    checks: list[tuple[Any, str, str]] = [
        (t.path.strip() == "", path_col, "empty path"),
        (
            (t.path.strip() != "") & (parsed.parts.filter(lambda s: s == "").length() > 0),
            path_col,
            f"empty channel name (separators without a channel between them; separator {path_sep!r})",
        ),
    ]
    for name, col in numeric.items():
        raw = t[name]
        bad_num = (
            raw.isnull() | ((raw.strip() != "") & parsed[name].isnull())
            if raw.type().is_string()
            else raw.isnull()
        )
        checks.append((bad_num, col, "not a number"))
        checks.append((parsed[name] < 0, col, "negative count or value"))
        checks.append((parsed[name].isinf() | parsed[name].isnan(), col, "not a finite number"))
    for cond, col, msg in checks:
        rows = con.to_pyarrow(
            parsed.filter(cond.fill_null(False)).select("row", "path").order_by("row").limit(3)
        )
        if rows.num_rows:
            for r, v in zip(rows["row"].to_pylist(), rows["path"].to_pylist(), strict=True):
                v = v if len(v) <= 60 else v[:57] + "..."
                problems.append(f"{shown} row {r}, column {col} {v!r}: {msg}")
    if problems:
        raise PathFileError("malformed path file:\n  " + "\n  ".join(problems[:10]))

    # --- group identical paths in the engine
    sums = {name: parsed[name].fill_null(0).sum().name(name) for name in numeric}
    grouped = parsed.group_by(key=parsed.parts.join("\x1f")).aggregate(
        first_row=parsed.row.min(), **sums
    )
    grouped = grouped.mutate(parts=grouped.key.split("\x1f")).order_by("first_row")
    out = con.to_pyarrow(grouped.drop("key"))
    measures = {"conversions": out["conversions"].to_numpy()}
    if "value" in numeric:
        measures["value"] = out["value"].to_numpy()
    nulls = out["nulls"].to_numpy() if "nulls" in numeric else np.zeros(out.num_rows)
    ps = _pathset_from_lists(out["parts"], measures, np.asarray(nulls, dtype=float))
    if known_channels is not None:
        unknown = sorted(set(ps.channels) - set(known_channels))
        if unknown:
            first = parsed.filter(parsed.parts.filter(lambda s: s.isin(unknown)).length() > 0)
            r = con.to_pyarrow(first.select("row").order_by("row").limit(1))["row"][0].as_py()
            raise PathFileError(
                f"{shown} row {r}, column {path_col}: unknown channel(s) "
                + ", ".join(repr(u) for u in unknown[:10])
                + f"; known channels: {', '.join(known_channels)}"
            )
    return ps


__all__ = [
    "MARK_CLOSE",
    "MARK_LEAD",
    "MARK_OPPORTUNITY",
    "PathFileError",
    "PathSet",
    "from_lists",
    "paths_from_frame",
    "read_path_file",
]
