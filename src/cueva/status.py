"""What the store holds: rows, date range and last import per canonical table."""

from __future__ import annotations

import pandas as pd

from cueva.schema import LOAD_ORDER, TABLES
from cueva.store import IMPORTS_TABLE, Store


def status(store: Store) -> pd.DataFrame:
    imports = store.table(IMPORTS_TABLE)
    last = (
        imports.group_by("table_name")
        .aggregate(last_import=imports.imported_at.max(), files=imports.file.nunique())
        .execute()
        .set_index("table_name")
    )
    last["last_import"] = pd.to_datetime(last["last_import"]).dt.floor("s")
    rows = []
    for name in LOAD_ORDER:
        t = store.table(name)
        spec = TABLES[name]
        aggs = {"rows": t.count()}
        if spec.time_column:
            col = t[spec.time_column]
            aggs["first"] = col.min()
            aggs["last"] = col.max()
        got = t.aggregate(**aggs).execute().iloc[0].to_dict()
        rows.append(
            {
                "table": name,
                "rows": int(got["rows"]),
                "from": got.get("first"),
                "to": got.get("last"),
                "last_import": last["last_import"].get(name) if name in last.index else None,
            }
        )
    return pd.DataFrame(rows)


__all__ = ["status"]
