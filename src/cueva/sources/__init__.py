"""Bring your own data: Salesforce and HubSpot exports, any CRM through a mapping file, and
warehouse tables (Fivetran dbt models), turned into canonical tables by a small source engine
and imported through :func:`cueva.importer.import_files`.

Every ``import_*`` function returns a :class:`SourceSummary` (rows read, rows per canonical
table, values that did not map, ignored columns, merged and dropped records, currencies and
fx rates used). Values that do not map raise :class:`SourceMappingError` (nothing written)
unless ``quarantine=True``, which imports the rest and keeps the held-back rows in the store's
``_cueva_quarantine`` table (see :func:`quarantined`). ``dry_run=True`` writes nothing.
"""

from __future__ import annotations

from cueva.sources._core import (
    QUARANTINE_TABLE,
    SourceMappingError,
    SourceSummary,
    quarantined,
)
from cueva.sources._engine import SourceReadError
from cueva.sources.hubspot import import_hubspot
from cueva.sources.mapping import (
    MappingError,
    MappingFile,
    import_mapping,
    load_mapping,
    load_value_maps,
)
from cueva.sources.salesforce import import_salesforce
from cueva.sources.suggest import Suggestion, suggest_mapping
from cueva.sources.warehouse import import_warehouse

__all__ = [
    "QUARANTINE_TABLE",
    "MappingError",
    "MappingFile",
    "SourceMappingError",
    "SourceReadError",
    "SourceSummary",
    "Suggestion",
    "import_hubspot",
    "import_mapping",
    "import_salesforce",
    "import_warehouse",
    "load_mapping",
    "load_value_maps",
    "quarantined",
    "suggest_mapping",
]
