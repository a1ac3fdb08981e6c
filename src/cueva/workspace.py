"""A workspace: a folder holding the contract (``cueva.yaml``) and the store (``cueva.duckdb``,
or the URL of another store in ``store.url``, e.g. a team's PostgreSQL database)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from cueva.contract import CONTRACT_FILE, Contract, load_contract, starter_contract
from cueva.errors import UsageError, WorkspaceError
from cueva.store import STORE_FILE, Store

#: Environment variable naming the store URL when it is not the workspace's DuckDB file.
STORE_ENV = "CUEVA_STORE"
#: File beside the contract naming the workspace's store when it is not its DuckDB file
#: (written by ``cueva init --store URL``; one URL, never a password).
STORE_URL_FILE = "store.url"


def check_store_url(url: str) -> str:
    """``url`` as a workspace may record it: refuses a password written in it."""
    from urllib.parse import urlsplit

    url = url.strip()
    if not url:
        raise UsageError("the store URL is empty")
    if "://" in url:
        try:
            password = urlsplit(url).password
        except ValueError as exc:
            raise UsageError(f"the store URL is not valid: {exc}") from None
        if password is not None:
            raise UsageError(
                "the store URL holds a password, which would be saved in the workspace; "
                "leave it out and give it through PGPASSWORD or ~/.pgpass"
            )
    return url


def recorded_store_url(path: Path) -> str | None:
    """The store URL recorded in the workspace folder ``path`` (None: its DuckDB file)."""
    f = path / STORE_URL_FILE
    if not f.is_file():
        return None
    lines = [ln.strip() for ln in f.read_text(encoding="utf-8").splitlines()]
    urls = [ln for ln in lines if ln and not ln.startswith("#")]
    if len(urls) != 1:
        raise WorkspaceError(f"{f}: expected one store URL line, found {len(urls)}")
    return urls[0]


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
        # The first of: the URL given, CUEVA_STORE, the workspace's store.url, its DuckDB file.
        return cls(p, store_url or os.environ.get(STORE_ENV) or recorded_store_url(p))

    @classmethod
    def init(
        cls,
        path: Path | str,
        company: str | None = None,
        force: bool = False,
        store_url: str | None = None,
    ) -> Workspace:
        """Write a starter contract and create the store's tables. With ``store_url`` (e.g.
        ``postgresql://me@db:5432/cueva``) the workspace records it in ``store.url`` and
        uses that store from then on; without, its own DuckDB file (or the store it already
        recorded, when re-initialised with ``force``)."""
        p = Path(path)
        contract = p / CONTRACT_FILE
        if contract.exists() and not force:
            raise WorkspaceError(f"{contract} exists already (use --force to overwrite it)")
        recorded = p / STORE_URL_FILE
        given = check_store_url(store_url) if store_url else None
        if given:
            Store.open(given).close()  # first: a store that cannot be reached leaves no files
        # Re-initialised (--force) without --store: a recorded store stays the workspace's.
        url = given or (recorded_store_url(p) if p.is_dir() else None)
        p.mkdir(parents=True, exist_ok=True)
        contract.write_text(starter_contract(company or p.resolve().name), encoding="utf-8")
        if given:
            recorded.write_text(
                "# The store of this workspace (written by 'cueva init --store'). No password\n"
                "# here: PostgreSQL reads it from PGPASSWORD or ~/.pgpass.\n" + given + "\n",
                encoding="utf-8",
            )
        ws = cls(p, url)
        ws.store().close()
        ws._store = None
        return ws

    @property
    def contract_path(self) -> Path:
        return self.path / CONTRACT_FILE

    @property
    def store_path(self) -> Path:
        return self.path / STORE_FILE

    @property
    def store_label(self) -> str:
        """Where the store is, for messages: the DuckDB file, or the URL (password hidden)."""
        if not self.store_url:
            return str(self.store_path)
        from cueva.store.postgres import redact

        return redact(self.store_url)

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


__all__ = ["STORE_ENV", "STORE_URL_FILE", "Workspace", "check_store_url", "recorded_store_url"]
