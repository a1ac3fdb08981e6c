"""Counts from the store: hand-made rows, new-business filter, and the cache follows imports."""

from __future__ import annotations

from pathlib import Path

from cueva.gap.data import data_version, period_counts
from cueva.importer import import_files
from cueva.periods import parse_period
from cueva.workspace import Workspace
from tests.conftest import write

PEOPLE = """person_id,created_at,channel
p1,2026-04-02 10:00,events
p2,2026-04-03 11:00,events
p3,2026-05-04 12:00,paid_search
p4,2026-01-10 09:00,paid_search
"""
EVENTS = """entity_type,entity_id,stage,entered_at
person,p1,mql,2026-04-05 10:00
person,p2,mql,2026-04-06 10:00
person,p1,sql,2026-04-07 10:00
person,p4,mql,2026-04-01 10:00
"""
OPPS = """opportunity_id,person_id,type,created_at,close_date,is_won,is_closed,amount,gross_margin
o1,p1,new,2026-04-10 10:00,2026-05-20,true,true,1000,700
o2,p4,new,2026-01-20 10:00,2026-04-15,true,true,3000,2000
o3,p2,renewal,2026-04-11 10:00,2026-05-01,true,true,9000,8000
"""


def test_counts_by_hand_and_cache_follows_imports(workspace: Workspace, tmp_path: Path) -> None:
    files = [
        write(tmp_path / "a" / "people.csv", PEOPLE),
        write(tmp_path / "a" / "stage_events.csv", EVENTS),
        write(tmp_path / "a" / "opportunities.csv", OPPS),
    ]
    store = workspace.store()
    import_files(store, files, timezone=workspace.contract.timezone)
    q2 = parse_period("2026-Q2")
    c = period_counts(store, workspace.contract, q2, margin=True).loc["all"]
    # by hand: leads p1 p2 p3; MQLs p1 p2 p4; SQL p1; opportunities o1 (o3 is a renewal);
    # won o1 and o2 (closed in Q2; o2 created in Q1); revenue 1000 + 3000; margin 700 + 2000
    assert c[["lead", "mql", "sql", "opportunity", "won"]].tolist() == [3, 3, 1, 1, 2]
    assert c["revenue"] == 4000 and c["gross_margin"] == 2700 and c["pipeline"] == 1000
    by = period_counts(store, workspace.contract, q2, "channel")
    assert by.loc["events", "lead"] == 2 and by.loc["paid_search", "won"] == 1
    before = data_version(store)
    more = write(
        tmp_path / "b" / "people.csv", "person_id,created_at,channel\np9,2026-06-01,events\n"
    )
    import_files(store, [more], timezone=workspace.contract.timezone)
    assert data_version(store) != before
    again = period_counts(store, workspace.contract, q2).loc["all"]
    assert again["lead"] == 4  # the materialised entries were rebuilt after the import
