"""Service levels: what each team owes the other, measured per period.

``scorecard`` scores every service level of the contract; ``detail`` lists the leads that
breached one; ``check`` decides whether cron/CI should act; ``notify`` sends breaches to the
contract's channels (a Slack-compatible webhook and e-mail), recording every alert in the
store so none is lost.
"""

from __future__ import annotations

from cueva.sla.check import CheckResult, breach_line, check, format_value
from cueva.sla.evaluate import RESULT_COLUMNS, Cache, evaluate
from cueva.sla.notify import (
    ALERTS_TABLE,
    Delivery,
    Message,
    NotifyError,
    build_message,
    notify,
    pending_alerts,
)
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
    "ALERTS_TABLE",
    "FAILING",
    "RESULT_COLUMNS",
    "SCORECARD_COLUMNS",
    "STATUSES",
    "Cache",
    "CheckResult",
    "Delivery",
    "Message",
    "NotifyError",
    "breach_line",
    "build_message",
    "check",
    "current_period",
    "detail",
    "evaluate",
    "format_value",
    "notify",
    "now_in",
    "pending_alerts",
    "scorecard",
    "target_for",
]
