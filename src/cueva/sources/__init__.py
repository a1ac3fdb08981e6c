"""Bring your own data: Salesforce and HubSpot exports, any CRM through a mapping file, and
warehouse tables, turned into canonical tables and imported through
:func:`cueva.importer.import_files`."""

from __future__ import annotations

from cueva.sources._core import (
    QUARANTINE_TABLE,
    SourceMappingError,
    SourceSummary,
    quarantined,
)
from cueva.sources._engine import SourceReadError
from cueva.sources.salesforce import import_salesforce

__all__ = [
    "QUARANTINE_TABLE",
    "SourceMappingError",
    "SourceReadError",
    "SourceSummary",
    "import_salesforce",
    "quarantined",
]
