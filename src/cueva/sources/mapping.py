"""Any CRM or spreadsheet through a mapping file (``mapping.yaml``).

For each canonical table: the source file, which source column fills each canonical
column, value maps, constant columns, date formats, and derived stage events ("a row with
MQL Date set entered the stage mql at that date")::

    timezone: America/Mexico_City      # of timestamps without an offset (default: contract's)
    tables:
      people:
        file: leads.csv                  # relative to the mapping file
        sep: ";"                         # optional: encoding, sep, decimal (. or ,)
        columns: {person_id: ID, created_at: Fecha alta, email: Correo, lead_source: Origen,
                  channel: Origen}
        values:
          channel: {Google Ads: paid_search, Feria: events, Boca a boca: referrals}
        constants: {segment: SMB}
        date_formats: {created_at: "%d/%m/%Y %H:%M"}
        stage_events:
          - {stage: mql, at: Fecha MQL, format: "%d/%m/%Y"}

A value that is not in its column's value map, or that does not parse as the column's type,
holds the row back (the import fails, or the row goes to quarantine with ``--quarantine``).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import ibis
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cueva.contract import Contract
from cueva.errors import CuevaError, UsageError
from cueva.schema import TABLES, ColumnType
from cueva.sources._core import (
    IBIS_TYPE,
    Build,
    Check,
    Raw,
    SourceSummary,
    ValueMap,
    boolean,
    day,
    flag,
    run_build,
    ts,
)
from cueva.sources._engine import try_strptime, wall_clock_in

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cueva.store import Store


class MappingError(CuevaError, ValueError):
    """The mapping file is not valid."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StageEventSpec(_Model):
    stage: str = Field(description="A stage name or event alias of the contract.")
    at: str = Field(description="Source column holding the date the stage was entered.")
    format: str | None = Field(None, description="strptime format of that column, if not ISO.")


class TableMapping(_Model):
    file: str = Field(description="CSV file, relative to the mapping file.")
    encoding: str = "utf-8"
    sep: str | None = None
    decimal: Literal[".", ","] = "."
    columns: dict[str, str] = Field(default_factory=dict)
    values: dict[str, dict[str, str | None]] = Field(default_factory=dict)
    constants: dict[str, str | int | float | bool] = Field(default_factory=dict)
    date_formats: dict[str, str] = Field(default_factory=dict)
    stage_events: list[StageEventSpec] = Field(default_factory=list)

    @field_validator("values", mode="before")
    @classmethod
    def _text_keys(cls, v: object) -> object:
        """YAML reads ``Yes: won`` keys as booleans and ``1: x`` as numbers: keep them text."""
        if isinstance(v, dict):
            return {
                c: {_yaml_text(k): (None if t is None else _yaml_text(t)) for k, t in m.items()}
                if isinstance(m, dict)
                else m
                for c, m in v.items()
            }
        return v


def _yaml_text(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


class MappingFile(_Model):
    timezone: str | None = Field(None, description="Time zone of timestamps without offset.")
    tables: dict[str, TableMapping] = Field(min_length=1)


_FIELDS = sorted(
    set(MappingFile.model_fields)
    | set(TableMapping.model_fields)
    | set(StageEventSpec.model_fields)
)


def parse_mapping(text: str, source: str = "mapping.yaml") -> MappingFile:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}:" if mark else ""
        raise MappingError(
            f"{source}:{where} not valid YAML: {getattr(exc, 'problem', None) or exc}"
        ) from None
    if not isinstance(data, dict):
        raise MappingError(f"{source}: the mapping must be a YAML mapping with a 'tables' key")
    try:
        mapping = MappingFile.model_validate(data)
    except ValidationError as exc:
        lines = [f"{source}: the mapping is not valid"]
        for err in exc.errors():
            path = ".".join(str(p) for p in err["loc"]) or "(top level)"
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                msg = "unknown key"
                close = difflib.get_close_matches(str(err["loc"][-1]), _FIELDS, n=1)
                if close:
                    msg += f"; did you mean {close[0]!r}?"
            elif err["type"] == "missing":
                msg = "required key is missing"
            lines.append(f"  {path}: {msg}")
        raise MappingError("\n".join(lines)) from None
    for name, tm in mapping.tables.items():
        if name not in TABLES:
            close = difflib.get_close_matches(name, list(TABLES), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise MappingError(f"{source}: tables.{name}: not a canonical table{hint}")
        spec = TABLES[name]
        for col in [*tm.values, *tm.date_formats]:
            if col not in tm.columns:
                raise MappingError(
                    f"{source}: tables.{name}: '{col}' has a value map or date format but no "
                    "source column in 'columns'"
                )
        for col in [*tm.columns, *tm.constants]:
            if not spec.has(col) and not col.isidentifier():
                raise MappingError(f"{source}: tables.{name}.columns: bad column name {col!r}")
        missing = [
            c
            for c in spec.required
            if c not in tm.columns
            and c not in tm.constants
            and not (name == "touchpoints" and c == "touchpoint_id")
        ]
        if missing:
            raise MappingError(
                f"{source}: tables.{name}: required column(s) {', '.join(missing)} have no "
                "source column nor constant"
            )
        if tm.stage_events and name not in ("people", "opportunities"):
            raise MappingError(
                f"{source}: tables.{name}.stage_events: only people and opportunities rows "
                "can enter stages"
            )
    return mapping


def load_mapping(path: Path | str) -> MappingFile:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{p}: no such mapping file") from None
    except (UnicodeDecodeError, IsADirectoryError) as exc:
        raise MappingError(f"{p}: not a UTF-8 text file ({exc})") from None
    return parse_mapping(text, str(p))


def load_value_maps(path: Path | str) -> dict[str, dict[str, str | None]]:
    """A ``--values`` file: {map name: {source value: canonical value or null}}, e.g.
    ``lead_status: {Zombie: null, Hot: mql}``; map names are checked by the adapters."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{p}: no such values file") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise MappingError(f"{p}: not a valid YAML file ({exc})") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise MappingError(
            f"{p}: expected maps by name, e.g. 'lead_status: {{Hot: mql}}' (see docs/sources.md)"
        )
    return {
        str(name): {_yaml_text(k): (None if v is None else _yaml_text(v)) for k, v in m.items()}
        for name, m in data.items()
    }


def _parse(v: ir.StringValue, kind: ColumnType, fmt: str | None, tz: str, decimal: str) -> ir.Value:
    if kind == "string":
        return v
    if kind == "timestamp":
        return wall_clock_in(tz, try_strptime(v, fmt)) if fmt else ts(v)
    if kind == "date":
        return try_strptime(v, fmt).date() if fmt else day(v)
    if kind == "boolean":
        return boolean(v)
    if decimal == ",":
        v = v.replace(".", "").replace(",", ".")
    return v.try_cast(IBIS_TYPE[kind])


def build_mapping(build: Build, mapping: MappingFile, base: Path) -> None:
    """Add the tables ``mapping`` describes (files relative to ``base``) to ``build``."""
    tz = mapping.timezone or build.contract.timezone
    stages = build.stages
    for name, tm in mapping.tables.items():
        spec = TABLES[name]
        path = (base / tm.file).resolve()
        if not path.is_file():
            raise UsageError(f"tables.{name}.file: no such file {path}")
        raw = Raw(
            path.name, build.engine.read_csv(path, path.name, encoding=tm.encoding, sep=tm.sep)
        )
        build.raws.append(raw)
        sel: dict[str, ir.Value] = {}
        checks: list[Check] = []
        headers = list(raw.by_norm.values())
        for col, header in tm.columns.items():
            if not raw.has(header):
                close = difflib.get_close_matches(header, headers, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise UsageError(
                    f"tables.{name}.columns.{col}: no column {header!r} in {path.name}{hint} "
                    f"(its columns: {', '.join(headers)})"
                )
            v = raw.col(header)
            build.source_columns[(name, raw.file, col)] = raw.name(header) or header
            if col in tm.values:
                mapped, unmapped = ValueMap(f"{name}.{col}", tm.values[col]).apply(v)
                checks.append(Check(unmapped, header, v, f"value not in the map of {col}"))
                v = mapped
            kind: ColumnType = spec.column(col).type if spec.has(col) else "string"
            parsed = _parse(v, kind, tm.date_formats.get(col), tz, tm.decimal)
            if kind != "string":
                checks.append(
                    Check(
                        v.notnull() & parsed.isnull(), header, v, f"not a {kind.replace('64', '')}"
                    )
                )
            sel[col] = parsed
        for col, value in tm.constants.items():
            kind = spec.column(col).type if spec.has(col) else "string"
            sel[col] = ibis.literal(value).cast(IBIS_TYPE[kind])
        t = raw.t
        build.add(name, t.select(**sel, **raw.book(), **flag(*checks)))
        key = spec.key[0]
        entity = "person" if name == "people" else "opportunity"
        for ev in tm.stage_events:
            event = stages.event(ev.stage, entity)
            if event is None:
                names = stages.names(entity)
                close = difflib.get_close_matches(ev.stage, names, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise UsageError(
                    f"tables.{name}.stage_events: {ev.stage!r} is not a {entity} stage of the "
                    f"contract{hint} (its {entity} stages: {', '.join(names)})"
                )
            if not raw.has(ev.at):
                raise UsageError(f"tables.{name}.stage_events: no column {ev.at!r} in {path.name}")
            at = raw.col(ev.at)
            build.source_columns[("stage_events", raw.file, "entered_at")] = (
                raw.name(ev.at) or ev.at
            )
            if key in tm.columns:
                build.source_columns[("stage_events", raw.file, "entity_id")] = (
                    raw.name(tm.columns[key]) or tm.columns[key]
                )
            when = wall_clock_in(tz, try_strptime(at, ev.format)) if ev.format else ts(at)
            part = t.select(
                entity_type=ibis.literal(entity),
                entity_id=sel[key],
                stage=ibis.literal(event),
                entered_at=when,
                __at=at,
                **raw.book(),
            )
            part = part.filter(part["__at"].notnull())
            part = part.mutate(
                **flag(Check(part.entered_at.isnull(), ev.at, part["__at"], "not a timestamp"))
            ).drop("__at")
            build.add("stage_events", part)


def import_mapping(
    store: Store | None,
    mapping_path: Path | str,
    contract: Contract,
    *,
    dry_run: bool = False,
    quarantine: bool = False,
    on_step: Callable[[str], None] | None = None,
) -> SourceSummary:
    """Import the files a mapping file describes."""
    path = Path(mapping_path)
    mapping = load_mapping(path)
    return run_build(
        "mapping",
        contract,
        store,
        lambda b: build_mapping(b, mapping, path.parent),
        source_timezone=mapping.timezone,
        dry_run=dry_run,
        quarantine=quarantine,
        on_step=on_step,
    )


__all__ = [
    "MappingError",
    "MappingFile",
    "StageEventSpec",
    "TableMapping",
    "build_mapping",
    "import_mapping",
    "load_mapping",
    "load_value_maps",
    "parse_mapping",
]
