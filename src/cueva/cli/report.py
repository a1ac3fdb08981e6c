"""report (the joint meeting pack) and actions (meeting action items)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from cueva.cli.common import (
    FormatOpt,
    OutputFormat,
    StoreOpt,
    WorkspaceArg,
    console,
    open_workspace,
)

actions_app = typer.Typer(
    name="actions",
    help="Meeting action items: who does what by when. Stored in the store, with history.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def register(app: typer.Typer) -> None:
    app.command("report")(report)
    app.add_typer(actions_app, name="actions")


def report(
    path: WorkspaceArg,
    period: Annotated[
        str, typer.Option("--period", help="Period of the pack: 2026-Q2, 2026-05, FY2026-Q1, ...")
    ],
    out: Annotated[Path, typer.Option("--out", help="HTML file to write.")] = Path("pack.html"),
    vs: Annotated[
        str, typer.Option("--vs", help="Compare with 'plan' or with another period, e.g. 2026-Q1.")
    ] = "plan",
    lang: Annotated[
        str | None,
        typer.Option("--lang", help="Report language: en or es (default: the contract's)."),
    ] = None,
    pdf: Annotated[bool, typer.Option("--pdf", help="Also write the PDF beside the HTML.")] = False,
    agenda_threshold: Annotated[
        float,
        typer.Option(
            help="A gap factor gets an agenda item when it moves revenue by at least this "
            "share of the base revenue."
        ),
    ] = 0.05,
    store: StoreOpt = None,
) -> None:
    """Write the joint meeting pack: one self-contained HTML page (and --pdf), in the order
    summary, service levels, funnel, gap, attribution, glossary, agenda, action items.

    Example: cueva report ./acme --period 2026-Q2 --vs plan --lang es --out pack.html --pdf
    """
    # imported here: the charts (Altair) and the PDF printer are not needed by other commands
    from cueva.report import write_pack

    with open_workspace(path, store) as ws:
        files = write_pack(
            ws, period, out, vs=vs, lang=lang, pdf=pdf, agenda_threshold=agenda_threshold
        )
    for key in files.data.unavailable:
        console.print(Text(f"note: section '{key}' is not available in this pack"), style="yellow")
    console.print(Text(f"wrote {files.html}"))
    if files.pdf is not None:
        console.print(Text(f"wrote {files.pdf}"))


@actions_app.command("add")
def actions_add(
    path: WorkspaceArg,
    text: Annotated[
        str, typer.Argument(help="What will be done, in plain words.", show_default=False)
    ],
    team: Annotated[str, typer.Option("--team", help="Owning team: marketing, sales, shared, ...")],
    owner: Annotated[str, typer.Option("--owner", help="The person who will do it.")],
    due: Annotated[str, typer.Option("--due", help="Due date, YYYY-MM-DD.")],
    meeting: Annotated[
        str | None, typer.Option("--meeting", help="The meeting's period, e.g. 2026-Q2.")
    ] = None,
    store: StoreOpt = None,
) -> None:
    """Record a new action item.

    Example: cueva actions add ./acme --team sales --owner "Ana" --due 2026-07-15 "Call back every MQL within 4 business hours"
    """
    from cueva.actions import add_action, contract_teams

    with open_workspace(path, store) as ws:
        item = add_action(
            ws.store(),
            text,
            team=team,
            owner=owner,
            due=due,
            teams=contract_teams(ws.contract),
            meeting=meeting,
        )
    console.print(
        Text(f"added action item {item.action_id}: {item.text} ({item.owner}, due {item.due})")
    )


@actions_app.command("done")
def actions_done(
    path: WorkspaceArg,
    action_id: Annotated[int, typer.Argument(metavar="ID", help="The item's number.")],
    store: StoreOpt = None,
) -> None:
    """Mark an action item done.

    Example: cueva actions done ./acme 3
    """
    from cueva.actions import complete_action

    with open_workspace(path, store) as ws:
        item = complete_action(ws.store(), action_id)
    console.print(Text(f"action item {item.action_id} is done: {item.text}"))


@actions_app.command("reopen")
def actions_reopen(
    path: WorkspaceArg,
    action_id: Annotated[int, typer.Argument(metavar="ID", help="The item's number.")],
    store: StoreOpt = None,
) -> None:
    """Open a done action item again.

    Example: cueva actions reopen ./acme 3
    """
    from cueva.actions import reopen_action

    with open_workspace(path, store) as ws:
        item = reopen_action(ws.store(), action_id)
    console.print(Text(f"action item {item.action_id} is open again: {item.text}"))


@actions_app.command("list")
def actions_list(
    path: WorkspaceArg,
    status: Annotated[str, typer.Option("--status", help="open, done or all.")] = "open",
    fmt: FormatOpt = OutputFormat.table,
    store: StoreOpt = None,
) -> None:
    """List action items; overdue ones first and marked.

    Example: cueva actions list ./acme --status all --format csv
    """
    from cueva.actions import list_actions, today_in
    from cueva.output import emit

    with open_workspace(path, store) as ws:
        frame = list_actions(ws.store(), status, today=today_in(ws.contract.timezone))  # type: ignore[arg-type]
    if fmt == OutputFormat.table:
        shown = frame.drop(columns=["meeting", "created_at", "done_at"])
        shown["status"] = [
            f"OVERDUE {d}d" if o else s
            for s, o, d in zip(
                shown["status"], shown["overdue"], shown["days_overdue"], strict=True
            )
        ]
        shown = shown.drop(columns=["overdue", "days_overdue"])
        emit(shown, fmt.value, console=console, title=f"Action items ({status})")
    else:
        emit(frame, fmt.value, console=console)


@actions_app.command("history")
def actions_history(
    path: WorkspaceArg,
    action_id: Annotated[int, typer.Argument(metavar="ID", help="The item's number.")],
    fmt: FormatOpt = OutputFormat.table,
    store: StoreOpt = None,
) -> None:
    """Every change of one action item, oldest first.

    Example: cueva actions history ./acme 3
    """
    from cueva.actions import action_history
    from cueva.output import emit

    with open_workspace(path, store) as ws:
        frame = action_history(ws.store(), action_id)
    emit(frame, fmt.value, console=console, title=f"Action item {action_id}")
