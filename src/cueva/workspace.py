"""A workspace: a folder holding the contract (``cueva.yaml``) and the store (``cueva.duckdb``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from cueva.contract import CONTRACT_FILE, Contract, load_contract, starter_contract
from cueva.errors import WorkspaceError
from cueva.store import STORE_FILE, Store

#: Environment variable naming the store URL when it is not the workspace's DuckDB file.
STORE_ENV = "CUEVA_STORE"


@dataclass
class Workspace:
    path: Path
    store_url: str | None = None
    _store: Store | None = field(default=None, init=False, repr=False)

    @classmethod
    def open(cls, path: Path | str, store_url: str | None = None) -> Workspace:
        p = Path(path)
        if not p.is_dir():
            raise WorkspaceError(
                f"{p}: no such workspace folder (create one with 'cueva init {p}')"
            )
        if not (p / CONTRACT_FILE).is_file():
            raise WorkspaceError(f"{p}: no {CONTRACT_FILE} here (create one with 'cueva init {p}')")
        return cls(p, store_url or os.environ.get(STORE_ENV) or None)

    @classmethod
    def init(cls, path: Path | str, company: str | None = None, force: bool = False) -> Workspace:
        p = Path(path)
        p.mkdir(parents=True, exist_ok=True)
        contract = p / CONTRACT_FILE
        if contract.exists() and not force:
            raise WorkspaceError(f"{contract} exists already (use --force to overwrite it)")
        contract.write_text(starter_contract(company or p.resolve().name), encoding="utf-8")
        ws = cls(p)
        ws.store().close()
        ws._store = None
        return ws

    @property
    def contract_path(self) -> Path:
        return self.path / CONTRACT_FILE

    @property
    def store_path(self) -> Path:
        return self.path / STORE_FILE

    @cached_property
    def contract(self) -> Contract:
        return load_contract(self.contract_path)

    def store(self) -> Store:
        if self._store is None:
            self._store = Store.for_workspace(self.path, self.store_url)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["STORE_ENV", "Workspace"]
