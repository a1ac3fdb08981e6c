"""Stage entry value filters (``filter: {type: [new]}``), the deal metrics that follow the won
stage's filter, and ``by`` on opportunity columns.

The data are tests/funnel_data.py with a ``type`` per opportunity; every expected value is
worked out by hand below. The period is 2026-Q1.

    O1 new        P1  created 2026-01-15  won  2026-02-14  1000
    O2 new        P3  created 2026-02-10  lost 2026-03-12  3000
    O3 expansion  P5  created 2026-02-25  won  2026-03-27   500
    O4 (no type)  --  created 2026-03-05  open             2000
    O5 new        P7  created 2025-12-28  won  2026-01-20  4000
    O6 renewal    P4  created 2026-02-20  open             1500
    O7 expansion  P1  created 2026-03-20  lost 2026-04-10   700
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from cueva.cli import main
from cueva.contract import parse_contract, starter_contract
from cueva.errors import ContractError, UsageError
from cueva.metrics.funnel import (
    conversion_by_period,
    deal_filter,
    deal_metrics,
    deal_segment_columns,
    funnel_report,
    open_pipeline,
    stage_counts,
    stage_entries,
)
from cueva.periods import parse_period
from cueva.workspace import Workspace
from tests import funnel_data

Q1 = parse_period("2026-Q1")
TYPES = {"O1": "new", "O2": "new", "O3": "expansion", "O4": "", "O5": "new", "O6": "renewal"}
TYPES["O7"] = "expansion"


def _typed_opportunities() -> str:
    lines = funnel_data.OPPORTUNITIES.strip().splitlines()
    out = [lines[0] + ",type"]
    out += [f"{line},{TYPES[line.split(',')[0]]}" for line in lines[1:]]
    return "\n".join(out) + "\n"


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    root = tmp_path_factory.mktemp("funnel_filter")
    w = Workspace.init(root / "ws", "Typed")
    files = dict(funnel_data.FILES, **{"opportunities.csv": _typed_opportunities()})
    folder = root / "data"
    folder.mkdir()
    paths = []
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
        paths.append(folder / name)
    from cueva.importer import import_files

    import_files(w.store(), paths, timezone=w.contract.timezone)
    yield w
    w.close()


def _contract(old: str, new: str) -> object:
    text = starter_contract("X")
    assert text.count(old) >= 1, old
    return parse_contract(text.replace(old, new))


def _row(frame: pd.DataFrame, key: str, value: str) -> pd.Series:
    rows = frame[frame[key] == value]
    assert len(rows) == 1, (value, frame)
    return rows.iloc[0]


# ------------------------------------------------------------------------- the contract key


def test_starter_contract_counts_new_business_and_untyped_deals() -> None:
    c = parse_contract(starter_contract("X"))
    by_name = {s.name: s.entry.filter for s in c.funnel.stages}
    assert by_name["opportunity"] == {"type": ["new", None]}
    assert by_name["won"] == {"type": ["new", None]}
    assert by_name["lead"] is None
    assert deal_filter(c) == {"type": ["new", None]}
    assert deal_filter(c, {}) == {}


def test_an_empty_value_list_is_a_contract_error() -> None:
    with pytest.raises(ContractError, match="filter 'type' lists no values"):
        _contract("filter: {type: [new, null]}", "filter: {type: []}")


def test_unknown_filter_column_names_the_stage(ws: Workspace) -> None:
    bad = _contract(
        "field: opportunities.created_at, filter: {type:",
        "field: opportunities.created_at, filter: {kind:",
    )
    with pytest.raises(
        ContractError, match=r"stage 'opportunity': filter: 'kind' is not a column of opportunities"
    ):
        stage_entries(ws.store(), bad)  # type: ignore[arg-type]


# ------------------------------------------------------------------------- stage entries


def test_filter_keeps_the_listed_types_and_untyped(ws: Workspace) -> None:
    e = stage_entries(ws.store(), ws.contract, ["opportunity", "won"]).execute()
    got = {s: sorted(e[e["stage"] == s]["entity_id"]) for s in ("opportunity", "won")}
    # new: O1, O2, O5; no type: O4; won among them: O1, O5 (O3 is an expansion)
    assert got == {"opportunity": ["O1", "O2", "O4", "O5"], "won": ["O1", "O5"]}


def test_without_null_untyped_deals_drop_out(ws: Workspace) -> None:
    c = _contract("{type: [new, null]}", "{type: [new]}")
    e = stage_entries(ws.store(), c, ["opportunity"]).execute()  # type: ignore[arg-type]
    assert sorted(e["entity_id"]) == ["O1", "O2", "O5"]


def test_filter_on_event_entered_opportunity_stage(ws: Workspace) -> None:
    # a 'demo' stage entered by opportunity events only; the filter drops O6 (a renewal)
    c = _contract(
        "    - name: won\n",
        "    - name: demo\n      owner: sales\n"
        "      entry: {events: [demo], entity: opportunity, filter: {type: [new, null]}}\n"
        "    - name: won\n",
    )
    e = stage_entries(ws.store(), c, ["demo"]).execute()  # type: ignore[arg-type]
    assert sorted(e["entity_id"]) == ["O1", "O2"]  # demo events: O1, O2, O6


def test_sql_to_opportunity_conversion_no_longer_passes_100_percent(ws: Workspace) -> None:
    conv = conversion_by_period(ws.store(), ws.contract, Q1)
    step = _row(conv, "from_stage", "sql")
    # sql in Q1: P1, P3, P4, P5, P7 = 5; new or untyped opportunities created in Q1: O1, O2, O4
    assert (step["from_entered"], step["to_entered"]) == (5, 3)
    assert step["conversion_period"] == pytest.approx(0.6)
    every = _contract(
        "filter: {type: [new, null]}", "filter: {type: [new, expansion, renewal, null]}"
    )
    conv_all = conversion_by_period(ws.store(), every, Q1)  # type: ignore[arg-type]
    # every type: O1, O2, O3, O4, O6, O7 = 6 opportunities for 5 SQLs
    assert _row(conv_all, "from_stage", "sql")["conversion_period"] == pytest.approx(1.2)


# ------------------------------------------------------------------------- deals


def test_deal_metrics_follow_the_won_stage_filter(ws: Workspace) -> None:
    d = deal_metrics(ws.store(), ws.contract, Q1).iloc[0]
    # closed in Q1, new or untyped: O5 won 4000, O1 won 1000, O2 lost 3000 (O3 is an expansion)
    assert (d["won"], d["lost"]) == (2, 1)
    assert d["win_rate"] == pytest.approx(2 / 3)
    assert d["won_amount"] == pytest.approx(5000.0)
    assert d["avg_deal_size"] == pytest.approx(2500.0)
    every = deal_metrics(ws.store(), ws.contract, Q1, opportunity_filter={}).iloc[0]
    assert (every["won"], every["lost"]) == (3, 1)  # + O3 won 500
    assert every["win_rate"] == pytest.approx(0.75)
    exp = deal_metrics(ws.store(), ws.contract, Q1, opportunity_filter={"type": ["expansion"]})
    assert (exp.iloc[0]["won"], exp.iloc[0]["lost"]) == (1, 0)  # O7 closes in April


def test_open_pipeline_follows_the_won_stage_filter(ws: Workspace) -> None:
    p = open_pipeline(ws.store(), ws.contract, Q1).iloc[0]
    # open at the end of Q1, new or untyped: O4 (2000)
    assert (p["open_deals"], p["open_pipeline"]) == (1, 2000.0)
    every = open_pipeline(ws.store(), ws.contract, Q1, opportunity_filter={}).iloc[0]
    # + O6 renewal 1500, O7 expansion 700 (closes in April)
    assert (every["open_deals"], every["open_pipeline"]) == (3, 4200.0)


def test_deals_by_an_opportunity_column(ws: Workspace) -> None:
    assert "type" in deal_segment_columns(ws.store())
    d = deal_metrics(ws.store(), ws.contract, Q1, by="type", opportunity_filter={})
    assert list(d["type"]) == ["expansion", "new"]  # no renewal closed in Q1
    assert (_row(d, "type", "new")["won"], _row(d, "type", "new")["lost"]) == (2, 1)
    assert _row(d, "type", "expansion")["win_rate"] == pytest.approx(1.0)
    p = open_pipeline(ws.store(), ws.contract, Q1, by="type", opportunity_filter={})
    got = dict(zip(p["type"], p["open_pipeline"], strict=True))
    assert got == {"(none)": 2000.0, "expansion": 700.0, "renewal": 1500.0}
    # with the contract's filter only new and untyped deals are left
    p_new = open_pipeline(ws.store(), ws.contract, Q1, by="type")
    assert dict(zip(p_new["type"], p_new["open_deals"], strict=True)) == {"(none)": 1}


def test_stage_metrics_refuse_an_opportunity_column(ws: Workspace) -> None:
    with pytest.raises(UsageError, match="column of opportunities: it segments the deal sections"):
        stage_counts(ws.store(), ws.contract, Q1, by="type")


def test_report_by_an_opportunity_column_has_the_deal_sections(ws: Workspace) -> None:
    r = funnel_report(ws.store(), ws.contract, Q1, by="type", opportunity_filter={})
    assert list(r) == ["deals", "pipeline"]
    assert list(r["deals"]["type"]) == ["expansion", "new"]
    with pytest.raises(UsageError, match="deal sections"):
        funnel_report(ws.store(), ws.contract, Q1, by="type", sections=["stages"])
    with pytest.raises(UsageError, match="unknown section 'deal'"):
        funnel_report(ws.store(), ws.contract, Q1, sections=["deal"])
    only = funnel_report(ws.store(), ws.contract, Q1, sections=["pipeline"])
    assert list(only) == ["pipeline"]


# ------------------------------------------------------------------------- CLI


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_by_type_all_deals(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(Path(ws.path))
    code, out, err = _cli(
        capsys,
        "funnel",
        path,
        "--period",
        "2026-Q1",
        "--by",
        "type",
        "--all-deals",
        "--format",
        "json",
    )
    assert code == 0, err
    data = json.loads(out)
    assert "stages" not in data
    assert data["deal_filter"] == {}
    won = {r["type"]: r["won"] for r in data["deals"]}
    assert won == {"expansion": 1, "new": 2}
    code, out, err = _cli(capsys, "funnel", path, "--period", "2026-Q1", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["deal_filter"] == {"type": ["new", None]}
    assert data["deals"][0]["won"] == 2
    code, out, err = _cli(capsys, "funnel", path, "--by", "type", "--section", "stages")
    assert code == 1
    assert (out + err).strip().startswith("error:") and "Traceback" not in out + err
