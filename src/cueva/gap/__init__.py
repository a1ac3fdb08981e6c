"""Joint plan and blame-free gap analysis: the reverse funnel and the LMDI-I decomposition."""

from __future__ import annotations

from cueva.gap.lmdi import lmdi, lmdi_segments, logmean

__all__ = ["lmdi", "lmdi_segments", "logmean"]
