"""Meeting action items: the commitments the two heads make, kept in the store with history.

Each change is one row of the append-only event table ``_cueva_action_events`` (added, done,
reopened), so the history of an item is never lost; the current state of an item is its
latest event. The table is created and written through Ibis (``create_table`` / ``insert``),
which is backend-portable. An item is *overdue* when it is open and its due date is before
today in the contract's timezone.

Library use::

    item = add_action(store, "Call back every MQL within 4 business hours",
                      team="sales", owner="Ana", due="2026-07-15", teams=contract_teams(c))
    complete_action(store, item.action_id)
    list_actions(store, status="open", today=date(2026, 7, 20))   # a small pandas frame
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

import ibis
import pandas as pd

from cueva.errors import UsageError
from cueva.periods import parse_date

if TYPE_CHECKING:
    from cueva.contract import Contract
    from cueva.store import Store

ACTIONS_TABLE = "_cueva_action_events"
MAX_TEXT = 500

ACTION_SCHEMA = ibis.schema(
    {
        "action_id": "int64",
        "version": "int64",
        "event": "string",  # added, done, reopened
        "status": "string",  # open, done
        "team": "string",
        "owner": "string",
        "due": "date",
        "text": "string",
        "meeting": "string",  # the period the item was agreed for, e.g. 2026-Q2 (optional)
        "at": "timestamp",
    }
)

Status = Literal["open", "done", "all"]

#: Columns of :func:`list_actions`.
LIST_COLUMNS = (
    "id",
    "team",
    "owner",
    "due",
    "status",
    "overdue",
    "days_overdue",
    "text",
    "meeting",
    "created_at",
    "done_at",
)


@dataclass(frozen=True)
class Action:
    action_id: int
    version: int
    status: str
    team: str
    owner: str
    due: date
    text: str
    meeting: str | None
    at: datetime


def contract_teams(contract: Contract) -> list[str]:
    """Teams an action item may belong to: marketing, sales, shared and every team the
    contract names as a stage owner."""
    teams = ["marketing", "sales", "shared"]
    for stage in contract.funnel.stages:
        if stage.owner not in teams:
            teams.append(stage.owner)
    return teams


def today_in(timezone: str) -> date:
    return datetime.now(ZoneInfo(timezone)).date()


def _now() -> datetime:
    return datetime.now().replace(microsecond=0)


def ensure_table(store: Store) -> None:
    if ACTIONS_TABLE not in store.con.list_tables():
        store.con.create_table(ACTIONS_TABLE, schema=ACTION_SCHEMA)


def _events(store: Store) -> ibis.Table:
    ensure_table(store)
    return store.table(ACTIONS_TABLE)


def _latest(store: Store) -> ibis.Table:
    t = _events(store)
    return t.filter(t.version == t.version.max().over(group_by=t.action_id))


def _append(store: Store, row: dict[str, object]) -> None:
    frame = pd.DataFrame([row])
    store.con.insert(ACTIONS_TABLE, ibis.memtable(frame, schema=ACTION_SCHEMA))


def _get(store: Store, action_id: int) -> Action:
    t = _latest(store)
    rows = t.filter(t.action_id == int(action_id)).execute()
    if rows.empty:
        raise UsageError(f"no action item {action_id} (see 'cueva actions list')")
    return _to_action(rows.iloc[0].to_dict())


def _to_action(r: dict[str, object]) -> Action:
    meeting = r.get("meeting")
    return Action(
        action_id=int(r["action_id"]),  # type: ignore[call-overload]
        version=int(r["version"]),  # type: ignore[call-overload]
        status=str(r["status"]),
        team=str(r["team"]),
        owner=str(r["owner"]),
        due=pd.Timestamp(r["due"]).date(),  # type: ignore[arg-type]
        text=str(r["text"]),
        meeting=None if meeting is None or pd.isna(meeting) else str(meeting),  # type: ignore[call-overload]
        at=pd.Timestamp(r["at"]).to_pydatetime(),  # type: ignore[arg-type]
    )


def add_action(
    store: Store,
    text: str,
    *,
    team: str,
    owner: str,
    due: str | date,
    teams: Iterable[str] | None = None,
    meeting: str | None = None,
    now: datetime | None = None,
) -> Action:
    """Record a new open action item and return it (its id is the next free number)."""
    text = " ".join(text.split())
    if not text:
        raise UsageError("an action item needs a text saying what will be done")
    if len(text) > MAX_TEXT:
        raise UsageError(f"action text is {len(text)} characters; keep it under {MAX_TEXT}")
    owner = owner.strip()
    if not owner:
        raise UsageError("an action item needs an owner (--owner NAME)")
    team = team.strip().lower()
    known = list(teams) if teams is not None else None
    if known is not None and team not in known:
        raise UsageError(f"unknown team {team!r}; use one of: {', '.join(known)}")
    due_date = parse_date(due)
    t = _events(store)
    top = t.action_id.max().execute()
    next_id = 1 if top is None or pd.isna(top) else int(top) + 1
    row = {
        "action_id": next_id,
        "version": 1,
        "event": "added",
        "status": "open",
        "team": team,
        "owner": owner,
        "due": due_date,
        "text": text,
        "meeting": meeting,
        "at": now or _now(),
    }
    _append(store, row)
    return _get(store, next_id)


def _change(store: Store, action_id: int, event: str, status: str, now: datetime | None) -> Action:
    current = _get(store, action_id)
    if current.status == status:
        raise UsageError(f"action item {action_id} is already {status}")
    _append(
        store,
        {
            "action_id": current.action_id,
            "version": current.version + 1,
            "event": event,
            "status": status,
            "team": current.team,
            "owner": current.owner,
            "due": current.due,
            "text": current.text,
            "meeting": current.meeting,
            "at": now or _now(),
        },
    )
    return _get(store, action_id)


def complete_action(store: Store, action_id: int, now: datetime | None = None) -> Action:
    """Mark an open item done."""
    return _change(store, action_id, "done", "done", now)


def reopen_action(store: Store, action_id: int, now: datetime | None = None) -> Action:
    """Open a done item again."""
    return _change(store, action_id, "reopened", "open", now)


def list_actions(store: Store, status: Status = "open", today: date | None = None) -> pd.DataFrame:
    """Action items as a frame with :data:`LIST_COLUMNS`: overdue open items first (most
    overdue on top), then by due date. ``today`` defaults to the machine's date."""
    if status not in ("open", "done", "all"):
        raise UsageError(f"unknown status {status!r}; use open, done or all")
    today = today or date.today()
    ev = _events(store)
    created = ev.filter(ev.version == 1).select(ev.action_id, created_at=ev.at)
    cur = _latest(store)
    if status != "all":
        cur = cur.filter(cur.status == status)
    joined = cur.join(created, "action_id")
    frame = joined.select(
        id=joined.action_id,
        team=joined.team,
        owner=joined.owner,
        due=joined.due,
        status=joined.status,
        text=joined.text,
        meeting=joined.meeting,
        created_at=joined.created_at,
        done_at=ibis.ifelse(joined.status == "done", joined.at, ibis.null("timestamp")),
        days_overdue=ibis.ifelse(
            joined.status == "open", ibis.literal(today).delta(joined.due, unit="day"), 0
        ),
    ).execute()
    # small result: the days past due of open items, computed above by the engine
    frame["days_overdue"] = frame["days_overdue"].clip(lower=0).astype("int64")
    frame["overdue"] = frame["days_overdue"] > 0
    frame["due"] = pd.to_datetime(frame["due"]).dt.date
    frame = frame.sort_values(
        ["overdue", "status", "days_overdue", "due", "id"],
        ascending=[False, False, False, True, True],
    ).reset_index(drop=True)
    return frame[list(LIST_COLUMNS)]


def action_history(store: Store, action_id: int) -> pd.DataFrame:
    """Every event of one item, oldest first."""
    _get(store, action_id)
    ev = _events(store)
    return (
        ev.filter(ev.action_id == int(action_id))
        .order_by(ev.version)
        .select("version", "event", "status", "team", "owner", "due", "text", "at")
        .execute()
    )


__all__ = [
    "ACTIONS_TABLE",
    "LIST_COLUMNS",
    "Action",
    "action_history",
    "add_action",
    "complete_action",
    "contract_teams",
    "list_actions",
    "reopen_action",
    "today_in",
]
