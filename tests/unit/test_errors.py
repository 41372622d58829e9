"""The exception tree: exit codes, safe messages, and errors that survive pickling."""

from __future__ import annotations

import pickle

import pytest

from healthsync.errors import (
    AuthError,
    ConfigError,
    ConfigProblem,
    NotImplementedYet,
    QuotaExhausted,
    RateLimited,
    RecordRejected,
    StateError,
    exit_code_for,
    truncate,
)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ConfigError("bad"), 2),
        (AuthError("401", vendor="hubspot", status=401, fix="run `healthsync auth set hubspot`"), 2),
        (NotImplementedYet("later"), 2),
        (QuotaExhausted("spent", vendor="salesforce", status=403), 1),
        (RateLimited("slow", vendor="zendesk", retry_after=3.0), 1),
        (StateError("lease held"), 1),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else str(v),
)
def test_exit_codes(error, code):
    assert exit_code_for(error) == code


@pytest.mark.parametrize(
    "error",
    [
        RateLimited("slow down", vendor="hubspot", endpoint="companies.search", status=429, retry_after=10.0),
        AuthError("refused", vendor="zendesk", status=401, fix="check the token"),
        RecordRejected("bad row", vendor="salesforce", record_key="001x", body="x" * 1000),
        ConfigError("invalid", [ConfigProblem("a.toml", "crm.system", "expected hubspot", line=3)]),
    ],
    ids=lambda e: type(e).__name__,
)
def test_errors_survive_pickling_with_their_context(error):
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes, round-tripped
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert copy.__dict__ == error.__dict__


def test_vendor_error_truncates_bodies_and_names_its_context():
    error = RecordRejected(
        "rejected", vendor="hubspot", endpoint="batch/update", status=207, record_key="42", body="y" * 5000
    )
    text = str(error)
    assert text.startswith("[hubspot batch/update HTTP 207 record 42] rejected")
    assert len(text) < 500
    assert truncate("short") == "short"


def test_config_error_lists_each_problem_with_file_and_line():
    error = ConfigError(
        "c.toml: invalid configuration",
        [
            ConfigProblem("c.toml", "state.url", "not a database URL", line=7, fix="use sqlite:///file.db"),
            ConfigProblem("c.toml", "", "not valid TOML"),
        ],
    )
    assert str(error).splitlines() == [
        "c.toml: invalid configuration",
        "  - c.toml:7: state.url: not a database URL (fix: use sqlite:///file.db)",
        "  - c.toml: not valid TOML",
    ]
