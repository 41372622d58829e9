"""A SOQL parser for the subset healthsync and simple clients send: tokenizer + recursive descent.

Grammar (SOQL SELECT syntax, https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select.htm)::

    query      := SELECT (COUNT '(' ')' | field (',' field)*) FROM name
                  [WHERE condition] [ORDER BY order (',' order)*] [LIMIT int] [OFFSET int]
    condition  := unary (AND unary)* | unary (OR unary)*      -- mixing needs parentheses
    unary      := NOT unary | '(' condition ')' | field op value | field [NOT] IN '(' value, ... ')'
    op         := = | != | < | <= | > | >= | LIKE
    value      := 'string' | number | TRUE | FALSE | NULL | 2026-01-01 | 2026-01-01T00:00:00Z
                  | TODAY | YESTERDAY | TOMORROW | LAST_N_DAYS:n | NEXT_N_DAYS:n ...
    order      := field [ASC | DESC] [NULLS (FIRST | LAST)]

Parsing knows no schema; `query.py` binds names and literal types against the org afterwards.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Union

__all__ = [
    "And",
    "Comparison",
    "DateRange",
    "FieldRef",
    "InList",
    "Literal",
    "Not",
    "Or",
    "OrderItem",
    "Query",
    "SoqlError",
    "parse",
]


class SoqlError(Exception):
    """A query Salesforce would refuse; `code` is the errorCode (MALFORMED_QUERY, INVALID_FIELD...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class FieldRef:
    """A field path as written: `Name`, `Owner.Name`."""

    path: tuple[str, ...]
    pos: int

    @property
    def text(self) -> str:
        """The path as written."""
        return ".".join(self.path)


@dataclass(frozen=True)
class DateRange:
    """A relative date literal (`TODAY`, `LAST_N_DAYS:30`): resolved against the org clock later."""

    name: str
    n: int | None = None


@dataclass(frozen=True)
class Literal:
    """A literal value; `kind` is string, number, boolean, null, date, datetime or daterange."""

    kind: str
    value: object
    pos: int


@dataclass(frozen=True)
class Comparison:
    """`field op value`."""

    field: FieldRef
    op: str
    value: Literal


@dataclass(frozen=True)
class InList:
    """`field [NOT] IN (values)`."""

    field: FieldRef
    values: tuple[Literal, ...]
    negated: bool


@dataclass(frozen=True)
class Not:
    """`NOT condition`."""

    operand: Condition


@dataclass(frozen=True)
class And:
    """Every operand holds."""

    operands: tuple[Condition, ...]


@dataclass(frozen=True)
class Or:
    """Some operand holds."""

    operands: tuple[Condition, ...]


Condition = Union[Comparison, InList, Not, And, Or]  # noqa: UP007 - recursive alias needs the old spelling


@dataclass(frozen=True)
class OrderItem:
    """One ORDER BY key; SOQL sorts nulls first unless told otherwise."""

    field: FieldRef
    descending: bool = False
    nulls_first: bool = True


@dataclass
class Query:
    """A parsed SELECT."""

    text: str
    object: str
    object_pos: int
    fields: list[FieldRef] = field(default_factory=list)
    count: bool = False
    where: Condition | None = None
    order: list[OrderItem] = field(default_factory=list)
    limit: int | None = None
    offset: int | None = None


_DATE_RANGES = {"TODAY", "YESTERDAY", "TOMORROW", "LAST_WEEK", "THIS_WEEK", "NEXT_WEEK", "LAST_MONTH",
                "THIS_MONTH", "NEXT_MONTH"}  # fmt: skip
_DATE_RANGES_N = {"LAST_N_DAYS", "NEXT_N_DAYS"}
_KEYWORDS = {"SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "ORDER", "BY", "ASC", "DESC",
             "NULLS", "FIRST", "LAST", "LIMIT", "OFFSET", "TRUE", "FALSE", "NULL", "COUNT"}  # fmt: skip

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})(?![\dT])
  | (?P<number>-?\d+(?:\.\d+)?)(?![A-Za-z_])
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<op>!=|<=|>=|<|>|=)
  | (?P<punct>[(),:])
    """,
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "'": "'", '"': '"', "\\": "\\",
            "_": "\\_", "%": "\\%"}  # fmt: skip


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    pos: int

    @property
    def upper(self) -> str:
        return self.text.upper()


def located(text: str, pos: int, reason: str) -> str:
    """Salesforce's error text: the offending line, a caret, `ERROR at Row:r:Column:c`, the reason."""
    row = text.count("\n", 0, pos) + 1
    line_start = text.rfind("\n", 0, pos) + 1
    line_end = text.find("\n", pos)
    line = text[line_start : line_end if line_end >= 0 else len(text)]
    column = pos - line_start + 1
    return f"{line}\n{' ' * (column - 1)}^\nERROR at Row:{row}:Column:{column}\n{reason}"


def _unescape(body: str, text: str, pos: int) -> str:
    out = []
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\":
            nxt = body[i + 1] if i + 1 < len(body) else ""
            if nxt not in _ESCAPES:
                raise SoqlError(
                    "MALFORMED_QUERY", located(text, pos + i, f"Invalid string literal escape: \\{nxt}")
                )
            out.append(_ESCAPES[nxt])
            i += 2
        else:
            out.append(char)
            i += 1
    return "".join(out)


def tokenize(text: str) -> list[_Token]:
    """Split `text` into tokens; an unknown character is MALFORMED_QUERY."""
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise SoqlError("MALFORMED_QUERY", located(text, pos, f"unexpected token: '{text[pos]}'"))
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(_Token(kind, match.group(), pos))
        pos = match.end()
    tokens.append(_Token("eof", "", len(text)))
    return tokens


def _parse_datetime(raw: str) -> datetime:
    value = raw.replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", value):
        value = value[:-2] + ":" + value[-2:]
    return datetime.fromisoformat(value).astimezone(UTC)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    # --- token helpers ----------------------------------------------------------------------------

    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def error(self, token: _Token | None = None, reason: str | None = None) -> SoqlError:
        token = token or self.tok
        why = reason or (
            "unexpected end of query" if token.kind == "eof" else f"unexpected token: {token.text}"
        )
        return SoqlError("MALFORMED_QUERY", located(self.text, token.pos, why))

    def keyword(self, *words: str) -> bool:
        return self.tok.kind == "name" and self.tok.upper in words

    def take_keyword(self, word: str) -> _Token:
        if not self.keyword(word):
            raise self.error()
        token = self.tok
        self.i += 1
        return token

    def take(self, kind: str, text: str | None = None) -> _Token:
        token = self.tok
        if token.kind != kind or (text is not None and token.text != text):
            raise self.error()
        self.i += 1
        return token

    # --- grammar -----------------------------------------------------------------------------------

    def query(self) -> Query:
        self.take_keyword("SELECT")
        fields: list[FieldRef] = []
        count = False
        if self.keyword("COUNT") and self.tokens[self.i + 1].text == "(":
            self.i += 1
            self.take("punct", "(")
            self.take("punct", ")")
            count = True
        else:
            fields.append(self.field())
            while self.tok.text == ",":
                self.i += 1
                fields.append(self.field())
        self.take_keyword("FROM")
        obj = self.tok
        if obj.kind != "name" or "." in obj.text or obj.upper in _KEYWORDS:
            raise self.error()
        self.i += 1
        query = Query(self.text, obj.text, obj.pos, fields, count)
        if self.keyword("WHERE"):
            self.i += 1
            query.where = self.condition()
        if self.keyword("ORDER"):
            self.i += 1
            self.take_keyword("BY")
            query.order.append(self.order_item())
            while self.tok.text == ",":
                self.i += 1
                query.order.append(self.order_item())
        if self.keyword("LIMIT"):
            self.i += 1
            query.limit = self.integer()
        if self.keyword("OFFSET"):
            self.i += 1
            query.offset = self.integer()
        if self.tok.kind != "eof":
            raise self.error()
        return query

    def integer(self) -> int:
        token = self.take("number")
        if not token.text.isdigit():
            raise self.error(token)
        return int(token.text)

    def field(self) -> FieldRef:
        token = self.tok
        if token.kind != "name" or token.upper in _KEYWORDS:
            raise self.error()
        self.i += 1
        return FieldRef(tuple(token.text.split(".")), token.pos)

    def order_item(self) -> OrderItem:
        ref = self.field()
        descending = False
        if self.keyword("ASC", "DESC"):
            descending = self.tok.upper == "DESC"
            self.i += 1
        nulls_first = True
        if self.keyword("NULLS"):
            self.i += 1
            if not self.keyword("FIRST", "LAST"):
                raise self.error()
            nulls_first = self.tok.upper == "FIRST"
            self.i += 1
        return OrderItem(ref, descending, nulls_first)

    def condition(self) -> Condition:
        first = self.unary()
        if not self.keyword("AND", "OR"):
            return first
        joiner = self.tok.upper
        operands = [first]
        while self.keyword("AND", "OR"):
            if self.tok.upper != joiner:
                # SOQL refuses `a AND b OR c`: mixed operators need parentheses.
                raise self.error()
            self.i += 1
            operands.append(self.unary())
        return And(tuple(operands)) if joiner == "AND" else Or(tuple(operands))

    def unary(self) -> Condition:
        if self.keyword("NOT"):
            self.i += 1
            return Not(self.unary())
        if self.tok.text == "(":
            self.i += 1
            inner = self.condition()
            self.take("punct", ")")
            return inner
        ref = self.field()
        if self.keyword("NOT") or self.keyword("IN"):
            negated = self.keyword("NOT")
            if negated:
                self.i += 1
            self.take_keyword("IN")
            self.take("punct", "(")
            values = [self.literal()]
            while self.tok.text == ",":
                self.i += 1
                values.append(self.literal())
            self.take("punct", ")")
            return InList(ref, tuple(values), negated)
        if self.keyword("LIKE"):
            self.i += 1
            return Comparison(ref, "LIKE", self.literal())
        if self.tok.kind != "op":
            raise self.error()
        op = self.tok.text
        self.i += 1
        return Comparison(ref, op, self.literal())

    def literal(self) -> Literal:
        token = self.tok
        self.i += 1
        if token.kind == "string":
            return Literal("string", _unescape(token.text[1:-1], self.text, token.pos + 1), token.pos)
        if token.kind == "number":
            number = float(token.text) if "." in token.text else int(token.text)
            return Literal("number", number, token.pos)
        if token.kind == "date":
            try:
                return Literal("date", date.fromisoformat(token.text), token.pos)
            except ValueError:
                raise self.error(
                    token, f"line 1:{token.pos} no viable alternative at character ' '"
                ) from None
        if token.kind == "datetime":
            try:
                return Literal("datetime", _parse_datetime(token.text), token.pos)
            except ValueError:
                raise self.error(token) from None
        if token.kind == "name":
            word = token.upper
            if word in {"TRUE", "FALSE"}:
                return Literal("boolean", word == "TRUE", token.pos)
            if word == "NULL":
                return Literal("null", None, token.pos)
            if word in _DATE_RANGES:
                return Literal("daterange", DateRange(word), token.pos)
            if word in _DATE_RANGES_N:
                self.take("punct", ":")
                return Literal("daterange", DateRange(word, self.integer()), token.pos)
        self.i -= 1
        raise self.error(token)


def parse(text: str) -> Query:
    """Parse a SOQL SELECT; SoqlError(MALFORMED_QUERY) when it is not valid SOQL."""
    if not text.strip():
        raise SoqlError("MALFORMED_QUERY", "A query is required")
    return _Parser(text).query()
