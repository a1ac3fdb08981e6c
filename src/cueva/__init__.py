"""Cueva: one shared cave for sales and marketing."""

from __future__ import annotations

from cueva.contract import Contract, load_contract, parse_contract
from cueva.errors import (
    ContractError,
    CuevaError,
    ImportValidationError,
    RowError,
    StoreError,
    UsageError,
    WorkspaceError,
)
from cueva.importer import ImportResult, import_files
from cueva.schema import TABLES
from cueva.store import Store
from cueva.workspace import Workspace

__version__ = "0.1.0"

__all__ = [
    "TABLES",
    "Contract",
    "ContractError",
    "CuevaError",
    "ImportResult",
    "ImportValidationError",
    "RowError",
    "Store",
    "StoreError",
    "UsageError",
    "Workspace",
    "WorkspaceError",
    "__version__",
    "import_files",
    "load_contract",
    "parse_contract",
]
