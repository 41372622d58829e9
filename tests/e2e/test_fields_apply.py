"""`healthsync fields apply` and the mapping checks end to end, for HubSpot and Salesforce (issue #7).

Done when: `fields apply` on an empty CRM creates everything and a second run is a no-op (zero
write calls); a sync then succeeds; each kind of mapping error produces its message with file and
line; a conflicting pre-existing field is reported and left alone. What was created is read back
through the vendors' own APIs (HubSpot's properties and pipelines, Salesforce describe and Tooling)
with the unmodified SDKs, and through `/_sandbox/state`; write calls are the sandbox's counters.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from e2e_support import (
    CrmView,
    cli_run,
    cli_sync,
    config_for,
    control,
    hubspot_client,
    salesforce_client,
    use_mapping,
)
from hubspot.crm.properties import PropertyCreate

import healthsync.mappings
from healthsync.sandbox import Sandbox

ACCOUNTS = 20
SEED = 7
APPLY_FIX = "run `healthsync fields apply` to create it"
RETYPE_FIX = (
    "map the key to a field of that type, or change the field's type in the CRM "
    "(healthsync never retypes a field)"
)
WRITE_FIX = (
    "give the integration user edit access to the field (field-level security / property "
    "permissions), or map the key to a writable field"
)
UNIQUE_FIX = "make the field unique in the CRM, or map the key to a unique field"

# What `fields apply --dry-run` lists on an empty CRM, in order (the built-in mappings).
HUBSPOT_CHANGES = [
    "create property group healthsync on companies",
    "create property group healthsync on tasks",
    "create property group healthsync on deals",
    "create field companies.customer_key (any)",
    "create field companies.contract_start_date (date)",
    "create field companies.contract_end_date (date)",
    "create field companies.arr (number)",
    "create field companies.licenses (integer)",
    "create field companies.segment (any)",
    "create field companies.healthsync_override_band (enum): green, yellow, red",
    "create field companies.healthsync_override_expires (date)",
    "create field companies.healthsync_override_by (any)",
    "create field companies.healthsync_score (number)",
    "create field companies.healthsync_band (enum): green, yellow, red",
    "create field companies.healthsync_trend (number)",
    "create field companies.healthsync_trend_direction (enum): up, down, flat",
    "create field companies.healthsync_reasons (text)",
    "create field companies.healthsync_renewal_stage (enum): preparation, initiation, negotiation, approval, renewed, churned",
    "create field companies.healthsync_days_to_renewal (integer)",
    "create field companies.healthsync_last_synced (datetime)",
    "create field tasks.healthsync_task_key (key (unique))",
    "create field deals.healthsync_renewal_key (key (unique))",
    "create deals pipeline 'Renewals' with stages: Preparation, Initiation, Negotiation, Approval, Closed won, Closed lost",
]
SALESFORCE_CHANGES = [
    "create field Account.Customer_Key__c (any)",
    "create field Account.Contract_Start__c (date)",
    "create field Account.Contract_End__c (date)",
    "create field Account.ARR__c (number)",
    "create field Account.Licenses__c (integer)",
    "create field Account.Segment__c (any)",
    "create field Account.Health_Override__c (enum): Green, Yellow, Red",
    "create field Account.Health_Override_Expires__c (date)",
    "create field Account.Health_Override_By__c (any)",
    "create field Account.Health_Score__c (number)",
    "create field Account.Health_Band__c (enum): Green, Yellow, Red",
    "create field Account.Health_Trend__c (number)",
    "create field Account.Health_Trend_Direction__c (enum): Up, Down, Flat",
    "create field Account.Health_Reasons__c (text)",
    "create field Account.Renewal_Stage__c (enum): Preparation, Initiation, Negotiation, Approval, Renewed, Churned",
    "create field Account.Days_To_Renewal__c (integer)",
    "create field Account.Health_Last_Synced__c (datetime)",
    "create field Task.Healthsync_Key__c (key (unique))",
    "create field Opportunity.Healthsync_Renewal_Key__c (key (unique))",
    "create field Opportunity.Loss_Reason__c (enum): price, missing feature, integration, support, champion left, budget, competitor, business closed, other",
    "add picklist values to Opportunity.StageName: Preparation, Initiation, Negotiation, Approval",
    "add picklist values to Opportunity.Type: Renewal",
]
CHANGES = {"hubspot": HUBSPOT_CHANGES, "salesforce": SALESFORCE_CHANGES}

# HubSpot properties `fields apply` creates: (object, name) -> (type, fieldType, hasUniqueValue, options).
HUBSPOT_PROPERTIES = {
    ("companies", "customer_key"): ("string", "text", False, []),
    ("companies", "contract_start_date"): ("date", "date", False, []),
    ("companies", "contract_end_date"): ("date", "date", False, []),
    ("companies", "arr"): ("number", "number", False, []),
    ("companies", "licenses"): ("number", "number", False, []),
    ("companies", "segment"): ("string", "text", False, []),
    ("companies", "healthsync_override_band"): ("enumeration", "select", False, ["green", "yellow", "red"]),
    ("companies", "healthsync_override_expires"): ("date", "date", False, []),
    ("companies", "healthsync_override_by"): ("string", "text", False, []),
    ("companies", "healthsync_score"): ("number", "number", False, []),
    ("companies", "healthsync_band"): ("enumeration", "select", False, ["green", "yellow", "red"]),
    ("companies", "healthsync_trend"): ("number", "number", False, []),
    ("companies", "healthsync_trend_direction"): ("enumeration", "select", False, ["up", "down", "flat"]),
    ("companies", "healthsync_reasons"): ("string", "text", False, []),
    ("companies", "healthsync_renewal_stage"): (
        "enumeration",
        "select",
        False,
        ["preparation", "initiation", "negotiation", "approval", "renewed", "churned"],
    ),
    ("companies", "healthsync_days_to_renewal"): ("number", "number", False, []),
    ("companies", "healthsync_last_synced"): ("datetime", "date", False, []),
    ("tasks", "healthsync_task_key"): ("string", "text", True, []),
    ("deals", "healthsync_renewal_key"): ("string", "text", True, []),
}

# Salesforce custom fields `fields apply` creates, as the Tooling API lists them: (DeveloperName, table).
SALESFORCE_FIELDS = [
    ("Customer_Key", "Account"),
    ("Contract_Start", "Account"),
    ("Contract_End", "Account"),
    ("ARR", "Account"),
    ("Licenses", "Account"),
    ("Segment", "Account"),
    ("Health_Override", "Account"),
    ("Health_Override_Expires", "Account"),
    ("Health_Override_By", "Account"),
    ("Health_Score", "Account"),
    ("Health_Band", "Account"),
    ("Health_Trend", "Account"),
    ("Health_Trend_Direction", "Account"),
    ("Health_Reasons", "Account"),
    ("Renewal_Stage", "Account"),
    ("Days_To_Renewal", "Account"),
    ("Health_Last_Synced", "Account"),
    ("Healthsync_Key", "Activity"),
    ("Healthsync_Renewal_Key", "Opportunity"),
    ("Loss_Reason", "Opportunity"),
]
STANDARD_STAGES = [
    "Prospecting",
    "Qualification",
    "Needs Analysis",
    "Value Proposition",
    "Id. Decision Makers",
    "Perception Analysis",
    "Proposal/Price Quote",
    "Negotiation/Review",
    "Closed Won",
    "Closed Lost",
]
RENEWAL_STAGES = ["Preparation", "Initiation", "Negotiation", "Approval"]
BANDS = {"hubspot": {"green", "yellow", "red"}, "salesforce": {"Green", "Yellow", "Red"}}


@pytest.fixture(params=["hubspot", "salesforce"])
def crm(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def empty(tmp_path: Path) -> Iterator[Sandbox]:
    """A sandbox whose CRMs have no healthsync field, group, pipeline or stage value."""
    with Sandbox(accounts=ACCOUNTS, seed=SEED, workdir=tmp_path / "box", provisioned=False) as box:
        yield box


@pytest.fixture
def provisioned(tmp_path: Path) -> Iterator[Sandbox]:
    """A sandbox whose CRMs already have everything the built-in mappings need."""
    with Sandbox(accounts=ACCOUNTS, seed=SEED, workdir=tmp_path / "box") as box:
        yield box


def apply_json(config: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    result = cli_run("fields", "apply", "--json", "--config", str(config), *extra)
    return result.exit_code, json.loads(result.stdout)


def builtin(crm: str) -> Path:
    return Path(healthsync.mappings.__file__).parent / f"{crm}.toml"


def line_of(path: Path, text: str) -> int:
    """The 1-based line of `path` that is exactly `text`."""
    return path.read_text(encoding="utf-8").splitlines().index(text) + 1


def hubspot_properties(box: Sandbox) -> dict[tuple[str, str], Any]:
    """Every property of companies, tasks and deals, from HubSpot's properties API."""
    api = hubspot_client(box).crm.properties.core_api
    return {(obj, p.name): p for obj in ("companies", "tasks", "deals") for p in api.get_all(obj).results}


def salesforce_describe(box: Sandbox, *objects: str) -> dict[str, dict[str, dict[str, Any]]]:
    """describe of each object, field name -> field, through simple-salesforce."""
    with salesforce_client(box) as sf:
        return {obj: {f["name"]: f for f in getattr(sf, obj).describe()["fields"]} for obj in objects}


def picklist(field: dict[str, Any]) -> list[str]:
    return [v["value"] for v in field["picklistValues"] if v["active"]]


def crm_state(box: Sandbox, crm: str, obj: str) -> list[dict[str, Any]]:
    answer = requests.get(f"{box.info()['control']}state/{crm}/{obj}", timeout=30)
    answer.raise_for_status()
    return list(answer.json())


# --- 1. an empty CRM gets everything; check and a sync pass afterwards ------------------------------


def _assert_hubspot_created(box: Sandbox) -> None:
    props = hubspot_properties(box)
    ours = {key: p for key, p in props.items() if p.group_name == "healthsync"}
    assert {
        key: (p.type, p.field_type, bool(p.has_unique_value), [o.value for o in p.options or []])
        for key, p in ours.items()
    } == HUBSPOT_PROPERTIES
    assert props[("tasks", "healthsync_task_key")].has_unique_value is True
    assert props[("deals", "healthsync_renewal_key")].has_unique_value is True
    groups = hubspot_client(box).crm.properties.groups_api
    for obj in ("companies", "tasks", "deals"):
        assert "healthsync" in [g.name for g in groups.get_all(obj).results], obj
    pipelines = hubspot_client(box).crm.pipelines.pipelines_api.get_all("deals").results
    assert [p.label for p in pipelines] == ["Sales Pipeline", "Renewals"]
    renewals = pipelines[1]
    assert [(s.label, s.metadata["probability"], s.metadata["isClosed"]) for s in renewals.stages] == [
        ("Preparation", "0.2", "false"),
        ("Initiation", "0.4", "false"),
        ("Negotiation", "0.6", "false"),
        ("Approval", "0.8", "false"),
        ("Closed won", "1.0", "true"),
        ("Closed lost", "0.0", "true"),
    ]
    # The same, as the sandbox stores it.
    stored = [p for p in crm_state(box, "hubspot", "pipelines") if p["label"] == "Renewals"]
    assert [s["label"] for s in stored[0]["stages"]] == [
        "Preparation",
        "Initiation",
        "Negotiation",
        "Approval",
        "Closed won",
        "Closed lost",
    ]


def _assert_salesforce_created(box: Sandbox) -> None:
    rows = crm_state(box, "salesforce", "CustomField")
    assert [(r["DeveloperName"], r["TableEnumOrId"]) for r in rows] == SALESFORCE_FIELDS
    described = salesforce_describe(box, "Account", "Task", "Opportunity")
    for obj, name in (("Task", "Healthsync_Key__c"), ("Opportunity", "Healthsync_Renewal_Key__c")):
        key = described[obj][name]
        assert (key["type"], key["externalId"], key["unique"], key["updateable"]) == (
            "string",
            True,
            True,
            True,
        ), name
    account = described["Account"]
    assert (account["Health_Band__c"]["type"], picklist(account["Health_Band__c"])) == (
        "picklist",
        ["Green", "Yellow", "Red"],
    )
    assert picklist(account["Health_Trend_Direction__c"]) == ["Up", "Down", "Flat"]
    assert picklist(account["Renewal_Stage__c"]) == [*RENEWAL_STAGES, "Renewed", "Churned"]
    assert account["Health_Score__c"]["type"] == "double"
    assert account["Health_Last_Synced__c"]["type"] == "datetime"
    assert account["Contract_End__c"]["type"] == "date"
    opportunity = described["Opportunity"]
    assert picklist(opportunity["StageName"]) == [*STANDARD_STAGES, *RENEWAL_STAGES]
    assert "Renewal" in picklist(opportunity["Type"])
    with salesforce_client(box) as sf:
        stages = sf.toolingexecute("sobjects/StandardValueSet/OpportunityStage")["Metadata"]["standardValue"]
    assert [(v["valueName"], v["closed"], v["probability"]) for v in stages[-4:]] == [
        ("Preparation", False, 10),
        ("Initiation", False, 25),
        ("Negotiation", False, 50),
        ("Approval", False, 75),
    ]


def test_fields_apply_on_an_empty_crm_creates_everything_then_check_and_sync_pass(
    crm: str, empty: Sandbox, tmp_path: Path
) -> None:
    config = config_for(empty, tmp_path, crm)
    view = CrmView(empty, crm)
    code, applied = apply_json(config)
    assert code == 0, applied
    assert applied["changes"] == applied["done"] == CHANGES[crm]
    assert (applied["conflicts"], applied["remaining"], applied["ok"]) == ([], [], True)
    if crm == "hubspot":
        _assert_hubspot_created(empty)
    else:
        _assert_salesforce_created(empty)

    checked = cli_run("check", "--json", "--config", str(config))
    items = {item["name"]: item for item in json.loads(checked.stdout)["checks"]}
    assert items[f"{crm}: mapping vs live schema"]["status"] == "ok"
    assert checked.exit_code == 0, checked.stdout

    first = cli_sync(config, empty.clock.today())
    assert (first["status"], first["errors"]) == ("ok", [])
    accounts = view.accounts()
    assert first["accounts"]["crm"] == first["writes"]["fields"] == len(accounts) == ACCOUNTS
    for crm_id, fields in accounts.items():
        assert 0 <= float(fields["score"]) <= 100, crm_id
        assert fields["band"] in BANDS[crm], crm_id
        assert fields["reasons"], crm_id


# --- 2. idempotent, and a dry run writes nothing --------------------------------------------------


def test_a_second_fields_apply_makes_no_write_call_and_says_nothing_to_create(
    crm: str, empty: Sandbox, tmp_path: Path
) -> None:
    config = config_for(empty, tmp_path, crm)
    view = CrmView(empty, crm)
    assert apply_json(config)[0] == 0
    empty.stats.reset()
    again = cli_run("fields", "apply", "--config", str(config))
    assert again.exit_code == 0
    assert again.stdout == (
        f"Nothing to create: {crm} already has every field, value and pipeline the mapping needs.\n"
    )
    assert empty.stats.snapshot()[crm]["write"] == 0
    code, third = apply_json(config)
    assert code == 0
    assert (third["changes"], third["done"], third["conflicts"], third["ok"]) == ([], [], [], True)
    assert third["api_calls"][crm]["write"] == 0
    assert view.writes() == 0


def test_dry_run_on_an_empty_crm_lists_every_change_and_writes_nothing(
    crm: str, empty: Sandbox, tmp_path: Path
) -> None:
    config = config_for(empty, tmp_path, crm)
    empty.stats.reset()
    code, planned = apply_json(config, "--dry-run")
    assert code == 0
    assert (planned["dry_run"], planned["changes"], planned["done"]) == (True, CHANGES[crm], [])
    text = cli_run("fields", "apply", "--dry-run", "--config", str(config))
    assert text.exit_code == 0
    assert text.stdout.splitlines() == [
        f"Would make {len(CHANGES[crm])} change(s) in {crm} (dry run, nothing written):",
        *(f"  + {change}" for change in CHANGES[crm]),
    ]
    assert empty.stats.snapshot()[crm]["write"] == 0
    # Nothing was made: planning again lists the very same changes.
    assert apply_json(config, "--dry-run")[1]["changes"] == CHANGES[crm]


# --- 3. every mapping error kind: file, line, key, CRM field, fix; a sync refuses and writes nothing ---


@dataclass(frozen=True)
class MappingCase:
    """A user mapping override that does not fit the provisioned CRM, and the one problem it causes."""

    id: str
    crm: str
    table: str
    key: str
    value: str
    problem: str
    """`<dotted key>: <what is wrong> (fix: <fix>)`, after `<file>:<line>: `."""
    setup: Callable[[Sandbox], None] | None = None


def _restrict_score(box: Sandbox) -> None:
    control(box, "permissions/salesforce", {"fields": ["Account.Health_Score__c"]})


def _plain_task_field(box: Sandbox) -> None:
    """A non-unique Text field on Task (Activity), made through the Tooling API as RevOps would."""
    with salesforce_client(box) as sf:
        created = sf.toolingexecute(
            "sobjects/CustomField",
            method="POST",
            data={
                "FullName": "Activity.Plain_Key__c",
                "Metadata": {"type": "Text", "label": "Plain key", "length": 255},
            },
        )
    assert created["success"] is True


MAPPING_CASES = [
    MappingCase(
        "hubspot-missing-custom-field",
        "hubspot",
        "account.outputs",
        "score",
        "nope_prop",
        f"account.outputs.score: hubspot field companies.nope_prop does not exist (fix: {APPLY_FIX})",
    ),
    MappingCase(
        "salesforce-missing-custom-field",
        "salesforce",
        "account.outputs",
        "score",
        "Nope__c",
        f"account.outputs.score: salesforce field Account.Nope__c does not exist (fix: {APPLY_FIX})",
    ),
    MappingCase(
        "hubspot-missing-standard-field",
        "hubspot",
        "account.outputs",
        "score",
        "hs_nope",
        "account.outputs.score: hubspot field companies.hs_nope does not exist and is not one healthsync "
        "can create (fix: map this key to an existing field)",
    ),
    MappingCase(
        "salesforce-missing-standard-field",
        "salesforce",
        "account.outputs",
        "score",
        "Nope",
        "account.outputs.score: salesforce field Account.Nope does not exist and is not one healthsync "
        "can create (fix: map this key to an existing field)",
    ),
    MappingCase(
        "hubspot-wrong-type",
        "hubspot",
        "account.outputs",
        "score",
        "domain",
        "account.outputs.score: hubspot field companies.domain is of type string; this key needs number "
        f"(fix: {RETYPE_FIX})",
    ),
    MappingCase(
        "salesforce-wrong-type",
        "salesforce",
        "account.outputs",
        "score",
        "Website",
        "account.outputs.score: salesforce field Account.Website is of type url; this key needs currency "
        f"or double or int or long or percent (fix: {RETYPE_FIX})",
    ),
    MappingCase(
        "hubspot-read-only",
        "hubspot",
        "account.outputs",
        "last_synced",
        "hs_lastmodifieddate",
        "account.outputs.last_synced: hubspot field companies.hs_lastmodifieddate is read-only for "
        f"healthsync's user (fix: {WRITE_FIX})",
    ),
    MappingCase(
        "salesforce-read-only",
        "salesforce",
        "account.outputs",
        "last_synced",
        "CreatedDate",
        "account.outputs.last_synced: salesforce field Account.CreatedDate is read-only for healthsync's "
        f"user (fix: {WRITE_FIX})",
    ),
    MappingCase(
        "salesforce-restricted-field",
        "salesforce",
        "account.outputs",
        "score",
        "Health_Score__c",
        "account.outputs.score: salesforce field Account.Health_Score__c is read-only for healthsync's "
        f"user (fix: {WRITE_FIX})",
        _restrict_score,
    ),
    MappingCase(
        "hubspot-key-not-unique",
        "hubspot",
        "tasks",
        "key_field",
        "hs_task_subject",
        "tasks.key_field: hubspot field tasks.hs_task_subject is not unique; healthsync finds its records "
        f"by it, so it must be a property with hasUniqueValue (fix: {UNIQUE_FIX})",
    ),
    MappingCase(
        "salesforce-key-not-unique",
        "salesforce",
        "tasks",
        "key_field",
        "Plain_Key__c",
        "tasks.key_field: salesforce field Task.Plain_Key__c is not unique; healthsync finds its records "
        f"by it, so it must be an External ID marked Unique (fix: {UNIQUE_FIX})",
        _plain_task_field,
    ),
]

USER_FILE = """\
# RevOps overrides of healthsync's built-in {crm} mapping
version = 1

[account]
object = "{object}"

[{table}]
{key} = "{value}"
"""
"""A user mapping file; the override under test is on line 8."""
OVERRIDE_LINE = 8
ACCOUNT_OBJECT = {"hubspot": "companies", "salesforce": "Account"}


def _user_mapping(config: Path, crm: str, table: str, key: str, value: str) -> Path:
    text = USER_FILE.format(crm=crm, object=ACCOUNT_OBJECT[crm], table=table, key=key, value=value)
    path = use_mapping(config, text)
    assert line_of(path, f'{key} = "{value}"') == OVERRIDE_LINE
    return path


def _refused_sync(box: Sandbox, config: Path, crm: str) -> tuple[str, int]:
    """A sync against the mismatching mapping: its stderr and the CRM write calls it made."""
    box.stats.reset()
    result = cli_run("sync", "--json", "--config", str(config), "--as-of", box.clock.today().isoformat())
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    return result.stderr, CrmView(box, crm).writes()


@pytest.mark.parametrize("case", MAPPING_CASES, ids=lambda c: c.id)
def test_each_mapping_error_names_file_line_key_field_and_fix_and_a_sync_writes_nothing(
    case: MappingCase, provisioned: Sandbox, tmp_path: Path
) -> None:
    config = config_for(provisioned, tmp_path, case.crm)
    if case.setup is not None:
        case.setup(provisioned)
    path = _user_mapping(config, case.crm, case.table, case.key, case.value)
    stderr, writes = _refused_sync(provisioned, config, case.crm)
    assert stderr == (
        f"error: the {case.crm} mapping does not match the live CRM schema; nothing was written\n"
        f"  - {path}:{OVERRIDE_LINE}: {case.problem}\n"
    )
    assert writes == 0
    for kind in ("score", "band"):  # nothing landed in the CRM either
        assert {a[kind] for a in CrmView(provisioned, case.crm).accounts().values()} == {None}


def test_an_enum_option_the_crm_lacks_names_the_user_files_enum_line(
    crm: str, provisioned: Sandbox, tmp_path: Path
) -> None:
    config = config_for(provisioned, tmp_path, crm)
    path = _user_mapping(config, crm, "enums.band", "green", "Emerald")
    stderr, writes = _refused_sync(provisioned, config, crm)
    assert writes == 0
    head, *problems = stderr.splitlines()
    assert head == f"error: the {crm} mapping does not match the live CRM schema; nothing was written"
    assert len(problems) == 1, stderr
    field = {"hubspot": "companies.healthsync_band", "salesforce": "Account.Health_Band__c"}[crm]
    problem = problems[0]
    assert problem.startswith(f"  - {path}:{OVERRIDE_LINE}: enums.band"), problem
    assert f"{crm} field {field} lacks the option(s) Emerald" in problem
    assert "(fix: " in problem


def test_a_missing_enum_option_refuses_the_sync(crm: str, provisioned: Sandbox, tmp_path: Path) -> None:
    """The option, field and fix are named, and nothing is written."""
    config = config_for(provisioned, tmp_path, crm)
    _user_mapping(config, crm, "enums.band", "green", "Emerald")
    stderr, writes = _refused_sync(provisioned, config, crm)
    assert writes == 0
    fix = {
        "hubspot": "run `healthsync fields apply` to add them, or map [enums] values to existing options",
        "salesforce": "add them to the picklist in Setup, or map [enums] values to existing options",
    }[crm]
    field = {"hubspot": "companies.healthsync_band", "salesforce": "Account.Health_Band__c"}[crm]
    head, *problems = stderr.splitlines()
    assert head == f"error: the {crm} mapping does not match the live CRM schema; nothing was written"
    assert len(problems) == 1, stderr
    assert problems[0].endswith(f"{crm} field {field} lacks the option(s) Emerald (fix: {fix})"), stderr


# --- 4. a conflicting field is reported and left alone ----------------------------------------------


def _hubspot_text_score(box: Sandbox) -> Callable[[], Any]:
    core = hubspot_client(box).crm.properties.core_api
    core.create(
        "companies",
        PropertyCreate(
            name="healthsync_score",
            label="Health score (text)",
            type="string",
            field_type="text",
            group_name="companyinformation",
        ),
    )
    return lambda: core.get_by_name("companies", "healthsync_score").to_dict()


def _salesforce_text_score(box: Sandbox) -> Callable[[], Any]:
    with salesforce_client(box) as sf:
        created = sf.toolingexecute(
            "sobjects/CustomField",
            method="POST",
            data={
                "FullName": "Account.Health_Score__c",
                "Metadata": {"type": "Text", "label": "Health score (text)", "length": 80},
            },
        )
    assert created["success"] is True

    def read() -> Any:
        field = salesforce_describe(box, "Account")["Account"]["Health_Score__c"]
        rows = [
            r for r in crm_state(box, "salesforce", "CustomField") if r["DeveloperName"] == "Health_Score"
        ]
        return field, rows

    return read


def test_a_conflicting_field_is_reported_left_alone_and_the_rest_created(
    crm: str, empty: Sandbox, tmp_path: Path
) -> None:
    read = (_hubspot_text_score if crm == "hubspot" else _salesforce_text_score)(empty)
    before = read()
    config = config_for(empty, tmp_path, crm)
    field = {"hubspot": "healthsync_score", "salesforce": "Health_Score__c"}[crm]
    needs = {"hubspot": "number", "salesforce": "currency or double or int or long or percent"}[crm]
    line = line_of(builtin(crm), f'score = "{field}"')
    conflict = (
        f"{builtin(crm)} (built-in):{line}: account.outputs.score: {crm} field {ACCOUNT_OBJECT[crm]}.{field} "
        f"is of type string; this key needs {needs} (fix: {RETYPE_FIX})"
    )
    made = [c for c in CHANGES[crm] if f".{field} (number)" not in c]
    assert len(made) == len(CHANGES[crm]) - 1
    result = cli_run("fields", "apply", "--config", str(config))
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"Made {len(made)} change(s) in {crm}:",
        *(f"  + {change}" for change in made),
        f"  ! left alone: {conflict}",
    ]
    assert read() == before
    # Run again: still reported, still untouched, and nothing else to do.
    empty.stats.reset()
    code, again = apply_json(config)
    assert code == 1
    assert (again["changes"], again["done"], again["conflicts"], again["ok"]) == ([], [], [conflict], False)
    assert empty.stats.snapshot()[crm]["write"] == 0
    assert read() == before


def test_a_conflict_on_a_built_in_key_is_located_in_the_built_in_file_beside_a_user_file(
    crm: str, empty: Sandbox, tmp_path: Path
) -> None:
    """The user file overrides another output (trend, to its built-in field): the score key is still the
    built-in file's, and the conflict on it must say so, with the built-in file's line."""
    (_hubspot_text_score if crm == "hubspot" else _salesforce_text_score)(empty)
    config = config_for(empty, tmp_path, crm)
    trend = {"hubspot": "healthsync_trend", "salesforce": "Health_Trend__c"}[crm]
    _user_mapping(config, crm, "account.outputs", "trend", trend)
    field = {"hubspot": "healthsync_score", "salesforce": "Health_Score__c"}[crm]
    code, applied = apply_json(config)
    assert code == 1
    assert len(applied["conflicts"]) == 1
    line = line_of(builtin(crm), f'score = "{field}"')
    where = f"{builtin(crm)} (built-in):{line}: "
    assert applied["conflicts"][0].startswith(f"{where}account.outputs.score: {crm} field "), applied
