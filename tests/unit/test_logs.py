"""Structured logs: the record shape, the format choice, levels, run context and redaction (issue #8)."""

from __future__ import annotations

import io
import json
import logging
import random
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from healthsync.cli import cli
from healthsync.config import LoggingSection, load_config
from healthsync.errors import ConfigError, RateLimited, TransientError
from healthsync.http import Http, RetryPolicy
from healthsync.logs import FORMAT_ENV, LEVEL_ENV, log_context, setup_logging
from healthsync.secrets import MASK, Secret

log = logging.getLogger("healthsync.test.logs")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _restore_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test configures logging afresh and leaves the process as it found it."""
    monkeypatch.delenv(LEVEL_ENV, raising=False)
    monkeypatch.delenv(FORMAT_ENV, raising=False)
    root, own = logging.getLogger(), logging.getLogger("healthsync")
    handlers, level = list(root.handlers), own.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        own.setLevel(level)


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def _token() -> str:
    return "tok-" + "".join(random.choice("abcdef0123456789") for _ in range(24))


# --- shape -----------------------------------------------------------------------------------


def test_a_json_line_has_time_level_logger_message_then_context_and_extra_fields() -> None:
    out = io.StringIO()
    setup_logging("debug", json=True, stream=out)
    with log_context(run_id=12, config="acme"):
        log.info(
            "run %s finished: %s",
            12,
            "ok",
            extra={"status": "ok", "writes": {"fields": 3}, "as_of": date(2026, 1, 2)},
        )
    (entry,) = _lines(out)
    assert list(entry)[:6] == ["time", "level", "logger", "message", "run_id", "config"]
    assert entry["level"] == "info"
    assert entry["logger"] == "healthsync.test.logs"
    assert entry["message"] == "run 12 finished: ok"
    assert entry["status"] == "ok"
    assert entry["writes"] == {"fields": 3}
    assert entry["as_of"] == "2026-01-02"
    assert str(entry["time"]).endswith("Z")
    assert "T" in str(entry["time"])


def test_a_traceback_stays_inside_its_one_json_line() -> None:
    out = io.StringIO()
    setup_logging("info", json=True, stream=out)
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        log.exception("it broke")
    (entry,) = _lines(out)  # one line, newlines escaped
    assert "ValueError: bad" in str(entry["exception"])


def test_the_text_format_is_one_readable_line_with_its_fields() -> None:
    out = io.StringIO()
    setup_logging("info", json=False, stream=out)
    with log_context(run_id=3):
        log.warning("retrying", extra={"vendor": "hubspot", "reason": "two words"})
    line = out.getvalue().strip()
    assert ' WARNING healthsync.test.logs: retrying  run_id=3 vendor=hubspot reason="two words"' in line


def test_auto_format_is_text_on_a_terminal_and_json_otherwise() -> None:
    terminal, pipe = _Terminal(), io.StringIO()
    setup_logging("info", stream=terminal)
    log.info("hello")
    setup_logging("info", stream=pipe)
    log.info("hello")
    assert not terminal.getvalue().startswith("{")
    assert _lines(pipe)[0]["message"] == "hello"


# --- levels and formats: environment, config, default ----------------------------------------------


def test_the_default_level_applies_when_nothing_else_is_said() -> None:
    out = io.StringIO()
    setup_logging(default_level="warning", json=True, stream=out)
    log.info("hidden")
    log.warning("shown")
    assert [e["message"] for e in _lines(out)] == ["shown"]


def test_the_config_section_sets_level_and_format() -> None:
    out = _Terminal()
    setup_logging(LoggingSection(level="debug", format="json"), stream=out)
    log.debug("shown")
    assert _lines(out)[0]["level"] == "debug"  # JSON although the stream is a terminal


def test_an_unset_config_level_leaves_it_to_the_command(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[crm]\nsystem = "hubspot"\n[hubspot]\naccess_token = { env = "X_TOKEN" }\n')
    config = load_config(path)
    assert config.logging.level is None
    out = io.StringIO()
    setup_logging(config, default_level="info", stream=out)
    log.info("shown")
    log.debug("hidden")
    assert [e["message"] for e in _lines(out)] == ["shown"]


def test_the_environment_wins_over_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LEVEL_ENV, "DEBUG")
    monkeypatch.setenv(FORMAT_ENV, "text")
    out = io.StringIO()
    setup_logging(LoggingSection(level="error", format="json"), stream=out)
    log.debug("shown")
    assert "DEBUG healthsync.test.logs: shown" in out.getvalue()


@pytest.mark.parametrize(("name", "value"), [(LEVEL_ENV, "verbose"), (FORMAT_ENV, "xml")])
def test_a_bad_environment_value_is_a_config_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=f"{name}: expected one of .*; got '{value}'"):
        setup_logging("info")


def test_the_cli_reports_a_bad_environment_value_and_exits_2() -> None:
    result = CliRunner(env={LEVEL_ENV: "loud"}).invoke(cli, ["rules", "show"], catch_exceptions=False)
    assert result.exit_code == 2
    assert result.stderr == f"error: {LEVEL_ENV}: expected one of debug, info, warning, error; got 'loud'\n"


def test_only_healthsync_follows_the_level_other_libraries_log_warnings() -> None:
    out = io.StringIO()
    setup_logging("debug", json=True, stream=out)
    logging.getLogger("urllib3.connectionpool").debug("noise")
    logging.getLogger("urllib3.connectionpool").warning("Connection pool is full")
    assert [e["logger"] for e in _lines(out)] == ["urllib3.connectionpool"]


def test_setting_up_twice_replaces_the_handler() -> None:
    first, second = io.StringIO(), io.StringIO()
    setup_logging("info", json=True, stream=first)
    setup_logging("info", json=True, stream=second)
    log.info("once")
    assert first.getvalue() == ""
    assert len(_lines(second)) == 1


def test_without_a_stream_each_record_goes_to_the_current_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    setup_logging("info", json=True)
    swapped = io.StringIO()  # as rich's live display and click's test runner do
    monkeypatch.setattr(sys, "stderr", swapped)
    log.info("here")
    assert _lines(swapped)[0]["message"] == "here"


# --- context -----------------------------------------------------------------------------------


def test_each_thread_logs_its_own_run_id() -> None:
    out = io.StringIO()
    setup_logging("info", json=True, stream=out)
    barrier = threading.Barrier(2)

    def run(run_id: int) -> None:
        with log_context(run_id=run_id):
            barrier.wait()
            log.info("in run %s", run_id)

    threads = [threading.Thread(target=run, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.info("outside")
    entries = _lines(out)
    assert {(e["message"], e.get("run_id")) for e in entries} == {
        ("in run 1", 1),
        ("in run 2", 2),
        ("outside", None),
    }


def test_an_extra_field_wins_over_the_bound_context() -> None:
    out = io.StringIO()
    setup_logging("info", json=True, stream=out)
    with log_context(vendor="hubspot"):
        log.info("x", extra={"vendor": "zendesk"})
    assert _lines(out)[0]["vendor"] == "zendesk"


# --- secrets -----------------------------------------------------------------------------------


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "text"])
def test_a_revealed_secret_is_scrubbed_from_message_fields_and_traceback(as_json: bool) -> None:
    value = _token()
    Secret(value).reveal()
    out = io.StringIO()
    setup_logging("debug", json=as_json, stream=out)
    with log_context(url=f"https://x.example/?t={value}"):
        log.debug("Authorization: Bearer %s", value, extra={"headers": {"Authorization": f"Bearer {value}"}})
        try:
            raise RuntimeError(f"refused {value}")
        except RuntimeError:
            log.exception("failed with %r", [value])
    text = out.getvalue()
    assert value not in text
    assert text.count(MASK) >= 5


def test_importing_the_logging_module_stays_cheap() -> None:
    """The CLI sets logging up on every start; keyring, pydantic and SQLAlchemy load only when needed."""
    code = (
        "import sys, healthsync.logs; healthsync.logs.setup_logging('info');"
        "print(sorted({'sqlalchemy', 'pydantic', 'keyring', 'healthsync.secrets'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --- what http.py logs -------------------------------------------------------------------------


def test_each_request_is_a_debug_line_and_each_retry_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="healthsync.http")
    answers: list[Exception | str] = [
        RateLimited("slow down", vendor="hubspot", endpoint="companies.list", status=429, retry_after=2),
        "page",
    ]

    def send() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    http = Http(sleep=lambda _: None, policy=RetryPolicy(max_attempts=3))
    assert http.call("hubspot", "companies.list", send, idempotent=True, kind="read") == "page"
    records = [r for r in caplog.records if r.name == "healthsync.http"]
    assert [(r.levelname, getattr(r, "outcome", None)) for r in records] == [
        ("DEBUG", "retry"),
        ("WARNING", None),
        ("DEBUG", "ok"),
    ]
    first, retry, ok = records
    assert (first.vendor, first.endpoint, first.kind, first.attempt, first.status) == (  # type: ignore[attr-defined]
        "hubspot",
        "companies.list",
        "read",
        1,
        429,
    )
    assert (retry.error, retry.wait_s, retry.attempt) == ("RateLimited", 2.0, 1)  # type: ignore[attr-defined]
    assert ok.attempt == 2  # type: ignore[attr-defined]
    assert ok.duration_ms >= 0  # type: ignore[attr-defined]
    assert not hasattr(ok, "status")


def test_a_final_failure_is_a_debug_line_with_its_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="healthsync.http")

    def send() -> str:
        raise TransientError("down", vendor="zendesk", endpoint="tickets", status=503)

    with pytest.raises(TransientError):
        Http(sleep=lambda _: None).call("zendesk", "tickets", send, idempotent=False, kind="write")
    (record,) = [r for r in caplog.records if r.name == "healthsync.http"]
    assert record.levelname == "DEBUG"
    assert (record.outcome, record.error, record.status) == ("error", "TransientError", 503)  # type: ignore[attr-defined]
