"""The `healthsync` command: parse, call one library function, render (DESIGN.md section 10).

Every command takes `--config PATH` (default `healthsync.toml`). Exit codes: 0 success, 1 partial
failure, 2 bad usage or configuration. A `HealthsyncError` becomes one readable message on stderr and
its exit code, never a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from healthsync import __version__
from healthsync.errors import ConfigError, HealthsyncError, exit_code_for

__all__ = ["cli", "main"]

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_CONFIG = "healthsync.toml"


class _Group(click.Group):
    """A click group that turns our exceptions into one message and their exit code, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HealthsyncError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exit_code_for(exc))


def config_option(func: F) -> F:
    """`--config PATH`, shared by every command that reads the configuration."""
    return click.option(
        "--config",
        "config_path",
        default=DEFAULT_CONFIG,
        show_default=True,
        type=click.Path(dir_okay=False, path_type=Path),
        help="Configuration file (TOML).",
    )(func)


def json_option(func: F) -> F:
    """`--json`: print one machine-readable object on stdout instead of tables."""
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON value instead of tables.")(
        func
    )


def rules_file_option(func: F) -> F:
    """`--rules FILE`: a rule file that replaces the configured or built-in rules."""
    return click.option(
        "--rules",
        "rules_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Rule file (default: the config's [scoring] rules, else the built-in table).",
    )(func)


def as_of_option(func: F) -> F:
    """`--as-of YYYY-MM-DD`: evaluate as if today were that date (backfills, simulations)."""
    return click.option(
        "--as-of",
        "as_of",
        type=click.DateTime(formats=["%Y-%m-%d"]),
        default=None,
        help="Evaluate as of this date (default: today).",
    )(func)


def _console() -> Console:
    # Plain text when piped: no colour codes or box art in log files and CI output.
    return Console(highlight=False, soft_wrap=not sys.stdout.isatty())


def _print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=False, default=str))


def _config(config_path: Path) -> Any:
    from healthsync.config import load_config
    from healthsync.logs import setup_logging

    config = load_config(config_path)
    setup_logging(config)  # the config's [logging] level and format, under the environment's
    return config


def _run(config_path: Path, as_of: Any, *, dry_run: bool, quiet: bool) -> Any:
    """Load the config and run one sync with progress on stderr (bars on a terminal, lines otherwise)."""
    from healthsync.render_sync import RichReporter, reporter_for
    from healthsync.sync.engine import run_sync

    config = _config(config_path)
    day = as_of.date() if isinstance(as_of, datetime) else None
    reporter = reporter_for(Console(stderr=True, highlight=False), quiet=quiet)
    if isinstance(reporter, RichReporter):
        with reporter:
            return run_sync(config, as_of=day, dry_run=dry_run, reporter=reporter)
    return run_sync(config, as_of=day, dry_run=dry_run, reporter=reporter)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="healthsync")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Customer health scores, renewal stages and tasks, written back into your CRM.

    Pulls accounts from Salesforce or HubSpot, tickets from Zendesk and usage from your product
    database; scores each account with explainable rules; writes the score, its reasons, tasks and
    renewal deals back into the CRM.

    Logs go to stderr, as JSON lines unless stderr is a terminal; the environment variables
    HEALTHSYNC_LOG_LEVEL (debug, info, warning, error) and HEALTHSYNC_LOG_FORMAT (auto, json, text)
    change that.

    Example: healthsync rules test --features examples/features.json
    """
    from healthsync.logs import setup_logging

    # The scheduler has nothing but its logs; a one-off command prints its own progress and result,
    # so its logs add only warnings and errors unless asked for more.
    setup_logging(default_level="info" if ctx.invoked_subcommand == "schedule" else "warning")


# --- implemented now -------------------------------------------------------------------------


@cli.group(cls=_Group)
def rules() -> None:
    """Inspect and try health-score rules without a CRM.

    Example: healthsync rules show --rules my-rules.toml
    """


def _rules_path(rules_path: Path | None, config_path: Path) -> Path | None:
    """The rule file in force: --rules wins, then the config's [scoring] rules, then built-in."""
    if rules_path is not None:
        return rules_path
    if config_path.exists():
        from healthsync.config import load_config

        configured = load_config(config_path).scoring.rules
        return Path(configured) if configured else None
    if config_path.name != DEFAULT_CONFIG or config_path.parent != Path():
        raise ConfigError(f"{config_path}: configuration file not found")
    return None


def _load_ruleset(rules_path: Path | None, config_path: Path) -> Any:
    from healthsync.scoring.rules import default_rules, load_rules

    path = _rules_path(rules_path, config_path)
    return load_rules(path) if path is not None else default_rules()


@rules.command("show")
@rules_file_option
@config_option
@json_option
def rules_show(rules_path: Path | None, config_path: Path, as_json: bool) -> None:
    """Print the active rule table, bands and segments.

    Example: healthsync rules show --rules examples/rules-enterprise.toml
    """
    from healthsync import render

    ruleset = _load_ruleset(rules_path, config_path)
    if as_json:
        _print_json(render.ruleset_to_json(ruleset))
    else:
        render.print_ruleset(_console(), ruleset)


@rules.command("test")
@click.option(
    "--features",
    "features_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Accounts' features as JSON (list of objects) or CSV (one row per account).",
)
@rules_file_option
@as_of_option
@config_option
@json_option
def rules_test(
    features_path: Path, rules_path: Path | None, as_of: Any, config_path: Path, as_json: bool
) -> None:
    """Score accounts from a features file and show every rule's contribution.

    Keys are feature names (see the README) plus `account`; a missing or null feature is "no data".

    Example: healthsync rules test --features examples/features.json --json
    """
    from healthsync import render
    from healthsync.scoring.engine import score_many
    from healthsync.scoring.features_file import load_features

    ruleset = _load_ruleset(rules_path, config_path)
    features = load_features(features_path)
    day: date = as_of.date() if as_of is not None else date.today()
    results = score_many(features, ruleset, as_of=day)
    if as_json:
        _print_json([render.result_to_json(r) for r in results])
    else:
        render.print_results(_console(), results)


@cli.command()
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for the demo config and state (default: ./healthsync-demo).",
)
@click.option("--accounts", default=300, show_default=True, type=click.IntRange(1), help="Sandbox accounts.")
@click.option(
    "--weeks",
    default=15,
    show_default=True,
    type=click.IntRange(1, 52),
    help="Weekly syncs to run, ending today (15 gives the quarterly report a baseline).",
)
@click.option(
    "--crm",
    type=click.Choice(["hubspot", "salesforce"]),
    default="hubspot",
    show_default=True,
    help="CRM to use.",
)
def demo(workdir: Path | None, accounts: int, weeks: int, crm: Any) -> None:
    """Start the bundled sandbox CRM, sync it for a few simulated weeks, and show the results.

    Example: healthsync demo
    """
    from healthsync.demo import run_demo

    run_demo(workdir or Path("healthsync-demo"), accounts=accounts, weeks=weeks, crm=crm, console=_console())


@cli.command()
@config_option
@json_option
@as_of_option
@click.option("--dry-run", is_flag=True, help="Compute and print the plan; write nothing.")
def sync(config_path: Path, as_json: bool, as_of: Any, dry_run: bool) -> None:
    """Run one sync: pull, match, score, plan, write back, record.

    Example: healthsync sync --dry-run
    """
    from healthsync.alerts import notify_after_run
    from healthsync.render_sync import print_sync_result

    try:
        result = _run(config_path, as_of, dry_run=dry_run, quiet=False)
    except ConfigError as exc:  # a refused credential mid-run is still a failed run to alert on
        recorded = getattr(exc, "run_result", None)
        if recorded is not None:
            notify_after_run(_config(config_path), None, recorded)
        raise
    notify_after_run(_config(config_path), None, result)
    if as_json:
        _print_json(result.to_json())
    else:
        print_sync_result(_console(), result)
    if result.status != "ok":
        sys.exit(1)


@cli.command()
@config_option
@json_option
@as_of_option
def plan(config_path: Path, as_json: bool, as_of: Any) -> None:
    """Show every planned write with its reason and the API-call estimate; write nothing.

    Example: healthsync plan --json
    """
    from healthsync.render_sync import plan_to_json, print_plan

    result = _run(config_path, as_of, dry_run=True, quiet=as_json)
    if as_json:
        _print_json(plan_to_json(result))
    else:
        print_plan(_console(), result)


@cli.command()
@config_option
@json_option
def check(config_path: Path, as_json: bool) -> None:
    """Check config, secrets, connectivity and the mapping against the live CRM schema.

    Example: healthsync check
    """
    from healthsync.check import run_checks
    from healthsync.render_sync import print_check

    report = run_checks(config_path)
    if as_json:
        _print_json(report.to_json())
    else:
        print_check(_console(), report)
    if not report.ok:
        sys.exit(1)


@cli.group(cls=_Group)
def fields() -> None:
    """Provision the CRM custom fields, property group and renewal pipeline healthsync writes to.

    Example: healthsync fields apply --dry-run
    """


@fields.command("apply")
@config_option
@click.option("--dry-run", is_flag=True, help="Show what would be created; change nothing.")
@json_option
def fields_apply(config_path: Path, dry_run: bool, as_json: bool) -> None:
    """Create the missing custom fields, property group and renewal pipeline; never delete.

    Example: healthsync fields apply
    """
    from healthsync.fields import apply_fields
    from healthsync.render_sync import print_fields

    result = apply_fields(_config(config_path), dry_run=dry_run)
    if as_json:
        _print_json(result.to_json())
    else:
        print_fields(_console(), result)
    if not result.ok:
        sys.exit(1)


@cli.command()
@click.argument("account")
@config_option
@json_option
def explain(account: str, config_path: Path, as_json: bool) -> None:
    """Show an account's score with every rule's contribution, trend, stage and open signals.

    Example: healthsync explain "Acme Corp"
    """
    from healthsync.render_sync import print_explanation
    from healthsync.sync.engine import open_store
    from healthsync.sync.explain import explain_account

    config = _config(config_path)
    store = open_store(config)
    try:
        explanation = explain_account(store, config, account)
    finally:
        store.close()
    if as_json:
        _print_json(explanation.to_json())
    else:
        print_explanation(_console(), explanation)


@cli.command()
@config_option
@json_option
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the report as one self-contained HTML page with charts.",
)
@click.option(
    "--csv",
    "csv_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write every table (and the metrics) as CSV files into this folder.",
)
@click.option(
    "--period",
    type=click.Choice(["month", "quarter"]),
    default="month",
    show_default=True,
    help="The trailing period the metrics cover, ending on the as-of date.",
)
@as_of_option
def report(
    config_path: Path, as_json: bool, html_path: Path | None, csv_dir: Path | None, period: str, as_of: Any
) -> None:
    """Portfolio report: NRR, GRR, churn, LTV, time to value, NPS, coverage, renewals and risk.

    Built from what the syncs recorded: it makes no API call.

    Example: healthsync report --html portfolio.html --period quarter
    """
    from healthsync.report.render_csv import write_csv
    from healthsync.report.render_html import write_html
    from healthsync.report.render_text import print_report
    from healthsync.report.run import portfolio_report
    from healthsync.sync.engine import open_store

    config = _config(config_path)
    store = open_store(config)
    try:
        built = portfolio_report(
            config,
            store,
            as_of=as_of.date() if as_of is not None else None,
            period=period,  # type: ignore[arg-type]
        )
    finally:
        store.close()
    written: list[Path] = []
    if html_path is not None:
        written.append(write_html(built, html_path))
    if csv_dir is not None:
        written += write_csv(built, csv_dir)
    if as_json:
        _print_json({**built.to_json(), "files": [str(p) for p in written]})
        return
    console = _console()
    print_report(console, built)
    for path in written:
        console.print(f"wrote {path}")


@cli.command()
@config_option
@json_option
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1), help="Runs to show.")
def status(config_path: Path, as_json: bool, limit: int) -> None:
    """Show recent runs, errors, dead letters and the next scheduled run.

    Example: healthsync status --json
    """
    from healthsync.render_sync import print_status, status_to_json
    from healthsync.sync.engine import open_store

    config = _config(config_path)
    store = open_store(config)
    try:
        store.mark_stale_runs()
        data = status_to_json(
            store.recent_runs(limit, config_name=config.name), store.open_dead_letters(), store.cursors()
        )
        from healthsync.scheduler import next_run

        upcoming = next_run(config)
        data["next_run"] = (
            {"job": upcoming.name, "at": upcoming.next_run.isoformat() if upcoming.next_run else None}
            if upcoming
            else None
        )
    finally:
        store.close()
    if as_json:
        _print_json(data)
    else:
        print_status(_console(), data)


@cli.group(cls=_Group)
def auth() -> None:
    """Store, test and delete credentials in the OS keyring.

    Example: healthsync auth set hubspot
    """


@auth.command("set")
@click.argument("name")
@click.option(
    "--stdin",
    "from_stdin",
    is_flag=True,
    help="Read the secret from standard input even on a terminal (the default when input is piped).",
)
@config_option
def auth_set(name: str, from_stdin: bool, config_path: Path) -> None:
    """Store a credential in the OS keyring (prompts without echo, or reads stdin).

    NAME is a vendor (hubspot, salesforce, zendesk: the secret it signs in with, by the config's
    salesforce.auth), a config key (salesforce.password, salesforce.security_token,
    salesforce.consumer_secret, salesforce.private_key, zendesk.oauth_token, state.password,
    usage.password, alerts.webhook_url, alerts.email.password) or an exact keyring name
    (salesforce-password, acme/hubspot). A vendor or key is stored where the config's
    { keyring = "..." } reference points, else under the names config.example.toml uses. Without a
    keyring backend (a headless server), use { env = "..." } or { file = "..." } references instead.

    Example: healthsync auth set salesforce.private_key --stdin < server.key
    """
    import shlex

    from healthsync import auth as credentials

    config = credentials.optional_config(config_path)
    target = credentials.target_for(name, config)
    credentials.require_keyring(target)  # before anyone types a secret
    if from_stdin or not sys.stdin.isatty():
        value = credentials.read_secret(sys.stdin)
    else:
        value = click.prompt(f"{target.label} (input hidden)", hide_input=True)
    stored = credentials.store_credential(target, value, config)
    click.echo(f"{'replaced' if stored.replaced else 'stored'} {target.label}")
    if target.warning:
        click.echo(f"warning: {target.warning}", err=True)
    # The follow-up commands name the config too, unless it is the default one.
    with_config = "" if config_path == Path(DEFAULT_CONFIG) else f" --config {shlex.quote(str(config_path))}"
    for key in stored.still_missing:
        click.echo(f"still missing: {key} (healthsync auth set {key}{with_config})")
    if target.vendor is not None and not stored.still_missing:
        click.echo(f"check it with: healthsync auth test {target.vendor}{with_config}")


@auth.command("test")
@click.argument("name")
@config_option
@json_option
def auth_test(name: str, config_path: Path, as_json: bool) -> None:
    """Call the vendor with the configured credentials and report who they sign in as.

    NAME is hubspot, salesforce or zendesk (or one of their config keys). Secrets are found as a
    sync finds them: keyring, then environment, then file. Exits 1 when the vendor refuses them,
    with the vendor's message and the fix; nothing is written anywhere.

    Example: healthsync auth test hubspot
    """
    from healthsync.auth_verify import verify_credential
    from healthsync.errors import AuthError, VendorError

    config = _config(config_path)
    try:
        identity = verify_credential(config, name)
    except AuthError as exc:
        detail = VendorError.__str__(exc)  # vendor, endpoint, status and message; the fix on its own line
        if as_json:
            _print_json({"vendor": exc.vendor, "ok": False, "error": detail, "fix": exc.fix})
        else:
            click.echo(f"✗ {exc.vendor}: {detail}", err=True)
            if exc.fix:
                click.echo(f"  fix: {exc.fix}", err=True)
        sys.exit(1)
    if as_json:
        _print_json(identity.to_json())
        return
    click.echo(f"✓ {identity.vendor}: signed in as {identity.who}")
    rows = [*identity.credentials, *identity.details]
    width = max((len(label) for label, _ in rows), default=0)
    for label, value in rows:
        click.echo(f"  {label.ljust(width)}  {value}")
    for note in identity.notes:
        click.echo(f"  note: {note}")


@auth.command("delete")
@click.argument("name")
@config_option
def auth_delete(name: str, config_path: Path) -> None:
    """Remove a credential from the OS keyring (NAME as for `auth set`).

    Deleting an entry that is not there says so and exits 0, so deprovisioning scripts can run twice.

    Example: healthsync auth delete salesforce.password
    """
    from healthsync import auth as credentials

    config = credentials.optional_config(config_path)
    target = credentials.target_for(name, config)
    deleted = credentials.delete_credential(target)
    if deleted.deleted:
        click.echo(f"deleted {target.label}")
    else:
        reader = f" ({target.key})" if target.key else ""
        click.echo(f"no keyring entry {target.keyring_name}{reader} to delete; nothing changed")


@cli.group(cls=_Group)
def schedule() -> None:
    """Run the scheduler in the foreground, or list its jobs.

    Example: healthsync schedule list
    """


@schedule.command("run")
@config_option
def schedule_run(config_path: Path) -> None:
    """Run scheduled syncs in the foreground until SIGTERM (for systemd and containers).

    Example: healthsync schedule run --config /etc/healthsync/healthsync.toml
    """
    from healthsync.scheduler import run_scheduler

    run_scheduler(config_path)


@schedule.command("list")
@config_option
@json_option
def schedule_list(config_path: Path, as_json: bool) -> None:
    """List scheduled jobs and their next run times.

    Example: healthsync schedule list
    """
    from healthsync.scheduler import jobs

    found = jobs(_config(config_path))
    if as_json:
        _print_json(
            [
                {
                    "name": j.name,
                    "trigger": j.trigger,
                    "timezone": j.timezone,
                    "mode": j.mode,
                    "next_run": j.next_run.isoformat() if j.next_run else None,
                }
                for j in found
            ]
        )
        return
    if not found:
        click.echo("No [[schedule]] entries in the config: `healthsync schedule run` has nothing to run.")
    for j in found:
        when = j.next_run.isoformat(timespec="minutes") if j.next_run else "never"
        click.echo(f"{j.name}: {j.trigger} ({j.timezone}), {j.mode}; next run {when}")


@cli.group(cls=_Group)
def sandbox() -> None:
    """The bundled local Salesforce, HubSpot and Zendesk servers.

    Example: healthsync sandbox serve --accounts 500
    """


@sandbox.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=0, show_default=True, type=int, help="Port (0 picks a free one).")
@click.option("--accounts", default=300, show_default=True, type=int, help="Accounts to generate.")
@click.option("--seed", default=1, show_default=True, type=int, help="Seed of the generated data.")
@click.option(
    "--rate-limits",
    type=click.Choice(["off", "realistic"]),
    default="off",
    show_default=True,
    help="Whether to enforce the vendors' rate limits.",
)
@click.option("--latency-ms", default=0, show_default=True, type=int, help="Added latency per request.")
@click.option(
    "--tls-port",
    default=0,
    show_default=True,
    type=int,
    help="HTTPS port for Salesforce (0 picks a free one).",
)
@click.option(
    "--start",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The simulated clock's first day (default: today); with --seed it fixes the data.",
)
@click.option(
    "--write-config",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write a healthsync config that points at this sandbox.",
)
def sandbox_serve(
    host: str,
    port: int,
    accounts: int,
    seed: int,
    rate_limits: str,
    latency_ms: int,
    tls_port: int,
    start: Any,
    write_config: Path | None,
) -> None:
    """Serve the sandbox CRMs (Salesforce, HubSpot, Zendesk, usage database) until interrupted.

    Prints one JSON line when ready: how each SDK reaches the sandbox, the usage database URL and the
    control URL (/_sandbox/ for counters, state dumps, faults and the simulated clock).

    Example: healthsync sandbox serve --accounts 1000 --write-config sandbox.toml
    """
    from healthsync.sandbox.runtime import default_start
    from healthsync.sandbox.serve import serve

    if accounts < 0 or seed < 0 or latency_ms < 0:
        raise click.BadParameter("--accounts, --seed and --latency-ms take numbers ≥ 0")
    serve(
        out=sys.stdout,
        write_config_to=write_config,
        host=host,
        port=port,
        tls_port=tls_port,
        accounts=accounts,
        seed=seed,
        rate_limits=rate_limits == "realistic",
        latency_ms=latency_ms,
        start=default_start(start.date()) if start is not None else None,
    )


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="healthsync")


if __name__ == "__main__":
    main()
