"""The TOML locator: every key path maps to the line a person would look at."""

from __future__ import annotations

from pathlib import Path

import pytest

from healthsync.errors import ConfigError
from healthsync.tomlsource import dotted, load_toml, parse_toml

DOC = '''\
# comment line
title = "x"   # trailing comment
[crm]
kind = "hubspot"
token = { env = "HS", keyring = "a/b" }
"quoted.key" = 1
a.b.c = 2
multi = """
line with "quotes" and [brackets]
"""
arr = [
  1,
  { x = 1, y = "z" },
]
when = 1979-05-27 07:32:00Z
literal = 'C:\\path'

[[rule]]
id = "a"
[rule.when]
gt = 5

[[rule]]
id = "b"
when = { between = [5, 15] }

[scoring.segments."big corp"]
w = 1
'''


@pytest.fixture(scope="module")
def doc():
    return parse_toml(DOC, "test.toml")


@pytest.mark.parametrize(
    ("path", "line"),
    [
        (("title",), 2),
        (("crm",), 3),
        (("crm", "kind"), 4),
        (("crm", "token", "keyring"), 5),
        (("crm", "quoted.key"), 6),
        (("crm", "a", "b", "c"), 7),
        (("crm", "multi"), 8),
        (("crm", "arr", 0), 12),
        (("crm", "arr", 1, "y"), 13),
        (("crm", "when"), 15),
        (("crm", "literal"), 16),
        (("rule", 0), 18),
        (("rule", 0, "id"), 19),
        (("rule", 0, "when", "gt"), 21),
        (("rule", 1, "id"), 24),
        (("rule", 1, "when", "between", 1), 25),
        (("scoring", "segments", "big corp", "w"), 28),
    ],
    ids=lambda v: dotted(v) if isinstance(v, tuple) else str(v),
)
def test_line_of_each_kind_of_key(doc, path, line):
    assert doc.line_of(path) == line


def test_missing_key_points_at_its_table(doc):
    assert doc.line_of(("rule", 1, "points")) == 23
    assert doc.line_of(("nowhere",)) is None


def test_values_are_tomllib_values(doc):
    assert doc.data["rule"][1]["when"] == {"between": [5, 15]}
    assert doc.data["crm"]["multi"] == 'line with "quotes" and [brackets]\n'


def test_problem_carries_file_line_and_dotted_key(doc):
    problem = doc.problem(("rule", 1, "when"), "bad operator", fix="use gt")
    assert str(problem) == "test.toml:25: rule[1].when: bad operator (fix: use gt)"


def test_syntax_error_names_the_line(tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text('a = 1\nb = "unterminated\nc = 3\n')
    with pytest.raises(ConfigError) as info:
        load_toml(bad)
    assert info.value.problems[0].line == 2
    assert f"{bad}:2" in str(info.value)


def test_missing_file_is_a_config_error(tmp_path: Path):
    with pytest.raises(ConfigError, match="file not found"):
        load_toml(tmp_path / "nope.toml")
