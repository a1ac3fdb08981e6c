"""A small hand-made company for the funnel tests; every expected number in
tests/test_funnel.py is worked out by hand from these rows (see the comments there).

Starter contract stages: lead (people.created_at or a 'lead' event), mql, sql (events),
opportunity (opportunities.created_at), won (opportunities.close_date where is_won).
"""

from __future__ import annotations

from pathlib import Path

from cueva.importer import import_files
from cueva.workspace import Workspace

OWNERS = """owner_id,name,team
m1,Marta,marketing
s1,Sergio,sales
s2,Sara,sales
"""

ACCOUNTS = """account_id,name,industry,segment,country
a1,Alfa,tech,SMB,ES
a2,Beta,retail,ENT,PT
"""

# P4 skips mql; P6 has a 'lead' event before its created_at; P7 became a lead before Q1;
# P5 has no account. tier is an extra column kept by import.
PEOPLE = """person_id,account_id,created_at,channel,owner_id,segment,tier
P1,a1,2026-01-05 10:00:00,ads,s1,SMB,gold
P2,a1,2026-01-10 09:00:00,ads,s1,,silver
P3,a2,2026-01-20 00:00:00,events,s2,ENT,
P4,a2,2026-02-03 00:00:00,events,s2,,
P5,,2026-02-15 00:00:00,ads,s1,,
P6,,2026-03-01 00:00:00,seo,s2,,
P7,a1,2025-12-20 00:00:00,ads,s1,,
"""

# P1 re-enters mql on 2026-02-01: only the first entry counts. The 'demo' events of
# opportunities are used only by a contract with a 'demo' stage (test_funnel.py).
STAGE_EVENTS = """entity_type,entity_id,stage,entered_at
person,P1,mql,2026-01-07 10:00:00
person,P1,sql,2026-01-09 10:00:00
person,P1,mql,2026-02-01 00:00:00
person,P2,mql,2026-01-12 09:00:00
person,P3,mql,2026-01-25 00:00:00
person,P3,sql,2026-02-04 00:00:00
person,P4,sql,2026-02-10 00:00:00
person,P5,mql,2026-02-20 00:00:00
person,P5,sql,2026-02-21 00:00:00
person,P6,lead,2026-02-25 00:00:00
person,P7,mql,2026-01-02 00:00:00
person,P7,sql,2026-01-03 00:00:00
opportunity,O1,demo,2026-01-20 10:00:00
opportunity,O2,demo,2026-02-12 00:00:00
opportunity,O6,demo,2026-02-25 00:00:00
"""

# O4 has no person; O5 was created before Q1 and won in it; O6 is open past its expected
# close; O7 closes (lost) after Q1.
OPPORTUNITIES = """opportunity_id,account_id,person_id,owner_id,created_at,close_date,is_closed,is_won,amount
O1,a1,P1,s1,2026-01-15 12:00:00,2026-02-14,true,true,1000
O2,a2,P3,s2,2026-02-10 00:00:00,2026-03-12,true,false,3000
O3,,P5,s1,2026-02-25 00:00:00,2026-03-27,true,true,500
O4,a2,,s1,2026-03-05 00:00:00,2026-04-30,false,false,2000
O5,a1,P7,s1,2025-12-28 00:00:00,2026-01-20,true,true,4000
O6,a2,P4,s2,2026-02-20 00:00:00,2026-03-15,false,false,1500
O7,a1,P1,s2,2026-03-20 00:00:00,2026-04-10,true,false,700
"""

FILES = {
    "owners.csv": OWNERS,
    "accounts.csv": ACCOUNTS,
    "people.csv": PEOPLE,
    "stage_events.csv": STAGE_EVENTS,
    "opportunities.csv": OPPORTUNITIES,
}


def load(ws: Workspace, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in FILES.items():
        p = folder / name
        p.write_text(text, encoding="utf-8")
        paths.append(p)
    import_files(ws.store(), paths, timezone=ws.contract.timezone)
