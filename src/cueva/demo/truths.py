"""Every parameter of the demo company, with the planted truths in one block.

The demo company is *Altamira Cloud S.L.*, a Madrid B2B SaaS vendor of field-service software
selling to companies in Spain, Portugal, Latin America, the US and Europe. The generator
(:mod:`cueva.demo.generator`) draws every row from the distributions below; nothing else in the
package holds a number of the model. ``docs/demo.md`` restates the planted truths with the values
measured on the generated data.

Times are wall-clock times in Europe/Madrid (the demo contract's timezone). "Business hours"
means Monday to Friday, 09:00 to 18:00, except Spanish national holidays and those of the
Community of Madrid (``holidays.country_holidays("ES", subdiv="MD")``).
"""

from __future__ import annotations

from typing import Final

# --------------------------------------------------------------------------- the period

START: Final = "2024-12-01"  # first day (inclusive)
END: Final = "2026-11-30"  # last day (inclusive); 730 days, 24 calendar months
TIMEZONE: Final = "Europe/Madrid"
CURRENCY: Final = "EUR"
COMPANY: Final = "Altamira Cloud S.L."

# Business calendar used for first-response times.
OPEN_HOUR: Final = 9
CLOSE_HOUR: Final = 18
HOLIDAY_COUNTRY: Final = "ES"
HOLIDAY_SUBDIV: Final = "MD"

# --------------------------------------------------------------------------- channels

#: Acquisition channels (people.channel) and touchpoint channels. organic and direct have no
#: campaigns and no spend.
CHANNELS: Final = (
    "paid_search",
    "paid_social",
    "events",
    "webinar",
    "content",
    "email",
    "referral",
    "partner",
    "organic",
    "direct",
)
#: Share of new leads by acquisition channel (before the planted drop).
LEAD_SHARE: Final = (0.22, 0.14, 0.08, 0.07, 0.12, 0.06, 0.05, 0.06, 0.13, 0.07)
#: P(lead becomes MQL) by acquisition channel.
P_MQL: Final = (0.32, 0.25, 0.40, 0.38, 0.22, 0.30, 0.50, 0.42, 0.30, 0.35)
#: P(MQL accepted by sales = reaches SQL) by acquisition channel, for people without a webinar
#: touch; multiplied by WEBINAR_LIFT for people with one.
P_SQL: Final = (0.50, 0.44, 0.55, 0.45, 0.40, 0.42, 0.55, 0.50, 0.45, 0.45)
#: P(a person also engages a channel other than the one that acquired them). Independent of the
#: acquisition channel, so the lift below leaves the channel ratios of truth 1 intact.
P_ENGAGE: Final = (0.12, 0.15, 0.06, 0.35, 0.20, 0.25, 0.02, 0.03, 0.15, 0.10)
#: Marketing touches per engaged channel: 1 + Poisson(TOUCHES_PER_CHANNEL), plus one "form"
#: touch at lead creation in the acquisition channel.
TOUCHES_PER_CHANNEL: Final = 2.9
#: Touches fall in [created - 45 days, SQL time] for people who reach SQL, else in
#: [created - 45 days, created + 90 days], clipped to the period.
TOUCH_DAYS_BEFORE: Final = 45
TOUCH_DAYS_AFTER: Final = 90
#: Cost per lead used to size each channel's spend (EUR).
COST_PER_LEAD: Final = (95.0, 70.0, 260.0, 55.0, 40.0, 12.0, 45.0, 150.0, 0.0, 0.0)

# --------------------------------------------------------------------------- volume

#: Lead volume grows by this factor per month (trend).
MONTHLY_GROWTH: Final = 0.012
#: Seasonality of lead volume by calendar month (Jan..Dec).
MONTH_FACTOR: Final = (0.95, 1.0, 1.05, 1.0, 1.02, 1.0, 0.88, 0.55, 1.0, 1.08, 1.05, 0.9)
#: From 22 December to 6 January the factor is this instead.
HOLIDAY_SEASON_FACTOR: Final = 0.45
#: Weekday factors (Mon..Sun) and the factor on a public holiday.
WEEKDAY_FACTOR: Final = (1.05, 1.1, 1.1, 1.05, 0.9, 0.3, 0.25)
PUBLIC_HOLIDAY_FACTOR: Final = 0.3
#: Hour-of-day weights of lead creation (0..23 h): most in office hours, about 1 in 5 at night.
HOURLY_WEIGHT: Final = (
    0.5, 0.3, 0.2, 0.2, 0.2, 0.3, 0.6, 1.2, 2.5, 4.0, 4.6, 4.6,
    4.0, 3.2, 3.4, 4.2, 4.2, 3.6, 2.8, 2.0, 1.6, 1.4, 1.1, 0.8,
)  # fmt: skip

# --------------------------------------------------------------------------- the funnel

#: Days from lead to MQL: lognormal (median, sigma).
MQL_LAG_DAYS: Final = (2.0, 1.2)
#: Days from the first human contact to SQL (accepted) or to rejection.
SQL_LAG_DAYS: Final = (1.5, 0.8)
REJECT_LAG_DAYS: Final = (3.0, 0.8)
#: Share of MQLs sales does not accept that never get a human contact at all.
NO_CONTACT_SHARE: Final = 0.10
#: Share of not-accepted, contacted MQLs that sales marks 'rejected' (the rest stall silently).
REJECTED_SHARE: Final = 0.75
REJECTION_REASONS: Final = (
    "not a fit: too small",
    "no budget",
    "student or job seeker",
    "competitor",
    "wrong contact",
    "already a customer",
    "no project",
)
#: P(SQL becomes a new-business opportunity) and days from SQL to opportunity.
P_OPPORTUNITY: Final = 0.70
OPPORTUNITY_LAG_DAYS: Final = (6.0, 0.6)
#: The pipeline open on the first day: new-business deals created in the days before it (at
#: the rate of the first months' SQLs; no person, since their leads predate the data) that were
#: still open on 2024-12-01.
OPEN_PIPELINE_DAYS: Final = 240

SEGMENTS: Final = ("SMB", "mid-market", "enterprise")
SEGMENT_SHARE: Final = (0.60, 0.30, 0.10)  # of accounts
PEOPLE_WEIGHT: Final = (1.0, 3.0, 8.0)  # relative number of people per account
EMPLOYEES_MEDIAN: Final = (40, 450, 5000)
#: New-business annual contract value (EUR): lognormal (median, sigma) by segment.
DEAL_AMOUNT: Final = ((8_000.0, 0.5), (30_000.0, 0.5), (110_000.0, 0.55))
GROSS_MARGIN_RATE: Final = (0.80, 0.76, 0.70)  # mean by segment, sd 0.03
#: Sales cycle, created to close, in days: lognormal (median, sigma) by segment; minimum 7.
CYCLE_DAYS: Final = ((35.0, 0.45), (65.0, 0.45), (120.0, 0.45))
#: P(win) of new-business deals by segment, on trend.
P_WIN: Final = (0.32, 0.30, 0.24)
P_WIN_EXPANSION: Final = 0.50
P_WIN_RENEWAL: Final = 0.85
#: Quarter-end push: this share of deals move their close date into the last 10 days of the
#: quarter they would close in.
QUARTER_END_PUSH: Final = 0.30
LOST_REASONS: Final = (
    "price",
    "no decision",
    "competitor",
    "timing",
    "missing feature",
    "no budget",
)
LOST_REASON_SHARE: Final = (0.22, 0.28, 0.18, 0.14, 0.12, 0.06)

# --------------------------------------------------------------------------- customers

#: Share of accounts that are customers before the period starts (the installed base), their
#: monthly recurring revenue by segment (lognormal median, sigma 0.5), and their first
#: renewal month (months after December 2024, uniform).
INSTALLED_BASE_SHARE: Final = 0.08
INSTALLED_MRR: Final = (700.0, 2_600.0, 9_500.0)
INSTALLED_RENEWAL_MONTHS: Final = (2, 13)
#: Annual contracts: a renewal opportunity opens 60 days before each anniversary; a lost
#: renewal ends the subscription at the anniversary.
RENEWAL_LEAD_DAYS: Final = 60
#: Expansion opportunities per customer-month, their size (share of the annual contract
#: value, uniform) and their cycle (lognormal median days, sigma).
EXPANSION_RATE: Final = 0.04
EXPANSION_SIZE: Final = (0.15, 0.5)
EXPANSION_CYCLE_DAYS: Final = (30.0, 0.4)

# --------------------------------------------------------------------------- sales team

#: Business-hours wait from MQL to the first human contact: lognormal (median hours, sigma)
#: for each sales rep, in owner order R01, R02, ... (the list repeats for larger scales).
REP_RESPONSE_HOURS: Final = (
    (0.8, 0.8),
    (1.2, 0.8),
    (6.0, 0.6),  # R03, the slow rep (PLANTED truth 2)
    (0.6, 0.8),
    (1.0, 0.8),
    (1.5, 0.8),
)

# =========================================================================== PLANTED TRUTHS
# Later features must find these in the data. docs/demo.md states them with measured values.

#: 1. Channel quality: events leads reach SQL twice as often as paid_social leads.
#:    lead->MQL: events 0.40 vs paid_social 0.25; MQL->SQL: 0.55 vs 0.44 (before the webinar
#:    lift, which multiplies both by the same 1 + 0.35 * 0.8 on average), so lead->SQL is
#:    exactly 2x in expectation: 0.2816 vs 0.1408.
STRONG_CHANNEL: Final = "events"
WEAK_CHANNEL: Final = "paid_social"
#: 2. The slow rep: R03 Diego Ruiz answers MQLs after a lognormal business-hours wait with
#:    median 6.0 h (sigma 0.6: p90 = 12.9 h); the other reps' medians are 0.6-1.5 h (sigma 0.8).
SLOW_REP_ID: Final = "R03"
SLOW_REP_NAME: Final = "Diego Ruiz"
#: 3. A six-week drop: paid_search lead volume at 40% of trend (-60%) from Monday 2025-10-06
#:    to Sunday 2025-11-16 (a broken tracking tag on the landing pages; spend runs on as usual).
DROP_CHANNEL: Final = "paid_search"
DROP_START: Final = "2025-10-06"
DROP_END: Final = "2025-11-16"  # inclusive
DROP_FACTOR: Final = 0.40
#: 4. The missed quarter: new-business and expansion deals that close in 2026-Q2 win with
#:    0.65x their usual probability (new business about 30% -> 19.5%); a competitor's price cut
#:    makes "competitor" the reason for 40% of those losses (18% otherwise). Lead volume,
#:    conversion, deal size and cycle stay on trend.
MISSED_QUARTER_START: Final = "2026-04-01"
MISSED_QUARTER_END: Final = "2026-06-30"
MISSED_QUARTER_WIN_FACTOR: Final = 0.65
MISSED_QUARTER_COMPETITOR_SHARE: Final = 0.40
#: 5. The channel whose touches raise conversion most: an MQL whose journey has a webinar
#:    touch is accepted (reaches SQL) 1.8x as often. No other channel's touches change any
#:    probability. Touches of people who reach SQL all happen before the SQL.
LIFT_CHANNEL: Final = "webinar"
WEBINAR_LIFT: Final = 1.8
#: 6. Feedback: 60% of rejected MQLs carry a rejection_reason (people extra column).
REASON_SHARE: Final = 0.60

__all__ = [name for name in dir() if name.isupper()]
