"""`healthsync demo` runs on a fresh folder, and again on the same folder with the same result."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from healthsync.cli import cli


def _demo(folder: Path) -> str:
    result = CliRunner().invoke(cli, ["demo", "--workdir", str(folder), "--accounts", "60", "--weeks", "2"])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_demo_shows_a_csm_summary_and_runs_again_the_same(tmp_path: Path) -> None:
    first = _demo(tmp_path / "demo")
    for heading in ("Accounts by health band", "Renewals in the next 120 days", "Tasks created"):
        assert heading in first
    assert "week 2" in first
    assert "healthsync explain" in first
    assert (tmp_path / "demo" / "healthsync.db").exists()
    report = tmp_path / "demo" / "portfolio-report.html"
    assert f"portfolio report: {report}" in first.replace("\n", "")
    assert "<svg" in report.read_text()
    second = _demo(tmp_path / "demo")
    summary = first[first.index("Accounts by health band") :]
    assert second[second.index("Accounts by health band") :] == summary
    explained = CliRunner().invoke(
        cli, ["status", "--json", "--config", str(tmp_path / "demo" / "healthsync.toml")]
    )
    assert explained.exit_code == 0
    assert explained.stdout.count('"status": "ok"') == 2  # the second demo started clean: two runs, not four
