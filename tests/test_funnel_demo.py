"""The funnel recovers the demo company's planted conversion rates (docs/demo.md, truth 1).

The demo (medium scale, seed 7) is generated in memory, the funnel's tables are written as
Parquet and imported into a real store, and the funnel's cohort conversion by channel is
compared with the rates planted in ``cueva.demo.truths``, each within 4 binomial standard
errors computed from the cohort sizes (as tests/test_demo_truths.py does on the raw tables).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from cueva.contract import CONTRACT_FILE
from cueva.demo import demo_contract_text, generate, truths
from cueva.importer import import_files
from cueva.metrics.funnel import conversion_by_cohort, stage_counts
from cueva.periods import period_from_range
from cueva.workspace import Workspace

T = truths
TABLES = ("owners", "accounts", "people", "stage_events", "opportunities")
# Leads created up to June 2026: their 90-day conversion windows close before the data ends.
COHORTS = period_from_range(T.START, "2026-06-30")


@pytest.fixture(scope="module")
def demo_ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    root = tmp_path_factory.mktemp("funnel_demo")
    tables = generate(7, "medium")
    paths = []
    for name in TABLES:
        path = root / "data" / f"{name}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(tables[name], path)
        paths.append(path)
    ws_dir = root / "ws"
    ws_dir.mkdir()
    (ws_dir / CONTRACT_FILE).write_text(demo_contract_text(), encoding="utf-8")
    ws = Workspace.open(ws_dir)
    import_files(ws.store(), paths, timezone=ws.contract.timezone)
    yield ws
    ws.close()


def _within(actual: float, expected: float, se: float, z: float = 4.0) -> None:
    assert abs(actual - expected) <= z * se, f"{actual:.4f} vs {expected:.4f} (4 se = {z * se:.4f})"


@pytest.fixture(scope="module")
def cohorts(demo_ws: Workspace) -> pd.DataFrame:
    return conversion_by_cohort(demo_ws.store(), demo_ws.contract, COHORTS, by="channel")


def _rate(cohorts: pd.DataFrame, channel: str, from_stage: str) -> tuple[float, int]:
    row = cohorts[(cohorts.channel == channel) & (cohorts.from_stage == from_stage)].iloc[0]
    return float(row.conversion_cohort), int(row.cohort)


def test_lead_to_mql_rate_of_every_channel(cohorts: pd.DataFrame) -> None:
    for i, channel in enumerate(T.CHANNELS):
        rate, n = _rate(cohorts, channel, "lead")
        p = T.P_MQL[i]
        assert n > 500, channel
        _within(rate, p, np.sqrt(p * (1 - p) / n))


def test_mql_to_sql_rate_of_channels_without_their_own_webinar_lift(
    cohorts: pd.DataFrame,
) -> None:
    # MQLs with a webinar touch are accepted WEBINAR_LIFT times as often; a person engages
    # the webinar channel with probability P_ENGAGE[webinar], whatever their own channel.
    # (webinar-acquired people always have webinar touches, so their rate is not this one.)
    avg_lift = 1 + T.P_ENGAGE[T.CHANNELS.index("webinar")] * (T.WEBINAR_LIFT - 1)
    for i, channel in enumerate(T.CHANNELS):
        if channel == T.LIFT_CHANNEL:
            continue
        rate, n = _rate(cohorts, channel, "mql")
        p = T.P_SQL[i] * avg_lift
        _within(rate, p, np.sqrt(p * (1 - p) / n))


def test_events_leads_reach_sql_twice_as_often_as_paid_social(cohorts: pd.DataFrame) -> None:
    avg_lift = 1 + T.P_ENGAGE[T.CHANNELS.index("webinar")] * (T.WEBINAR_LIFT - 1)
    rates = {}
    for channel in (T.STRONG_CHANNEL, T.WEAK_CHANNEL):
        i = T.CHANNELS.index(channel)
        to_mql, n = _rate(cohorts, channel, "lead")
        to_sql, _ = _rate(cohorts, channel, "mql")
        p = T.P_MQL[i] * T.P_SQL[i] * avg_lift
        rates[channel] = (to_mql * to_sql, np.sqrt(p * (1 - p) / n))
    (r1, se1), (r2, se2) = rates[T.STRONG_CHANNEL], rates[T.WEAK_CHANNEL]
    ratio = r1 / r2
    _within(ratio, 2.0, ratio * np.hypot(se1 / r1, se2 / r2))


def test_the_six_week_drop_shows_in_weekly_lead_counts(demo_ws: Workspace) -> None:
    weeks = stage_counts(
        demo_ws.store(),
        demo_ws.contract,
        period_from_range("2025-08-25", "2025-12-14"),
        by="channel",
        grain="week",
    )
    leads = weeks[(weeks.stage == "lead") & (weeks.channel == T.DROP_CHANNEL)]
    # ISO weeks 41 to 46 of 2025 are 2025-10-06 to 2025-11-16, the planted drop to 40%
    in_drop = leads.period.isin([f"2025-W{w}" for w in range(41, 47)])
    before = leads.loc[~in_drop & (leads.period < "2025-W41"), "entered"].mean()
    during = leads.loc[in_drop, "entered"].mean()
    assert during / before == pytest.approx(T.DROP_FACTOR, abs=0.12)
