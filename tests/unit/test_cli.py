"""The command line: every command documented, errors as messages with exit codes, never tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from healthsync.cli import cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    out: list[tuple[str, click.Command]] = []
    for name, command in sorted(group.commands.items()):
        full = f"{prefix}{name}"
        if isinstance(command, click.Group):
            out.extend(_commands(command, full + " "))
        else:
            out.append((full, command))
    return out


ALL_COMMANDS = _commands(cli)
ENGINE_COMMANDS = [
    ("sync", []),
    ("plan", []),
    ("explain", ["Acme"]),
    ("status", []),
    ("fields apply", []),
    ("report", []),
]
"""Commands of the sync engine (issue #6), which need a config."""


@pytest.fixture
def runner():
    return CliRunner()


def test_design_commands_all_exist():
    names = {name for name, _ in ALL_COMMANDS}
    expected = {"rules show", "rules test", "demo", "report"}
    expected |= {name for name, _ in ENGINE_COMMANDS} | {"check", "fields apply"}
    expected |= {"schedule run", "schedule list", "auth set", "auth test", "auth delete"}
    assert expected <= names


@pytest.mark.parametrize(("name", "command"), ALL_COMMANDS, ids=[n for n, _ in ALL_COMMANDS])
def test_every_command_has_help_with_an_example_and_is_in_the_readme(runner, name, command):
    result = runner.invoke(cli, [*name.split(), "--help"], catch_exceptions=False)
    assert result.exit_code == 0
    assert (command.help or "").strip(), f"{name} has no help text"
    assert "Example: healthsync" in (command.help or ""), f"{name}'s help ends without an example"
    readme = (ROOT / "README.md").read_text()
    top = name.split()[0]
    assert f"healthsync {top}" in readme, f"`healthsync {top}` is missing from README.md"


def test_version(runner):
    result = runner.invoke(cli, ["--version"], catch_exceptions=False)
    assert result.exit_code == 0
    assert "healthsync" in result.output


def test_unknown_command_is_usage_error(runner):
    result = runner.invoke(cli, ["frobnicate"], catch_exceptions=False)
    assert result.exit_code == 2


def test_rules_test_json_on_the_shipped_example(runner):
    result = runner.invoke(
        cli,
        ["rules", "test", "--features", str(EXAMPLES / "features.json"), "--json", "--as-of", "2026-11-24"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert len(rows) >= 5
    for row in rows:
        assert {"account", "score", "band", "contributions", "missing"} <= row.keys()
        assert 0 <= row["score"] <= 100
        assert row["band"] in {"green", "yellow", "red"}
        for contribution in row["contributions"]:
            assert {"rule", "points", "reason"} <= contribution.keys()
            assert "{" not in contribution["reason"], "reason template left unrendered"
        assert row["computed_at"] == "2026-11-24"
    # the example ships an account with missing inputs, and they are reported, not scored as zero
    assert any(row["missing"] for row in rows)


def test_rules_test_reads_csv_too(runner, tmp_path):
    csv_file = tmp_path / "features.csv"
    csv_file.write_text("account,login_days_30d,last_nps\nAcme,16,9\nBeta,4,\n")
    result = runner.invoke(
        cli, ["rules", "test", "--features", str(csv_file), "--json"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    by_account = {row["account"]: row for row in json.loads(result.output)}
    assert by_account["Acme"]["score"] == 50  # +30 logins > 15, +20 promoter
    assert "last_nps" in by_account["Beta"]["missing"]


def test_rules_test_human_output_names_reasons(runner):
    result = runner.invoke(
        cli, ["rules", "test", "--features", str(EXAMPLES / "features.json")], catch_exceptions=False
    )
    assert result.exit_code == 0
    assert "Logged in on" in result.output
    assert "no data:" in result.output


def test_malformed_features_file_exits_2_with_the_place(runner, tmp_path):
    bad = tmp_path / "features.json"
    bad.write_text('[{"account": "Acme", "login_days": 3}]')
    result = runner.invoke(cli, ["rules", "test", "--features", str(bad)], catch_exceptions=False)
    assert result.exit_code == 2
    assert "features.json" in result.output
    assert "login_days" in result.output
    assert "login_days_30d" in result.output  # did-you-mean
    assert "Traceback" not in result.output


def test_features_file_that_is_not_json_exits_2(runner, tmp_path):
    bad = tmp_path / "features.json"
    bad.write_text('[{"account": "Acme",\n  "login_days_30d": }]')
    result = runner.invoke(cli, ["rules", "test", "--features", str(bad)], catch_exceptions=False)
    assert result.exit_code == 2
    assert f"{bad}:2" in result.output


def test_malformed_rule_file_exits_2_with_file_line_and_rule_id(runner, tmp_path):
    rules_file = tmp_path / "rules.toml"
    rules_file.write_text(
        '[[rule]]\nid = "ok"\nsignal = "last_nps"\nwhen = { gte = 9 }\npoints = 20\nreason = "promoter"\n\n'
        '[[rule]]\nid = "typo"\nsignal = "login_days"\nwhen = { gt = 15 }\npoints = 30\nreason = "x"\n'
    )
    for command in (["rules", "show"], ["rules", "test", "--features", str(EXAMPLES / "features.json")]):
        result = runner.invoke(cli, [*command, "--rules", str(rules_file)], catch_exceptions=False)
        assert result.exit_code == 2, command
        assert f"{rules_file}:10" in result.output
        assert "typo" in result.output
        assert "Traceback" not in result.output


def test_rules_show_json_lists_the_reference_table(runner):
    result = runner.invoke(cli, ["rules", "show", "--json"], catch_exceptions=False)
    assert result.exit_code == 0
    shown = json.loads(result.output)
    assert shown["bands"] == {"green": 70, "yellow": 40}
    points = {rule["id"]: rule["points"] for rule in shown["rules"]}
    assert sorted(points.values()) == [-20, -15, 0, 0, 15, 15, 15, 20, 20, 30]


def test_rules_show_segments_of_the_example_rule_file(runner):
    result = runner.invoke(
        cli,
        ["rules", "show", "--rules", str(EXAMPLES / "rules-enterprise.toml"), "--json"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0
    assert json.loads(result.output)["segments"]


def test_explicit_missing_config_is_an_error(runner, tmp_path):
    result = runner.invoke(
        cli, ["rules", "show", "--config", str(tmp_path / "nope.toml")], catch_exceptions=False
    )
    assert result.exit_code == 2
    assert "nope.toml" in result.output


def test_bad_config_file_exits_2_with_one_line_per_problem(runner, tmp_path):
    config = tmp_path / "healthsync.toml"
    config.write_text(
        '[crm]\nsystem = "hubspot"\n\n[hubspot]\naccess_token = "pat-na1-secret-value"\ntier = "pro"\n'
        '\n[[schedule]]\nname = "nightly"\ncron = "0 2 * *"\n'
    )
    result = runner.invoke(cli, ["rules", "show", "--config", str(config)], catch_exceptions=False)
    assert result.exit_code == 2
    assert f"{config}:5: hubspot.access_token" in result.output
    assert f"{config}:6: hubspot.tier" in result.output
    assert f"{config}:10: schedule[0].cron" in result.output
    assert "pat-na1-secret-value" not in result.output
    assert "Traceback" not in result.output


def test_configured_rule_file_is_the_active_one(runner, tmp_path):
    config = tmp_path / "healthsync.toml"
    config.write_text(
        '[crm]\nsystem = "hubspot"\n[hubspot]\naccess_token = { env = "HUBSPOT_TOKEN" }\n'
        f'[scoring]\nrules = "{EXAMPLES / "rules-enterprise.toml"}"\n'
    )
    result = runner.invoke(cli, ["rules", "show", "--config", str(config), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["source"].endswith("rules-enterprise.toml")


def test_report_before_any_sync_says_there_is_not_enough_data(runner, tmp_path):
    config = tmp_path / "healthsync.toml"
    config.write_text(
        '[crm]\nsystem = "hubspot"\n[hubspot]\naccess_token = { env = "HUBSPOT_TOKEN" }\n'
        f'[state]\nurl = "sqlite:///{tmp_path / "state.db"}"\n[report]\ncac = 5000\n'
    )
    html, folder = tmp_path / "out" / "report.html", tmp_path / "csv"
    args = [
        "report",
        "--config",
        str(config),
        "--as-of",
        "2026-11-24",
        "--html",
        str(html),
        "--csv",
        str(folder),
    ]
    result = runner.invoke(cli, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    for key in ("nrr", "grr", "logo_churn", "ltv", "ltv_cac"):
        assert data["metrics"][key]["value"] is None  # never a misleading 0 %
        assert data["metrics"][key]["note"] == "not enough data: no sync recorded yet"
    assert data["metrics"]["ltv_cac"]["target"] == 3.0
    assert data["files"][0] == str(html)
    assert html.read_text().startswith("<!DOCTYPE html>")
    assert (folder / "metrics.csv").exists()

    shown = runner.invoke(cli, args[:5], catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    assert "Net revenue retention" in shown.output
    assert "no data" in shown.output


@pytest.mark.parametrize(("name", "args"), ENGINE_COMMANDS, ids=[n for n, _ in ENGINE_COMMANDS])
def test_engine_commands_name_a_missing_config_and_exit_2(runner, tmp_path, name, args):
    missing = tmp_path / "nowhere.toml"
    result = runner.invoke(cli, [*name.split(), *args, "--config", str(missing)])
    assert result.exit_code == 2
    assert str(missing) in result.output
    assert "Traceback" not in result.output


def test_check_reports_a_missing_config_as_a_failed_item(runner, tmp_path):
    missing = tmp_path / "nowhere.toml"
    result = runner.invoke(cli, ["check", "--json", "--config", str(missing)])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert report["checks"][0]["name"] == "config"
    assert report["checks"][0]["status"] == "failed"
    assert str(missing) in report["checks"][0]["detail"] + " ".join(report["checks"][0]["problems"])
