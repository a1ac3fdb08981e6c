"""Start-up of the command line: ``import cueva.cli`` and ``cueva --help`` load no command module
and none of the heavy libraries; a command loads only its own module, which imports the
library inside its functions; the listing in ``cueva.cli.COMMANDS`` matches what the modules
register. Numbers: benchmarks/bench_cli_startup.py and docs/benchmarks.md (CLI start-up)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cueva.cli import COMMANDS, load_module
from tests.conftest import invoke

#: Libraries that cost a second or more of CPU to import together.
HEAVY = ("ibis", "pandas", "numpy", "pyarrow", "duckdb", "altair", "weasyprint", "scipy")
#: Command modules whose top-level imports are light (the library is imported per command).
LIGHT_MODULES = ("core", "demo", "funnel", "contract", "gap", "report", "sources", "attribution")


def _loaded_after(code: str) -> dict[str, list[str]]:
    """Run ``code`` in a fresh interpreter; which heavy and command modules it loaded."""
    probe = (
        f"{code}\nimport json, sys\n"
        f"print(json.dumps({{'heavy': [m for m in {HEAVY!r} if m in sys.modules], "
        "'commands': sorted(m for m in sys.modules if m.startswith('cueva.cli.'))}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    return dict(json.loads(out.splitlines()[-1]))


def test_import_cueva_cli_loads_no_heavy_library() -> None:
    got = _loaded_after("import cueva.cli")
    assert got == {"heavy": [], "commands": []}


def test_help_lists_every_command_without_loading_one() -> None:
    code = (
        "import contextlib, io\nfrom cueva.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out, "
        "contextlib.suppress(SystemExit):\n    main(['--help'])\n"
        "assert all(name in out.getvalue() for name in "
        f"{list(COMMANDS)!r}), out.getvalue()"
    )
    assert _loaded_after(code) == {"heavy": [], "commands": []}


@pytest.mark.parametrize("module", LIGHT_MODULES)
def test_command_modules_import_the_library_lazily(module: str) -> None:
    got = _loaded_after(f"from cueva.cli import load_module\nload_module({module!r})")
    assert got["heavy"] == []
    assert f"cueva.cli.{module}" in got["commands"]


def test_the_listing_matches_the_registered_commands() -> None:
    registered: dict[str, tuple[str, str]] = {}
    for module in dict.fromkeys(m for m, _ in COMMANDS.values()):
        for name, cmd in load_module(module).items():
            assert name not in registered, f"{name} registered twice"
            registered[name] = (module, cmd.get_short_help_str(10_000))
    assert registered == COMMANDS


def test_a_command_runs_and_a_typo_gets_a_suggestion(
    capsys: pytest.CaptureFixture[str],
) -> None:
    r = invoke(capsys, "statu", "ws")
    assert r.returncode == 2 and "Did you mean 'status'?" in r.stderr
    r = invoke(capsys, "funnel", "--help")
    assert r.returncode == 0 and "Example: cueva funnel" in r.stdout
    r = invoke(capsys, "contract", "--help")
    assert r.returncode == 0 and "schema" in r.stdout and "sign" in r.stdout
    r = invoke(capsys, "status", "/nonexistent/cueva-ws")
    assert r.returncode == 1 and r.stderr.startswith("error: ")
