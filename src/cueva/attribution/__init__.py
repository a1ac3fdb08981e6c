"""Multi-touch attribution: rule-based, exact Markov chain and exact Shapley credit.

Only :mod:`cueva.attribution.settings` is imported eagerly (the contract needs it and it is
light); the models and engine code load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from cueva.attribution.settings import MODEL_NAMES, AttributionSettings

_LAZY = {
    "PathSet": "cueva.attribution.paths",
    "read_path_file": "cueva.attribution.paths",
    "paths_from_frame": "cueva.attribution.paths",
    "journeys_from_store": "cueva.attribution.journeys",
    "Journeys": "cueva.attribution.journeys",
    "attribute": "cueva.attribution.report",
    "resolve_models": "cueva.attribution.report",
    "attribute_paths": "cueva.attribution.report",
    "attribute_store": "cueva.attribution.report",
    "AttributionResult": "cueva.attribution.report",
    "heuristic_credit": "cueva.attribution.rules",
    "markov_attribution": "cueva.attribution.markov",
    "MarkovResult": "cueva.attribution.markov",
    "shapley_attribution": "cueva.attribution.shapley",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'cueva.attribution' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = ["MODEL_NAMES", "AttributionSettings", *sorted(_LAZY)]
