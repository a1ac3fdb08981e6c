"""Hostile input for the mapping file and the CSV reading: never a traceback (only Cueva
errors), never a partial write."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cueva.errors import CuevaError
from cueva.schema import LOAD_ORDER
from cueva.sources import import_mapping, import_salesforce
from cueva.sources.mapping import parse_mapping
from cueva.sources.suggest import suggest_for_headers
from cueva.workspace import Workspace

KEYS = st.sampled_from(
    [
        "tables",
        "people",
        "opportunities",
        "file",
        "columns",
        "values",
        "constants",
        "date_formats",
        "stage_events",
        "stage",
        "at",
        "format",
        "timezone",
        "sep",
        "decimal",
        "encoding",
        "person_id",
        "created_at",
        "peopel",
        "colums",
        "x",
    ]
)
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=12)
)
YAMLISH = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(KEYS, st.text(max_size=6)), inner, max_size=5),
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(YAMLISH)
def test_mapping_yaml_structures(data: object) -> None:
    with contextlib.suppress(CuevaError):
        parse_mapping(yaml.safe_dump(data, allow_unicode=True))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_mapping_yaml_text(text: str) -> None:
    with contextlib.suppress(CuevaError):
        parse_mapping(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=20), max_size=12))
def test_suggest_any_headers(headers: list[str]) -> None:
    try:
        s = suggest_for_headers(headers, "x.csv")
    except CuevaError:
        return
    parse_mapping(s.to_yaml()) if not s.missing_required else None


CELL = st.one_of(
    st.text(alphabet=st.sampled_from(list('ab1é,;"\n\r\t ñ\x00€')), max_size=12),
    st.sampled_from(["2026-01-05", "2026-01-05T10:00:00Z", "05/01/2026", "", "NULL"]),
)


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[bytes, str, list[str]]:
    headers = draw(
        st.lists(
            st.text(alphabet="IDabcé _", min_size=1, max_size=8),
            min_size=2,
            max_size=4,
            unique=True,
        )
    )
    rows = draw(st.lists(st.lists(CELL, min_size=len(headers), max_size=len(headers)), max_size=6))
    sep = draw(st.sampled_from([",", ";"]))

    def quote(v: str) -> str:
        return '"' + v.replace('"', '""') + '"' if any(c in v for c in f'"\n\r{sep}') else v

    lines = [sep.join(quote(h) for h in headers)] + [sep.join(quote(v) for v in r) for r in rows]
    text = "\n".join(lines) + "\n"
    if draw(st.booleans()):  # break the quoting somewhere
        pos = draw(st.integers(0, len(text)))
        text = text[:pos] + '"' + text[pos:]
    encoding = draw(st.sampled_from(["utf-8", "latin-1", "utf-16"]))
    data = text.encode(encoding, errors="replace")
    if draw(st.booleans()):  # or a few random bytes
        data += draw(st.binary(max_size=8))
    declared = draw(st.sampled_from([encoding, "utf-8"]))
    return data, declared, headers


def _counts(ws: Workspace) -> dict[str, int]:
    return {t: ws.store().row_count(t) for t in LOAD_ORDER}


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(csv_files(), st.booleans())
def test_mapping_import_of_hostile_csv(
    case: tuple[bytes, str, list[str]], quarantine: bool
) -> None:
    data, encoding, headers = case
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "people.csv").write_bytes(data)
        mapping = {
            "tables": {
                "people": {
                    "file": "people.csv",
                    "encoding": encoding,
                    "columns": {"person_id": headers[0], "created_at": headers[1]},
                }
            }
        }
        (folder / "m.yaml").write_text(
            yaml.safe_dump(mapping, allow_unicode=True), encoding="utf-8"
        )
        ws = Workspace.init(folder / "ws", "Fuzz")
        try:
            try:
                summary = import_mapping(
                    ws.store(), folder / "m.yaml", ws.contract, quarantine=quarantine
                )
            except CuevaError:
                assert sum(_counts(ws).values()) == 0  # nothing written
                return
            counts = _counts(ws)
            assert counts["people"] == summary.table_rows("people")
            assert sum(counts.values()) == counts["people"]
        finally:
            ws.close()


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(csv_files())
def test_salesforce_lead_file_garbage(case: tuple[bytes, str, list[str]]) -> None:
    data, _, _ = case
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "export"
        folder.mkdir()
        (folder / "Lead.csv").write_bytes(data)
        ws = Workspace.init(Path(tmp) / "ws", "Fuzz")
        try:
            try:
                import_salesforce(ws.store(), folder, ws.contract)
            except CuevaError:
                assert sum(_counts(ws).values()) == 0
        finally:
            ws.close()
