"""contract schema|show|sign|diff, scorecard, check."""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cueva.cli.common import (
    FormatOpt,
    OutputFormat,
    StoreOpt,
    WorkspaceArg,
    console,
    open_workspace,
)
from cueva.contract import (
    CONTRACT_FILE,
    contract_json_schema,
    diff_since_signed,
    glossary_markdown,
    is_signed,
    load_contract,
    sign_contract,
    signature_status,
)
from cueva.errors import UsageError
from cueva.periods import PERIOD_FORMS, Period, parse_period, period_from_range

if TYPE_CHECKING:
    import pandas as pd

# pandas, the output helpers and the scorecard are imported inside the commands: start-up of
# the command line stays light (see cueva.cli).

contract_app = typer.Typer(
    help="The alignment contract: its JSON Schema, what it says, sign-off and changes.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def register(app: typer.Typer) -> None:
    app.add_typer(contract_app, name="contract")
    app.command("scorecard")(scorecard_cmd)
    app.command("check")(check_cmd)


def _fmt(fmt: Any) -> str:
    return str(fmt.value if hasattr(fmt, "value") else fmt)


# --------------------------------------------------------------------------- contract


@contract_app.command("schema")
def schema(
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write to this file instead of stdout.", show_default=False
        ),
    ] = None,
) -> None:
    """Print the JSON Schema of cueva.yaml (for editor autocompletion).

    Example: cueva contract schema -o cueva.schema.json   (then in cueva.yaml:
    # yaml-language-server: $schema=cueva.schema.json)
    """
    text = json.dumps(contract_json_schema(), indent=2) + "\n"
    if output is None:
        console.file.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {output}")


def _contract_path(path: Path) -> Path:
    p = path / CONTRACT_FILE if path.is_dir() else path
    return p


@contract_app.command("show")
def show(path: WorkspaceArg, fmt: FormatOpt = OutputFormat.table) -> None:
    """What the contract says: service levels, sign-off status and the glossary tree.

    Example: cueva contract show ./acme --format json
    """
    import pandas as pd

    from cueva.output import emit

    c = load_contract(_contract_path(path))
    levels = pd.DataFrame(
        [
            {
                "service_level": s.name,
                "kind": s.kind,
                "giver": s.giver,
                "receiver": s.receiver,
                "target": s.target if s.target == "plan" else float(s.target),
                "period": s.period,
                "description": s.description,
            }
            for s in c.service_levels
        ],
        columns=["service_level", "kind", "giver", "receiver", "target", "period", "description"],
    )
    sigs = signature_status(c)
    if _fmt(fmt) == "json":
        payload = {
            "company": c.company,
            "signed": is_signed(c),
            "signatures": [
                {
                    "team": s.team,
                    "name": s.name,
                    "signed_at": s.signed_at.isoformat(),
                    "current": s.current,
                }
                for s in sigs
            ],
            "service_levels": json.loads(levels.to_json(orient="records")),
        }
        console.file.write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
        return
    emit(levels, _fmt(fmt), console=console, title=f"{c.company}: service levels")
    if _fmt(fmt) == "csv":
        return
    if not sigs:
        console.print("not signed yet: both heads sign with 'cueva contract sign'", markup=False)
    for s in sigs:
        state = "current" if s.current else "STALE (the terms changed since)"
        console.print(
            f"signed by {s.name} for {s.team} on {s.signed_at:%Y-%m-%d %H:%M}: {state}",
            markup=False,
        )
    console.print("\nglossary:", markup=False)
    console.print(glossary_markdown(c), markup=False)


@contract_app.command("sign")
def sign(
    path: WorkspaceArg,
    team: Annotated[str, typer.Option(help="The team you sign for (e.g. marketing, sales).")],
    name: Annotated[str, typer.Option(help="Your name, as it should appear.")],
) -> None:
    """Approve the current terms for a team (recorded in cueva.yaml with a hash of the terms).

    Example: cueva contract sign ./acme --team marketing --name "Marta Gil"
    """
    p = _contract_path(path)
    s = sign_contract(p, team, name)
    console.print(
        f"{s.name} signed for {s.team} (terms {s.terms_hash[:12]}, {s.signed_at:%Y-%m-%d %H:%M})",
        markup=False,
    )
    c = load_contract(p)
    if not is_signed(c):
        waiting = [x.team for x in signature_status(c) if not x.current]
        missing = {"marketing", "sales"} - {x.team for x in signature_status(c)}
        console.print(
            "still waiting for: " + ", ".join(sorted(set(waiting) | missing)), markup=False
        )


@contract_app.command("diff")
def diff(path: WorkspaceArg, fmt: FormatOpt = OutputFormat.table) -> None:
    """What changed in the terms since the last signed version.

    Example: cueva contract diff ./acme
    """
    import pandas as pd

    from cueva.output import emit

    d = diff_since_signed(_contract_path(path))
    if d.signed_hash is None:
        console.print("the contract has never been signed: nothing to compare with", markup=False)
        return
    if d.unchanged:
        console.print(
            f"no changes since the version signed on {d.signed_at:%Y-%m-%d %H:%M}", markup=False
        )
        return
    frame = pd.DataFrame(
        [
            {
                "key": ch.path,
                "change": ch.change,
                "signed": None if ch.before is None else json.dumps(ch.before, ensure_ascii=False),
                "now": None if ch.after is None else json.dumps(ch.after, ensure_ascii=False),
            }
            for ch in d.changes
        ],
        columns=["key", "change", "signed", "now"],
    )
    emit(
        frame,
        _fmt(fmt),
        console=console,
        title=f"changes since the version signed on {d.signed_at:%Y-%m-%d %H:%M}",
    )


# --------------------------------------------------------------------------- scorecard


def _period(
    fiscal_year_start: int, period: str | None, from_: str | None, to: str | None
) -> Period | None:
    if period is not None:
        if from_ is not None or to is not None:
            raise UsageError("give either --period or --from/--to, not both")
        return parse_period(period, fiscal_year_start)
    if from_ is None and to is None:
        return None
    if from_ is None or to is None:
        raise UsageError("give both --from and --to")
    return period_from_range(from_, to)


def _as_of(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.strip().replace("T", " "))
    except ValueError:
        raise UsageError(
            f"--as-of {value!r} is not a date or time (e.g. 2026-05-29 or '2026-05-29 12:00')"
        ) from None


def _show(value: Any, kind: str) -> str:
    from cueva.sla import format_value

    return format_value(value, kind)


SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float | None]) -> str:
    """The trend as a tiny bar chart, one character per period (blank: no data)."""
    got = [v for v in values if v is not None and not math.isnan(v)]
    if not got:
        return ""
    lo, hi = min(got), max(got)
    out = []
    for v in values:
        if v is None or math.isnan(v):
            out.append(" ")
        else:
            i = 0 if hi == lo else round((v - lo) / (hi - lo) * (len(SPARKS) - 1))
            out.append(SPARKS[i])
    return "".join(out)


def _readable(card: pd.DataFrame) -> pd.DataFrame:
    """The scorecard as text cells for the table view (shares as percent)."""
    import pandas as pd

    rows = []
    for _, r in card.iterrows():  # one row per service level
        kind = r["kind"]
        p = "" if math.isnan(r["p50_hours"]) else f"{r['p50_hours']:.1f}/{r['p90_hours']:.1f}"
        rows.append(
            {
                "service level": r["service_level"],
                "owner": r["owner"],
                "period": r["period"],
                "target": f"{r['comparison']} {_show(r['target'], kind)}",
                "actual": _show(r["actual"], kind),
                "att.": "-" if math.isnan(r["attainment"]) else f"{r['attainment']:.0%}",
                "status": r["status"],
                "p50/p90 h": p,
                "trend": sparkline([*r["trend"], r["actual"]]),
            }
        )
    return pd.DataFrame(rows)


def scorecard_cmd(
    path: WorkspaceArg,
    period: Annotated[
        str | None,
        typer.Option(
            help=f"The period to score: {PERIOD_FORMS}. Default: each service level's own "
            "current week, month or quarter.",
            show_default=False,
        ),
    ] = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="First day (YYYY-MM-DD).", show_default=False)
    ] = None,
    to: Annotated[
        str | None,
        typer.Option("--to", help="Last day, included (YYYY-MM-DD).", show_default=False),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Pin 'now' (YYYY-MM-DD or 'YYYY-MM-DD HH:MM', contract timezone): nothing "
            "later counts. Default: the current time.",
            show_default=False,
        ),
    ] = None,
    detail_of: Annotated[
        str | None,
        typer.Option(
            "--detail",
            help="List the leads that breached this service level (its name, or a kind such "
            "as response_time when only one has it).",
            show_default=False,
        ),
    ] = None,
    fmt: FormatOpt = OutputFormat.table,
    store: StoreOpt = None,
) -> None:
    """Each service level: target, actual, attainment, status and the trend of the last 6 periods.

    Example: cueva scorecard ./acme --period 2026-05 --detail response_time --as-of 2026-05-29
    """
    from cueva.output import emit, rich_table
    from cueva.sla import detail, scorecard

    with open_workspace(path, store) as ws:
        c = ws.contract
        chosen = _period(c.fiscal_year_start, period, from_, to)
        when = _as_of(as_of)
        if detail_of is not None:
            frame = detail(ws.store(), c, detail_of, chosen, when)
            emit(frame, _fmt(fmt), console=console, title=f"breaches of {detail_of}")
            return
        card = scorecard(ws.store(), c, chosen, when)
        if _fmt(fmt) == "table":
            shown = _readable(card)
            title = f"{c.company}: scorecard"
            if card["period"].nunique() == 1:  # one period for all: say it once
                shown = shown.drop(columns="period")
                title += f" {card['period'].iloc[0]}"
            table = rich_table(shown, title=title)
            for col in table.columns:  # keep numbers and statuses on one line
                col.no_wrap = str(col.header) not in ("service level", "owner")
                col.min_width = {"service level": 12, "owner": 7}.get(str(col.header))
            console.print(table)
            for _, r in card[card["note"] != ""].iterrows():
                console.print(f"note on {r['service_level']}: {r['note']}", markup=False)
        elif _fmt(fmt) == "csv":
            out = card.copy()
            out["trend"] = [
                " ".join("" if v is None else f"{v:g}" for v in t) for t in out["trend"]
            ]
            emit(out, "csv", console=console)
        else:
            emit(card, "json", console=console)


def check_cmd(
    path: WorkspaceArg,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="Pin 'now' (YYYY-MM-DD or 'YYYY-MM-DD HH:MM').", show_default=False
        ),
    ] = None,
    notify: Annotated[
        bool,
        typer.Option(
            "--notify", help="Send breaches to the contract's webhook and e-mail channels."
        ),
    ] = False,
    store: StoreOpt = None,
) -> None:
    """Exit 0 when every service level is met or on track, 1 when any is at risk or missed.

    Prints one line per breach, and earlier alerts that could not be delivered.
    Example: cueva check ./acme --notify   (in cron: 0 8 * * 1-5 cueva check /srv/acme --notify)
    """
    from cueva.sla import build_message, check, pending_alerts
    from cueva.sla import notify as send

    with open_workspace(path, store) as ws:
        c = ws.contract
        result = check(ws.store(), c, _as_of(as_of))
        waiting = pending_alerts(ws.store())
        for row in waiting.itertuples(index=False):
            console.print(
                f"undelivered alert from {row.created_at:%Y-%m-%d %H:%M} ({row.channel}, "
                f"{row.attempts} failed attempt(s)): {row.subject}; last error: {row.last_error}",
                markup=False,
            )
        for line in result.breaches:
            console.print(line, markup=False)
        if result.ok:
            console.print(
                f"all {len(result.card)} service levels met or on track "
                f"(as of {result.as_of:%Y-%m-%d %H:%M})",
                markup=False,
            )
        if notify:
            message = (
                build_message(c.company, result.breaches, result.as_of) if result.breaches else None
            )
            if message is not None or len(waiting):
                sent = send(ws.store(), c, message)
                for d in sent:
                    console.print(f"sent to {d.channel} (attempt {d.attempts})", markup=False)
        if not result.ok:
            raise typer.Exit(1)


__all__ = ["contract_app", "register"]
