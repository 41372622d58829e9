"""load_config: the example loads, and every kind of mistake is reported with file, line and key.

Each error test writes a small config, expects one ConfigError, and checks that the problem for the
offending key carries the right line, that the rendered message names `file:line` and the key, and
that it says what is expected in plain words.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any, get_args, get_origin

import pytest
from pydantic import BaseModel, ValidationError

from healthsync.config import Config, load_config
from healthsync.errors import ConfigError, ConfigProblem
from healthsync.scoring.signals import SignalThresholds
from healthsync.secrets import SecretRef

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"

MINIMAL = """\
[crm]
system = "hubspot"

[hubspot]
access_token = { keyring = "healthsync/hubspot", env = "HUBSPOT_TOKEN" }
"""


def write(folder: Path, text: str, name: str = "healthsync.toml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def failure(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return caught.value


def line_of(path: Path, fragment: str) -> int:
    """1-based line of the first line containing `fragment`, so tests state lines by content."""
    for number, text in enumerate(path.read_text().splitlines(), start=1):
        if fragment in text:
            return number
    raise AssertionError(f"{fragment!r} not in {path}")


def problem(error: ConfigError, key: str) -> ConfigProblem:
    found = [p for p in error.problems if p.key == key]
    assert found, f"no problem for {key}; got {[str(p) for p in error.problems]}"
    return found[0]


def assert_located(error: ConfigError, path: Path, key: str, line: int, *phrases: str) -> ConfigProblem:
    """The problem for `key` is on `line`, and the message shows `file:line: key: ...` and `phrases`."""
    found = problem(error, key)
    assert found.line == line, str(found)
    text = str(error)
    assert f"{path}:{line}: {key}: " in text
    for phrase in phrases:
        assert phrase in str(found)
    assert "pydantic" not in text
    assert "input_value" not in text
    assert "Traceback" not in text
    return found


# --- the example and the defaults ------------------------------------------------------------


def test_the_example_config_loads() -> None:
    config = load_config(EXAMPLE)
    assert config.crm.system == "hubspot"
    assert config.hubspot is not None
    assert config.hubspot.access_token == SecretRef(keyring="healthsync/hubspot", env="HUBSPOT_TOKEN")
    assert config.zendesk is not None
    assert config.usage is not None
    assert config.alerts is not None
    assert [(s.name, s.mode) for s in config.schedule] == [
        ("nightly-full", "full"),
        ("hourly", "incremental"),
    ]
    assert config.usage.url == f"sqlite:///{EXAMPLE.parent / 'usage.db'}"
    assert [key for key, _ in config.secret_refs()] == [
        "hubspot.access_token",
        "zendesk.token",
        "alerts.webhook_url",
    ]
    assert SignalThresholds(**config.signals.as_dict()) == SignalThresholds()


def _keys(model: type[BaseModel]) -> set[str]:
    """Every key name in a model tree, as an admin would write it."""
    names: set[str] = set()
    for name, field in model.model_fields.items():
        names.add(name)
        stack: list[Any] = [field.annotation]
        while stack:
            current = stack.pop()
            if isinstance(current, type) and issubclass(current, BaseModel) and current is not SecretRef:
                names |= _keys(current)
            elif get_origin(current) is not None:
                stack.extend(get_args(current))
    return names


def test_the_example_documents_every_option() -> None:
    text = EXAMPLE.read_text()
    undocumented = sorted(
        key
        for key in _keys(Config)
        if f"{key} =" not in text and f"[{key}]" not in text and f".{key}]" not in text
    )
    assert undocumented == []


def test_defaults_fill_a_minimal_config(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL, name="acme-prod.toml")
    config = load_config(path)
    assert config.name == "acme-prod"
    assert config.source == path
    assert config.base_dir == tmp_path.resolve()
    assert config.healthsync.timezone == "UTC"
    assert config.state.url == f"sqlite:///{tmp_path.resolve() / 'healthsync.db'}"
    assert config.hubspot is not None
    assert config.hubspot.tier == "starter"
    assert config.hubspot.requests_per_10s == 100
    assert config.zendesk is None
    assert config.usage is None
    assert config.salesforce is None
    assert config.sync.retry_budget == 50
    assert config.schedule == ()


def test_the_config_is_frozen(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL))
    with pytest.raises(ValidationError):
        config.crm = config.crm  # type: ignore[misc]


def test_schedules_default_to_the_config_time_zone(tmp_path: Path) -> None:
    schedules = """
[healthsync]
timezone = "Europe/Berlin"

[[schedule]]
name = "nightly"
cron = "0 2 * * *"

[[schedule]]
name = "hourly"
cron = "0 * * * *"
timezone = "America/New_York"
"""
    path = write(tmp_path, MINIMAL + schedules)
    config = load_config(path)
    assert [s.timezone for s in config.schedule] == ["Europe/Berlin", "America/New_York"]
    assert config.schedule[0].mode == "incremental"


def test_fingerprint_is_stable_and_follows_changes(tmp_path: Path) -> None:
    first = load_config(write(tmp_path, MINIMAL)).fingerprint()
    assert first == load_config(write(tmp_path, MINIMAL)).fingerprint()
    changed = load_config(write(tmp_path, MINIMAL + 'tier = "enterprise"\n')).fingerprint()
    assert changed != first


# --- one test per kind of mistake ------------------------------------------------------------


def test_unknown_key_suggests_the_close_one(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + 'tierr = "starter"\n')
    error = failure(path)
    assert str(error).startswith(f"{path}: invalid configuration")
    assert_located(error, path, "hubspot.tierr", 6, "unknown key 'tierr' (did you mean 'tier'?)")


def test_unknown_section_suggests_the_close_one(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + '\n[zendsk]\nurl = "https://acme.zendesk.com"\n')
    error = failure(path)
    assert_located(error, path, "zendsk", 7, "unknown section [zendsk] (did you mean [zendesk]?)")


def test_wrong_type_says_what_was_expected_and_what_was_found(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + '\n[sync]\nretry_budget = "abc"\nlease_ttl_minutes = "60"\n')
    error = failure(path)
    assert_located(error, path, "sync.retry_budget", 8, "expected an integer, got 'abc'")
    # TOML is typed: a quoted number is a mistake, not something to coerce silently.
    assert_located(error, path, "sync.lease_ttl_minutes", 9, "expected an integer, got '60'")


def test_literal_choices_are_listed(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace('"hubspot"\n', '"pipedrive"\n', 1))
    error = failure(path)
    assert_located(error, path, "crm.system", 2, "expected one of hubspot, salesforce, got 'pipedrive'")


def test_missing_key_is_reported_at_its_table(tmp_path: Path) -> None:
    path = write(tmp_path, "[crm]\nmapping_x = 1\n\n[hubspot]\naccess_token = { env = 'T' }\n")
    error = failure(path)
    assert_located(error, path, "crm.system", 1, "missing required key", "hubspot, salesforce")


def test_missing_vendor_section_points_at_the_key_that_needs_it(tmp_path: Path) -> None:
    path = write(tmp_path, '# healthsync\n[crm]\nsystem = "salesforce"\n')
    error = failure(path)
    assert_located(
        error, path, "salesforce", 3, "section [salesforce] is required because crm.system = 'salesforce'"
    )


def test_missing_crm_section(tmp_path: Path) -> None:
    path = write(tmp_path, '[healthsync]\ntimezone = "UTC"\n')
    error = failure(path)
    found = problem(error, "crm")
    assert "missing required section [crm]" in found.message


def test_invalid_cron_expression(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + '\n[[schedule]]\nname = "nightly"\ncron = "0 2 * *"\n')
    error = failure(path)
    assert_located(
        error,
        path,
        "schedule[0].cron",
        9,
        "invalid cron expression '0 2 * *'",
        "expected 5 fields: minute hour day month weekday",
    )


def test_out_of_range_cron_field(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + '\n[[schedule]]\nname = "a"\ncron = "0 2 * * *"\n')
    path.write_text(path.read_text() + '\n[[schedule]]\nname = "b"\ncron = "61 * * * *"\n')
    error = failure(path)
    assert_located(
        error, path, "schedule[1].cron", line_of(path, '"61'), "invalid cron expression '61 * * * *'"
    )


def test_bad_url(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + 'host = "api.hubapi.com"\n')
    error = failure(path)
    assert_located(error, path, "hubspot.host", 6, "expected an http:// or https:// URL")


def test_plain_http_is_refused_for_a_remote_salesforce(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        [crm]
        system = "salesforce"

        [salesforce]
        instance_url = "http://acme.my.salesforce.com"
        access_token = { env = "SALESFORCE_TOKEN" }
        """,
    )
    error = failure(path)
    assert_located(error, path, "salesforce.instance_url", 5, "expected an https:// URL")
    local = write(tmp_path, path.read_text().replace("acme.my.salesforce.com", "127.0.0.1:8080"))
    assert load_config(local).salesforce is not None


def test_bad_time_zone(tmp_path: Path) -> None:
    path = write(tmp_path, '[healthsync]\nname = "acme"\ntimezone = "europe/berlin"\n\n' + MINIMAL)
    error = failure(path)
    assert_located(
        error, path, "healthsync.timezone", 3, "unknown time zone", "did you mean 'Europe/Berlin'?"
    )


@pytest.mark.parametrize(
    ("section", "key", "value", "auth_name", "env"),
    [
        (
            "hubspot",
            "access_token",
            '"pat-na1-11111111-2222-3333-4444-555555555555"',
            "hubspot",
            "HUBSPOT_TOKEN",
        ),
        ("hubspot", "access_token", "123456789012", "hubspot", "HUBSPOT_TOKEN"),
        (
            "alerts",
            "webhook_url",
            '"https://hooks.slack.com/services/T0/B0/abcdefSECRETxyz"',
            "alerts-webhook",
            None,
        ),
    ],
    ids=["string-token", "number-token", "webhook-url"],
)
def test_literal_secret_is_refused_and_never_echoed(
    tmp_path: Path, section: str, key: str, value: str, auth_name: str, env: str | None
) -> None:
    text = MINIMAL.replace('access_token = { keyring = "healthsync/hubspot", env = "HUBSPOT_TOKEN" }\n', "")
    if section == "hubspot":
        text += f"{key} = {value}\n"
    else:
        text += f'access_token = {{ env = "HUBSPOT_TOKEN" }}\n\n[{section}]\n{key} = {value}\n'
    path = write(tmp_path, text)
    error = failure(path)
    found = assert_located(
        error,
        path,
        f"{section}.{key}",
        line_of(path, f"{key} ="),
        "a secret value must not be written in the config file",
        f"healthsync auth set {auth_name}",
        f'{key} = {{ keyring = "healthsync/{auth_name}" }}',
    )
    if env:
        assert f'{key} = {{ env = "{env}" }}' in str(found)
    literal = value.strip('"')
    assert literal not in str(error)
    assert literal not in repr(error.problems)


def test_password_in_a_database_url_is_refused_and_never_echoed(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + '\n[state]\nurl = "postgresql+psycopg://hs:Hunter2Secret@db/hs"\n')
    error = failure(path)
    assert_located(
        error,
        path,
        "state.url",
        8,
        "the URL carries credentials",
        "healthsync auth set state-db",
        'password = { keyring = "healthsync/state-db" }',
    )
    assert "Hunter2Secret" not in str(error)


def test_credentials_in_an_http_url_are_refused_and_never_echoed(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + 'host = "https://admin:TopSecret99@api.hubapi.com"\n')
    error = failure(path)
    assert_located(error, path, "hubspot.host", 6, "the URL carries credentials")
    assert "TopSecret99" not in str(error)


def test_a_token_pasted_into_a_reference_is_never_echoed(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace('env = "HUBSPOT_TOKEN"', 'env = "pat-na1-deadbeef-0000"'))
    error = failure(path)
    assert_located(error, path, "hubspot.access_token.env", 5, "environment variable name")
    assert "deadbeef" not in str(error)


SALESFORCE = """\
[crm]
system = "salesforce"

[salesforce]
instance_url = "https://acme.my.salesforce.com"
"""


def test_missing_required_auth_field(tmp_path: Path) -> None:
    path = write(tmp_path, SALESFORCE + 'auth = "password"\nusername = "integration@acme.com"\n')
    error = failure(path)
    assert_located(
        error, path, "salesforce.password", 4, "missing required key: auth = 'password' needs password"
    )


def test_keys_of_another_auth_kind_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, SALESFORCE + 'access_token = { env = "SF" }\nconsumer_key = "3MVG9"\n')
    error = failure(path)
    assert_located(
        error,
        path,
        "salesforce.consumer_key",
        7,
        "consumer_key is not used with auth = 'token'",
        "change auth",
    )
    assert [p.key for p in error.problems] == ["salesforce.consumer_key"]


@pytest.mark.parametrize(
    ("auth", "keys"),
    [
        ("token", 'access_token = { env = "SF" }'),
        ("password", 'username = "u@acme.com"\npassword = { env = "P" }\nsecurity_token = { env = "S" }'),
        ("client_credentials", 'consumer_key = "3MVG9"\nconsumer_secret = { env = "C" }'),
        (
            "jwt",
            'username = "u@acme.com"\nconsumer_key = "3MVG9"\nprivate_key = { env = "K" }\ndomain = "test"',
        ),
    ],
)
def test_each_salesforce_auth_kind_loads(tmp_path: Path, auth: str, keys: str) -> None:
    config = load_config(write(tmp_path, SALESFORCE + f'auth = "{auth}"\n{keys}\n'))
    assert config.salesforce is not None
    assert config.salesforce.auth == auth


def test_zendesk_takes_one_kind_of_token(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        MINIMAL
        + """
[zendesk]
url = "https://acme.zendesk.com"
email = "ops@acme.example"
token = { env = "ZENDESK_TOKEN" }
oauth_token = { env = "ZENDESK_OAUTH_TOKEN" }
""",
    )
    error = failure(path)
    assert_located(error, path, "zendesk.oauth_token", 11, "give either token or oauth_token, not both")


def test_zendesk_api_token_needs_email(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + '\n[zendesk]\nsubdomain = "acme"\ntoken = { env = "ZENDESK_TOKEN" }\n')
    error = failure(path)
    assert_located(error, path, "zendesk.email", 7, "email is required with token")


def test_usage_table_takes_exactly_one_source(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        MINIMAL
        + '\n[usage]\nkind = "sql"\nurl = "sqlite:///u.db"\n[usage.daily]\ntable = "d"\nquery = "SELECT 1"\n',
    )
    error = failure(path)
    assert_located(
        error, path, "usage.daily.table", 11, "give only one of query, table or path (found query, table)"
    )


def test_unknown_usage_column_suggests_the_logical_name(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        MINIMAL + '\n[usage]\nkind = "csv"\n[usage.nps]\npath = "nps.csv"\ncolumns = { acount = "acct" }\n',
    )
    error = failure(path)
    assert_located(error, path, "usage.nps.columns.acount", 11, "did you mean 'account'?")


def test_signal_thresholds_are_range_checked(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "\n[signals]\nusage_drop = 1.5\ndetractor_max = 9\npromoter_min = 8\n")
    error = failure(path)
    assert_located(error, path, "signals.usage_drop", 8, "must be at most 1")
    # The ordering check runs even though usage_drop already failed: all problems in one pass.
    assert_located(error, path, "signals.promoter_min", 10, "must be greater than detractor_max (9)")


def test_duplicate_schedule_names(tmp_path: Path) -> None:
    block = '\n[[schedule]]\nname = "nightly"\ncron = "0 2 * * *"\n'
    path = write(tmp_path, MINIMAL + block + block)
    error = failure(path)
    assert_located(error, path, "schedule[1].name", 12, "already used by schedule[0]")


def test_missing_file_says_how_to_start(tmp_path: Path) -> None:
    path = tmp_path / "healthsync.toml"
    error = failure(path)
    assert str(error).startswith(f"{path}: configuration file not found")
    assert "copy config.example.toml to" in str(error)
    assert error.problems[0].fix is not None
    assert str(path) in error.problems[0].fix


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "\n[sync]\nretry_budget = = 5\n")
    error = failure(path)
    assert str(error).startswith(f"{path}: cannot parse")
    assert error.problems[0].line == 8
    assert f"{path}:8: not valid TOML" in str(error)


def test_several_problems_are_all_reported_in_file_order(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        [healthsync]
        timezone = "Mars/Olympus"

        [crm]
        system = "salesforce"

        [salesforce]
        instance_url = "https://acme.my.salesforce.com"
        auth = "password"
        usrname = "integration@acme.com"

        [zendesk]
        url = "https://acme.zendesk.com"
        requests_per_minute = "lots"
        token = "0123456789abcdef"
        email = "ops@acme.example"

        [[schedule]]
        name = "nightly"
        cron = "0 2 * *"
        mode = "fast"
        """,
    )
    error = failure(path)
    located = [(p.line, p.key) for p in error.problems]
    assert located == [
        (2, "healthsync.timezone"),
        (7, "salesforce.password"),  # missing keys point at their table's header
        (7, "salesforce.username"),
        (10, "salesforce.usrname"),
        (14, "zendesk.requests_per_minute"),
        (15, "zendesk.token"),
        (20, "schedule[0].cron"),
        (21, "schedule[0].mode"),
    ]
    assert "0123456789abcdef" not in str(error)
    assert str(error).count("\n  - ") == len(located)


# --- paths -----------------------------------------------------------------------------------


def test_relative_paths_start_at_the_config_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "etc"
    (folder / "rules").mkdir(parents=True)
    (folder / "mapping.toml").write_text("")
    (folder / "rules" / "health.toml").write_text("")
    absolute = tmp_path / "elsewhere.db"
    path = write(
        folder,
        MINIMAL.replace('system = "hubspot"', 'system = "hubspot"\nmapping = "mapping.toml"')
        + f"""
[state]
url = "sqlite:///{absolute}"

[usage]
kind = "csv"
[usage.daily]
path = "exports/daily.csv"

[scoring]
rules = "rules/health.toml"
""",
    )
    monkeypatch.chdir(tmp_path)  # somewhere else, as under cron
    config = load_config(Path("etc") / "healthsync.toml")
    base = folder.resolve()
    assert config.crm.mapping == base / "mapping.toml"
    assert config.scoring.rules == base / "rules" / "health.toml"
    assert config.usage is not None
    assert config.usage.daily is not None
    assert config.usage.daily.path == base / "exports" / "daily.csv"
    assert config.state.url == f"sqlite:///{absolute}"
    assert config.base_dir == base
    assert path.exists()


def test_a_missing_referenced_file_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + '\n[scoring]\nrules = "rules.toml"\n')
    error = failure(path)
    assert_located(error, path, "scoring.rules", 8, f"file not found: {tmp_path.resolve() / 'rules.toml'}")


def test_in_memory_sqlite_is_left_alone(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + '\n[state]\nurl = "sqlite://"\n')
    assert load_config(path).state.url == "sqlite://"


def test_report_targets_default_to_the_playbook_and_out_of_range_ones_are_located(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL))
    t = config.report.targets
    assert (t.nrr, t.grr, t.logo_churn, t.ltv_cac, t.ttv_days, t.nps, t.coverage) == (
        100,
        85,
        5,
        3,
        14,
        50,
        100,
    )
    assert (config.report.cac, config.report.value_share, config.report.coverage_days) == (None, 0.5, 7)

    path = write(tmp_path, MINIMAL + "\n[report]\ncac = 12000\n\n[report.targets]\ngrr = 150\nnps = 40\n")
    error = failure(path)
    assert_located(error, path, "report.targets.grr", line_of(path, "grr = 150"), "150")
    tuned = load_config(write(tmp_path, MINIMAL + "\n[report]\ncac = 12000\n[report.targets]\nnps = 40\n"))
    assert (tuned.report.cac, tuned.report.targets.nps) == (12000, 40)
