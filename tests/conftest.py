from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cueva.workspace import Workspace


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
