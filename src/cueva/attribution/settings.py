"""Attribution settings: the ``attribution:`` section of the contract (``cueva.yaml``).

Plain data, validated by pydantic with ``extra="forbid"``. This module imports nothing heavy
and nothing from Cueva, so the contract can import it cheaply. Command-line options of
``cueva attribute`` override these values for one run (:meth:`AttributionSettings.override`).
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

ModelName = Literal[
    "first_touch",
    "last_touch",
    "last_non_direct",
    "linear",
    "time_decay",
    "position_based",
    "w_shaped",
    "full_path",
    "custom",
    "markov",
    "shapley",
    "shapley_ordered",
]

#: Every model, in the order of the comparison table.
MODEL_NAMES: tuple[str, ...] = get_args(ModelName)

#: A stage name of the contract's funnel (lead, mql, sql, opportunity, won in the starter).
Milestone = str
Level = Literal["person", "account"]
SourcedRule = Literal[
    "first_touch_marketing", "lead_source", "marketing_touch_before_sales_activity"
]


class AttributionSettings(BaseModel):
    """How marketing and sales agree to credit channels and campaigns."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: ModelName = Field(
        "markov", description="Default model of 'cueva attribute' (see docs/attribution.md)."
    )
    milestone: Milestone = Field(
        "opportunity",
        min_length=1,
        description="The credited conversion: a stage of the funnel, e.g. lead, mql, sql, "
        "opportunity (created) or won.",
    )
    lookback_days: int = Field(
        90, ge=1, le=3650, description="Only touches this many days before the milestone count."
    )
    inactivity_days: int | None = Field(
        None,
        ge=1,
        description="Split a journey after this many days without touches; only the part "
        "before the milestone counts. None: no split.",
    )
    level: Level = Field(
        "person",
        description="person: a person's own touches; account: every person of the account "
        "counts toward the account's opportunities.",
    )
    sourced_rule: SourcedRule = Field(
        "first_touch_marketing",
        description="What makes a conversion marketing-sourced: its first touch is a marketing "
        "channel; the person's lead_source is a marketing channel; or a marketing touch "
        "happened before any sales activity.",
    )
    marketing_channels: list[str] | None = Field(
        None,
        description="Channels that count as marketing (for the sourced rule). None: every "
        "channel except the sales channels.",
    )
    sales_channels: list[str] = Field(
        default_factory=lambda: ["sales", "sales_outreach", "sdr", "direct_sales"],
        description="Channels that are sales' own work, not marketing's.",
    )
    marketing_lead_sources: list[str] | None = Field(
        None,
        description="lead_source values that count as marketing (sourced_rule: lead_source; "
        "case-insensitive). None: any filled lead_source except the sales ones.",
    )
    sales_lead_sources: list[str] = Field(
        default_factory=lambda: ["sales", "outbound", "sdr", "sales prospecting"],
        description="lead_source values that are sales' own prospecting (case-insensitive).",
    )
    direct_channels: list[str] = Field(
        default_factory=lambda: ["direct"],
        description="Channels skipped by last_non_direct (unless a journey has nothing else).",
    )
    half_life_days: float = Field(
        7.0,
        gt=0,
        description="Time decay: a touch this many days before the milestone "
        "weighs half as much as one at the milestone.",
    )
    position_weights: tuple[float, float, float] = Field(
        (0.4, 0.2, 0.4),
        description="Position-based (U-shaped): first, middle (shared), last; sums to 1.",
    )
    w_shaped_weights: tuple[float, float, float, float] = Field(
        (0.3, 0.3, 0.3, 0.1),
        description="W-shaped: first touch, lead-creation touch, opportunity-creation touch, "
        "rest (shared by the other touches); sums to 1.",
    )
    full_path_weights: tuple[float, float, float, float, float] = Field(
        (0.225, 0.225, 0.225, 0.225, 0.1),
        description="Full path: first touch, lead creation, opportunity creation, close, rest.",
    )
    custom_weights: list[float] = Field(
        default_factory=lambda: [0.5, 0.5],
        min_length=2,
        description="Custom position weights: first entries from the first touch, the last "
        "entry for the last touch, the middle entries spread over the middle touches "
        "(see docs/attribution.md). Normalised per journey.",
    )
    markov_order: int = Field(1, ge=1, le=6, description="Order of the Markov chain.")
    shapley_value: Literal["conversions", "conversion_rate"] = Field(
        "conversions",
        description="Value of a channel coalition for Shapley: the conversions of journeys "
        "using only its channels, or their conversion rate (see docs/attribution.md).",
    )
    markov_collapse_repeats: bool = Field(
        False,
        description="Merge consecutive repeats of a channel before building the order-k "
        "states. No effect at order 1; at order 2 and more it changes the chain "
        "(ChannelAttribution does not merge them).",
    )

    @model_validator(mode="after")
    def _weights(self) -> AttributionSettings:
        for name in ("position_weights", "w_shaped_weights", "full_path_weights"):
            w = getattr(self, name)
            if any(x < 0 for x in w) or abs(sum(w) - 1.0) > 1e-9:
                raise ValueError(f"{name} must be non-negative and sum to 1, got {list(w)}")
        if any(x < 0 for x in self.custom_weights) or sum(self.custom_weights) <= 0:
            raise ValueError("custom_weights must be non-negative with a positive sum")
        return self

    def override(self, **changes: Any) -> AttributionSettings:
        """A copy with the given (non-None) values replaced and validated again."""
        data = self.model_dump()
        data.update({k: v for k, v in changes.items() if v is not None})
        return AttributionSettings.model_validate(data)


__all__ = ["MODEL_NAMES", "AttributionSettings", "Level", "Milestone", "ModelName", "SourcedRule"]
