"""Aggregated journeys ("paths") in a compact columnar form, and reading them from a path file.

A :class:`PathSet` holds ``n`` journeys (or aggregated paths) as flat arrays, like a CSR
matrix: ``touches[offsets[i]:offsets[i+1]]`` are the channel codes of journey ``i`` in time
order, ``channels[code]`` their names. Per journey it keeps the credited measures
(``conversions`` and money such as ``value``, ``pipeline``, ``revenue``, ``gross_margin``) and
``nulls`` (journeys of that path that did not convert). Per touch it may keep the touch's age
in days before the milestone (for time decay), milestone marks (for W-shaped / full path) and
the campaign.

The path file is streamed block by block: each block's paths are cut at the separator's
bytes in numpy (no text copied), their distinct raw tokens hashed and trimmed by pyarrow, and
identical channel sequences are summed in numpy at the end (see docs/attribution.md); a
malformed file is read again whole to locate the problem (row order kept for error messages).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
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


#: Bytes of path-file text read, split and encoded at a time (see :func:`read_path_file`):
#: small blocks on one thread keep the reader's read-ahead and the per-block arrays small.
BLOCK_SIZE = 128 << 10


class PathFileError(UsageError):
    """A path file is malformed; the message names the file, row and column."""


@dataclass
class PathSet:
    """Journeys as flat arrays (see the module docstring). Treat the arrays as read-only:
    lengths, positions and journey indices are computed once and cached."""

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

    @cached_property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @cached_property
    def path_of_touch(self) -> np.ndarray:
        """Index of the journey of every touch."""
        return np.repeat(np.arange(self.n_paths, dtype=np.int64), self.lengths)

    @cached_property
    def touch_length(self) -> np.ndarray:
        """Length of the journey of every touch."""
        return np.repeat(self.lengths, self.lengths)

    @cached_property
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
    the same channels in the same order are summed. With ``known_channels``, a channel not
    in the list is an error.
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
    scan = _scan(p, path_sep)
    try:
        header = pacsv.open_csv(
            p,
            read_options=pacsv.ReadOptions(encoding=encoding, block_size=scan.block(1 << 16)),
            parse_options=pacsv.ParseOptions(delimiter=sep),
        ).schema.names
        _check_columns(shown, header, path_col, conv_col)
        numeric = {"conversions": conv_col}
        for key, col in (("value", value_col), ("nulls", null_col)):
            if col and col in header:
                numeric[key] = col
        ps = _stream_paths(
            p,
            scan,
            sep=sep,
            encoding=encoding,
            path_sep=path_sep,
            path_col=path_col,
            numeric=numeric,
            known_channels=known_channels,
        )
        if ps is not None:
            if ps.n_paths == 0:
                raise PathFileError(f"{shown}: no rows")
            return ps
        # something is malformed: read the whole file again to say which row and column
        table = _read_numeric_fast(
            p, scan, sep, encoding, path_col, [conv_col, value_col or "", null_col or ""]
        )
        if table is None:  # some value is not a number: read as text to locate it
            table = pacsv.read_csv(
                p,
                read_options=pacsv.ReadOptions(encoding=encoding, block_size=scan.block(1 << 20)),
                parse_options=pacsv.ParseOptions(delimiter=sep),
                convert_options=pacsv.ConvertOptions(
                    column_types={}, strings_can_be_null=False, auto_dict_encode=False
                ),
            )
    except (pa.ArrowInvalid, UnicodeDecodeError, LookupError) as exc:
        raise PathFileError(f"{shown}: cannot read as CSV with separator {sep!r}: {exc}") from exc
    cols = table.column_names
    if table.num_rows == 0:
        raise PathFileError(f"{shown}: no rows")
    holder = [table]
    del table
    return _paths_from_arrow(
        holder.pop(),
        shown=shown,
        path_sep=path_sep,
        path_col=path_col,
        conv_col=conv_col,
        value_col=value_col if value_col in cols else None,
        null_col=null_col if null_col in cols else None,
        known_channels=known_channels,
    )


def _check_columns(shown: str, cols: list[str], path_col: str, conv_col: str) -> None:
    if path_col not in cols or conv_col not in cols:
        missing = [c for c in (path_col, conv_col) if c not in cols]
        raise PathFileError(
            f"{shown}: missing column(s) {', '.join(missing)}; the file has: {', '.join(cols)}"
            + (" (wrong --sep?)" if len(cols) == 1 else "")
        )


def _read_numeric_fast(
    p: Path, scan: _Scan, sep: str, encoding: str, path_col: str, numeric: list[str]
) -> pa.Table | None:
    """Stream the file in blocks with the numeric columns typed as float64 (a lower memory
    peak than reading it whole). None when a numeric value does not parse; raises
    ArrowInvalid for files that are not CSV at all."""
    import pyarrow.csv as pacsv

    header = pacsv.open_csv(
        p,
        read_options=pacsv.ReadOptions(encoding=encoding, block_size=scan.block(1 << 16)),
        parse_options=pacsv.ParseOptions(delimiter=sep),
    ).schema.names
    types: dict[str, pa.DataType] = {c: pa.float64() for c in numeric if c in header}
    if path_col in header:
        types[path_col] = pa.string()
    batches = []
    try:
        reader = pacsv.open_csv(
            p,
            read_options=pacsv.ReadOptions(encoding=encoding, block_size=scan.block(4 << 20)),
            parse_options=pacsv.ParseOptions(delimiter=sep),
            convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=False),
        )
        for batch in reader:
            batches.append(batch)
    except pa.ArrowInvalid as exc:
        if "conversion error" in str(exc).lower():
            return None
        raise
    return pa.Table.from_batches(batches, schema=reader.schema)


def _stream_paths(
    p: Path,
    scan: _Scan,
    *,
    sep: str,
    encoding: str,
    path_sep: str,
    path_col: str,
    numeric: dict[str, str],
    known_channels: list[str] | None,
) -> PathSet | None:
    """Read, split and encode the path file block by block (:data:`BLOCK_SIZE`), so the
    file's path column, its split parts and their hash tables are never held whole: per
    block only the channel codes, path lengths and numbers are kept, then identical channel
    sequences are summed (:func:`_group_sequences`). None when anything is malformed (a value
    that is not a number, negative or not finite, an empty path or channel name, an unknown
    channel): the caller reads the file again the slow way, which locates the problem."""
    import pyarrow.csv as pacsv

    types: dict[str, pa.DataType] = {c: pa.float64() for c in numeric.values()}
    types[path_col] = pa.string()
    # the system allocator returns the blocks' buffers at once (the default pool keeps more)
    pool = pa.system_memory_pool()
    # Output arrays allocated once from upper bounds (newlines for rows, the separator's first
    # character for touches): untouched pages cost nothing, and no per-block pieces pile up.
    rows_max, seps_max = scan.lines, scan.seps
    lens = np.empty(rows_max, dtype=np.int32)
    cols = {k: np.empty(rows_max, dtype=np.float64) for k in numeric}
    touches = np.empty(rows_max + seps_max, dtype=np.int16)
    code_of: dict[str, int] = {}  # channel -> code, in order of first appearance
    r = q = 0  # rows and touches so far
    # a one-byte (ASCII) separator never occurs inside a multi-byte UTF-8 character: the
    # paths are cut at its bytes in numpy, without copying their text
    sep_byte = ord(path_sep) if len(path_sep) == 1 and path_sep.isascii() else None
    try:
        reader = pacsv.open_csv(
            p,
            read_options=pacsv.ReadOptions(
                encoding=encoding, block_size=scan.block(BLOCK_SIZE), use_threads=False
            ),
            parse_options=pacsv.ParseOptions(delimiter=sep),
            convert_options=pacsv.ConvertOptions(
                column_types=types, strings_can_be_null=False, include_columns=list(types)
            ),
            memory_pool=pool,
        )
        for batch in reader:
            nb = batch.num_rows
            if r + nb > rows_max:  # pragma: no cover - newlines bound the rows
                return None
            for k, c in numeric.items():
                col = batch.column(c)
                if col.null_count:  # an empty value
                    return None
                v = _values(col, np.float64)
                if not np.isfinite(v).all() or (v < 0).any():
                    return None
                cols[k][r : r + nb] = v
            col = batch.column(path_col)
            if col.null_count:  # pragma: no cover - strings_can_be_null=False
                return None
            if sep_byte is None:
                tok, lens_b = _split_arrow(col, path_sep, pool)
            else:
                tok, lens_b = _split_bytes(col, sep_byte)
            enc = pc.dictionary_encode(tok, memory_pool=pool)
            # the block's few distinct raw tokens ("ch04 >", " ch04"): stripped of the
            # separator that ends them and of spaces, here in Python, not per touch
            names = _channel_names(enc.dictionary, path_sep if sep_byte is not None else "", pool)
            if "" in names:  # an empty path or channel name: the slow way locates it
                return None
            for name in names:
                code_of.setdefault(name, len(code_of))
            if len(code_of) >= 1 << 15 or q + len(tok) > len(touches):
                return None  # more than 32k channels (or a bound missed): the slow way
            remap = np.array([code_of[x] for x in names], np.int16)
            touches[q : q + len(tok)] = remap[_values(enc.indices, np.int32)]
            lens[r : r + nb] = lens_b
            r, q = r + nb, q + len(tok)
            del tok, enc, col
    except pa.ArrowInvalid as exc:
        if "conversion error" in str(exc).lower():
            return None
        raise
    channels = list(code_of)
    if known_channels is not None and set(channels) - set(known_channels):
        return None
    if r == 0:
        return PathSet(channels, np.zeros(1, np.int64), np.zeros(0, np.int32), {
            "conversions": np.zeros(0)}, np.zeros(0))  # fmt: skip
    measures = {"conversions": cols["conversions"][:r]}
    if "value" in cols:
        measures["value"] = cols["value"][:r]
    nulls = cols["nulls"][:r] if "nulls" in cols else np.zeros(r)
    return _group_sequences(channels, touches[:q], lens[:r], measures, nulls)


def _split_bytes(col: pa.Array, sep_byte: int) -> tuple[pa.Array, np.ndarray]:
    """The touches of a block's paths as raw tokens, and the number of touches per path.

    A token is the text from a path's start or just after a separator up to and including
    the next separator (or the path's end): ``"a > b"`` gives ``"a >"`` and ``" b"``. The
    tokens are a string array over the column's own text buffer (only new offsets), so the
    split copies no text; see :func:`_channel_names` for the names."""
    n = len(col)
    bufs = col.buffers()
    off = np.frombuffer(bufs[1], dtype=np.int32, count=n + 1, offset=col.offset * 4)
    lo, hi = int(off[0]), int(off[-1])
    data = bufs[2] if bufs[2] is not None else pa.py_buffer(b"")
    text = np.frombuffer(data, dtype=np.uint8, count=hi - lo, offset=lo)
    at = np.flatnonzero(text == sep_byte).astype(np.int32) + np.int32(lo)
    before = np.searchsorted(at, off)  # separators before each path's start
    n_tok = n + len(at)
    tok_off = np.empty(n_tok + 1, dtype=np.int32)
    first = np.arange(n, dtype=np.int64) + before[:-1]  # each path's first token
    rest = np.ones(n_tok, dtype=bool)
    rest[first] = False
    tok_off[first] = off[:-1]
    tok_off[:-1][rest] = at + 1
    tok_off[-1] = hi
    tok = pa.StringArray.from_buffers(n_tok, pa.py_buffer(tok_off), data)
    return tok, (np.diff(before) + 1).astype(np.int32)


def _split_arrow(col: pa.Array, path_sep: str, pool: pa.MemoryPool) -> tuple[pa.Array, np.ndarray]:
    """Like :func:`_split_bytes` for a separator of several characters (Arrow's split)."""
    parts = pc.split_pattern(col, path_sep, memory_pool=pool)
    return parts.flatten(), _values(pc.list_value_length(parts), np.int32).copy()


def _channel_names(tokens: pa.Array, ending: str, pool: pa.MemoryPool) -> list[str]:
    """Channel names of distinct raw tokens: the separator that ends a token (``ending``,
    one character) and surrounding whitespace removed."""
    if ending:
        tokens = pc.utf8_rtrim(tokens, characters=ending, memory_pool=pool)
    return [str(x) for x in pc.utf8_trim_whitespace(tokens, memory_pool=pool).to_pylist()]


@dataclass
class _Scan:
    """What one pass over the file's bytes tells: newlines + 1 (a bound on the rows),
    occurrences of the path separator's first character (a bound on the touches beyond one
    per row) and the longest line (a CSV block must hold a whole row)."""

    lines: int
    seps: int
    longest: int

    def block(self, size: int) -> int:
        """``size``, or more when a line is longer."""
        return max(size, self.longest + (1 << 10))


def _scan(p: Path, path_sep: str) -> _Scan:
    # the first byte of the separator's first visible character: its count bounds the
    # separators (numpy's count is 5x faster than bytes.count with millions of hits)
    first = (path_sep.strip()[:1].encode() or path_sep[:1].encode())[0]
    lines, seps, longest, run = 1, 0, 0, 0
    with p.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            text = np.frombuffer(chunk, dtype=np.uint8)
            seps += int(np.count_nonzero(text == first))
            nl = np.flatnonzero(text == ord("\n"))
            if len(nl) == 0:
                run += len(chunk)
                continue
            lines += len(nl)
            longest = max(longest, run + int(nl[0]) + 1)
            if len(nl) > 1:
                longest = max(longest, int(np.diff(nl).max()))
            run = len(chunk) - int(nl[-1]) - 1
    return _Scan(lines, seps, max(longest, run))


def _values(arr: pa.Array, dtype: Any) -> np.ndarray:
    """A numpy view of a primitive Arrow array without nulls, on its data buffer
    (``to_numpy`` here kept tens of MB of the reader's blocks alive over a file)."""
    width = np.dtype(dtype).itemsize
    if arr.type.byte_width != width:
        raise TypeError(f"expected {width}-byte values, got {arr.type}")
    return np.frombuffer(arr.buffers()[1], dtype=dtype, count=len(arr), offset=arr.offset * width)


#: Rows keyed with up to this many 64-bit words together; longer ones apart.
SHORT_WORDS = 4


def _group_rows(
    touches: np.ndarray,
    lengths: np.ndarray,
    offsets: np.ndarray,
    rows: np.ndarray | None,
    base: int,
    k: int,
) -> np.ndarray:
    """Group ``rows`` (increasing row indices; None: all rows) by channel sequence: each
    row's group, numbered by first appearance.

    A row's key is its channel codes + 1 as base-``base`` digits, ``k`` digits per int64 word
    (exact, no hash collisions): each word is one ``np.add.reduceat`` segment of the row's
    touches. Equal keys are found by one sort (Arrow's hash dictionary over the keys was
    measured: 0.1 s less CPU but 90 MB more peak memory on 1e6 rows, for its hash table)."""
    lens = lengths if rows is None else lengths[rows]
    n = len(lens)
    words = max(1, int(-(-int(lens.max(initial=0)) // k)))
    keys = np.zeros((words, n), dtype=np.int64)
    powers = np.int64(base) ** np.arange(k, dtype=np.int64)
    step = 1 << 16
    for a in range(0, n, step):  # rows a..b of the subset: bounded temporaries
        b = min(a + step, n)
        ln = lens[a:b].astype(np.int64)
        starts = np.zeros(b - a, dtype=np.int64)
        np.cumsum(ln[:-1], out=starts[1:])
        pos = np.arange(int(ln.sum()), dtype=np.int64) - np.repeat(starts, ln)
        if rows is None:
            t = touches[offsets[a] : offsets[b]]
        else:
            t = touches[np.repeat(offsets[rows[a:b]], ln) + pos]
        if words == 1:  # one word a row: the segments are the rows
            np.take(powers, pos, out=pos)
            pos *= t + 1
            keys[0, a:b] = np.add.reduceat(pos, starts)
            del pos, t
            continue
        digit = pos % k
        seg_start = np.flatnonzero(digit == 0)  # every row starts a word (no empty rows)
        np.take(powers, digit, out=digit)
        digit *= t + 1
        nw = -(-ln // k)
        keys[pos[seg_start] // k, np.repeat(np.arange(a, b), nw)] = np.add.reduceat(
            digit, seg_start
        )
        del pos, digit, seg_start, t
    order = _key_order(keys, n)
    new = np.zeros(n, dtype=bool)
    new[:1] = True
    for w in range(words):  # a new group where any word differs from the previous key
        kw = keys[w][order]
        new[1:] |= kw[1:] != kw[:-1]
        del kw
    del keys
    group = np.empty(n, dtype=np.int64)
    numbers = np.cumsum(new, dtype=np.int64)
    numbers -= 1
    group[order] = numbers  # numbered in key order
    del numbers
    first = order[new]  # stable sort: each group's first row
    del order, new
    # renumber by first appearance: a group's number is how many groups start before it
    starts = np.zeros(n, dtype=bool)
    starts[first] = True
    seen = np.cumsum(starts, dtype=np.int64)
    seen -= 1
    renumber = seen[first]
    del seen, starts, first
    return renumber[group]


def _key_order(keys: np.ndarray, n: int) -> np.ndarray:
    """Row order that sorts the keys, equal keys in row order (a stable sort). One-word keys
    small enough to share a uint64 with the row number are sorted as values, not argsorted
    (numpy's vectorised sort: half the time on 1e6 rows)."""
    if len(keys) > 1:
        return np.lexsort(keys[::-1])
    bits = max(1, int(n - 1).bit_length())
    if n and int(keys[0].max()) < 1 << (64 - bits):
        packed = keys[0].astype(np.uint64)
        packed <<= np.uint64(bits)
        packed |= np.arange(n, dtype=np.uint64)
        packed.sort()
        packed &= np.uint64((1 << bits) - 1)
        return packed.view(np.int64)
    return np.argsort(keys[0], kind="stable")


def _first_appearances(ids: np.ndarray) -> np.ndarray:
    """Positions where first-seen numbers appear for the first time (a new running max)."""
    top = np.maximum.accumulate(ids)
    new = np.empty(len(ids), dtype=bool)
    new[:1] = True
    new[1:] = top[1:] > top[:-1]
    return np.flatnonzero(new)


def _group_sequences(
    channels: list[str],
    touches: np.ndarray,
    lengths: np.ndarray,
    measures: dict[str, np.ndarray],
    nulls: np.ndarray,
) -> PathSet:
    """Sum the rows whose channel sequences are identical (first-seen order kept).

    Rows are grouped by exact integer keys (:func:`_group_rows`). Rows longer than
    :data:`SHORT_WORDS` words are keyed apart (a short and a long sequence are never equal),
    so one very long path does not widen every row's key."""
    n = len(lengths)
    base = len(channels) + 1
    k = max(1, int(62 // np.log2(base)))  # digits per word: base**k < 2**62
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    long = lengths > k * SHORT_WORDS
    if not long.any():
        gid = _group_rows(touches, lengths, offsets, None, base, k)
        rep = _first_appearances(gid)
    else:
        gid = np.empty(n, dtype=np.int64)
        firsts: list[np.ndarray] = []
        g = 0
        for rows in (np.flatnonzero(~long), np.flatnonzero(long)):
            if len(rows) == 0:
                continue
            local = _group_rows(touches, lengths, offsets, rows, base, k)
            gid[rows] = local + g
            firsts.append(rows[_first_appearances(local)])
            g += len(firsts[-1])
        first_row = np.concatenate(firsts)
        rank = np.argsort(first_row, kind="stable")  # groups in first-seen order
        new_id = np.empty(g, dtype=np.int64)
        new_id[rank] = np.arange(g)
        gid = new_id[gid]
        rep = first_row[rank]
        del new_id, first_row, rank
    g = len(rep)
    sums = {key: np.bincount(gid, weights=v, minlength=g) for key, v in measures.items()}
    null_sums = np.bincount(gid, weights=nulls, minlength=g)
    del gid
    # groups are numbered in the order of their first rows: their touches, in file order
    is_rep = np.zeros(n, dtype=bool)
    is_rep[rep] = True
    grouped = touches[np.repeat(is_rep, lengths)].astype(np.int32)
    glen = lengths[rep]
    goff = np.zeros(g + 1, dtype=np.int64)
    np.cumsum(glen, out=goff[1:])
    return PathSet(list(channels), goff, grouped, sums, null_sums)


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


_NUMBER = r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$"


def _first_rows(mask: np.ndarray, k: int = 3) -> list[int]:
    """File rows (1-based, after the header row) of the first ``k`` flagged data rows."""
    return [int(i) + 2 for i in np.flatnonzero(mask)[:k]]


def _numeric(col: pa.ChunkedArray, name: str, shown: str, problems: list[str]) -> np.ndarray:
    """A numeric column as float64; located problems (not a number, negative, not finite)."""
    typ = col.type
    if pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_null(typ):
        vals = col.cast(pa.float64())
        bad = np.asarray(pc.is_null(vals).to_numpy(zero_copy_only=False), dtype=bool)
    else:
        text = col.cast(pa.string())
        ok = pc.fill_null(pc.match_substring_regex(text, _NUMBER), False)
        bad = ~np.asarray(ok.to_numpy(zero_copy_only=False), dtype=bool)
        vals = pc.if_else(ok, pc.utf8_trim_whitespace(text), pa.scalar("0", pa.string()))
        vals = vals.cast(pa.float64())
    for r in _first_rows(bad):
        problems.append(f"{shown} row {r}, column {name}: not a number")
    out = np.array(vals.to_numpy(zero_copy_only=False), dtype=np.float64)
    out[bad] = 0.0
    for r in _first_rows(~np.isfinite(out)):
        problems.append(f"{shown} row {r}, column {name}: not a finite number")
    for r in _first_rows(out < 0):
        problems.append(f"{shown} row {r}, column {name}: negative count or value")
    return out


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
    """Check, group identical paths and split them, with pyarrow's vectorised engine.

    (Ibis over DuckDB would do the same, but its start-up alone (about 1.4 s here) costs more
    than the whole Markov model on a million rows; the store path uses Ibis.)
    """
    problems: list[str] = []
    numeric = {"conversions": conv_col}
    if value_col:
        numeric["value"] = value_col
    if null_col:
        numeric["nulls"] = null_col
    cols = {k: _numeric(table[c], c, shown, problems) for k, c in numeric.items()}
    path = table[path_col].cast(pa.string())
    if path.null_count:
        path = pc.fill_null(path, "")
    del table  # the caller passes its only reference: free the other columns early
    if problems:
        raise PathFileError("malformed path file:\n  " + "\n  ".join(problems[:10]))

    # identical paths are summed: a hash dictionary encoding gives each distinct path a code
    # in first-seen order, then sums per code are bincounts
    denc = pc.dictionary_encode(path)
    if isinstance(denc, pa.ChunkedArray):
        denc = denc.combine_chunks()
    code = np.asarray(denc.indices)
    paths = denc.dictionary
    del path, denc
    n_groups = len(paths)
    sums = {k: np.bincount(code, weights=v, minlength=n_groups) for k, v in cols.items()}

    def first_row(groups: np.ndarray) -> np.ndarray:
        """File row of the first occurrence of each group (only computed for messages)."""
        hit = np.isin(code, groups)
        first = np.full(n_groups, np.iinfo(np.int64).max)
        np.minimum.at(first, code[hit], np.flatnonzero(hit) + 2)
        return first[groups]

    parts = pc.split_pattern(paths, path_sep)
    flat = pc.utf8_trim_whitespace(parts.flatten())
    lengths = np.asarray(pc.list_value_length(parts).to_numpy(zero_copy_only=False), dtype=np.int64)
    empty_flat = np.asarray(pc.equal(flat, "").to_numpy(zero_copy_only=False), dtype=bool)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    blank = (lengths == 1) & empty_flat[np.minimum(starts, len(empty_flat) - 1)]
    group_of = np.repeat(np.arange(len(lengths)), lengths)
    empty_name = np.zeros(len(lengths), dtype=bool)
    empty_name[group_of[empty_flat]] = True
    empty_name &= ~blank

    def show(i: int) -> str:
        v = str(paths[int(i)].as_py())
        return repr(v if len(v) <= 60 else v[:57] + "...")

    for mask, msg in (
        (blank, "empty path"),
        (
            empty_name,
            "empty channel name (separators without a channel between them; "
            f"separator {path_sep!r})",
        ),
    ):
        idx = np.flatnonzero(mask)
        if len(idx) == 0:
            continue
        rows = first_row(idx)
        for j in np.argsort(rows)[:3]:
            problems.append(f"{shown} row {rows[j]}, column {path_col} {show(idx[j])}: {msg}")
    if problems:
        raise PathFileError("malformed path file:\n  " + "\n  ".join(problems[:10]))

    enc = pc.dictionary_encode(flat)
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.combine_chunks()
    touches = np.asarray(enc.indices, dtype=np.int32)
    channels = [str(x) for x in enc.dictionary.to_pylist()]
    if known_channels is not None:
        unknown = sorted(set(channels) - set(known_channels))
        if unknown:
            codes = [channels.index(u) for u in unknown]
            bad = np.zeros(len(lengths), dtype=bool)
            bad[group_of[np.isin(touches, codes)]] = True
            r = int(first_row(np.flatnonzero(bad)).min())
            raise PathFileError(
                f"{shown} row {r}, column {path_col}: unknown channel(s) "
                + ", ".join(repr(u) for u in unknown[:10])
                + f"; known channels: {', '.join(known_channels)}"
            )
    measures = {"conversions": sums["conversions"]}
    if "value" in cols:
        measures["value"] = sums["value"]
    nulls = sums["nulls"] if "nulls" in cols else np.zeros(len(lengths))
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    del enc, flat, parts, offsets
    out = _group_sequences(channels, touches, lengths, measures, np.asarray(nulls, dtype=float))
    pa.default_memory_pool().release_unused()  # return the parse buffers to the system
    return out


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
