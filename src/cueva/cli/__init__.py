"""The ``cueva`` command: a thin layer that parses, calls the library and prints.

A library error becomes one line on stderr and exit code 1, never a traceback. Each command
group lives in its own module with a ``register(app)`` function.

Start-up stays light: ``cueva --help`` lists the commands from :data:`COMMANDS` (name, module,
one-line help) without importing any command module, and ``cueva funnel ...`` imports only
``cueva.cli.funnel``. The command modules in turn import the library (Ibis, pandas, charts,
the metrics) inside the command functions. A test checks :data:`COMMANDS` against what the
modules register, so the listing cannot drift from the commands.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from cueva.errors import CuevaError

#: Every top-level command, in the order of ``cueva --help``: name -> (module under
#: ``cueva.cli``, the first sentence of its help).
COMMANDS: dict[str, tuple[str, str]] = {
    "init": (
        "core",
        "Create a workspace: a commented starter cueva.yaml and an empty store.",
    ),
    "import": (
        "core",
        "Import canonical CSV/Parquet files, all or nothing (or any CRM's files with --mapping).",
    ),
    "status": ("core", "What is loaded: tables, rows, date ranges, last import."),
    "demo": (
        "demo",
        "Create a demo workspace: the fictional B2B company Altamira Cloud over 24 months "
        "(2024-12-01 to 2026-11-30), written as Parquet under PATH/data/ and imported into "
        "the store.",
    ),
    "funnel": (
        "funnel",
        "The funnel for a period: how many entered each stage, conversion to the next stage "
        "(by period and by cohort), days between stages, win rate, deal size, sales cycle and "
        "open pipeline.",
    ),
    "scorecard": (
        "contract",
        "Each service level: target, actual, attainment, status and the trend of the last 6 "
        "periods.",
    ),
    "check": (
        "contract",
        "Exit 0 when every service level is met or on track, 1 when any is at risk or missed.",
    ),
    "report": (
        "report",
        "Write the joint meeting pack: one self-contained HTML page (and --pdf), in the order "
        "summary, service levels, funnel, gap, attribution, glossary, agenda, action items.",
    ),
    "plan": (
        "gap",
        "Work back from a target to the leads, MQLs, SQLs and opportunities needed, and the "
        "month each must arrive, from the trailing conversion rates and stage lags.",
    ),
    "gap": (
        "gap",
        "Split the revenue gap between plan (or another period) and actual exactly into "
        "funnel factors (LMDI-I), each owned by a team: lead volume, stage rates, win rate, "
        "deal size.",
    ),
    "import-crm": (
        "sources",
        "Import a CRM export: Salesforce, HubSpot, or any CRM through a mapping file.",
    ),
    "import-warehouse": (
        "sources",
        "Import Fivetran dbt_salesforce / dbt_hubspot final models from a warehouse.",
    ),
    "quarantine": (
        "sources",
        "Rows held back by the last --quarantine import of each source, and why.",
    ),
    "attribute": (
        "attribution",
        "Multi-touch attribution: which channels earned the pipeline, revenue and margin.",
    ),
    "contract": (
        "contract",
        "The alignment contract: its JSON Schema, what it says, sign-off and changes.",
    ),
    "actions": ("report", "Meeting action items: who does what by when."),
    "mapping": ("sources", "Mapping files for CRMs and spreadsheets Cueva does not know."),
}

#: Command modules, in the order their commands first appear in ``--help``.
_MODULES = tuple(dict.fromkeys(module for module, _ in COMMANDS.values()))

#: Settings every command is built with (also those a command module registers).
_SETTINGS: dict[str, Any] = {
    "add_completion": False,
    "pretty_exceptions_enable": False,
    "rich_markup_mode": None,
}


class _Placeholder(TyperCommand):
    """A command not loaded yet: its name and one-line help, for listings."""

    def __init__(self, name: str, module: str, help: str) -> None:
        super().__init__(name, help=help, rich_markup_mode=None)
        self.module = module


def load_module(module: str) -> dict[str, Any]:
    """The commands that ``cueva.cli.<module>`` registers, built (name -> command)."""
    sub = typer.Typer(**_SETTINGS)
    importlib.import_module(f"cueva.cli.{module}").register(sub)
    return dict(typer.main.get_group(sub).commands)


class _LazyGroup(TyperGroup):
    """The top-level group: commands are placeholders until one is asked for, which loads
    its module (and that module's other commands) then."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        for name, (module, help) in COMMANDS.items():
            if name not in self.commands:
                self.commands[name] = _Placeholder(name, module, help)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        cmd = self.commands.get(cmd_name)
        if isinstance(cmd, _Placeholder):
            for name, real in load_module(cmd.module).items():
                self.commands[name] = real
            cmd = self.commands.get(cmd_name)
        return cmd

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        # the listing reads the placeholders' help: nothing is imported for --help
        rows = [(n, c) for n, c in self.commands.items() if not c.hidden]
        if rows:
            limit = formatter.width - 6 - max(len(n) for n, _ in rows)
            with formatter.section("Commands"):
                formatter.write_dl([(n, c.get_short_help_str(limit)) for n, c in rows])


app = typer.Typer(
    name="cueva",
    cls=_LazyGroup,
    help="Cueva: one shared cave for sales and marketing. Funnel, service levels, "
    "attribution and gaps from one store of CRM data.",
    no_args_is_help=True,
    **_SETTINGS,
)


@app.callback()
def _cueva() -> None:
    # a callback makes Typer build a group (it does for registered commands, and the top
    # level registers none itself: _LazyGroup brings them)
    pass


def fail(message: str, code: int = 1) -> None:
    """Print one clear error line (or block) and exit."""
    from rich.console import Console

    Console(stderr=True, highlight=False, soft_wrap=True).print(f"error: {message}", markup=False)
    raise SystemExit(code)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script. Typer handles usage errors (exit 2); a Cueva
    error becomes one line and exit 1."""
    try:
        app(args=argv)
    except CuevaError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except BrokenPipeError:
        sys.stderr.close()
        raise SystemExit(1) from None


__all__ = ["COMMANDS", "app", "main"]
