"""Salesforce record ids: 15-character case-sensitive ids and their 18-character case-safe form.

An id is a 3-character key prefix naming the object (`001` Account, `003` Contact, `005` User,
`006` Opportunity, `00T` Task, `00N` custom field), then 12 characters, then a 3-character suffix
that encodes which of the first 15 characters are upper case, so the id survives case-insensitive
tools. The REST API returns the 18-character form and accepts both
(https://help.salesforce.com/s/articleView?id=000385585&type=1, "What are Salesforce IDs composed of").
"""

from __future__ import annotations

import re

__all__ = ["KEY_PREFIXES", "is_valid_id", "make_id", "normalize_id", "to18"]

KEY_PREFIXES = {
    "Account": "001",
    "Contact": "003",
    "User": "005",
    "Opportunity": "006",
    "Task": "00T",
    "CustomField": "00N",
}

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ID15 = re.compile(r"^[A-Za-z0-9]{15}$")
_ID18 = re.compile(r"^[A-Za-z0-9]{18}$")

# Characters 4-6 of a real id name the pod and reserved space; ours are fixed so ids look alike
# across objects, and one character separates ids derived from the dataset from ids the API makes.
_POD = "5j"
SERIES_DATASET = "0"
SERIES_API = "A"
SERIES_SYSTEM = "Z"


def _suffix(id15: str) -> str:
    out = ""
    for chunk in range(3):
        flags = 0
        for bit, char in enumerate(id15[chunk * 5 : chunk * 5 + 5]):
            if "A" <= char <= "Z":
                flags |= 1 << bit
        out += _SUFFIX_ALPHABET[flags]
    return out


def to18(id15: str) -> str:
    """The case-safe 18-character form of a 15-character id."""
    return id15 + _suffix(id15)


def make_id(prefix: str, number: int, series: str = SERIES_DATASET) -> str:
    """A deterministic 18-character id: `prefix` + pod + series + `number` in base 62."""
    if number < 0:
        raise ValueError("id numbers are non-negative")
    digits = ""
    while True:
        number, rest = divmod(number, 62)
        digits = _BASE62[rest] + digits
        if number == 0:
            break
    body = digits.rjust(9, "0")
    if len(body) > 9:
        raise ValueError("id number out of range")
    return to18(prefix + _POD + series + body)


def is_valid_id(value: str) -> bool:
    """True for a well-formed 15-character id or an 18-character id whose suffix matches."""
    if _ID15.match(value):
        return True
    return bool(_ID18.match(value)) and _suffix(value[:15]) == value[15:].upper()


def normalize_id(value: str) -> str | None:
    """The 18-character form of a valid id (either length), or None when malformed."""
    if not is_valid_id(value):
        return None
    return to18(value[:15])
