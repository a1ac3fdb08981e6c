from __future__ import annotations

import re
from pathlib import Path

import pytest

from cueva.metrics.registry import METRICS, metric, rate_columns

DOC = Path(__file__).resolve().parents[1] / "docs" / "metrics.md"


def test_every_metric_is_documented_with_its_unit_owner_and_direction() -> None:
    text = DOC.read_text(encoding="utf-8")
    for m in METRICS.values():
        row = re.search(
            rf"^\| `{re.escape(m.name)}` \| (\w+) \| (\w+) \| (\w+) \| (.+) \|$", text, re.M
        )
        assert row is not None, f"{m.name} is not in a table row of docs/metrics.md"
        unit, owner, good, definition = row.groups()
        assert (unit, owner) == (m.unit, m.owner), m.name
        assert good == ("higher" if m.higher_is_better else "lower"), m.name
        assert len(definition) > 20


def test_metric_definitions_are_complete() -> None:
    for name, m in METRICS.items():
        assert name == m.name
        assert m.owner in ("marketing", "sales", "shared")
        assert m.definition.endswith(".") and "\n" not in m.definition
        module, _, func = m.builder.partition(":")
        mod = __import__(module, fromlist=[func])
        assert callable(getattr(mod, func)), m.builder
    assert metric("win_rate").unit == "rate"
    assert "conversion_cohort" in rate_columns() and "avg_deal_size" not in rate_columns()
    with pytest.raises(KeyError, match="unknown metric 'winrate'"):
        metric("winrate")


def test_standard_definitions_are_stated() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert "won / (won + lost)" in text
    assert "amount won / (amount won + amount lost)" in text
