"""Import: every malformed input gives a located error and leaves the store unchanged."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from cueva.errors import ImportValidationError, UsageError
from cueva.importer import import_files
from cueva.schema import LOAD_ORDER
from cueva.store import IMPORTS_TABLE
from cueva.workspace import Workspace
from tests.conftest import write

OWNERS = "owner_id,name,team\no1,Ana,sales\no2,Luis,marketing\n"
ACCOUNTS = "account_id,name,owner_id\na1,Acme,o1\na2,Globex,o2\n"
PEOPLE = (
    "person_id,account_id,created_at,owner_id,channel\n"
    "p1,a1,2026-01-05 10:00,o1,paid_search\n"
    "p2,a2,2026-02-01,o2,events\n"
)


def snapshot(ws: Workspace, with_log: bool = True) -> dict[str, list[tuple[Any, ...]]]:
    """Every canonical table's full contents (sorted), and the import log."""
    a = ws.store().adapter
    names = [*LOAD_ORDER, IMPORTS_TABLE] if with_log else list(LOAD_ORDER)
    return {n: sorted(a.query(f'SELECT * FROM "{n}"'), key=repr) for n in names}


def load(ws: Workspace, *paths: Path, **kw: Any) -> Any:
    return import_files(ws.store(), list(paths), timezone=ws.contract.timezone, **kw)


def frame(ws: Workspace, table: str) -> pd.DataFrame:
    return ws.store().table(table).execute()


@pytest.fixture
def base(workspace: Workspace, tmp_path: Path) -> Workspace:
    """A workspace holding two owners, two accounts and two people."""
    load(
        workspace,
        write(tmp_path / "base" / "people.csv", PEOPLE),
        write(tmp_path / "base" / "accounts.csv", ACCOUNTS),
        write(tmp_path / "base" / "owners.csv", OWNERS),
    )
    return workspace


def rejected(ws: Workspace, *paths: Path, **kw: Any) -> ImportValidationError:
    """Import that must fail; the store (tables and log) must not change."""
    before = snapshot(ws)
    with pytest.raises(ImportValidationError) as info:
        load(ws, *paths, **kw)
    assert snapshot(ws) == before
    return info.value


def test_import_any_order_with_types(base: Workspace) -> None:
    people = frame(base, "people").sort_values("person_id")
    assert list(people.person_id) == ["p1", "p2"]
    assert people.created_at.iloc[0] == pd.Timestamp("2026-01-05 10:00")
    assert people.created_at.iloc[1] == pd.Timestamp("2026-02-01 00:00")
    log = frame(base, IMPORTS_TABLE)
    assert sorted(log.file) == ["accounts.csv", "owners.csv", "people.csv"]
    assert set(log.rows) == {2}
    assert log.sha256.str.len().eq(64).all() and (log["size"] > 0).all()
    assert log.import_id.nunique() == 1
    # the store's session is left as Ibis expects it
    a = base.store().adapter
    assert a.query("SELECT current_setting('TimeZone')") == [("UTC",)]


def test_missing_required_columns(base: Workspace, tmp_path: Path) -> None:
    f = write(tmp_path / "people.csv", "person_id,email\np9,x@y.com\n")
    err = rejected(base, f)
    assert [(e.file, e.column) for e in err.errors] == [("people.csv", "created_at")]
    assert "required column is missing" in str(err)


def test_unparsable_values_are_located(base: Workspace, tmp_path: Path) -> None:
    opp = write(
        tmp_path / "opportunities.csv",
        "opportunity_id,account_id,created_at,close_date,amount,is_won\n"
        "x1,a1,2026-01-01,2026-02-01,100,true\n"
        "x2,a1,01/02/2026,2026-02-01,100,yes\n"
        "x3,a1,2026-01-01,2026-02-30,1O0,no\n"
        "x4,a1,2026-01-01,2026-02-01,5,maybe\n"
        "x5,a1,,2026-02-01,5,1\n",
    )
    err = rejected(base, opp)
    got = [(e.row, e.column, e.value) for e in err.errors]
    assert got == [
        (3, "created_at", "01/02/2026"),
        (4, "close_date", "2026-02-30"),
        (4, "amount", "1O0"),
        (5, "is_won", "maybe"),
        (6, "created_at", None),
    ]
    assert err.counts == {"opportunities.csv": 5}
    assert "opportunities.csv row 3, column created_at: '01/02/2026': not a timestamp" in str(err)


def test_whole_numbers_and_non_finite(base: Workspace, tmp_path: Path) -> None:
    acc = write(
        tmp_path / "accounts.csv",
        "account_id,employees\nb1,12\nb2,1.5\nb3,0x10\nb4, 7 \n",
    )
    err = rejected(base, acc)
    assert [(e.row, e.value) for e in err.errors] == [(3, "1.5"), (4, "0x10")]
    opp = write(
        tmp_path / "opportunities.csv",
        "opportunity_id,created_at,amount\nx1,2026-01-01,nan\nx2,2026-01-01,inf\n",
    )
    err = rejected(base, opp)
    assert [e.value for e in err.errors] == ["nan", "inf"]


def test_duplicate_keys_within_and_across_files(base: Workspace, tmp_path: Path) -> None:
    one = write(tmp_path / "a" / "owners.csv", "owner_id,team\no7,sales\no8,sales\no7,sales\n")
    err = rejected(base, one)
    assert [(e.row, e.value) for e in err.errors] == [(4, "o7")]
    a = write(tmp_path / "b" / "owners_1.csv", "owner_id,team\no7,sales\n")
    b = write(tmp_path / "b" / "owners_2.csv", "owner_id,team\no8,sales\no7,sales\n")
    err = rejected(base, a, b)
    assert [(e.file, e.row, e.value) for e in err.errors] == [("owners_2.csv", 3, "o7")]
    assert "duplicate key" in str(err)


def test_unknown_ids_from_store_or_batch_any_order(base: Workspace, tmp_path: Path) -> None:
    opp = write(
        tmp_path / "opportunities.csv",
        "opportunity_id,account_id,person_id,created_at\n"
        "x1,a1,p1,2026-01-01\nx2,a9,p9,2026-01-01\nx3,a3,p3,2026-01-01\n",
    )
    err = rejected(base, opp)
    assert [(e.row, e.column, e.value) for e in err.errors] == [
        (3, "account_id", "a9"),
        (3, "person_id", "p9"),
        (4, "account_id", "a3"),
        (4, "person_id", "p3"),
    ]
    # a3 and p3 arrive in the same batch, listed after the file that needs them
    acc = write(tmp_path / "accounts.csv", "account_id\na3\n")
    ppl = write(tmp_path / "people.csv", "person_id,account_id,created_at\np3,a3,2026-01-01\n")
    fixed = write(
        tmp_path / "ok" / "opportunities.csv",
        "opportunity_id,account_id,person_id,created_at\nx3,a3,p3,2026-01-01\n",
    )
    load(base, fixed, ppl, acc)
    assert list(frame(base, "opportunities").opportunity_id) == ["x3"]
    # stage events refer to people or opportunities depending on entity_type
    ev = write(
        tmp_path / "stage_events.csv",
        "entity_type,entity_id,stage,entered_at\n"
        "Person,p1,mql,2026-01-02\nopportunity,x3,sql,2026-01-03\nopportunity,p1,sql,2026-01-03\n",
    )
    err = rejected(base, ev)
    assert [(e.row, e.column, e.value) for e in err.errors] == [(4, "entity_id", "p1")]


def test_negative_amounts_and_enum_values(base: Workspace, tmp_path: Path) -> None:
    opp = write(
        tmp_path / "opportunities.csv",
        "opportunity_id,created_at,amount,type\n"
        "x1,2026-01-01,-5,new\nx2,2026-01-01,5,upsell\nx3,2026-01-01,5,Renewal\n",
    )
    err = rejected(base, opp)
    assert [(e.row, e.column, e.value) for e in err.errors] == [
        (2, "amount", "-5.0"),
        (3, "type", "upsell"),
    ]
    assert "must not be negative" in str(err) and "must be one of: new, expansion, renewal" in str(
        err
    )


def test_first_20_errors_per_file_then_a_count(base: Workspace, tmp_path: Path) -> None:
    rows = "".join(f"x{i},2026-01-01,bad{i}\n" for i in range(45))
    err = rejected(
        base, write(tmp_path / "opportunities.csv", f"opportunity_id,created_at,amount\n{rows}")
    )
    assert len(err.errors) == 20
    assert err.errors[0].row == 2 and err.errors[-1].row == 21
    assert err.counts == {"opportunities.csv": 45}
    assert "... and 25 more problem(s)" in str(err)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"person_id,created_at\n", "no data rows"),
        (bytes(range(256)) * 50, "not a CSV text file"),
        (
            "person_id,created_at\np1,2026-01-01\np2,caf\xe9\n".encode("latin-1"),
            "--encoding cp1252",
        ),
        ("person_id,créé\n".encode("latin-1"), "--encoding cp1252"),
        (
            b"person_id,created_at\np1,2026-01-01\np2\np3,2026-01-01,x\n",
            "Expected Number of Columns",
        ),
    ],
    ids=["empty", "header-only", "binary", "latin1-body", "latin1-header", "ragged"],
)
def test_malformed_files(base: Workspace, tmp_path: Path, content: bytes, message: str) -> None:
    f = tmp_path / "people.csv"
    f.write_bytes(content)
    err = rejected(base, f)
    assert message in str(err)
    assert all(e.file == "people.csv" for e in err.errors)


@pytest.mark.parametrize("n", [3000, 100_000], ids=["in-first-MiB", "deep-in-file"])
def test_invalid_utf8_line_is_located(base: Workspace, tmp_path: Path, n: int) -> None:
    body = "".join(f"q{i},2026-01-01\n" for i in range(n))
    f = tmp_path / "people.csv"
    f.write_bytes(f"person_id,created_at\n{body}q,caf\xe9\n".encode("latin-1"))
    err = rejected(base, f)
    assert err.errors[0].row == n + 2
    assert "--encoding cp1252" in str(err)


def test_bad_names_and_folders_are_usage_errors(base: Workspace, tmp_path: Path) -> None:
    before = snapshot(base)
    with pytest.raises(UsageError, match="does not name a canonical table"):
        load(base, write(tmp_path / "leads.csv", "a\n1\n"))
    with pytest.raises(UsageError, match="is a folder"):
        load(base, tmp_path / "base")
    with pytest.raises(UsageError, match="no such file"):
        load(base, tmp_path / "people_missing" / "people.csv")
    with pytest.raises(UsageError, match=r"expected a \.csv or \.parquet"):
        load(base, write(tmp_path / "people.xlsx", "x"))
    assert snapshot(base) == before


def test_huge_field_html_and_odd_headers_kept_verbatim(base: Workspace, tmp_path: Path) -> None:
    note = "n" * 10_000_000
    html = '<script>alert("x")</script> & <b>Ana</b>'
    f = write(
        tmp_path / "people.csv",
        f'\ufeff " Person ID ",CREATED_AT,Account_Id,Lead Score,Notes\n'
        f'p5,2026-03-01,a1,17,"{html.replace(chr(34), chr(34) * 2)}"\n'
        f"p6,2026-03-02,a2,3,{note}\n",
    )
    load(base, f)
    people = frame(base, "people").set_index("person_id")
    assert people.loc["p5", "notes"] == html
    assert len(people.loc["p6", "notes"]) == 10_000_000
    assert people.loc["p6", "account_id"] == "a2"
    # the extra column is usable as a segment
    t = base.store().table("people")
    t = t.filter(t.lead_score.notnull())
    seg = t.group_by("lead_score").aggregate(n=t.count()).execute()
    assert dict(zip(seg.lead_score, seg.n, strict=True)) == {"17": 1, "3": 1}


def test_row_longer_than_limit_is_located(base: Workspace, tmp_path: Path) -> None:
    f = write(
        tmp_path / "people.csv", f"person_id,created_at\np1,2026-01-01\np2,{'x' * 40_000_000}\n"
    )
    err = rejected(base, f)
    assert err.errors[0].row is not None and "longer than" in str(err)


def test_duplicate_header_column(base: Workspace, tmp_path: Path) -> None:
    f = write(tmp_path / "people.csv", "person_id,created_at,Person ID\np7,2026-01-01,p7\n")
    err = rejected(base, f)
    assert "twice" in str(err) and err.errors[0].column == "person_id"


# ---------------------------------------------------------------- encodings and formats


def test_bom_semicolon_quoted_newlines_decimal_comma(base: Workspace, tmp_path: Path) -> None:
    f = write(
        tmp_path / "opportunities.csv",
        "\ufeffopportunity_id;account_id;created_at;amount;gross_margin;lost_reason\n"
        'x1;a1;2026-01-01;1.234,56;12,5;"line one\nline two; still"\n'
        "x2;a2;2026-01-02;1234,5;-3;\n"
        "x3;a2;2026-01-02;7;0,25;\n",
    )
    load(base, f, decimal=",")
    opp = frame(base, "opportunities").set_index("opportunity_id")
    assert opp.amount.to_dict() == {"x1": 1234.56, "x2": 1234.5, "x3": 7.0}
    assert opp.gross_margin.to_dict() == {"x1": 12.5, "x2": -3.0, "x3": 0.25}
    assert opp.loc["x1", "lost_reason"] == "line one\nline two; still"
    # a dot that does not group thousands is refused, not misread
    bad = write(
        tmp_path / "b" / "opportunities.csv",
        "opportunity_id;created_at;amount\nx9;2026-01-01;1.5\n",
    )
    err = rejected(base, bad, decimal=",")
    assert err.errors[0].value == "1.5"


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_latin1_and_cp1252(base: Workspace, tmp_path: Path, encoding: str) -> None:
    name = "Peña “Ñandú” Ltda €" if encoding == "cp1252" else "Peña Ñandú Ltda"
    f = write(tmp_path / "accounts.csv", f"account_id;name;country\nb1;{name};España\n", encoding)
    load(base, f, encoding=encoding)
    acc = frame(base, "accounts").set_index("account_id")
    assert acc.loc["b1", "name"] == name and acc.loc["b1", "country"] == "España"


def test_explicit_separator(base: Workspace, tmp_path: Path) -> None:
    f = write(tmp_path / "owners.csv", "owner_id|team|name\no9|sales|A, B\n")
    load(base, f, sep="|")
    assert frame(base, "owners").set_index("owner_id").loc["o9", "name"] == "A, B"


def test_timestamps_with_offset_are_converted(base: Workspace, tmp_path: Path) -> None:
    f = write(
        tmp_path / "activities.csv",
        "activity_id,person_id,occurred_at,is_automated\n"
        "t1,p1,2026-01-15T09:30:00Z,Sí\n"  # winter: Madrid is UTC+1
        "t2,p1,2026-07-15 09:30:00+02:00,no\n"  # summer: Madrid is UTC+2
        "t3,p1,2026-07-15T09:30:00-05:00,TRUE\n"
        "t4,p1,2026-03-29 02:30,0\n",  # no offset: already Madrid wall-clock time
    )
    load(base, f)
    act = frame(base, "activities").set_index("activity_id")
    assert act.occurred_at.to_dict() == {
        "t1": pd.Timestamp("2026-01-15 10:30"),
        "t2": pd.Timestamp("2026-07-15 09:30"),
        "t3": pd.Timestamp("2026-07-15 16:30"),
        "t4": pd.Timestamp("2026-03-29 02:30"),
    }
    assert act.is_automated.to_dict() == {"t1": True, "t2": False, "t3": True, "t4": False}


def test_parquet_native_types(base: Workspace, tmp_path: Path) -> None:
    f = tmp_path / "opportunities.parquet"
    pd.DataFrame(
        {
            "Opportunity_ID": ["x1", "x2"],
            "account_id": ["a1", "a2"],
            "created_at": pd.to_datetime(["2026-01-15 09:30", "2026-07-15 09:30"]).tz_localize(
                "UTC"
            ),
            "close_date": [date(2026, 2, 1), date(2026, 8, 1)],
            "amount": ["1500", "20.5"],  # numbers as strings
            "is_won": [True, None],
            "region": [1, 2],  # an extra column with a native type
        }
    ).to_parquet(f)
    load(base, f)
    opp = frame(base, "opportunities").set_index("opportunity_id")
    assert opp.created_at.to_dict() == {
        "x1": pd.Timestamp("2026-01-15 10:30"),
        "x2": pd.Timestamp("2026-07-15 11:30"),
    }
    assert opp.close_date.to_dict() == {
        "x1": pd.Timestamp(date(2026, 2, 1)),
        "x2": pd.Timestamp(date(2026, 8, 1)),
    }
    assert opp.amount.to_dict() == {"x1": 1500.0, "x2": 20.5}
    assert opp.region.to_dict() == {"x1": 1, "x2": 2}
    naive = tmp_path / "p" / "people.parquet"
    naive.parent.mkdir()
    pd.DataFrame(
        {"person_id": ["p8"], "created_at": [datetime(2026, 5, 1, 8, 0)], "employees": [3.0]}
    ).to_parquet(naive)
    load(base, naive)
    assert frame(base, "people").set_index("person_id").loc["p8", "created_at"] == pd.Timestamp(
        "2026-05-01 08:00"
    )


def test_parquet_errors_use_record_numbers(base: Workspace, tmp_path: Path) -> None:
    f = tmp_path / "accounts.parquet"
    pd.DataFrame({"account_id": ["b1", "b2", "b3"], "employees": [1.0, 2.5, -3.0]}).to_parquet(f)
    err = rejected(base, f)
    assert [(e.row, e.value) for e in err.errors] == [(2, "2.5"), (3, "-3")]
    junk = tmp_path / "j" / "people.parquet"
    junk.parent.mkdir()
    junk.write_bytes(b"PAR1 not really")
    err = rejected(base, junk)
    assert "not a readable Parquet file" in str(err)


# ---------------------------------------------------------------- idempotence and replacement


def test_reimport_is_idempotent_and_newer_versions_replace(base: Workspace, tmp_path: Path) -> None:
    v1 = write(tmp_path / "v1" / "people.csv", PEOPLE)
    before = snapshot(base)
    result = load(base, v1)  # same content as the base import: skipped
    assert [f.skipped for f in result.files] == [True]
    assert snapshot(base) == before  # tables and log unchanged
    load(base, v1, force=True)  # forced: the rows are replaced by identical ones
    assert snapshot(base, with_log=False) == snapshot(base, with_log=False)
    assert {k: v for k, v in snapshot(base).items() if k != IMPORTS_TABLE} == {
        k: v for k, v in before.items() if k != IMPORTS_TABLE
    }
    v2 = write(
        tmp_path / "v2" / "people.csv",
        "person_id,account_id,created_at,owner_id,channel\n"
        "p2,a2,2026-02-01,o1,webinar\np3,a2,2026-03-01,o1,\n",
    )
    load(base, v2)
    people = frame(base, "people").set_index("person_id")
    assert len(people) == 3
    assert people.loc["p2", "channel"] == "webinar" and people.loc["p2", "owner_id"] == "o1"
    assert people.loc["p1", "channel"] == "paid_search"
    # importing v1 again is not "unchanged": v2 came after it, so v1's rows win again
    result = load(base, v1)
    assert [f.skipped for f in result.files] == [False]
    assert frame(base, "people").set_index("person_id").loc["p2", "channel"] == "events"


def test_identical_touchpoints_without_id_are_one_touch(base: Workspace, tmp_path: Path) -> None:
    rows = "p1,a1,,email,click,2026-01-05 10:00\n"
    f = write(
        tmp_path / "touchpoints.csv",
        "person_id,account_id,campaign_id,channel,touch_type,occurred_at\n"
        + rows * 2
        + "p1,a1,,email,open,2026-01-05 10:00\n",
    )
    load(base, f)
    tp = frame(base, "touchpoints")
    assert len(tp) == 2 and tp.touchpoint_id.str.startswith("h:").all()
    load(base, f, force=True)
    assert len(frame(base, "touchpoints")) == 2
    g = write(
        tmp_path / "g" / "touchpoints.csv",
        "touchpoint_id,channel,occurred_at\nt1,email,2026-01-01\nt1,ads,2026-01-01\n",
    )
    err = rejected(base, g)
    assert err.errors[0].row == 3


def test_extra_column_type_conflict(base: Workspace, tmp_path: Path) -> None:
    f = tmp_path / "owners.parquet"
    pd.DataFrame({"owner_id": ["o5"], "team": ["sales"], "quota": [10]}).to_parquet(f)
    load(base, f)
    g = tmp_path / "g" / "owners.parquet"
    g.parent.mkdir()
    pd.DataFrame({"owner_id": ["o6"], "team": ["sales"], "quota": ["ten"]}).to_parquet(g)
    err = rejected(base, g)
    assert err.errors[0].column == "quota"


def test_spaces_around_values_are_trimmed_and_blank_is_missing(
    base: Workspace, tmp_path: Path
) -> None:
    """Values are trimmed of spaces at either end (only those that have some are trimmed, for
    speed), in CSV and Parquet alike; a value of only spaces is missing, so a required column
    reports it; inner white space and tabs are kept."""
    load(
        base,
        write(
            tmp_path / "owners.csv",
            "owner_id,name,team,desk\n  o3 ,  Eva Ruiz  ,sales , north\no4,Tab\tName,marketing,   \n",
        ),
    )
    got = frame(base, "owners").set_index("owner_id")
    assert got.loc["o3", "name"] == "Eva Ruiz" and got.loc["o3", "team"] == "sales"
    assert got.loc["o3", "desk"] == "north" and pd.isna(got.loc["o4", "desk"])
    assert got.loc["o4", "name"] == "Tab\tName"
    err = rejected(base, write(tmp_path / "b" / "owners.csv", "owner_id,name,team\n   ,X,sales\n"))
    assert "owners.csv row 2, column owner_id" in str(err)
    pq_path = tmp_path / "p" / "owners.parquet"
    pq_path.parent.mkdir()
    pd.DataFrame({"owner_id": [" o5 "], "name": ["  Pia "], "team": ["sales"]}).to_parquet(pq_path)
    load(base, pq_path)
    got = frame(base, "owners").set_index("owner_id")
    assert got.loc["o5", "name"] == "Pia"
