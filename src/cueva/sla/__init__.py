"""Service levels: what each team owes the other, measured per period.

``scorecard`` scores every service level of the contract; ``detail`` lists the leads that
breached one; ``check`` decides whether cron/CI should act; ``notify`` sends breaches to the
contract's channels (a Slack-compatible webhook and e-mail), recording every alert in the
store so none is lost.
"""

from __future__ import annotations

from cueva.sla.evaluate import RESULT_COLUMNS, evaluate
from cueva.sla.scorecard import (
    FAILING,
    SCORECARD_COLUMNS,
    STATUSES,
    current_period,
    detail,
    now_in,
    scorecard,
    target_for,
)

__all__ = [
    "FAILING",
    "RESULT_COLUMNS",
    "SCORECARD_COLUMNS",
    "STATUSES",
    "current_period",
    "detail",
    "evaluate",
    "now_in",
    "scorecard",
    "target_for",
]
