"""``cueva check``: are all service levels met or on track right now?

Evaluates every service level for its own current period (week, month or quarter) and
returns the breaches (status ``at risk`` or ``missed``), one line each, so cron and CI can act
on the exit code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from cueva.contract import Contract
from cueva.sla.scorecard import FAILING, now_in, scorecard
from cueva.store import Store


def format_value(value: float, kind: str) -> str:
    """A value as people read it: shares as percent, counts whole, money with separators."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if kind in ("quality", "response_time", "coverage", "feedback", "win_rate"):
        return f"{value:.1%}"
    if float(value).is_integer() or abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def breach_line(row: pd.Series) -> str:
    """One line for a breached service level."""
    actual = format_value(row["actual"], row["kind"])
    target = format_value(row["target"], row["kind"])
    line = (
        f"{row['status']}: {row['service_level']} ({row['owner']} -> {row['receiver']}) "
        f"{row['period']}: {actual} vs target {row['comparison']} {target}"
    )
    if row["status"] == "at risk" and not math.isnan(row["projected"]):
        line += f", projected {format_value(row['projected'], row['kind'])}"
    return line


@dataclass(frozen=True)
class CheckResult:
    as_of: datetime
    card: pd.DataFrame
    breaches: list[str]

    @property
    def ok(self) -> bool:
        return not self.breaches


def check(store: Store, contract: Contract, as_of: datetime | None = None) -> CheckResult:
    """Score each service level for its current period at ``as_of`` (default: now)."""
    as_of = as_of or now_in(contract)
    card = scorecard(store, contract, None, as_of)
    bad = card[card["status"].isin(FAILING)]
    return CheckResult(as_of, card, [breach_line(r) for _, r in bad.iterrows()])


__all__ = ["CheckResult", "breach_line", "check", "format_value"]
