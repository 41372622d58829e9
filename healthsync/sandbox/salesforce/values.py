"""Field values on write: type checks and coercion to the stored wire form.

Per-record problems raise `RecordError` with the status codes the sObject Collections results use
(INVALID_TYPE_ON_FIELD_IN_RECORD, STRING_TOO_LONG, NUMBER_OUTSIDE_VALID_RANGE,
INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST, MALFORMED_ID, INVALID_EMAIL_ADDRESS; Partner WSDL
`StatusCode`). A value the JSON deserializer cannot even turn into the field's type (a date that is
not `YYYY-MM-DD`, an object where a scalar belongs) fails the whole request with 400
JSON_PARSER_ERROR, as Salesforce's deserializer does before any record is processed
(REST "Status Codes and Error Responses": https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from healthsync.sandbox.salesforce.errors import RecordError
from healthsync.sandbox.salesforce.ids import normalize_id
from healthsync.sandbox.salesforce.query import format_datetime
from healthsync.sandbox.salesforce.schema import NUMBER_TYPES, STRING_TYPES, FieldDef

__all__ = ["JsonParseError", "coerce"]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class JsonParseError(ValueError):
    """The request body cannot be deserialized into the sObject (whole request: 400 JSON_PARSER_ERROR)."""


def _not_type(definition: FieldDef, value: Any) -> RecordError:
    return RecordError(
        "INVALID_TYPE_ON_FIELD_IN_RECORD",
        f"{definition.label}: value not of required type: {value}",
        [definition.name],
    )


def _parse_error(kind: str, value: Any) -> JsonParseError:
    token = (
        "VALUE_STRING"
        if isinstance(value, str)
        else "VALUE_NUMBER_INT"
        if isinstance(value, int)
        else "START_OBJECT"
    )
    return JsonParseError(
        f"Cannot deserialize instance of {kind} from {token} value {value} or request may be missing a "
        "required field"
    )


def _string(definition: FieldDef, value: Any) -> str | None:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int | float):
        text = str(value)
    elif isinstance(value, str):
        text = value
    else:
        raise _parse_error("string", value)
    if text == "":
        return None  # Salesforce stores empty text as null
    if definition.length and len(text) > definition.length:
        raise RecordError(
            "STRING_TOO_LONG",
            f"{definition.label}: data value too large: {text[:80]} (max length={definition.length})",
            [definition.name],
        )
    if definition.type == "email" and not _EMAIL.match(text):
        raise RecordError(
            "INVALID_EMAIL_ADDRESS", f"{definition.label}: invalid email address: {text}", [definition.name]
        )
    if definition.restricted_picklist and text not in definition.picklist_values():
        raise RecordError(
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            f"{definition.label}: bad value for restricted picklist field: {text}",
            [definition.name],
        )
    return text


def _number(definition: FieldDef, value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _not_type(definition, value)
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise _not_type(definition, value) from None
    if not number.is_finite():
        raise _not_type(definition, value)
    if definition.type == "int":
        if number != number.to_integral_value():
            raise _not_type(definition, value)
        limit = Decimal(10) ** (definition.digits or 9)
        if abs(number) >= limit:
            raise _out_of_range(definition, value)
        return int(number)
    limit = Decimal(10) ** ((definition.precision or 18) - definition.scale)
    if abs(number) >= limit:
        raise _out_of_range(definition, value)
    # Salesforce rounds half up to the field's scale (81.25 in a Number(5,1) is 81.3).
    number = number.quantize(Decimal(1).scaleb(-definition.scale), rounding=ROUND_HALF_UP)
    if abs(number) >= limit:
        raise _out_of_range(definition, value)
    return float(number)


def _out_of_range(definition: FieldDef, value: Any) -> RecordError:
    return RecordError(
        "NUMBER_OUTSIDE_VALID_RANGE",
        f"{definition.label}: value outside of valid range on numeric field: {value}",
        [definition.name],
    )


def _date(value: Any) -> str:
    if not isinstance(value, str) or not _DATE.match(value):
        raise _parse_error("date", value)
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise _parse_error("date", value) from None


def _datetime(value: Any) -> str:
    if not isinstance(value, str):
        raise _parse_error("datetime", value)
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    if re.search(r"[+-]\d{4}$", text):
        text = text[:-2] + ":" + text[-2:]
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise _parse_error("datetime", value) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return format_datetime(parsed.astimezone(UTC))


def coerce(definition: FieldDef, value: Any) -> Any:
    """`value` in the stored form for `definition`, or RecordError / JsonParseError."""
    if value is None:
        return None
    if isinstance(value, dict | list):
        raise _parse_error(definition.type, value)
    kind = definition.type
    if kind in STRING_TYPES:
        return _string(definition, value)
    if kind in {"id", "reference"}:
        if not isinstance(value, str):
            raise _parse_error("id", value)
        if value == "":
            return None
        normalized = normalize_id(value)
        if normalized is None:
            raise RecordError(
                "MALFORMED_ID", f"{definition.label}: id value of incorrect type: {value}", [definition.name]
            )
        return normalized
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _not_type(definition, value)
        return value
    if kind in NUMBER_TYPES:
        return _number(definition, value)
    if kind == "date":
        return _date(value)
    if kind == "datetime":
        return _datetime(value)
    raise _not_type(definition, value)
