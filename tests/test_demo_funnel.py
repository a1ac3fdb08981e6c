"""The funnel metrics (cueva.metrics.funnel) find the demo's planted truths, and agree with the
independent pandas computations of tests/test_demo_truths.py on the same rows.

Only the tables the funnel reads are imported (through import_files, the validated path), to
keep the test short: owners, accounts, people, stage_events, opportunities of the medium demo.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from cueva.demo import demo_contract_text, generate, truths
from cueva.importer import import_files
from cueva.metrics.funnel import conversion_by_cohort, deal_metrics
from cueva.periods import Period
from cueva.workspace import Workspace

TABLES = ("owners", "accounts", "people", "stage_events", "opportunities")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Workspace, dict]]:
    root: Path = tmp_path_factory.mktemp("demo_funnel")
    tables = generate(7, "medium")
    paths = [root / f"{name}.parquet" for name in TABLES]
    for name, path in zip(TABLES, paths, strict=True):
        pq.write_table(tables[name], path)
    (root / "cueva.yaml").write_text(demo_contract_text(), encoding="utf-8")
    ws = Workspace.open(root)
    import_files(ws.store(), paths, timezone="Europe/Madrid")
    yield ws, {name: tables[name].to_pandas() for name in TABLES}
    ws.close()


def test_cohort_conversion_by_channel_matches_pandas_and_the_planted_ratio(
    demo: tuple[Workspace, dict],
) -> None:
    ws, frames = demo
    period = Period(date(2024, 12, 1), date(2026, 7, 1), "to 2026-06")
    conv = conversion_by_cohort(ws.store(), ws.contract, period, by="channel")
    conv = conv.set_index(["channel", "from_stage"])
    # independent: leads created in the period; MQL within 90 days of the lead; SQL within 90
    # days of the MQL (MQLs entered in the period)
    people, ev = frames["people"], frames["stage_events"]
    at = {s: ev[ev.stage == s].set_index("entity_id").entered_at for s in ("mql", "sql")}
    p = people.assign(
        mql_at=people.person_id.map(at["mql"]), sql_at=people.person_id.map(at["sql"])
    )
    window = pd.Timedelta(days=90)
    lo, hi = pd.Timestamp("2024-12-01"), pd.Timestamp("2026-07-01")
    for ch in (truths.STRONG_CHANNEL, truths.WEAK_CHANNEL):
        g = p[p.channel == ch]
        leads = g[(g.created_at >= lo) & (g.created_at < hi)]
        row = conv.loc[(ch, "lead")]
        assert row.cohort == len(leads)
        assert row.reached == (leads.mql_at <= leads.created_at + window).sum()
        mqls = g[(g.mql_at >= lo) & (g.mql_at < hi)]
        row = conv.loc[(ch, "mql")]
        assert row.cohort == len(mqls)
        assert row.reached == (mqls.sql_at <= mqls.mql_at + window).sum()
    rate = {
        ch: conv.loc[(ch, "lead")].conversion_cohort * conv.loc[(ch, "mql")].conversion_cohort
        for ch in (truths.STRONG_CHANNEL, truths.WEAK_CHANNEL)
    }
    # planted: 2x; the tolerance is 4 standard errors of the ratio (about 0.35 at this size)
    assert rate[truths.STRONG_CHANNEL] / rate[truths.WEAK_CHANNEL] == pytest.approx(2.0, abs=0.35)


def test_win_rate_by_quarter_shows_the_missed_quarter(demo: tuple[Workspace, dict]) -> None:
    ws, frames = demo
    period = Period(date(2025, 4, 1), date(2026, 10, 1), "2025-Q2 to 2026-Q3")
    deals = deal_metrics(ws.store(), ws.contract, period, grain="quarter").set_index("period")
    # independent: new business (the demo contract's won stage filter) closed in each quarter
    o = frames["opportunities"]
    o = o[o.is_closed.astype(bool) & (o.type == "new")]
    q = pd.PeriodIndex(pd.to_datetime(o.close_date), freq="Q")
    mine = o.groupby(q.astype(str)).is_won.agg(["sum", "size"])
    for label, row in deals.iterrows():
        key = str(label).replace("-Q", "Q")
        assert row.won == mine.loc[key, "sum"]
        assert row.won + row.lost == mine.loc[key, "size"]
    rates = deals.win_rate
    assert rates.idxmin() == "2026-Q2"
    # new business: 30% -> 19.5% planted in 2026-Q2 (test_demo_truths); compare with the
    # quarters on either side
    assert rates["2026-Q2"] < 0.8 * np.mean(rates[["2026-Q1", "2026-Q3"]])
