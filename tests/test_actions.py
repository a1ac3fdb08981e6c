from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import date, datetime

import pytest

from cueva.actions import (
    ACTIONS_TABLE,
    action_history,
    add_action,
    complete_action,
    contract_teams,
    list_actions,
    reopen_action,
)
from cueva.errors import UsageError
from cueva.workspace import Workspace
from tests.conftest import CliResult, invoke

T0 = datetime(2026, 6, 30, 10, 0)


def _add(ws: Workspace, text: str, due: str, team: str = "sales", owner: str = "Ana") -> int:
    item = add_action(
        ws.store(), text, team=team, owner=owner, due=due, teams=contract_teams(ws.contract), now=T0
    )
    return item.action_id


def test_add_list_done_with_overdue_first(workspace: Workspace) -> None:
    a = _add(workspace, "Call back every MQL within 4 business hours", "2026-07-15")
    b = _add(workspace, "Share the webinar list", "2026-07-01", team="marketing", owner="Luis")
    c = _add(workspace, "Agree on a lead score", "2026-08-01", team="shared", owner="Eva")
    assert (a, b, c) == (1, 2, 3)
    frame = list_actions(workspace.store(), "open", today=date(2026, 7, 20))
    # overdue first, most overdue on top; then by due date
    assert list(frame["id"]) == [2, 1, 3]
    assert list(frame["overdue"]) == [True, True, False]
    assert list(frame["days_overdue"]) == [19, 5, 0]
    assert frame.loc[0, "owner"] == "Luis" and frame.loc[0, "team"] == "marketing"

    done = complete_action(workspace.store(), 2, now=datetime(2026, 7, 21, 9, 0))
    assert done.status == "done" and done.version == 2
    open_ids = list(list_actions(workspace.store(), "open", today=date(2026, 7, 20))["id"])
    assert open_ids == [1, 3]
    done_frame = list_actions(workspace.store(), "done", today=date(2026, 7, 20))
    assert list(done_frame["id"]) == [2]
    assert not done_frame.loc[0, "overdue"]  # a done item is never overdue
    assert done_frame.loc[0, "done_at"] == datetime(2026, 7, 21, 9, 0)
    assert len(list_actions(workspace.store(), "all", today=date(2026, 7, 20))) == 3


def test_history_is_kept_and_survives_reopening_the_store(workspace: Workspace) -> None:
    _add(workspace, "Call back every MQL", "2026-07-15")
    complete_action(workspace.store(), 1, now=datetime(2026, 7, 1, 9, 0))
    reopen_action(workspace.store(), 1, now=datetime(2026, 7, 2, 9, 0))
    workspace.close()
    again = Workspace.open(workspace.path)
    try:
        hist = action_history(again.store(), 1)
        assert list(hist["event"]) == ["added", "done", "reopened"]
        assert list(hist["status"]) == ["open", "done", "open"]
        assert list(hist["version"]) == [1, 2, 3]
        assert again.store().row_count(ACTIONS_TABLE) == 3
        frame = list_actions(again.store(), "open", today=date(2026, 7, 1))
        assert list(frame["id"]) == [1]
    finally:
        again.close()


def test_text_is_stored_as_given(workspace: Workspace) -> None:
    _add(workspace, '<script>alert("x")</script>  =cmd', "2026-07-15", owner="O'Brien")
    frame = list_actions(workspace.store(), "open", today=date(2026, 7, 1))
    assert frame.loc[0, "text"] == '<script>alert("x")</script> =cmd'
    assert frame.loc[0, "owner"] == "O'Brien"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"team": "finance"}, "unknown team 'finance'; use one of: marketing, sales, shared"),
        ({"due": "15/07/2026"}, "not a date: '15/07/2026'"),
        ({"due": "2026-02-30"}, "not a date"),
        ({"text": "   "}, "needs a text"),
        ({"owner": ""}, "needs an owner"),
        ({"text": "x" * 501}, "keep it under 500"),
    ],
)
def test_bad_input_is_a_usage_error(workspace: Workspace, kwargs: dict, message: str) -> None:
    args = {"text": "Do it", "team": "sales", "owner": "Ana", "due": "2026-07-15", **kwargs}
    with pytest.raises(UsageError, match=message):
        add_action(workspace.store(), teams=contract_teams(workspace.contract), **args)
    assert list_actions(workspace.store(), "all").empty


def test_unknown_id_and_double_done(workspace: Workspace) -> None:
    _add(workspace, "Do it", "2026-07-15")
    with pytest.raises(UsageError, match="no action item 9"):
        complete_action(workspace.store(), 9)
    complete_action(workspace.store(), 1)
    with pytest.raises(UsageError, match="already done"):
        complete_action(workspace.store(), 1)
    with pytest.raises(UsageError, match="unknown status"):
        list_actions(workspace.store(), "closed")  # type: ignore[arg-type]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """The CLI in process (as the console script runs it): exit code, stdout, stderr."""
    return functools.partial(invoke, capsys)


def test_cli_add_done_list(workspace: Workspace, run: Callable[..., CliResult]) -> None:
    ws = str(workspace.path)
    workspace.close()
    r = run(
        "actions", "add", ws, "--team", "sales", "--owner", "Ana", "--due", "2020-07-15",
        "Call back every MQL within 4 business hours",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "added action item 1" in r.stdout
    r = run(
        "actions",
        "add",
        ws,
        "--team",
        "marketing",
        "--owner",
        "Luis",
        "--due",
        "2999-01-01",
        "Later",
    )
    assert r.returncode == 0, r.stderr
    r = run("actions", "list", ws)
    assert r.returncode == 0, r.stderr
    assert "OVERDUE" in r.stdout and "Call back every MQL" in r.stdout
    r = run("actions", "done", ws, "1")
    assert r.returncode == 0, r.stderr
    r = run("actions", "list", ws, "--status", "all", "--format", "json")
    rows = {row["id"]: row for row in json.loads(r.stdout)}
    assert rows[1]["status"] == "done" and rows[2]["status"] == "open"
    assert rows[2]["overdue"] is False
    r = run("actions", "done", ws, "1")
    assert r.returncode == 1
    assert r.stderr.strip() == "error: action item 1 is already done"
    r = run("actions", "add", ws, "--team", "legal", "--owner", "X", "--due", "2026-01-01", "t")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.startswith("error: unknown team 'legal'")
    r = run("actions", "history", ws, "1", "--format", "csv")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[1].startswith("1,added,open")


def test_help_has_examples(run: Callable[..., CliResult]) -> None:
    for cmd in (("report",), ("actions", "add"), ("actions", "done"), ("actions", "list")):
        r = run(*cmd, "--help")
        assert r.returncode == 0, r.stderr
        assert "Example: cueva" in r.stdout
