"""SOQL execution: bind a parsed query to the schema, filter, sort and project records.

Semantics follow the SOQL reference: string comparisons and sorting are case-insensitive, `!=` and
`NOT IN` match nulls, nulls sort first unless `NULLS LAST`, relative date literals resolve against
the org's (here: the sandbox clock's) day in UTC
(https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_comparisonoperators.htm,
.../sforce_api_calls_soql_select_dateformats.htm, .../sforce_api_calls_soql_select_orderby.htm).
Rows tied on every ORDER BY key come back by Id, so paging is repeatable.

Stored values are in wire form; dates (`2026-01-01`) and datetimes (`2026-01-01T00:00:00.000+0000`,
always UTC) compare correctly as strings, so filters never parse a stored value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from healthsync.sandbox.salesforce.ids import normalize_id
from healthsync.sandbox.salesforce.projection import projector
from healthsync.sandbox.salesforce.schema import NUMBER_TYPES, STRING_TYPES, FieldDef, ObjectDef, Schema
from healthsync.sandbox.salesforce.soql import (
    And,
    Comparison,
    Condition,
    DateRange,
    FieldRef,
    InList,
    Literal,
    Not,
    Or,
    Query,
    SoqlError,
    located,
    parse,
)

__all__ = ["Bound", "Plan", "RecordSource", "format_datetime", "plan_query"]

Record = dict[str, Any]
Getter = Callable[[Record], Any]
Predicate = Callable[[Record], bool]

# SOQL OFFSET tops out at 2,000 (SOQL reference, "OFFSET").
MAX_OFFSET = 2000


class RecordSource(Protocol):
    """What the engine reads: stored records of an object and lookups by id."""

    def records(self, object_name: str) -> Iterable[Record]:
        """Every stored record of `object_name`, deleted ones included."""

    def get(self, object_name: str, record_id: str) -> Record | None:
        """One record by its 18-character id."""


def format_datetime(value: datetime) -> str:
    """Salesforce's datetime wire form, always in UTC: `2026-01-01T09:00:00.000+0000`."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


@dataclass
class Bound:
    """A field path resolved against the schema."""

    ref: FieldRef
    definition: FieldDef
    """The field whose value the path yields (on the related object for `Owner.Name`)."""
    getter: Getter
    relationship: FieldDef | None = None


def _category(f: FieldDef) -> str:
    if f.type in {"id", "reference"}:
        return "id"
    if f.type in STRING_TYPES:
        return "text"
    if f.type in NUMBER_TYPES:
        return "number"
    return f.type  # boolean, date, datetime


def _long_text(f: FieldDef) -> bool:
    return f.type == "textarea" and f.length > 255


class _Binder:
    def __init__(self, query: Query, schema: Schema, source: RecordSource, today: date) -> None:
        self.query = query
        self.schema = schema
        self.source = source
        self.today = today
        obj = schema.get(query.object)
        if obj is None:
            raise SoqlError(
                "INVALID_TYPE",
                located(
                    query.text,
                    query.object_pos,
                    f"sObject type '{query.object}' is not supported. If you are attempting to use a custom "
                    "object, be sure to append the '__c' after the entity name. Please reference your WSDL "
                    "or the describe call for the appropriate names.",
                ),
            )
        self.obj: ObjectDef = obj

    def _no_column(self, ref: FieldRef, entity: str) -> SoqlError:
        return SoqlError(
            "INVALID_FIELD",
            located(
                self.query.text,
                ref.pos,
                f"No such column '{ref.path[-1]}' on entity '{entity}'. If you are attempting to use a "
                "custom field, be sure to append the '__c' after the custom field name. Please reference "
                "your WSDL or the describe call for the appropriate names.",
            ),
        )

    def bind(self, ref: FieldRef) -> Bound:
        if len(ref.path) == 1:
            found = self.obj.field(ref.path[0])
            if found is None:
                raise self._no_column(ref, self.obj.name)
            name = found.name
            return Bound(ref, found, lambda r: r.get(name))
        if len(ref.path) != 2:
            raise self._no_column(ref, self.obj.name)
        relationship = self.obj.relationship(ref.path[0])
        if relationship is None:
            raise SoqlError(
                "INVALID_FIELD",
                located(
                    self.query.text,
                    ref.pos,
                    f"Didn't understand relationship '{ref.path[0]}' in field path. If you are attempting "
                    "to use a custom relationship, be sure to append the '__r' after the custom "
                    "relationship name.",
                ),
            )
        targets = [self.schema.get(name) for name in relationship.reference_to]
        found_fields = [t.field(ref.path[1]) if t else None for t in targets]
        first = found_fields[0]
        if first is None or any(f is None for f in found_fields):
            raise self._no_column(ref, relationship.reference_to[0])
        key, name, schema, source = relationship.name, first.name, self.schema, self.source

        def related(record: Record) -> Any:
            target_id = record.get(key)
            if target_id is None:
                return None
            target = schema.by_prefix(target_id[:3])
            row = source.get(target.name, target_id) if target else None
            return row.get(name) if row else None

        return Bound(ref, first, related, relationship)

    # --- literals ---------------------------------------------------------------------------------

    def _range(self, token: DateRange) -> tuple[date, date]:
        today = self.today
        n = token.n or 0
        week_start = today - timedelta(days=(today.weekday() + 1) % 7)  # weeks start on Sunday (en_US)
        month_start = today.replace(day=1)
        next_month = (month_start + timedelta(days=32)).replace(day=1)
        ranges = {
            "TODAY": (today, today + timedelta(days=1)),
            "YESTERDAY": (today - timedelta(days=1), today),
            "TOMORROW": (today + timedelta(days=1), today + timedelta(days=2)),
            "LAST_N_DAYS": (today - timedelta(days=n), today + timedelta(days=1)),
            "NEXT_N_DAYS": (today + timedelta(days=1), today + timedelta(days=1 + n)),
            "THIS_WEEK": (week_start, week_start + timedelta(days=7)),
            "LAST_WEEK": (week_start - timedelta(days=7), week_start),
            "NEXT_WEEK": (week_start + timedelta(days=7), week_start + timedelta(days=14)),
            "THIS_MONTH": (month_start, next_month),
            "LAST_MONTH": ((month_start - timedelta(days=1)).replace(day=1), month_start),
            "NEXT_MONTH": (next_month, (next_month + timedelta(days=32)).replace(day=1)),
        }
        return ranges[token.name]

    def _type_error(self, bound: Bound, literal: Literal, quoted: bool) -> SoqlError:
        kind = {"datetime": "dateTime"}.get(bound.definition.type, bound.definition.type)
        hint = "should be enclosed in quotes" if quoted else "should not be enclosed in quotes"
        return SoqlError(
            "INVALID_FIELD",
            located(
                self.query.text,
                literal.pos,
                f"value of filter criterion for field '{bound.ref.text}' must be of type {kind} and {hint}",
            ),
        )

    def comparable(self, bound: Bound, literal: Literal) -> Any:
        """The literal in the stored value's form; a (low, high) pair for relative date ranges."""
        category = _category(bound.definition)
        kind = literal.kind
        if kind == "null":
            return None
        if category in {"text", "id"}:
            if kind != "string":
                raise self._type_error(bound, literal, quoted=True)
            text = str(literal.value)
            if category == "id":
                normalized = normalize_id(text)
                if normalized is None:
                    raise SoqlError(
                        "INVALID_QUERY_FILTER_OPERATOR",
                        located(self.query.text, literal.pos, f"invalid ID field: {text}"),
                    )
                return normalized
            return text.casefold()
        if category == "number" and kind == "number":
            return literal.value
        if category == "boolean" and kind == "boolean":
            return literal.value
        if category == "date" and kind in {"date", "daterange"}:
            if kind == "daterange":
                low, high = self._range(literal.value)  # type: ignore[arg-type]
                return (low.isoformat(), high.isoformat())
            return literal.value.isoformat()  # type: ignore[attr-defined]
        if category == "datetime" and kind in {"datetime", "daterange"}:
            if kind == "daterange":
                low, high = self._range(literal.value)  # type: ignore[arg-type]
                return (low.isoformat() + "T00:00:00.000+0000", high.isoformat() + "T00:00:00.000+0000")
            return format_datetime(literal.value)  # type: ignore[arg-type]
        raise self._type_error(bound, literal, quoted=kind == "string")

    # --- conditions -------------------------------------------------------------------------------

    def filterable(self, ref: FieldRef) -> Bound:
        bound = self.bind(ref)
        if _long_text(bound.definition):
            raise SoqlError(
                "INVALID_FIELD",
                located(
                    self.query.text,
                    ref.pos,
                    f"field '{bound.ref.text}' can not be filtered in a query call",
                ),
            )
        return bound

    def condition(self, node: Condition) -> Predicate:
        if isinstance(node, And):
            parts = [self.condition(c) for c in node.operands]
            return lambda r: all(p(r) for p in parts)
        if isinstance(node, Or):
            parts = [self.condition(c) for c in node.operands]
            return lambda r: any(p(r) for p in parts)
        if isinstance(node, Not):
            inner = self.condition(node.operand)
            return lambda r: not inner(r)
        if isinstance(node, InList):
            return self._in(node)
        return self._compare(node)

    def _in(self, node: InList) -> Predicate:
        bound = self.filterable(node.field)
        values = {self.comparable(bound, v) for v in node.values}
        fold = _folder(bound.definition)
        get = bound.getter
        if node.negated:
            return lambda r: fold(get(r)) not in values
        return lambda r: fold(get(r)) in values

    def _compare(self, node: Comparison) -> Predicate:
        bound = self.filterable(node.field)
        get, fold, op = bound.getter, _folder(bound.definition), node.op
        if op == "LIKE":
            if _category(bound.definition) != "text" or node.value.kind != "string":
                raise SoqlError(
                    "INVALID_FIELD",
                    located(self.query.text, node.value.pos, "invalid operator on field: LIKE"),
                )
            pattern = _like(str(node.value.value))
            return lambda r: (v := get(r)) is not None and pattern.fullmatch(str(v)) is not None
        target = self.comparable(bound, node.value)
        if target is None:
            if op not in {"=", "!="}:
                return lambda r: False
            return (lambda r: get(r) is None) if op == "=" else (lambda r: get(r) is not None)
        if isinstance(target, tuple):
            low, high = target
            tests: dict[str, Callable[[Any], bool]] = {
                "=": lambda v: low <= v < high,
                "!=": lambda v: not low <= v < high,
                "<": lambda v: v < low,
                "<=": lambda v: v < high,
                ">": lambda v: v >= high,
                ">=": lambda v: v >= low,
            }
        else:
            tests = {
                "=": lambda v: v == target,
                "!=": lambda v: v != target,
                "<": lambda v: v < target,
                "<=": lambda v: v <= target,
                ">": lambda v: v > target,
                ">=": lambda v: v >= target,
            }
        test = tests[op]
        if op == "!=":
            return lambda r: (v := get(r)) is None or test(fold(v))
        return lambda r: (v := get(r)) is not None and test(fold(v))


def _folder(f: FieldDef) -> Callable[[Any], Any]:
    if _category(f) == "text":
        return lambda v: v.casefold() if isinstance(v, str) else v
    return lambda v: v


def _like(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        i += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


@dataclass
class Plan:
    """A query ready to page: matching rows in order and how to render one."""

    object: ObjectDef
    rows: list[Record]
    count_only: bool
    project: Callable[[Record, str], Record]
    """Render a stored row for API version `v62.0`-style path segment."""
    selected: tuple[str, ...] = ()
    """The selected fields' API names (related fields as written: `Owner.Name`)."""


def plan_query(
    text: str, schema: Schema, source: RecordSource, *, include_deleted: bool, today: date
) -> Plan:
    """Parse, bind and run `text`; SoqlError for anything Salesforce would refuse."""
    query = parse(text)
    binder = _Binder(query, schema, source, today)
    obj = binder.obj
    selected = [binder.bind(ref) for ref in query.fields]
    seen: set[str] = set()
    for bound in selected:
        key = bound.ref.text.casefold() if bound.relationship else bound.definition.name.casefold()
        if key in seen:
            raise SoqlError(
                "MALFORMED_QUERY",
                located(text, bound.ref.pos, f"duplicate field selected: {bound.ref.text}"),
            )
        seen.add(key)
    predicate = binder.condition(query.where) if query.where is not None else None
    order = []
    for item in query.order:
        bound = binder.bind(item.field)
        if _long_text(bound.definition):
            raise SoqlError(
                "INVALID_FIELD",
                located(text, item.field.pos, f"field '{item.field.text}' can not be sorted in a query call"),
            )
        order.append((bound, item))
    if query.offset is not None and query.offset > MAX_OFFSET:
        raise SoqlError("NUMBER_OUTSIDE_VALID_RANGE", f"Maximum SOQL offset allowed is {MAX_OFFSET}")

    rows = [
        r
        for r in source.records(obj.name)
        if (include_deleted or not r.get("IsDeleted")) and (predicate is None or predicate(r))
    ]
    rows.sort(key=lambda r: r["Id"])
    for bound, item in reversed(order):
        rows = _stable_sort(rows, bound, item.descending, item.nulls_first)
    start = query.offset or 0
    rows = rows[start : start + query.limit if query.limit is not None else None]
    names = tuple(b.ref.text if b.relationship else b.definition.name for b in selected)
    return Plan(obj, rows, query.count, projector(obj, selected, schema, source), names)


def _stable_sort(rows: list[Record], bound: Bound, descending: bool, nulls_first: bool) -> list[Record]:
    get, fold = bound.getter, _folder(bound.definition)
    nulls = [r for r in rows if get(r) is None]
    values = [r for r in rows if get(r) is not None]
    values.sort(key=lambda r: fold(get(r)), reverse=descending)
    return nulls + values if nulls_first else values + nulls
