"""The top-level public API is a deliberate list: adding or removing a name is a decision."""

from __future__ import annotations

import cueva


def test_all_is_pinned() -> None:
    assert cueva.__all__ == [
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


def test_every_exported_name_exists_and_errors_share_one_root() -> None:
    for name in cueva.__all__:
        assert hasattr(cueva, name), name
    for name in (
        "ContractError",
        "ImportValidationError",
        "StoreError",
        "UsageError",
        "WorkspaceError",
    ):
        assert issubclass(getattr(cueva, name), cueva.CuevaError)
    assert issubclass(cueva.ContractError, ValueError)
    assert issubclass(cueva.WorkspaceError, FileNotFoundError)
