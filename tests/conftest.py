from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

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
