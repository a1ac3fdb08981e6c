from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from cueva.workspace import Workspace

#: The project's shared folder (reference data), beside the repository locally and in CI;
#: CUEVA_SHARED overrides it.
SHARED = Path(os.environ.get("CUEVA_SHARED") or Path(__file__).resolve().parents[2] / "shared")


def shared_file(*parts: str) -> Path:
    """A reference file from shared/; a missing one fails the test (it is never skipped)."""
    path = SHARED.joinpath(*parts)
    if not path.is_file():
        pytest.fail(f"reference data {path} is missing (set CUEVA_SHARED to the shared folder)")
    return path


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    """A fresh workspace with the starter contract (timezone Europe/Madrid) and an empty store."""
    ws = Workspace.init(tmp_path / "ws", "Test Co")
    yield ws
    ws.close()


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


class CliResult(NamedTuple):
    """What one ``cueva`` command did: exit code, stdout, stderr (unpacks as a tuple)."""

    code: int
    out: str
    err: str

    @property
    def returncode(self) -> int:
        return self.code

    @property
    def stdout(self) -> str:
        return self.out

    @property
    def stderr(self) -> str:
        return self.err


def invoke(capsys: pytest.CaptureFixture[str], *args: str) -> CliResult:
    """Run the CLI in this process, as the console script does (faster than a subprocess)."""
    from cueva.cli import main

    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    got = capsys.readouterr()
    return CliResult(code, got.out, got.err)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[object]:
    """A real PostgreSQL server for the session (tests/pg.py); missing binaries fail the test."""
    from tests.pg import PgServer

    try:
        server = PgServer.start()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server: object) -> str:
    """The URL of a fresh, empty PostgreSQL database on the session's server."""
    from tests.pg import PgServer

    assert isinstance(pg_server, PgServer)
    return pg_server.new_database()
