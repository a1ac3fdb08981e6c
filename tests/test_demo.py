"""The demo generator: deterministic, valid for the importer, and `cueva demo` end to end."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

import holidays
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cueva.cli import main
from cueva.contract import parse_contract
from cueva.demo import SCALES, Calendar, create_demo, demo_contract_text, generate, write_demo
from cueva.errors import UsageError
from cueva.schema import LOAD_ORDER, TABLES
from cueva.workspace import Workspace


@pytest.fixture(scope="module")
def small() -> dict[str, pa.Table]:
    return generate(7, "small")


def test_same_seed_gives_identical_tables(small: dict[str, pa.Table]) -> None:
    again = generate(7, "small")
    assert list(again) == list(small)
    for name in small:
        assert again[name].equals(small[name]), name


def test_other_seed_gives_other_tables(small: dict[str, pa.Table]) -> None:
    other = generate(8, "small")
    for name in ("people", "touchpoints", "opportunities", "activities", "spend"):
        assert not other[name].equals(small[name]), name
    # same shape of company: the scale fixes the number of people and accounts
    assert other["people"].num_rows == small["people"].num_rows


def test_small_is_fast() -> None:
    started = time.perf_counter()
    generate(11, "small")
    assert time.perf_counter() - started < 10


def test_every_table_has_the_canonical_columns_and_types(small: dict[str, pa.Table]) -> None:
    arrow = {
        "string": pa.string(),
        "int64": pa.int64(),
        "float64": pa.float64(),
        "boolean": pa.bool_(),
        "timestamp": pa.timestamp("us"),
        "date": pa.date32(),
    }
    assert set(small) == set(TABLES)
    for name, spec in TABLES.items():
        table = small[name]
        assert table.num_rows > 0, name
        for col in spec.columns:
            assert col.name in table.column_names, (name, col.name)
            assert table.schema.field(col.name).type == arrow[col.type], (name, col.name)
            if col.required:
                assert table[col.name].null_count == 0, (name, col.name)


def test_the_period_and_sizes(small: dict[str, pa.Table]) -> None:
    people = small["people"].to_pandas()
    assert len(people) == SCALES["small"].people
    assert people.created_at.min() >= np.datetime64("2024-12-01")
    assert people.created_at.max() < np.datetime64("2026-12-01")
    for name, col in (("touchpoints", "occurred_at"), ("activities", "occurred_at")):
        t = small[name].column(col).to_pandas()
        assert t.min() >= np.datetime64("2024-12-01") and t.max() < np.datetime64("2026-12-01")
    assert set(people.channel) >= {
        "paid_search", "paid_social", "events", "webinar", "content", "email", "referral",
        "partner", "organic", "direct",
    }  # fmt: skip
    assert {"ES", "PT", "MX", "US", "DE"} <= set(people.country)
    assert set(people.segment) == {"SMB", "mid-market", "enterprise"}
    opp = small["opportunities"].to_pandas()
    assert set(opp.type) == {"new", "expansion", "renewal"}
    lost = opp[opp.is_closed & ~opp.is_won]
    assert lost.lost_reason.notna().all() and opp[opp.is_won].lost_reason.isna().all()
    assert (opp.gross_margin < opp.amount).all() and (opp.gross_margin > 0).all()
    # ten touchpoints and a fifth of an opportunity per person, as at the large scale
    assert 9 < small["touchpoints"].num_rows / len(people) < 11
    assert 0.17 < opp.shape[0] / len(people) < 0.25


def test_every_timestamp_exists_in_madrid(small: dict[str, pa.Table]) -> None:
    """No wall-clock time falls in the spring-forward gap (02:00-03:00 on the last Sunday of
    March), which a real clock never shows."""
    for name, table in small.items():
        for field in table.schema:
            if not pa.types.is_timestamp(field.type):
                continue
            s = table.column(field.name).to_pandas().dropna()
            local = s.dt.tz_localize(
                "Europe/Madrid", nonexistent="raise", ambiguous=np.ones(len(s), dtype=bool)
            )
            assert len(local) == len(s), (name, field.name)
    # the gap check is not vacuous: the period holds two spring-forward nights
    created = small["touchpoints"].column("occurred_at").to_pandas()
    night = created[(created.dt.month == 3) & (created.dt.day >= 25) & (created.dt.hour < 6)]
    assert len(night) > 0


def test_stage_events_follow_each_person(small: dict[str, pa.Table]) -> None:
    people = small["people"].to_pandas().set_index("person_id")
    ev = small["stage_events"].to_pandas()
    assert set(ev.stage) == {"lead", "mql", "sql", "rejected"}
    lead = ev[ev.stage == "lead"].set_index("entity_id").entered_at
    assert len(lead) == len(people) and (lead.reindex(people.index) == people.created_at).all()
    wide = ev.pivot(index="entity_id", columns="stage", values="entered_at")
    assert (wide.mql.dropna() >= wide.lead[wide.mql.notna()]).all()
    assert (wide.sql.dropna() > wide.mql[wide.sql.notna()]).all()
    assert wide.mql[wide.rejected.notna()].notna().all()


def test_seasonality_august_dips(small: dict[str, pa.Table]) -> None:
    created = small["people"].column("created_at").to_pandas()
    month = created.dt.month
    assert (month == 8).sum() < 0.75 * ((month == 9).sum() + (month == 7).sum()) / 2


def test_subscriptions_grow_by_expansion_and_shrink_by_churn(small: dict[str, pa.Table]) -> None:
    subs = small["subscriptions"].to_pandas().sort_values(["account_id", "month"])
    assert subs.groupby(["account_id", "month"]).size().max() == 1
    change = subs.groupby("account_id").mrr.diff()
    assert (change > 0).any()  # expansion
    last = pd.to_datetime(subs.groupby("account_id").month.max())
    assert (last < pd.Timestamp("2026-11-01")).any()  # churned before the end
    months = pd.to_datetime(small["subscriptions"].column("month").to_pandas())
    assert (months.dt.day == 1).all()


def test_calendar_skips_nights_weekends_and_holidays() -> None:
    cal = Calendar()
    day = 86_400.0
    # Friday 2025-01-03 17:30 + 1 business hour -> Tuesday 2025-01-07 09:30 (Monday 6 Jan is
    # Epiphany, a Spanish holiday; the weekend is closed)
    t = np.array(
        [
            (np.datetime64("2025-01-03") - np.datetime64("2024-12-01")).astype(int) * day
            + 17.5 * 3600
        ]
    )
    out = cal.add(t, np.array([3600.0]))[0]
    expected = (np.datetime64("2025-01-07") - np.datetime64("2024-12-01")).astype(
        int
    ) * day + 9.5 * 3600
    assert out == expected
    # at night: the clock starts at the next opening
    t2 = np.array([2 * day + 22 * 3600])  # Tuesday 2024-12-03 22:00
    assert cal.add(t2, np.array([0.0]))[0] == 3 * day + 9 * 3600


def test_write_demo_writes_parquet_per_table(tmp_path: Path) -> None:
    paths = write_demo(tmp_path / "d", seed=3, scale="small")
    assert [p.stem for p in paths] == list(LOAD_ORDER)
    assert all(p.parent == tmp_path / "d" / "data" for p in paths)
    people = pq.read_table(paths[LOAD_ORDER.index("people")])
    assert people.equals(generate(3, "small")["people"])


def test_write_demo_chunks_tables_into_row_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Row groups of ``ROW_GROUP_ROWS`` rows (DuckDB scans and compresses one row group per
    thread); a smaller size here so that the small demo's tables span several."""
    from cueva.demo import writer

    assert writer.ROW_GROUP_ROWS == 122_880  # DuckDB's row group size
    monkeypatch.setattr(writer, "ROW_GROUP_ROWS", 1000)
    paths = write_demo(tmp_path / "d", seed=3, scale="small")
    tables = generate(3, "small")
    for path in paths:
        meta = pq.ParquetFile(path).metadata
        sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
        n = tables[path.stem].num_rows
        assert sum(sizes) == n
        assert sizes == [1000] * (n // 1000) + ([n % 1000] if n % 1000 else []), path.stem
        assert pq.read_table(path).equals(tables[path.stem])
    assert pq.ParquetFile(paths[LOAD_ORDER.index("people")]).metadata.num_row_groups > 1


def test_demo_contract_is_valid() -> None:
    contract = parse_contract(demo_contract_text(), "demo_contract.yaml")
    assert contract.timezone == "Europe/Madrid" and contract.currency == "EUR"
    assert [s.name for s in contract.funnel.stages] == ["lead", "mql", "sql", "opportunity", "won"]


def test_create_demo_imports_everything(tmp_path: Path, small: dict[str, pa.Table]) -> None:
    result = create_demo(tmp_path / "demo", seed=7, scale="small")
    assert result.rows == {name: small[name].num_rows for name in LOAD_ORDER}
    with Workspace.open(tmp_path / "demo") as ws:
        store = ws.store()
        for name in LOAD_ORDER:
            assert store.row_count(name) == small[name].num_rows, name
        # extra columns are kept (rejection_reason, owners.role)
        assert "rejection_reason" in store.table("people").columns
        # timestamps are wall-clock Madrid time, unchanged by the import
        first = store.table("people").created_at.min().execute()
        assert first == small["people"].column("created_at").to_pandas().min()


def test_create_demo_refuses_a_non_empty_folder_without_force(tmp_path: Path) -> None:
    target = tmp_path / "demo"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="--force"):
        create_demo(target, scale="small")
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt"]
    create_demo(target, seed=1, scale="small", force=True)
    create_demo(target, seed=2, scale="small", force=True)  # replaces, no duplicate rows
    assert (target / "notes.txt").read_text() == "mine"
    with Workspace.open(target) as ws:
        assert ws.store().row_count("people") == SCALES["small"].people
        ids = ws.store().table("touchpoints").count().execute()
    assert ids == generate(2, "small")["touchpoints"].num_rows


def test_unknown_scale_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="small, medium, large"):
        generate(1, "huge")


def test_cli_demo_creates_and_refuses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "demo"
    with pytest.raises(SystemExit) as done:
        main(["demo", str(target), "--seed", "7", "--scale", "small"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "touchpoints" in out and "imported in" in out
    assert (target / "cueva.yaml").is_file() and (target / "data" / "people.parquet").is_file()
    # a second run without --force: one error line, exit 1, no traceback (a real process)
    r = subprocess.run(
        [sys.executable, "-m", "cueva", "demo", str(target), "--scale", "small"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 1
    assert r.stderr.startswith("error: ") and "--force" in r.stderr
    assert "Traceback" not in r.stderr
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--help"])
    assert exc.value.code == 0
    assert "Example: cueva demo" in capsys.readouterr().out


def _reference_business_seconds(a: datetime, b: datetime, hol: set[date]) -> float:
    """Business seconds (Mon-Fri 09-18, holidays off) between a and b, day by day."""
    total = 0.0
    day = a.date()
    while day <= b.date():
        if day.weekday() < 5 and day not in hol:
            lo = max(a, datetime.combine(day, dtime(9)))
            hi = min(b, datetime.combine(day, dtime(18)))
            total += max((hi - lo).total_seconds(), 0.0)
        day += timedelta(days=1)
    return total


_CAL = Calendar()
_HOL = set(holidays.country_holidays("ES", subdiv="MD", years=range(2024, 2028)))
_T0 = datetime(2024, 12, 1)


@settings(max_examples=200, deadline=None)
@given(
    start=st.integers(min_value=0, max_value=730 * 86_400 - 1),
    wait=st.integers(min_value=0, max_value=60 * 3600),
)
def test_calendar_add_matches_a_day_by_day_reference(start: int, wait: int) -> None:
    """The vectorised calendar that times first responses: adding ``wait`` business seconds
    to an instant lands where a day-by-day count finds exactly ``wait`` business seconds."""
    end = _CAL.add(np.array([float(start)]), np.array([float(wait)]))[0]
    assert end >= start
    a, b = _T0 + timedelta(seconds=start), _T0 + timedelta(seconds=float(end))
    assert _reference_business_seconds(a, b, _HOL) == pytest.approx(wait, abs=1e-6)
    # the end is inside business hours (or at a closing, when the wait ends exactly there)
    assert b.weekday() < 5 and b.date() not in _HOL
    assert dtime(9) <= b.time() <= dtime(18)


def test_public_names_are_pinned() -> None:
    import cueva.demo

    assert cueva.demo.__all__ == [
        "SCALES",
        "Calendar",
        "DemoResult",
        "Scale",
        "create_demo",
        "demo_contract_text",
        "generate",
        "truths",
        "write_demo",
    ]
    for name in cueva.demo.__all__:
        assert hasattr(cueva.demo, name), name
