"""Read TOML and remember where each key was written, so errors can name the file line.

`tomllib` gives values but no positions. RevOps and admins need "config.toml:14: crm.kind: ..."
rather than a key path they have to hunt for, so after `tomllib` has validated the syntax, a small
scanner walks the same text and records the line of every key, table header, array-of-tables entry
and array element. Because `tomllib` already accepted the text, the scanner can assume it is valid.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from healthsync.errors import ConfigError, ConfigProblem

__all__ = ["KeyPath", "TomlDocument", "load_toml", "parse_toml"]

KeyPath = tuple[str | int, ...]

_LINE_IN_ERROR = re.compile(r"\(at line (\d+), column (\d+)\)")
_PUNCT = set("[]{}=,")


@dataclass(frozen=True)
class TomlDocument:
    """Parsed TOML plus the line of each key path (array indexes are ints, as in pydantic's `loc`)."""

    source: str
    data: dict[str, Any]
    lines: Mapping[KeyPath, int] = field(default_factory=dict)

    def line_of(self, path: Sequence[str | int]) -> int | None:
        """Line of `path`, or of its nearest written ancestor (a missing key points at its table)."""
        key = tuple(path)
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return None

    def problem(self, path: Sequence[str | int], message: str, fix: str | None = None) -> ConfigProblem:
        """A ConfigProblem located at `path` in this document."""
        return ConfigProblem(
            source=self.source, key=dotted(path), message=message, line=self.line_of(path), fix=fix
        )


def dotted(path: Sequence[str | int]) -> str:
    """Render a key path the way a person writes it: `rule[2].when.gt`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


def load_toml(path: str | Path) -> TomlDocument:
    """Read and parse a TOML file; a missing file or a syntax error is a ConfigError with the line."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8-sig")  # tolerate the BOM Windows editors add
    except FileNotFoundError:
        raise ConfigError(f"{file}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read: {exc}") from None
    return parse_toml(text, str(file))


def parse_toml(text: str, source: str) -> TomlDocument:
    """Parse TOML text read from `source` (a file name used in messages)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = _LINE_IN_ERROR.search(str(exc))
        line = int(found.group(1)) if found else None
        message = _LINE_IN_ERROR.sub("", str(exc)).strip()
        problem = ConfigProblem(source=source, key="", message=f"not valid TOML: {message}", line=line)
        raise ConfigError(f"{source}: cannot parse", [problem]) from None
    return TomlDocument(source=source, data=data, lines=_KeyScanner(text).scan())


@dataclass(frozen=True)
class _Token:
    kind: str  # one of the punctuation characters, "str", "atom" or "nl"
    text: str
    line: int
    col: int


def _tokens(text: str) -> Iterator[_Token]:
    """Split valid TOML into punctuation, strings, bare atoms and newlines, with positions."""
    i, line, col_base = 0, 1, 0
    n = len(text)
    while i < n:
        ch = text[i]
        col = i - col_base
        if ch == "\n":
            yield _Token("nl", ch, line, col)
            line, col_base = line + 1, i + 1
            i += 1
        elif ch in " \t\r":
            i += 1
        elif ch == "#":
            while i < n and text[i] != "\n":
                i += 1
        elif text.startswith('"""', i) or text.startswith("'''", i):
            quote = text[i : i + 3]
            end = _find_closing(text, i + 3, quote, escapes=quote == '"""')
            while end + 3 < n and text[end + 3] == quote[0]:  # up to two quotes may precede the closing ones
                end += 1
            body = text[i + 3 : end]
            yield _Token("str", body, line, col)
            newlines = body.count("\n")
            if newlines:
                line += newlines
                col_base = i + 3 + body.rfind("\n") + 1
            i = end + 3
        elif ch in "\"'":
            end = _find_closing(text, i + 1, ch, escapes=ch == '"')
            yield _Token("str", text[i + 1 : end], line, col)
            i = end + 1
        elif ch in _PUNCT:
            yield _Token(ch, ch, line, col)
            i += 1
        else:
            start = i
            while i < n and text[i] not in " \t\r\n#\"'" and text[i] not in _PUNCT:
                i += 1
            yield _Token("atom", text[start:i], line, col)


def _find_closing(text: str, start: int, quote: str, *, escapes: bool) -> int:
    i = start
    while True:
        found = text.find(quote, i)
        if found < 0:
            return len(text)
        if escapes:
            slashes = 0
            j = found - 1
            while j >= start and text[j] == "\\":
                slashes += 1
                j -= 1
            if slashes % 2:
                i = found + 1
                continue
        return found


class _KeyScanner:
    """Walks the token stream like a TOML parser, but only to record where each key path is written."""

    def __init__(self, text: str) -> None:
        self._toks = list(_tokens(text))
        self._pos = 0
        self._lines: dict[KeyPath, int] = {}
        self._array_counts: dict[KeyPath, int] = {}

    def scan(self) -> dict[KeyPath, int]:
        current: KeyPath = ()
        while (tok := self._peek()) is not None:
            if tok.kind == "nl":
                self._pos += 1
            elif tok.kind == "[":
                current = self._header()
            else:
                parts = self._key()
                self._record(current + parts, tok.line)
                self._value(current + parts)
        return self._lines

    def _peek(self, ahead: int = 0) -> _Token | None:
        at = self._pos + ahead
        return self._toks[at] if at < len(self._toks) else None

    def _next(self) -> _Token:
        tok = self._toks[self._pos]
        self._pos += 1
        return tok

    def _skip_newlines(self) -> None:
        while (tok := self._peek()) is not None and tok.kind == "nl":
            self._pos += 1

    def _record(self, path: KeyPath, line: int) -> None:
        for end in range(1, len(path) + 1):
            self._lines.setdefault(path[:end], line)

    def _resolve(self, parts: KeyPath) -> KeyPath:
        """Insert the latest array-of-tables index after each prefix that names one ([rule.when])."""
        out: KeyPath = ()
        for part in parts:
            out = (*out, part)
            if out in self._array_counts:
                out = (*out, self._array_counts[out] - 1)
        return out

    def _header(self) -> KeyPath:
        first = self._next()
        second = self._peek()
        is_array = second is not None and second.kind == "[" and second.col == first.col + 1
        if is_array:
            self._pos += 1
        parts = self._key(terminator="]")
        self._pos += 2 if is_array else 1  # the closing bracket(s)
        if is_array:
            table = self._resolve(parts[:-1]) + parts[-1:]
            index = self._array_counts.get(table, 0)
            self._array_counts[table] = index + 1
            path = (*table, index)
            self._lines.setdefault(table, first.line)
            self._lines[path] = first.line
            self._record(path, first.line)
            return path
        path = self._resolve(parts)
        self._lines[path] = first.line
        self._record(path, first.line)
        return path

    def _key(self, terminator: str = "=") -> KeyPath:
        parts: list[str | int] = []
        while (tok := self._peek()) is not None and tok.kind != terminator:
            self._pos += 1
            if tok.kind == "str":
                parts.append(tok.text)
            elif tok.kind == "atom":
                parts.extend(piece for piece in tok.text.split(".") if piece)
        if terminator == "=":
            self._pos += 1  # the "="
        return tuple(parts)

    def _value(self, path: KeyPath) -> None:
        tok = self._peek()
        if tok is None:
            return
        if tok.kind == "{":
            self._pos += 1
            while (inner := self._peek()) is not None and inner.kind != "}":
                if inner.kind == ",":
                    self._pos += 1
                    continue
                parts = self._key()
                self._record(path + parts, inner.line)
                self._value(path + parts)
            self._pos += 1
        elif tok.kind == "[":
            self._pos += 1
            index = 0
            while True:
                self._skip_newlines()
                inner = self._peek()
                if inner is None or inner.kind == "]":
                    self._pos += 1
                    return
                if inner.kind == ",":
                    self._pos += 1
                    index += 1
                    continue
                self._record((*path, index), inner.line)
                self._value((*path, index))
        else:
            first = self._next()
            # A date-time may be written with a space instead of "T": the time is a second atom.
            while (more := self._peek()) is not None and more.kind == "atom" and more.line == first.line:
                self._pos += 1
