"""The ``cueva`` command: a thin layer that parses, calls the library and prints.

A library error becomes one line on stderr and exit code 1, never a traceback. Each command
group lives in its own module with a ``register(app)`` function, listed in ``_MODULES``.
"""

from __future__ import annotations

import importlib
import sys

import typer
from rich.console import Console

from cueva.errors import CuevaError

app = typer.Typer(
    name="cueva",
    help="Cueva: one shared cave for sales and marketing. Funnel, service levels, "
    "attribution and gaps from one store of CRM data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

err_console = Console(stderr=True, highlight=False, soft_wrap=True)

# Command modules, in the order their commands appear in --help.
_MODULES = ("core", "demo", "funnel", "contract", "report", "gap", "sources", "attribution")

for _name in _MODULES:
    importlib.import_module(f"cueva.cli.{_name}").register(app)


def fail(message: str, code: int = 1) -> None:
    """Print one clear error line (or block) and exit."""
    err_console.print(f"error: {message}", markup=False)
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


__all__ = ["app", "main"]
