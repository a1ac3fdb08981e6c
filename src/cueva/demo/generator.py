"""Generate the demo company: every canonical table as a pyarrow Table, vectorised with numpy.

All randomness comes from one ``numpy.random.Generator`` seeded by the caller, and draws happen
in a fixed order, so a seed and a scale give identical tables. Rows are never built one by one:
each step draws whole columns at once. The only Python loops run over channels, campaigns and
stages (a few dozen items, the same at every scale).

Times are seconds since 2024-12-01 00:00 wall-clock Europe/Madrid (float64) until the tables
are assembled; then they become naive ``timestamp[us]`` columns (wall-clock time in the
contract's timezone, as the canonical schema stores them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import holidays
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cueva.demo import truths as T
from cueva.errors import UsageError

DAY = 86_400.0
HOUR = 3_600.0
START_D = np.datetime64(T.START, "D")
N_DAYS = int((np.datetime64(T.END, "D") - START_D).astype(int)) + 1
END_S = N_DAYS * DAY  # 2026-12-01 00:00: every event happens before this
N_MONTHS = 24
MONTH0 = np.datetime64(T.START[:7], "M")
_START_US = START_D.astype("datetime64[us]").astype(np.int64)
C = len(T.CHANNELS)
CH = {name: i for i, name in enumerate(T.CHANNELS)}


@dataclass(frozen=True)
class Scale:
    """How big the demo company is."""

    name: str
    people: int
    reps: int


SCALES: dict[str, Scale] = {
    "small": Scale("small", 5_000, 6),
    "medium": Scale("medium", 50_000, 12),
    "large": Scale("large", 1_000_000, 40),
}


def scale_of(scale: str | Scale) -> Scale:
    if isinstance(scale, Scale):
        return scale
    try:
        return SCALES[scale]
    except KeyError:
        raise UsageError(f"unknown scale {scale!r}; choose one of: {', '.join(SCALES)}") from None


# --------------------------------------------------------------------------- helpers


def _days(date: str) -> int:
    return int((np.datetime64(date, "D") - START_D).astype(int))


def _lognormal(rng: np.random.Generator, median: Any, sigma: Any, size: int) -> np.ndarray:
    return np.exp(np.log(median) + sigma * rng.standard_normal(size))


def _ids(prefix: str, n: int, width: int) -> pa.Array:
    nums = pc.cast(pa.array(np.arange(1, n + 1, dtype=np.int64)), pa.string())
    return pc.binary_join_element_wise(prefix, pc.utf8_lpad(nums, width=width, padding="0"), "")


def _take(
    values: pa.Array | list[str] | tuple[str, ...], idx: np.ndarray, valid: Any = None
) -> pa.Array:
    """``values[idx]`` as a string column; null where ``valid`` is False."""
    arr = values if isinstance(values, pa.Array) else pa.array(list(values), pa.string())
    indices = pa.array(idx.astype(np.int64), mask=None if valid is None else ~np.asarray(valid))
    return arr.take(indices)


def _weekday0() -> int:
    """Weekday (Monday = 0) of the first day."""
    return int((START_D.astype(np.int64) + 3) % 7)


def _dst_gaps() -> np.ndarray:
    """Day offsets of the spring-forward days (last Sunday of March), when 02:00-03:00 does not
    exist in Europe/Madrid."""
    years = np.arange(int(T.START[:4]), int(T.END[:4]) + 2)
    march31 = np.array([f"{y}-03-31" for y in years], dtype="datetime64[D]")
    offset = (march31 - START_D).astype(np.int64)
    return offset - (offset + _weekday0() - 6) % 7  # weekday 6 = Sunday


_DST_GAPS = _dst_gaps()


def _ts(seconds: np.ndarray, valid: Any = None) -> pa.Array:
    """Naive wall-clock timestamps; a time in the spring-forward gap moves one hour later (as
    a clock would read it), so every value exists in the contract's timezone."""
    s = np.round(seconds)
    in_gap = (
        np.isin(np.floor(s / DAY), _DST_GAPS) & ((s % DAY) >= 2 * HOUR) & ((s % DAY) < 3 * HOUR)
    )
    s = np.where(in_gap, s + HOUR, s)
    us = _START_US + s.astype(np.int64) * 1_000_000
    return pa.array(us, pa.timestamp("us"), mask=None if valid is None else ~np.asarray(valid))


def _date(days: np.ndarray, valid: Any = None) -> pa.Array:
    d = (START_D + days.astype(np.int64)).astype("datetime64[D]")
    return pa.array(d, pa.date32(), mask=None if valid is None else ~np.asarray(valid))


def _month_of_day(days: np.ndarray) -> np.ndarray:
    """Month index (0 = December 2024) of day offsets."""
    return ((START_D + days.astype(np.int64)).astype("datetime64[M]") - MONTH0).astype(np.int64)


def _month_start_day(months: np.ndarray) -> np.ndarray:
    return ((MONTH0 + months.astype(np.int64)).astype("datetime64[D]") - START_D).astype(np.int64)


class Calendar:
    """Business hours (Mon-Fri 09:00-18:00, Spanish and Madrid holidays) as a sorted array of
    openings, so that adding business time to many instants is two ``searchsorted`` calls."""

    def __init__(self) -> None:
        years = range(int(T.START[:4]) - 1, int(T.END[:4]) + 2)
        hol = holidays.country_holidays(T.HOLIDAY_COUNTRY, subdiv=T.HOLIDAY_SUBDIV, years=years)
        self.holidays = np.array(sorted(hol), dtype="datetime64[D]")
        days = np.arange(-14, N_DAYS + 400)
        dates = START_D + days
        weekday = (dates.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        business = (weekday < 5) & ~np.isin(dates, self.holidays)
        self.span = (T.CLOSE_HOUR - T.OPEN_HOUR) * HOUR
        self.opens = days[business] * DAY + T.OPEN_HOUR * HOUR

    def to_business(self, t: np.ndarray) -> np.ndarray:
        """Business seconds elapsed from the first opening to each instant ``t``."""
        k = np.maximum(np.searchsorted(self.opens, t, side="right") - 1, 0)
        return k * self.span + np.clip(t - self.opens[k], 0.0, self.span)

    def from_business(self, b: np.ndarray) -> np.ndarray:
        k = np.floor(b / self.span).astype(np.int64)
        return self.opens[k] + (b - k * self.span)

    def add(self, t: np.ndarray, business_seconds: np.ndarray) -> np.ndarray:
        """The instant ``business_seconds`` of business time after ``t`` (a ``t`` outside
        business hours starts counting at the next opening)."""
        return self.from_business(self.to_business(t) + business_seconds)

    def is_holiday(self, days: np.ndarray) -> np.ndarray:
        return np.isin(START_D + days, self.holidays)


def _weekday(days: np.ndarray) -> np.ndarray:
    return ((START_D + days).astype(np.int64) + 3) % 7


def _office_time(rng: np.random.Generator, day: np.ndarray) -> np.ndarray:
    """A time during office hours on ``day`` (moved from a weekend to the Monday after)."""
    wd = _weekday(day)
    day = day + np.where(wd >= 5, 7 - wd, 0)
    return (
        day * DAY + T.OPEN_HOUR * HOUR + rng.random(day.size) * (T.CLOSE_HOUR - T.OPEN_HOUR) * HOUR
    )


# --------------------------------------------------------------------------- names

FIRST_NAMES = (
    "Lucía", "Javier", "Diego", "Marta", "João", "Carmen", "Andrés", "Sofía", "Pablo", "Inés",
    "Miguel", "Laura", "Tiago", "Elena", "Jorge", "Ana", "Raúl", "Beatriz", "Hugo", "Paula",
    "Klaus", "Valeria", "Ricardo", "Nuria", "Mateo", "Clara", "Fernando", "Rosa", "Iker", "Alba",
)  # fmt: skip
LAST_NAMES = (
    "García", "Martín", "Ruiz", "Sánchez", "Costa", "López", "Herrera", "Navarro", "Ortega",
    "Silva", "Moreno", "Castro", "Ferreira", "Vidal", "Romero", "Gil", "Molina", "Santos",
    "Delgado", "Peña", "Weber", "Torres", "Ramos", "Iglesias", "Cano", "Rubio", "Prieto", "Vega",
    "Medina", "Soler",
)  # fmt: skip
ACCOUNT_WORDS_A = (
    "Norte", "Sur", "Atlas", "Brisa", "Cierzo", "Delta", "Ebro", "Faro", "Granito", "Halcon",
    "Iberia", "Jara", "Lince", "Mistral", "Nimbus", "Olivo", "Prisma", "Quercus", "Roble",
    "Sierra", "Tajo", "Umbral", "Vega", "Xaloc", "Zenit", "Alba", "Bruma", "Cobalto", "Duna",
    "Estela",
)  # fmt: skip
ACCOUNT_WORDS_B = (
    "Logistics", "Energia", "Foods", "Clinic", "Retail", "Systems", "Industrial", "Hotels",
    "Telecom", "Labs", "Motors", "Water", "Facilities", "Construction", "Pharma", "Solar",
    "Transport", "Security", "Textil", "Agro", "Metal", "Elevators", "Cooling", "Print",
    "Services", "Robotics", "Marine", "Health", "Media", "Capital",
)  # fmt: skip
INDUSTRIES = (
    "manufacturing", "facilities management", "utilities", "healthcare", "retail", "logistics",
    "construction", "hospitality", "telecommunications", "professional services",
)  # fmt: skip
INDUSTRY_SHARE = (0.18, 0.15, 0.10, 0.09, 0.09, 0.10, 0.10, 0.06, 0.05, 0.08)
COUNTRIES = ("ES", "PT", "MX", "US", "DE", "FR", "GB", "IT", "CO")
COUNTRY_SHARE = (0.34, 0.10, 0.12, 0.17, 0.09, 0.06, 0.05, 0.04, 0.03)
COUNTRY_SUFFIX = ("S.L.", "Lda.", "S.A. de C.V.", "Inc.", "GmbH", "SAS", "Ltd", "S.r.l.", "S.A.S.")
COUNTRY_TLD = (".es", ".pt", ".mx", ".com", ".de", ".fr", ".co.uk", ".it", ".co")
LEAD_SOURCES = (
    ("Google Ads", "Paid Search"),
    ("LinkedIn Ads", "Paid Social"),
    ("Trade Show", "Event"),
    ("Webinar", "Webinar"),
    ("Content Download", "eBook"),
    ("Email", "Newsletter"),
    ("Customer Referral", "Referral"),
    ("Partner", "Partner Portal"),
    ("Organic Search", "Web"),
    ("Website", "Direct"),
)
TOUCH_TYPE = (
    "click", "click", "visit", "attend", "download", "email_click", "referral", "referral",
    "visit", "visit",
)  # fmt: skip
#: Marketing owner of leads that sales has not taken, by acquisition channel (M02..M05).
MARKETING_OWNER = (1, 1, 2, 3, 3, 3, 4, 4, 1, 1)
MARKETERS = (
    ("M01", "Carmen Vidal", None, "Head of Marketing"),
    ("M02", "Javier Ortega", "M01", "Demand generation"),
    ("M03", "Beatriz Molina", "M01", "Events"),
    ("M04", "Tiago Ferreira", "M01", "Content and webinars"),
    ("M05", "Alba Soler", "M01", "Partners and referrals"),
)
OPP_STAGES = ("discovery", "proposal", "negotiation")


# --------------------------------------------------------------------------- the generator


def generate(seed: int = 7, scale: str | Scale = "medium") -> dict[str, pa.Table]:
    """The demo company's canonical tables, keyed by table name.

    Deterministic: the same ``seed`` and ``scale`` give identical tables. See
    :mod:`cueva.demo.truths` for every parameter and the planted truths.
    """
    sc = scale_of(scale)
    rng = np.random.default_rng(seed)
    cal = Calendar()
    n = sc.people

    # ---------------------------------------------------------------- owners
    n_reps = max(sc.reps, 3)
    rep_ids = _ids("R", n_reps, 2)
    first = np.arange(n_reps) * 7 % len(FIRST_NAMES)
    last = (np.arange(n_reps) * 11 + 3) % len(LAST_NAMES)
    rep_names = pc.binary_join_element_wise(
        _take(FIRST_NAMES, first), _take(LAST_NAMES, last), " "
    ).to_pylist()
    slow = int(T.SLOW_REP_ID[1:]) - 1
    rep_names[slow] = T.SLOW_REP_NAME
    rep_manager = np.where(np.arange(n_reps) % 2 == 0, "S01", "S02")
    owner_ids = [m[0] for m in MARKETERS] + ["S00", "S01", "S02", *rep_ids.to_pylist()]
    owner_names = [m[1] for m in MARKETERS] + [
        "Ricardo Santos",
        "Nuria Iglesias",
        "Klaus Weber",
        *rep_names,
    ]
    owners = pa.table(
        {
            "owner_id": pa.array(owner_ids, pa.string()),
            "name": pa.array(owner_names, pa.string()),
            "team": pa.array(["marketing"] * len(MARKETERS) + ["sales"] * (3 + n_reps)),
            "manager_id": pa.array(
                [m[2] for m in MARKETERS] + [None, "S00", "S00", *rep_manager.tolist()],
                pa.string(),
            ),
            "email": pa.array(
                [
                    _email_of(name)
                    for name in owner_names  # one per owner: a few dozen, not data rows
                ],
                pa.string(),
            ),
            "role": pa.array(
                [m[3] for m in MARKETERS]
                + ["VP Sales", "Sales manager", "Sales manager"]
                + ["Account executive"] * n_reps,
                pa.string(),
            ),
        }
    )
    rep_median = np.array(
        [T.REP_RESPONSE_HOURS[i % len(T.REP_RESPONSE_HOURS)][0] for i in range(n_reps)]
    )
    rep_sigma = np.array(
        [T.REP_RESPONSE_HOURS[i % len(T.REP_RESPONSE_HOURS)][1] for i in range(n_reps)]
    )
    # Only R03 is slow: the repeated list would make R09, R15, ... slow too.
    repeats_slow = (np.arange(n_reps) % len(T.REP_RESPONSE_HOURS) == slow) & (
        np.arange(n_reps) != slow
    )
    rep_median[repeats_slow] = 1.1
    rep_sigma[repeats_slow] = 0.8

    # ---------------------------------------------------------------- accounts
    n_acc = max(n // 5, 50)
    seg = rng.choice(3, n_acc, p=T.SEGMENT_SHARE)
    country = rng.choice(len(COUNTRIES), n_acc, p=COUNTRY_SHARE)
    industry = rng.choice(len(INDUSTRIES), n_acc, p=INDUSTRY_SHARE)
    employees = np.maximum(
        np.round(_lognormal(rng, np.array(T.EMPLOYEES_MEDIAN)[seg], 0.6, n_acc)), 2
    ).astype(np.int64)
    combo = rng.permutation(n_acc)
    n_wa, n_wb = len(ACCOUNT_WORDS_A), len(ACCOUNT_WORDS_B)
    base_name = pc.binary_join_element_wise(
        _take(ACCOUNT_WORDS_A, combo % n_wa), _take(ACCOUNT_WORDS_B, (combo // n_wa) % n_wb), " "
    )
    series = combo // (n_wa * n_wb)
    series_txt = pc.cast(pa.array(series + 1), pa.string())
    base_name = pc.if_else(
        pa.array(series > 0), pc.binary_join_element_wise(base_name, series_txt, " "), base_name
    )
    acc_name = pc.binary_join_element_wise(base_name, _take(COUNTRY_SUFFIX, country), " ")
    slug = pc.utf8_lower(pc.replace_substring(base_name, " ", ""))
    domain = pc.binary_join_element_wise(slug, _take(COUNTRY_TLD, country), "")
    acc_owner = rng.integers(n_reps, size=n_acc)
    acc_ids = _ids("A", n_acc, 6)
    installed = rng.random(n_acc) < T.INSTALLED_BASE_SHARE

    # ---------------------------------------------------------------- leads (people)
    day = np.arange(N_DAYS)
    dates = START_D + day
    cal_month = dates.astype("datetime64[M]").astype(np.int64) % 12
    dom = (dates - dates.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    w_day = np.array(T.MONTH_FACTOR)[cal_month]
    season = ((cal_month == 11) & (dom >= 22)) | ((cal_month == 0) & (dom <= 6))
    w_day = np.where(season, T.HOLIDAY_SEASON_FACTOR, w_day)
    w_day = w_day * np.array(T.WEEKDAY_FACTOR)[_weekday(day)]
    w_day = np.where(cal.is_holiday(day), w_day * T.PUBLIC_HOLIDAY_FACTOR, w_day)
    w_day = w_day * (1 + T.MONTHLY_GROWTH) ** _month_of_day(day)
    w = w_day[:, None] * np.array(T.LEAD_SHARE)[None, :]
    drop = (day >= _days(T.DROP_START)) & (day <= _days(T.DROP_END))
    w[drop, CH[T.DROP_CHANNEL]] *= T.DROP_FACTOR
    cell = rng.choice(w.size, size=n, p=(w / w.sum()).ravel())
    hourly = np.array(T.HOURLY_WEIGHT) / sum(T.HOURLY_WEIGHT)
    hour = rng.choice(24, size=n, p=hourly)
    created = (cell // C) * DAY + (hour + rng.random(n)) * HOUR
    order = np.argsort(created, kind="stable")
    created = created[order]
    ch = (cell % C)[order]
    p_acc = np.array(T.PEOPLE_WEIGHT)[seg]
    acc = rng.choice(n_acc, size=n, p=p_acc / p_acc.sum())

    # ---------------------------------------------------------------- the funnel
    engaged = rng.random((n, C)) < np.array(T.P_ENGAGE)[None, :]
    engaged[np.arange(n), ch] = True
    webinar = engaged[:, CH[T.LIFT_CHANNEL]]

    mql_at = created + _lognormal(rng, T.MQL_LAG_DAYS[0] * DAY, T.MQL_LAG_DAYS[1], n)
    is_mql = (rng.random(n) < np.array(T.P_MQL)[ch]) & (mql_at < END_S)
    rep = rng.integers(n_reps, size=n)
    wait_b = _lognormal(rng, rep_median[rep] * HOUR, rep_sigma[rep], n)
    first_at = cal.add(mql_at, wait_b)
    p_accept = np.array(T.P_SQL)[ch] * np.where(webinar, T.WEBINAR_LIFT, 1.0)
    accept_draw = rng.random(n) < p_accept
    contacted = is_mql & (accept_draw | (rng.random(n) >= T.NO_CONTACT_SHARE))
    contacted &= first_at < END_S
    sql_at = first_at + _lognormal(rng, T.SQL_LAG_DAYS[0] * DAY, T.SQL_LAG_DAYS[1], n)
    is_sql = contacted & accept_draw & (sql_at < END_S)
    rejected_at = first_at + _lognormal(rng, T.REJECT_LAG_DAYS[0] * DAY, T.REJECT_LAG_DAYS[1], n)
    is_rejected = (
        contacted & ~accept_draw & (rng.random(n) < T.REJECTED_SHARE) & (rejected_at < END_S)
    )
    has_reason = is_rejected & (rng.random(n) < T.REASON_SHARE)
    reason = rng.integers(len(T.REJECTION_REASONS), size=n)
    opp_at = sql_at + _lognormal(rng, T.OPPORTUNITY_LAG_DAYS[0] * DAY, T.OPPORTUNITY_LAG_DAYS[1], n)
    has_opp = is_sql & (rng.random(n) < T.P_OPPORTUNITY) & (opp_at < END_S)

    person_ids = _ids("P", n, 7)
    owner_idx = np.where(is_mql, len(MARKETERS) + 3 + rep, np.array(MARKETING_OWNER)[ch])
    source_variant = rng.random(n) < 0.3
    lead_source_all = [s for pair in LEAD_SOURCES for s in pair]
    lead_source_idx = ch * 2 + source_variant
    lead_source_valid = rng.random(n) >= 0.04  # some CRMs leave it empty
    local = _ascii_lower(
        pc.binary_join_element_wise(
            _take(FIRST_NAMES, rng.integers(len(FIRST_NAMES), size=n)),
            _take(LAST_NAMES, rng.integers(len(LAST_NAMES), size=n)),
            pc.cast(pa.array(np.arange(1, n + 1)), pa.string()),
            ".",
        )
    )
    people = pa.table(
        {
            "person_id": person_ids,
            "account_id": _take(acc_ids, acc),
            "email": pc.binary_join_element_wise(local, domain.take(pa.array(acc)), "@"),
            "created_at": _ts(created),
            "lead_source": _take(lead_source_all, lead_source_idx, lead_source_valid),
            "channel": _take(T.CHANNELS, ch),
            "owner_id": _take(owner_ids, owner_idx),
            "segment": _take(T.SEGMENTS, seg[acc]),
            "country": _take(COUNTRIES, country[acc]),
            "rejection_reason": _take(T.REJECTION_REASONS, reason, has_reason),
        }
    )

    # stage events (people): lead (at creation, as CRMs log it), mql, sql, rejected
    ev_person = np.concatenate(
        [np.arange(n), np.flatnonzero(is_mql), np.flatnonzero(is_sql), np.flatnonzero(is_rejected)]
    )
    ev_stage = np.repeat([0, 1, 2, 3], [n, is_mql.sum(), is_sql.sum(), is_rejected.sum()])
    ev_time = np.concatenate([created, mql_at[is_mql], sql_at[is_sql], rejected_at[is_rejected]])
    o = np.lexsort((ev_stage, ev_time))
    stage_events = pa.table(
        {
            "entity_type": _take(["person"], np.zeros(o.size, np.int64)),
            "entity_id": person_ids.take(pa.array(ev_person[o])),
            "stage": _take(["lead", "mql", "sql", "rejected"], ev_stage[o]),
            "entered_at": _ts(ev_time[o]),
        }
    )

    # ---------------------------------------------------------------- campaigns and spend
    camp = _campaigns(rng)
    n_camp = len(camp["name"])
    camp_ids = _ids("C", n_camp, 3)
    spend = _spend(rng, camp, camp_ids, w_day, n)

    # ---------------------------------------------------------------- touchpoints
    tp_p, tp_c = np.nonzero(engaged)
    per = 1 + rng.poisson(T.TOUCHES_PER_CHANNEL, size=tp_p.size)
    tp_p = np.repeat(tp_p, per)
    tp_c = np.repeat(tp_c, per)
    lo = np.maximum(created - T.TOUCH_DAYS_BEFORE * DAY, 0.0)
    hi = np.where(is_sql, sql_at, np.minimum(created + T.TOUCH_DAYS_AFTER * DAY, END_S - 1))
    tp_t = lo[tp_p] + rng.random(tp_p.size) * (hi - lo)[tp_p]
    tp_p = np.concatenate([np.arange(n), tp_p])
    tp_c = np.concatenate([ch, tp_c])
    tp_t = np.concatenate([created, tp_t])
    tp_type = np.concatenate([np.full(n, len(TOUCH_TYPE)), tp_c[n:]])
    o = np.argsort(tp_t, kind="stable")
    tp_p, tp_c, tp_t, tp_type = tp_p[o], tp_c[o], tp_t[o], tp_type[o]
    tp_camp = _campaign_of_touch(rng, camp, tp_c, np.floor(tp_t / DAY).astype(np.int64))
    touchpoints = pa.table(
        {
            "touchpoint_id": _ids("T", tp_p.size, 8),
            "person_id": person_ids.take(pa.array(tp_p)),
            "account_id": _take(acc_ids, acc[tp_p]),
            "campaign_id": camp_ids.take(pa.array(tp_camp, mask=tp_camp < 0)),
            "channel": _take(T.CHANNELS, tp_c),
            "touch_type": _take([*TOUCH_TYPE, "form"], tp_type),
            "occurred_at": _ts(tp_t),
        }
    )

    # ---------------------------------------------------------------- new-business deals
    # Deals from this period's SQLs, plus the pipeline that was open on the first day: deals
    # created in the OPEN_PIPELINE_DAYS before it at the rate of the first months' SQLs
    # (without them, closes, wins and renewals would ramp up from zero).
    sql_idx = np.flatnonzero(is_sql)
    early = (sql_at[sql_idx] >= 60 * DAY) & (sql_at[sql_idx] < 180 * DAY)
    n_pre = rng.poisson(early.sum() / 120 * T.P_OPPORTUNITY * T.OPEN_PIPELINE_DAYS)
    pre_like = rng.choice(sql_idx, size=n_pre)  # account and rep of a lead like theirs
    nb = np.concatenate([np.flatnonzero(has_opp), pre_like])
    n_nb = nb.size
    pre = np.arange(n_nb) >= n_nb - n_pre
    nb_seg = seg[acc[nb]]
    opp = {
        "kind": np.zeros(n_nb, np.int64),  # 0 new, 1 expansion, 2 renewal
        "person": np.where(pre, -1, nb),
        "account": acc[nb],
        "owner": len(MARKETERS) + 3 + rep[nb],
        "created": np.where(pre, -rng.random(n_nb) * T.OPEN_PIPELINE_DAYS * DAY, opp_at[nb]),
        "amount": _lognormal(
            rng, np.array(T.DEAL_AMOUNT)[nb_seg, 0], np.array(T.DEAL_AMOUNT)[nb_seg, 1], n_nb
        ),
        "cycle": np.maximum(
            _lognormal(
                rng, np.array(T.CYCLE_DAYS)[nb_seg, 0], np.array(T.CYCLE_DAYS)[nb_seg, 1], n_nb
            ),
            7.0,
        ),
        "p_win": np.array(T.P_WIN)[nb_seg],
        "margin": np.array(T.GROSS_MARGIN_RATE)[nb_seg],
    }
    new = _close(rng, opp)
    # deals of the open pipeline that closed before the first day are history (the installed base)
    still_open = new["created"] + new["cycle"] * DAY >= 0
    new = {k: v[still_open] for k, v in new.items()}

    # ---------------------------------------------------------------- customers and subscriptions
    won_new = new["won"] & new["closed"]
    inst = np.flatnonzero(installed)
    k_acc = np.concatenate([inst, new["account"][won_new]])
    k_start = np.concatenate(
        [np.zeros(inst.size, np.int64), _month_of_day(new["close_day"][won_new]) + 1]
    )
    k_mrr = np.concatenate(
        [
            _lognormal(rng, np.array(T.INSTALLED_MRR)[seg[inst]], 0.5, inst.size),
            new["amount"][won_new] / 12,
        ]
    )
    lo_m, hi_m = T.INSTALLED_RENEWAL_MONTHS
    k_anniv = np.concatenate(
        [rng.integers(lo_m, hi_m + 1, size=inst.size), k_start[inst.size :] + 12]
    )
    k_seg = seg[k_acc]
    nk = k_acc.size
    # renewals at the first and second anniversary; a lost renewal ends the contract
    r_win = rng.random((nk, 2)) < T.P_WIN_RENEWAL
    a1, a2 = k_anniv, k_anniv + 12
    k_end = np.where(r_win[:, 0], np.where(r_win[:, 1], 10_000, a2), a1)
    # expansions within the active months in the period
    act_lo = np.maximum(k_start, 0)
    act_hi = np.minimum(k_end, N_MONTHS)
    months_active = np.maximum(act_hi - act_lo, 0)
    n_exp = rng.poisson(T.EXPANSION_RATE * months_active)
    ek = np.repeat(np.arange(nk), n_exp)
    e_lo = _month_start_day(act_lo[ek]) * DAY
    e_hi = np.minimum(_month_start_day(act_hi[ek]) * DAY, END_S - 1)
    e_created = e_lo + rng.random(ek.size) * (e_hi - e_lo)
    exp_opp = {
        "kind": np.ones(ek.size, np.int64),
        "person": np.full(ek.size, -1),
        "account": k_acc[ek],
        "owner": len(MARKETERS) + 3 + acc_owner[k_acc[ek]],
        "created": e_created,
        "amount": k_mrr[ek] * 12 * rng.uniform(*T.EXPANSION_SIZE, size=ek.size),
        "cycle": np.maximum(
            _lognormal(rng, T.EXPANSION_CYCLE_DAYS[0], T.EXPANSION_CYCLE_DAYS[1], ek.size), 7.0
        ),
        "p_win": np.full(ek.size, T.P_WIN_EXPANSION),
        "margin": np.array(T.GROSS_MARGIN_RATE)[k_seg[ek]] + 0.05,
    }
    exp = _close(rng, exp_opp, push=False)
    # monthly recurring revenue per contract, then per account
    months = np.arange(N_MONTHS + 1)
    active = (months[None, :] >= k_start[:, None]) & (months[None, :] < k_end[:, None])
    delta = np.zeros((nk, N_MONTHS + 2))
    won_exp = exp["won"] & exp["closed"]
    eff = np.minimum(_month_of_day(exp["close_day"][won_exp]) + 1, N_MONTHS + 1)
    np.add.at(delta, (ek[won_exp], eff), exp["amount"][won_exp] / 12)
    mrr_k = (k_mrr[:, None] + np.cumsum(delta, axis=1)[:, : N_MONTHS + 1]) * active
    mrr_acc = np.zeros((n_acc, N_MONTHS))
    np.add.at(mrr_acc, k_acc, mrr_k[:, :N_MONTHS])
    sub_a, sub_m = np.nonzero(mrr_acc > 0)
    subscriptions = pa.table(
        {
            "account_id": _take(acc_ids, sub_a),
            "month": _date(_month_start_day(sub_m)),
            "mrr": pa.array(np.round(mrr_acc[sub_a, sub_m], 2)),
            "currency": _take([T.CURRENCY], np.zeros(sub_a.size, np.int64)),
        }
    )
    # renewal opportunities (the second only after a won first)
    rk = np.concatenate([np.arange(nk), np.flatnonzero(r_win[:, 0])])
    ra = np.concatenate([a1, a2[r_win[:, 0]]])
    r_outcome = np.concatenate([r_win[:, 0], r_win[r_win[:, 0], 1]])
    r_created_day = np.maximum(_month_start_day(ra) - T.RENEWAL_LEAD_DAYS, 0)
    keep = r_created_day < N_DAYS
    rk, ra, r_outcome, r_created_day = rk[keep], ra[keep], r_outcome[keep], r_created_day[keep]
    r_close_day = _month_start_day(ra) - 1
    ren_created = _office_time(rng, r_created_day)
    ren_close = _office_time(rng, r_close_day)
    ren_close = np.maximum(ren_close, ren_created + DAY)
    r_amount = 12 * mrr_k[rk, np.clip(ra - 1, 0, N_MONTHS)]
    r_amount = np.where(r_amount > 0, r_amount, 12 * k_mrr[rk])
    ren = {
        "kind": np.full(rk.size, 2),
        "person": np.full(rk.size, -1),
        "account": k_acc[rk],
        "owner": len(MARKETERS) + 3 + acc_owner[k_acc[rk]],
        "created": ren_created,
        "amount": r_amount,
        "margin": np.array(T.GROSS_MARGIN_RATE)[k_seg[rk]] + 0.08,
        "close_t": ren_close,
        "close_day": np.floor(ren_close / DAY).astype(np.int64),
        "closed": ren_close < END_S,
        "won": r_outcome,
        "lost_reason": rng.choice(len(T.LOST_REASONS), size=rk.size, p=T.LOST_REASON_SHARE),
    }
    ren["won"] = ren["won"] & ren["closed"]

    # ---------------------------------------------------------------- opportunities
    allopp = {k: np.concatenate([new[k], exp[k], ren[k]]) for k in ren}
    o = np.argsort(allopp["created"], kind="stable")
    allopp = {k: v[o] for k, v in allopp.items()}
    n_opp = o.size
    opp_ids = _ids("O", n_opp, 7)
    closed, won = allopp["closed"], allopp["won"]
    amount = np.round(allopp["amount"], 2)
    margin_rate = np.clip(allopp["margin"] + 0.03 * rng.standard_normal(n_opp), 0.4, 0.95)
    elapsed = np.clip(
        (END_S - allopp["created"]) / np.maximum(allopp["close_t"] - allopp["created"], 1.0), 0, 1
    )
    open_stage = np.searchsorted([0.35, 0.7], elapsed, side="right")
    stage = np.where(closed, np.where(won, 3, 4), open_stage)
    opportunities = pa.table(
        {
            "opportunity_id": opp_ids,
            "account_id": _take(acc_ids, allopp["account"]),
            "person_id": person_ids.take(
                pa.array(np.maximum(allopp["person"], 0), mask=allopp["person"] < 0)
            ),
            "owner_id": _take(owner_ids, allopp["owner"]),
            "type": _take(["new", "expansion", "renewal"], allopp["kind"]),
            "created_at": _ts(allopp["created"]),
            "close_date": _date(allopp["close_day"]),
            "stage": _take([*OPP_STAGES, "closed won", "closed lost"], stage),
            "is_closed": pa.array(closed),
            "is_won": pa.array(won),
            "amount": pa.array(amount),
            "gross_margin": pa.array(np.round(amount * margin_rate, 2)),
            "currency": _take([T.CURRENCY], np.zeros(n_opp, np.int64)),
            "lost_reason": _take(T.LOST_REASONS, allopp["lost_reason"], closed & ~won),
        }
    )
    opportunity_history = _history(rng, allopp, opp_ids, amount, stage)

    # ---------------------------------------------------------------- activities
    activities = _activities(
        rng,
        n,
        is_mql,
        contacted,
        is_sql,
        mql_at,
        first_at,
        rep,
        person_ids,
        allopp,
        opp_ids,
        owner_ids,
    )

    # ---------------------------------------------------------------- accounts table
    first_person = np.full(n_acc, END_S)
    uniq, first_idx = np.unique(acc, return_index=True)
    first_person[uniq] = created[first_idx]
    acc_created = np.where(
        installed,
        -rng.uniform(60, 5 * 365, n_acc) * DAY,
        np.where(
            first_person < END_S,
            np.maximum(first_person - rng.uniform(0, 30, n_acc) * DAY, -30 * DAY),
            -rng.uniform(30, 3 * 365, n_acc) * DAY,
        ),
    )
    accounts = pa.table(
        {
            "account_id": acc_ids,
            "name": acc_name,
            "domain": domain,
            "industry": _take(INDUSTRIES, industry),
            "segment": _take(T.SEGMENTS, seg),
            "country": _take(COUNTRIES, country),
            "employees": pa.array(employees),
            "owner_id": _take(owner_ids, len(MARKETERS) + 3 + acc_owner),
            "created_at": _ts(acc_created),
        }
    )
    campaigns = pa.table(
        {
            "campaign_id": camp_ids,
            "name": pa.array(camp["name"], pa.string()),
            "channel": _take(T.CHANNELS, np.array(camp["channel"])),
            "type": pa.array(camp["type"], pa.string()),
            "parent_id": camp_ids.take(
                pa.array(np.maximum(camp["parent"], 0), mask=np.array(camp["parent"]) < 0)
            ),
            "start_date": _date(np.array(camp["start"])),
            "end_date": _date(np.array(camp["end"])),
            "budget": pa.array(np.round(spend["budget"], 2)),
        }
    )
    return {
        "owners": owners,
        "accounts": accounts,
        "campaigns": campaigns,
        "people": people,
        "opportunities": opportunities,
        "stage_events": stage_events,
        "activities": activities,
        "spend": spend["table"],
        "touchpoints": touchpoints,
        "opportunity_history": opportunity_history,
        "subscriptions": subscriptions,
    }


def _ascii_lower(text: pa.Array) -> pa.Array:
    """Lower case without accents (for e-mail addresses)."""
    decomposed = pc.utf8_normalize(pc.utf8_lower(text), form="NFKD")
    return pc.replace_substring_regex(decomposed, r"\p{Mn}", "")


def _email_of(name: str) -> str:
    import unicodedata

    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return ascii_name.lower().replace(" ", ".") + "@altamiracloud.es"


def _close(
    rng: np.random.Generator, opp: dict[str, np.ndarray], push: bool = True
) -> dict[str, np.ndarray]:
    """Close dates (with the quarter-end push), outcomes (with the planted missed quarter) and
    lost reasons for a batch of opportunities."""
    m = opp["created"].size
    close_t = opp["created"] + opp["cycle"] * DAY
    close_day = np.floor(close_t / DAY).astype(np.int64)
    if push:
        q_month = _month_of_day(close_day)
        # quarters are calendar quarters: December 2024 is month 0, so Jan/Apr/Jul/Oct are 1 mod 3
        q_end_month = q_month + (3 - (q_month - 1) % 3)
        q_end_day = _month_start_day(q_end_month) - 1
        moved = (rng.random(m) < T.QUARTER_END_PUSH) & (q_end_day - close_day > 10)
        new_day = q_end_day - rng.integers(0, 10, size=m)
        close_day = np.where(moved, new_day, close_day)
        close_t = np.where(moved, close_day * DAY + (close_t % DAY), close_t)
    closed = close_t < END_S
    in_q = (close_day >= _days(T.MISSED_QUARTER_START)) & (close_day <= _days(T.MISSED_QUARTER_END))
    p_win = opp["p_win"] * np.where(in_q, T.MISSED_QUARTER_WIN_FACTOR, 1.0)
    won = closed & (rng.random(m) < p_win)
    share = np.array(T.LOST_REASON_SHARE)
    comp = T.LOST_REASONS.index("competitor")
    q_share = share * (1 - T.MISSED_QUARTER_COMPETITOR_SHARE) / (1 - share[comp])
    q_share[comp] = T.MISSED_QUARTER_COMPETITOR_SHARE
    normal = rng.choice(len(share), size=m, p=share)
    in_quarter = rng.choice(len(share), size=m, p=q_share)
    return {
        **opp,
        "close_t": close_t,
        "close_day": close_day,
        "closed": closed,
        "won": won,
        "lost_reason": np.where(in_q, in_quarter, normal),
    }


def _history(
    rng: np.random.Generator,
    opp: dict[str, np.ndarray],
    opp_ids: pa.Array,
    amount: np.ndarray,
    stage: np.ndarray,
) -> pa.Table:
    """Stage changes: discovery at creation, proposal at 35% and negotiation at 70% of the
    cycle, then closed. Lost deals stop at a random stage before closing."""
    m = amount.size
    created, close_t, closed, won = opp["created"], opp["close_t"], opp["closed"], opp["won"]
    span = np.maximum(close_t - created, DAY)
    # furthest open stage reached: won deals pass all; lost ones stop at random; open ones by time
    lost_reach = rng.choice(3, size=m, p=(0.4, 0.35, 0.25))
    reach = np.where(closed, np.where(won, 2, lost_reach), stage)
    first_amount = np.round(amount * rng.uniform(0.7, 1.3, m), 2)
    first_close = np.floor((created + span * rng.uniform(0.6, 1.0, m)) / DAY).astype(np.int64)
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    for s, frac in enumerate((0.0, 0.35, 0.7)):
        idx = np.flatnonzero(reach >= s)
        t = created[idx] + frac * span[idx] + s * 60.0
        amt = first_amount[idx] if s == 0 else amount[idx]
        cd = first_close[idx] if s == 0 else opp["close_day"][idx]
        parts.append((idx, t, np.full(idx.size, s), amt, cd))
    idx = np.flatnonzero(closed)
    t = np.maximum(close_t[idx], created[idx] + span[idx] * 0.7 + 180.0)
    parts.append((idx, t, np.where(won[idx], 3, 4), amount[idx], opp["close_day"][idx]))
    h_idx, h_t, h_stage, h_amt, h_close = (np.concatenate(x) for x in zip(*parts, strict=True))
    o = np.lexsort((h_t, h_idx))
    return pa.table(
        {
            "opportunity_id": opp_ids.take(pa.array(h_idx[o])),
            "changed_at": _ts(h_t[o]),
            "stage": _take([*OPP_STAGES, "closed won", "closed lost"], h_stage[o]),
            "amount": pa.array(h_amt[o]),
            "close_date": _date(h_close[o]),
        }
    )


def _activities(
    rng: np.random.Generator,
    n: int,
    is_mql: np.ndarray,
    contacted: np.ndarray,
    is_sql: np.ndarray,
    mql_at: np.ndarray,
    first_at: np.ndarray,
    rep: np.ndarray,
    person_ids: pa.Array,
    opp: dict[str, np.ndarray],
    opp_ids: pa.Array,
    owner_ids: list[str],
) -> pa.Table:
    """An automated e-mail minutes after each MQL, the first human contact, follow-ups, and
    meetings, calls and e-mails on opportunities."""
    rep_owner = len(MARKETERS) + 3 + rep
    mq = np.flatnonzero(is_mql)
    auto_t = mql_at[mq] + rng.uniform(60, 600, mq.size)
    co = np.flatnonzero(contacted)
    first_type = np.where(rng.random(co.size) < 0.6, 0, 1)  # call, email
    k = rng.poisson(np.where(is_sql[co], 3.0, 1.0))
    fp = np.repeat(co, k)
    f_day = np.floor(first_at[fp] / DAY).astype(np.int64) + 1 + rng.geometric(0.25, fp.size) - 1
    f_t = _office_time(rng, f_day)
    f_type = rng.choice(3, size=fp.size, p=(0.45, 0.4, 0.15))
    # opportunity activities
    ok = (opp["kind"] < 2) & (opp["person"] >= 0)
    oi = np.flatnonzero(ok)
    ko = rng.poisson(3.0, oi.size)
    op = np.repeat(oi, ko)
    o_end = np.minimum(opp["close_t"][op], END_S - 1)
    o_t = opp["created"][op] + rng.random(op.size) * (o_end - opp["created"][op])
    o_type = rng.choice(3, size=op.size, p=(0.3, 0.3, 0.4))
    person = np.concatenate([mq, co, fp, opp["person"][op]])
    t = np.concatenate([auto_t, first_at[co], f_t, o_t])
    typ = np.concatenate([np.ones(mq.size, np.int64), first_type, f_type, o_type])
    auto = np.concatenate([np.ones(mq.size, bool), np.zeros(co.size + fp.size + op.size, bool)])
    owner = np.concatenate([rep_owner[mq], rep_owner[co], rep_owner[fp], opp["owner"][op]])
    oppi = np.concatenate([np.full(mq.size + co.size + fp.size, -1), op])
    keep = t < END_S
    person, t, typ, auto, owner, oppi = (x[keep] for x in (person, t, typ, auto, owner, oppi))
    o = np.argsort(t, kind="stable")
    person, t, typ, auto, owner, oppi = (x[o] for x in (person, t, typ, auto, owner, oppi))
    return pa.table(
        {
            "activity_id": _ids("X", t.size, 8),
            "person_id": person_ids.take(pa.array(person)),
            "opportunity_id": opp_ids.take(pa.array(np.maximum(oppi, 0), mask=oppi < 0)),
            "owner_id": _take(owner_ids, owner),
            "type": _take(["call", "email", "meeting"], typ),
            "is_automated": pa.array(auto),
            "occurred_at": _ts(t),
        }
    )


# --------------------------------------------------------------------------- campaigns


def _campaigns(rng: np.random.Generator) -> dict[str, list[Any]]:
    """Campaign definitions: a parent programme per paid channel and its child campaigns.
    The same few dozen campaigns at every scale."""
    out: dict[str, list[Any]] = {
        k: [] for k in ("name", "channel", "type", "parent", "start", "end", "weight")
    }
    last = N_DAYS - 1

    def add(
        name: str, channel: str, type_: str, parent: int, start: int, end: int, weight: float
    ) -> int:
        out["name"].append(name)
        out["channel"].append(CH[channel])
        out["type"].append(type_)
        out["parent"].append(parent)
        out["start"].append(max(start, 0))
        out["end"].append(min(end, last))
        out["weight"].append(weight)
        return len(out["name"]) - 1

    month_days = _month_start_day(np.arange(N_MONTHS + 1))
    programmes = {
        "paid_search": "Paid search programme",
        "paid_social": "Paid social programme",
        "events": "Events programme",
        "webinar": "Webinar series",
        "content": "Content programme",
        "email": "E-mail programme",
        "referral": "Customer referral programme",
        "partner": "Partner programme",
    }
    parent = {c: add(name, c, "programme", -1, 0, last, 0.0) for c, name in programmes.items()}
    for name in (
        "Brand",
        "Generic - field service software",
        "Competitors",
        "Generic - maintenance",
    ):
        add(
            f"Search - {name}",
            "paid_search",
            "search",
            parent["paid_search"],
            0,
            last,
            rng.uniform(0.6, 1.4),
        )
    for i, start in enumerate(range(0, N_DAYS - 40, 60)):
        length = int(rng.integers(35, 56))
        add(
            f"LinkedIn flight {i + 1:02d}",
            "paid_social",
            "social",
            parent["paid_social"],
            start,
            start + length,
            rng.uniform(0.7, 1.3),
        )
    cities = (
        "Madrid",
        "Barcelona",
        "Lisboa",
        "Ciudad de México",
        "Valencia",
        "Bilbao",
        "Porto",
        "Austin",
        "Múnich",
        "Sevilla",
        "Málaga",
        "Zaragoza",
    )
    for m in range(N_MONTHS):
        if m in (8, 20):  # no events in August
            continue
        ev_day = int(month_days[m] + rng.integers(8, 22))
        add(
            f"Field Service Summit {cities[m % len(cities)]}",
            "events",
            "event",
            parent["events"],
            ev_day - 21,
            ev_day + 2,
            rng.uniform(0.7, 1.3),
        )
    topics = (
        "Predictive maintenance",
        "Route planning",
        "First-time fix rate",
        "Spare parts",
        "Technician app",
        "SLA management",
    )
    for m in range(N_MONTHS):
        for half in (0, 1):
            day0 = int(month_days[m] + 7 + 12 * half)
            add(
                f"Webinar: {topics[(2 * m + half) % len(topics)]} ({m + 1:02d}{'ab'[half]})",
                "webinar",
                "webinar",
                parent["webinar"],
                day0 - 14,
                day0 + 1,
                rng.uniform(0.8, 1.2),
            )
    for q in range(8):
        add(
            f"eBook {q + 1}: field service benchmark",
            "content",
            "content",
            parent["content"],
            91 * q,
            91 * q + 120,
            rng.uniform(0.8, 1.2),
        )
    for name in ("Newsletter", "Nurture sequence", "Product updates"):
        add(f"E-mail - {name}", "email", "email", parent["email"], 0, last, rng.uniform(0.8, 1.2))
    add("Customer referral rewards", "referral", "referral", parent["referral"], 0, last, 1.0)
    for name in ("Reseller Iberia", "Reseller LatAm", "Technology partners"):
        add(
            f"Partner - {name}",
            "partner",
            "partner",
            parent["partner"],
            0,
            last,
            rng.uniform(0.7, 1.3),
        )
    return out


def _spend(
    rng: np.random.Generator,
    camp: dict[str, list[Any]],
    camp_ids: pa.Array,
    w_day: np.ndarray,
    n_people: int,
) -> dict[str, Any]:
    """Daily cost, impressions and clicks of every child campaign, sized so each channel's
    cost per lead is about COST_PER_LEAD."""
    channel = np.array(camp["channel"])
    start, end = np.array(camp["start"]), np.array(camp["end"])
    child = np.array(camp["type"]) != "programme"
    ci = np.flatnonzero(child)
    length = end[ci] - start[ci] + 1
    rc = np.repeat(ci, length)
    rd = start[rc] + (np.arange(rc.size) - np.repeat(np.cumsum(length) - length, length))
    weight = np.array(camp["weight"])[rc] * w_day[rd] * _lognormal(rng, 1.0, 0.25, rc.size)
    is_event = np.isin(channel[rc], [CH["events"]])
    weight = np.where(is_event & (rd >= end[rc] - 2), weight * 8, weight)
    budget_ch = n_people * np.array(T.LEAD_SHARE) * np.array(T.COST_PER_LEAD)
    ch_total = np.bincount(channel[rc], weights=weight, minlength=C)
    cost = np.round(weight / ch_total[channel[rc]] * budget_ch[channel[rc]], 2)
    cpm = np.array([18.0, 9.0, 0, 0, 6.0, 1.5, 0, 0, 0, 0])[channel[rc]]
    ctr = np.array([0.045, 0.008, 0, 0, 0.012, 0.03, 0, 0, 0, 0])[channel[rc]]
    has_imp = cpm > 0
    impressions = np.where(
        has_imp,
        np.round(cost / np.where(has_imp, cpm, 1) * 1000 * _lognormal(rng, 1.0, 0.15, rc.size)),
        0,
    ).astype(np.int64)
    clicks = rng.binomial(impressions, ctr)
    budget = np.bincount(rc, weights=cost, minlength=channel.size) * rng.uniform(
        1.0, 1.15, channel.size
    )
    # a programme's budget is the sum of its children's
    parent = np.array(camp["parent"])
    budget[~child] = np.bincount(parent[child], weights=budget[child], minlength=channel.size)[
        ~child
    ]
    table = pa.table(
        {
            "date": _date(rd),
            "campaign_id": camp_ids.take(pa.array(rc)),
            "channel": _take(T.CHANNELS, channel[rc]),
            "cost": pa.array(cost),
            "impressions": pa.array(impressions, mask=~has_imp),
            "clicks": pa.array(clicks, mask=~has_imp),
            "currency": _take([T.CURRENCY], np.zeros(rc.size, np.int64)),
        }
    )
    return {"table": table, "budget": budget}


def _campaign_of_touch(
    rng: np.random.Generator, camp: dict[str, list[Any]], tp_c: np.ndarray, tp_day: np.ndarray
) -> np.ndarray:
    """For each touch, one of its channel's campaigns active that day, at random (-1 if none)."""
    out = np.full(tp_c.size, -1, np.int64)
    channel = np.array(camp["channel"])
    start, end = np.array(camp["start"]), np.array(camp["end"])
    child = np.array(camp["type"]) != "programme"
    u = rng.random(tp_c.size)
    days = np.arange(N_DAYS)
    for c in range(C):
        ids = np.flatnonzero(child & (channel == c))
        if ids.size == 0:
            continue
        act = (days[:, None] >= start[ids][None, :]) & (days[:, None] <= end[ids][None, :])
        n_act = act.sum(axis=1)
        # table[d, j] = the j-th active campaign on day d
        rank = np.cumsum(act, axis=1) - 1
        table = np.full((N_DAYS, ids.size), -1, np.int64)
        d_idx, j_idx = np.nonzero(act)
        table[d_idx, rank[d_idx, j_idx]] = ids[j_idx]
        sel = np.flatnonzero(tp_c == c)
        d = np.clip(tp_day[sel], 0, N_DAYS - 1)
        k = np.floor(u[sel] * n_act[d]).astype(np.int64)
        has = n_act[d] > 0
        out[sel[has]] = table[d[has], k[has]]
    return out


__all__ = ["SCALES", "Calendar", "Scale", "generate", "scale_of"]
