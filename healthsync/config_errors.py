"""Turn pydantic's validation errors into `ConfigProblem`s a person can act on.

An admin editing `healthsync.toml` should read "healthsync.toml:12: hubspot.acess_token: unknown
key 'acess_token' (did you mean 'access_token'?)", not a pydantic dump. Each pydantic error type is
translated into plain words here, located with the line the TOML scanner recorded for its `loc`.

Two rules hold for every message built here:

- A value under a secret reference, or a value that *is* a secret written in the wrong place, is
  never repeated back: error messages end up in terminals, CI logs and support tickets.
- Checks that involve several keys at once (which Salesforce auth needs which keys, "exactly one
  of") are written in `config.py` as `Issue`s. pydantic carries them inside one `ISSUES` error, and
  they come back out here as one problem per key, each with its own line.
"""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from typing import Annotated, Any, Literal, NamedTuple, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import ErrorDetails, PydanticCustomError

from healthsync.errors import ConfigProblem
from healthsync.secrets import SecretRef, display_name, suggest_ref
from healthsync.tomlsource import KeyPath, TomlDocument, dotted

__all__ = [
    "ISSUES",
    "LITERAL_SECRET",
    "SECRET_IN_URL",
    "Issue",
    "issue_problem",
    "issues_error",
    "literal_secret_error",
    "redact_userinfo",
    "secret_in_url_error",
    "translate",
]

ISSUES = "healthsync_issues"
LITERAL_SECRET = "literal_secret"  # noqa: S105 - an error type name, not a secret
SECRET_IN_URL = "secret_in_url"  # noqa: S105 - likewise

_SHOWN_CHARS = 60
_USERINFO = re.compile(r"(//)[^/@\s]*@")

_EXPECTED = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "string_type": "a string",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "tuple_type": "a list",
    "set_type": "a list",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
    "path_type": "a file path (a string)",
}


class Issue(NamedTuple):
    """One problem found by a cross-key check, relative to the table the check ran on.

    Attributes:
        loc: key path of the offending key, relative to the checked table (``()`` is the table).
        message: what is wrong, in plain words.
        fix: what to write instead, when more specific than the message.
        at: where to point the line number, when that is not `loc` itself (a missing section is
            best shown at the key that requires it).
    """

    loc: KeyPath
    message: str
    fix: str | None = None
    at: KeyPath | None = None


def issues_error(issues: Sequence[Issue]) -> PydanticCustomError:
    """Wrap several issues in one pydantic error, so a validator can report all of them at once."""
    summary = "; ".join(f"{dotted(issue.loc) or 'table'}: {issue.message}" for issue in issues)
    return PydanticCustomError(ISSUES, "{summary}", {"summary": summary, "issues": tuple(issues)})


def literal_secret_error() -> PydanticCustomError:
    """The error for a credential written into the file; its text is built in `translate`."""
    return PydanticCustomError(LITERAL_SECRET, "a secret value must not be written in the config file")


def secret_in_url_error(redacted_url: str, *, password_key: str | None) -> PydanticCustomError:
    """The error for a URL carrying credentials; `password_key` names the key that should hold them."""
    return PydanticCustomError(
        SECRET_IN_URL,
        "the URL carries credentials",
        {"url": redacted_url, "password_key": password_key},
    )


def redact_userinfo(text: str) -> str:
    """Hide anything between `//` and `@` in a URL-ish string, for echoing input we could not parse."""
    return _USERINFO.sub(r"\1***@", text)


def issue_problem(doc: TomlDocument, base: KeyPath, issue: Issue) -> ConfigProblem:
    """A ConfigProblem for `issue`, raised by a check on the table at `base`."""
    key = (*base, *issue.loc)
    line_at = key if issue.at is None else (*base, *issue.at)
    return ConfigProblem(
        source=doc.source, key=dotted(key), message=issue.message, line=doc.line_of(line_at), fix=issue.fix
    )


def translate(
    errors: Sequence[ErrorDetails], doc: TomlDocument, root: type[BaseModel]
) -> list[ConfigProblem]:
    """Translate pydantic errors from validating `doc.data` as `root` into located problems.

    Returns:
        One problem per key, deduplicated, in file order (problems without a line last).
    """
    problems: list[ConfigProblem] = []
    for error in errors:
        loc: KeyPath = tuple(error["loc"])
        if error["type"] == ISSUES:
            issues: Sequence[Issue] = error.get("ctx", {}).get("issues", ())
            problems.extend(issue_problem(doc, loc, issue) for issue in issues)
            continue
        message, fix = _describe(error, loc, root)
        problems.append(
            ConfigProblem(source=doc.source, key=dotted(loc), message=message, line=doc.line_of(loc), fix=fix)
        )
    unique = {(p.key, p.message): p for p in problems}
    return sorted(unique.values(), key=lambda p: (p.line is None, p.line or 0, p.key))


def _describe(error: ErrorDetails, loc: KeyPath, root: type[BaseModel]) -> tuple[str, str | None]:
    """Message and fix for one pydantic error."""
    kind = error["type"]
    ctx: Mapping[str, Any] = error.get("ctx", {})
    secret = _under_secret(root, loc)
    got = "" if secret else f", got {_show(error['input'])}"
    if kind == LITERAL_SECRET:
        return _literal_secret(loc)
    if kind == SECRET_IN_URL:
        return _secret_in_url(loc, str(ctx.get("url", "")), ctx.get("password_key"))
    if kind == "extra_forbidden":
        return _unknown_key(loc, error["input"], root), None
    if kind == "missing":
        return _missing(loc, root)
    if kind == "literal_error":
        options = _literal_options(root, loc) or re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        return f"expected one of {', '.join(options)}{got}", None
    if kind in _EXPECTED:
        if len(loc) == 1 and kind in ("model_type", "dict_type"):
            return f"expected a [{loc[0]}] section (a table){got}", None
        return f"expected {_EXPECTED[kind]}{got}", None
    if kind in ("value_error", "assertion_error"):
        return str(ctx.get("error", error["msg"])), None
    bound = _bound(kind, ctx)
    if bound is not None:
        return f"{bound}{got}", None
    if kind in ("too_short", "string_too_short"):
        return ("must not be empty" if ctx.get("min_length") == 1 else error["msg"].lower()), None
    if kind in ("too_long", "string_too_long"):
        return error["msg"].lower(), None
    return error["msg"], None  # pydantic's own words; never its input


def _bound(kind: str, ctx: Mapping[str, Any]) -> str | None:
    phrases = {
        "greater_than": ("gt", "must be greater than"),
        "greater_than_equal": ("ge", "must be at least"),
        "less_than": ("lt", "must be less than"),
        "less_than_equal": ("le", "must be at most"),
    }
    if kind not in phrases:
        return None
    name, phrase = phrases[kind]
    return f"{phrase} {ctx.get(name)}"


def _literal_secret(loc: KeyPath) -> tuple[str, str]:
    key = dotted(loc)
    leaf = str(loc[-1]) if loc else "secret"
    ref = suggest_ref(key)
    address = ref.keyring_address()
    assert address is not None  # suggest_ref always names a keyring entry
    fix = (
        f"store it with `healthsync auth set {display_name(*address)}` and write "
        f'`{leaf} = {{ keyring = "{ref.keyring}" }}`, '
        f'or export it and write `{leaf} = {{ env = "{ref.env}" }}`'
    )
    return "a secret value must not be written in the config file", fix


def _secret_in_url(loc: KeyPath, url: str, password_key: object) -> tuple[str, str]:
    message = f"the URL carries credentials ({url}); a secret value must not be written in the config file"
    if not isinstance(password_key, str):
        return message, "remove the user name and password from the URL"
    sibling = (*loc[:-1], password_key)
    ref = suggest_ref(dotted(sibling))
    address = ref.keyring_address()
    assert address is not None
    fix = (
        f"remove the password from the URL, store it with `healthsync auth set {display_name(*address)}` "
        f'and write `{password_key} = {{ keyring = "{ref.keyring}" }}` (or `{{ env = "{ref.env}" }}`) '
        "next to the URL"
    )
    return message, fix


def _unknown_key(loc: KeyPath, value: object, root: type[BaseModel]) -> str:
    key = str(loc[-1])
    parent = _walk(root, loc[:-1])
    known = sorted(parent.model_fields) if _is_model(parent) else []
    is_section = isinstance(value, dict) and len(loc) == 1  # deeper tables may be inline: call them keys
    shown = f"section [{dotted(loc)}]" if is_section else f"key '{key}'"
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if close:
        suggestion = f"[{dotted((*loc[:-1], close[0]))}]" if is_section else f"'{close[0]}'"
        return f"unknown {shown} (did you mean {suggestion}?)"
    if known:
        return f"unknown {shown}; known keys here: {', '.join(known)}"
    return f"unknown {shown}"


def _missing(loc: KeyPath, root: type[BaseModel]) -> tuple[str, str | None]:
    target = _walk(root, loc)
    if len(loc) == 1:
        return f"missing required section [{loc[0]}]", f"add a [{loc[0]}] section (see config.example.toml)"
    leaf = str(loc[-1])
    if target is SecretRef:
        ref = suggest_ref(dotted(loc))
        return "missing required key", f'add `{leaf} = {{ keyring = "{ref.keyring}", env = "{ref.env}" }}`'
    options = _literal_options(root, loc)
    if options:
        return "missing required key", f"add `{leaf} = ...` with one of {', '.join(options)}"
    return "missing required key", None


def _literal_options(root: type[BaseModel], loc: KeyPath) -> list[str]:
    target = _walk(root, loc)
    if get_origin(target) is Literal:
        return [str(arg) for arg in get_args(target)]
    return []


def _under_secret(root: type[BaseModel], loc: KeyPath) -> bool:
    """Whether `loc` is a secret reference or inside one (its input must not be echoed)."""
    return any(_walk(root, loc[:end]) is SecretRef for end in range(1, len(loc) + 1))


def _is_model(target: object) -> bool:
    return isinstance(target, type) and issubclass(target, BaseModel)


def _unwrap(target: Any) -> Any:
    """Strip `Annotated[...]` and `X | None` down to the type a value is validated as."""
    while True:
        origin = get_origin(target)
        if origin is Annotated:
            target = get_args(target)[0]
        elif origin in (Union, types.UnionType):
            options = [arg for arg in get_args(target) if arg is not type(None)]
            if len(options) != 1:
                return target
            target = options[0]
        else:
            return target


def _walk(root: type[BaseModel], loc: Sequence[str | int]) -> Any:
    """The type found at `loc` inside `root` (models, tuples/lists and dicts), or None if unknown."""
    target: Any = root
    for part in loc:
        target = _unwrap(target)
        origin = get_origin(target)
        if _is_model(target) and isinstance(part, str):
            field = target.model_fields.get(part)
            if field is None:
                return None
            target = field.annotation
        elif origin in (list, tuple) and isinstance(part, int):
            target = get_args(target)[0] if get_args(target) else None
        elif origin is dict and isinstance(part, str):
            target = get_args(target)[1] if get_args(target) else None
        else:
            return None
    return _unwrap(target)


def _show(value: object) -> str:
    """A short rendering of a user's value, in TOML's spelling."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = redact_userinfo(value)
        if len(text) > _SHOWN_CHARS:
            text = text[:_SHOWN_CHARS] + "…"
        return f"'{text}'"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, datetime | date | time):
        return f"the date/time {value.isoformat()}"
    return type(value).__name__
