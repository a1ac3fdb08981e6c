"""The demo company, Altamira Cloud S.L.: 24 months of a B2B SaaS vendor's CRM, marketing and
billing data with planted truths that Cueva's metrics must find.

``generate(seed, scale)`` returns the canonical tables; ``write_demo(dir, seed, scale)`` writes
them as Parquet; ``create_demo(dir, ...)`` makes a ready workspace (what ``cueva demo`` runs).
Every parameter, and the planted truths, live in :mod:`cueva.demo.truths`.
"""

from __future__ import annotations

from cueva.demo import truths
from cueva.demo.generator import SCALES, Calendar, Scale, generate
from cueva.demo.writer import DemoResult, create_demo, demo_contract_text, write_demo

__all__ = [
    "SCALES",
    "Calendar",
    "DemoResult",
    "Scale",
    "create_demo",
    "demo_contract_text",
    "generate",
    "truths",
    "write_demo",
]
