"""`healthsync check` end to end against the sandbox, for HubSpot and Salesforce (issue #7).

Done when: `check` catches a missing secret, a wrong token (401), a missing scope or permission, an
unreachable host and an invalid mapping, each with a fix line, and passes on a good sandbox config.
Every case asserts the whole checklist (item names and statuses, in order), the failing item's
detail, problems and fix, the printed checklist's `fix:` line, exit code 1, and that checking
wrote nothing to the CRM.
"""

from __future__ import annotations

import atexit
import json
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from e2e_support import CrmView, cli_run, config_for, control, set_config_key, use_mapping

from healthsync.sandbox import Sandbox

ACCOUNTS = 12
SEED = 11
ENV_VARS = {"hubspot": "HUBSPOT_TOKEN", "salesforce": "SALESFORCE_TOKEN"}
HOST_KEYS = {
    "hubspot": ("host", "[hubspot] host"),
    "salesforce": ("instance_url", "[salesforce] instance_url"),
}
GRANT_FIX = (
    "grant them to the integration user (Salesforce: profile or permission set; HubSpot: the private "
    "app's scopes), then run `healthsync check` again"
)
OK = "ok"
FAILED = "failed"
SKIPPED = "skipped"


def base_items(crm: str) -> list[tuple[str, str]]:
    """The checklist of a good sandbox config, in order."""
    return [
        ("config", OK),
        ("secrets", OK),
        ("state store", OK),
        ("mapping file", OK),
        (f"{crm}: reachable", OK),
        (f"{crm}: permissions", OK),
        (f"{crm}: mapping vs live schema", OK),
        ("zendesk: reachable", OK),
        ("usage source", OK),
    ]


@pytest.fixture(params=["hubspot", "salesforce"])
def crm(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def run_check(box: Sandbox, config: Path, crm: str) -> tuple[int, dict[str, Any], str]:
    """`check --json` and the plain checklist; asserts both agree on the exit code and nothing was written."""
    box.stats.reset()
    as_json = cli_run("check", "--json", "--config", str(config))
    text = cli_run("check", "--config", str(config))
    assert as_json.exit_code == text.exit_code
    assert CrmView(box, crm).writes() == 0
    return as_json.exit_code, json.loads(as_json.stdout), text.stdout


def statuses(report: dict[str, Any]) -> list[tuple[str, str]]:
    return [(item["name"], item["status"]) for item in report["checks"]]


def item(report: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [i for i in report["checks"] if i["name"] == name]
    return found


def test_check_passes_on_a_good_sandbox_config(crm: str, tmp_path: Path) -> None:
    with Sandbox(accounts=ACCOUNTS, seed=SEED, workdir=tmp_path / "box") as box:
        config = config_for(box, tmp_path, crm)
        code, report, text = run_check(box, config, crm)
    assert code == 0, text
    assert report["ok"] is True
    assert statuses(report) == base_items(crm)
    assert all(i["fix"] is None and i["problems"] == [] for i in report["checks"])
    assert item(report, "secrets")["detail"] == (f"2 secrets found ({crm}.access_token, zendesk.token)")
    assert item(report, f"{crm}: mapping vs live schema")["detail"] == (
        f"every mapped field exists in {crm} as needed"
    )
    assert text.splitlines()[-1] == "all checks passed"
    assert [line[0] for line in text.splitlines()[:-1]] == ["✓"] * len(base_items(crm))


# --- what check catches ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    """A broken setup and what `check` must say about it."""

    id: str
    break_it: Callable[[Sandbox, Path, str], Any]
    """Breaks the sandbox or the config (given the config path and the CRM); may return context."""
    items: Callable[[str], list[tuple[str, str]]]
    """The whole checklist expected, per CRM."""
    failing: Callable[[str], str]
    """The failing item to look at closely."""
    verify: Callable[[dict[str, Any], str, Any], None]
    """Asserts the failing item's detail, problems and fix (item, crm, context)."""


def _token_file(config: Path, crm: str) -> Path:
    return config.parent / "healthsync-secrets" / f"{crm}_token"


def _delete_secret(box: Sandbox, config: Path, crm: str) -> Path:
    token = _token_file(config, crm)
    token.unlink()
    return token


def _missing_secret(found: dict[str, Any], crm: str, token: Path) -> None:
    assert found["detail"] == "1 of 2 secrets not found"
    fix = f"write the secret into {token} (readable only by the healthsync user)"
    assert found["fix"] == fix
    assert found["problems"] == [
        f"<secrets>: {crm}.access_token: secret not found; looked in file {token} (missing) (fix: {fix})"
    ]


def _wrong_token(box: Sandbox, config: Path, crm: str) -> None:
    _token_file(config, crm).write_text("not-the-sandbox-token\n", encoding="utf-8")


def _refused_token(found: dict[str, Any], crm: str, _: Any) -> None:
    assert "HTTP 401]" in found["detail"], found
    assert found["fix"], f"no fix line for a refused {crm} token: {found}"
    assert f"`healthsync auth set {crm}`" in found["fix"]
    assert ENV_VARS[crm] in found["fix"]


def _take_write_access(box: Sandbox, config: Path, crm: str) -> None:
    if crm == "hubspot":
        granted = requests.get(f"{box.info()['control']}scopes/hubspot", timeout=30).json()["scopes"]
        kept = [s for s in granted if not s.endswith(".write")]
        assert control(box, "scopes/hubspot", {"scopes": kept})["scopes"] == kept
    else:
        assert control(box, "permissions/salesforce", {"objects": ["Task"]}) == {
            "fields": [],
            "objects": ["Task"],
        }


MISSING_SCOPES = [
    "write companies (scope crm.objects.companies.write)",
    "write deals (scope crm.objects.deals.write)",
    "create tasks (scope crm.objects.contacts.write or crm.objects.tasks.write)",
]


def _no_write_access(found: dict[str, Any], crm: str, _: Any) -> None:
    missing = MISSING_SCOPES if crm == "hubspot" else ["create Task"]
    assert found["detail"] == f"healthsync's user lacks: {', '.join(missing)}"
    assert found["problems"] == missing
    assert found["fix"] == GRANT_FIX


def _no_write_items(crm: str) -> list[tuple[str, str]]:
    items = base_items(crm)
    items[5] = (f"{crm}: permissions", FAILED)
    if crm == "salesforce":  # a read-only Task makes its key field read-only too: reported with its own fix
        items[6] = (f"{crm}: mapping vs live schema", FAILED)
    return items


_HELD: list[socket.socket] = []


def _closed_port() -> int:
    """A port that refuses connections for the whole test session: bound here but never listening,
    so no parallel test's server can take it over in the meantime."""
    if not _HELD:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        atexit.register(sock.close)
        _HELD.append(sock)
    return int(_HELD[0].getsockname()[1])


def _unreachable(box: Sandbox, config: Path, crm: str) -> str:
    key, _ = HOST_KEYS[crm]
    url = f"{'http' if crm == 'hubspot' else 'https'}://127.0.0.1:{_closed_port()}"
    set_config_key(config, crm, key, json.dumps(url))
    return url


def _no_answer(found: dict[str, Any], crm: str, _: Any) -> None:
    assert found["detail"].startswith(f"{crm} did not answer: [{crm} "), found
    assert "connection failed" in found["detail"]
    assert found["fix"] == (
        f"check {HOST_KEYS[crm][1]} in the config, the network and any proxy between this machine and "
        "the vendor"
    )


def _unknown_output(box: Sandbox, config: Path, crm: str) -> Path:
    field = {"hubspot": "healthsync_score", "salesforce": "Health_Score__c"}[crm]
    return use_mapping(config, f'# RevOps overrides\n\n[account.outputs]\nscroe = "{field}"\n')


def _bad_mapping_file(found: dict[str, Any], crm: str, path: Path) -> None:
    assert found["detail"] == f"invalid {crm} mapping"
    assert found["fix"] == "did you mean 'score'?"
    assert found["problems"] == [
        f"{path}:4: account.outputs.scroe: unknown output 'scroe' (fix: did you mean 'score'?)"
    ]


# The keys an empty CRM lacks for the built-in mappings, in the order check lists them.
ACCOUNT_KEYS = [
    *(
        f"account.inputs.{k}"
        for k in (
            "customer_key",
            "contract_start",
            "contract_end",
            "arr",
            "licenses",
            "segment",
            "override_band",
            "override_expires",
            "override_author",
        )
    ),
    *(
        f"account.outputs.{k}"
        for k in (
            "score",
            "band",
            "trend",
            "trend_direction",
            "reasons",
            "renewal_stage",
            "days_to_renewal",
            "last_synced",
        )
    ),
]
EMPTY_CRM_KEYS = {
    "hubspot": [*ACCOUNT_KEYS, "tasks.key_field", "deals.key_field", "deals.pipeline"],
    "salesforce": [
        *ACCOUNT_KEYS,
        "tasks.key_field",
        "deals.key_field",
        "deals.loss_reason_field",
        "deals.stages",
        "deals.type",
    ],
}


def _schema_mismatch(found: dict[str, Any], crm: str, _: Any) -> None:
    keys = EMPTY_CRM_KEYS[crm]
    assert found["detail"] == f"{len(keys)} problem(s) between the mapping and the live {crm} schema"
    assert found["fix"] == "run `healthsync fields apply`"
    assert [p.split(": ")[1] for p in found["problems"]] == keys
    assert all("(fix: run `healthsync fields apply`" in p for p in found["problems"]), found["problems"]
    assert all(p.startswith("/") and f"/{crm}.toml (built-in):" in p for p in found["problems"])


def _replace(items: list[tuple[str, str]], at: int, *new: tuple[str, str], drop: int = 1) -> list[Any]:
    return [*items[:at], *new, *items[at + drop :]]


FAILURES = [
    Failure(
        "missing-secret",
        _delete_secret,
        lambda crm: [
            ("config", OK),
            ("secrets", FAILED),
            ("state store", OK),
            ("mapping file", OK),
            (f"{crm}: reachable", SKIPPED),
            ("zendesk: reachable", SKIPPED),
        ],
        lambda crm: "secrets",
        _missing_secret,
    ),
    Failure(
        "wrong-token",
        _wrong_token,
        lambda crm: _replace(base_items(crm), 4, (f"{crm}: credentials", FAILED), drop=3),
        lambda crm: f"{crm}: credentials",
        _refused_token,
    ),
    Failure(
        "no-write-access",
        _take_write_access,
        _no_write_items,
        lambda crm: f"{crm}: permissions",
        _no_write_access,
    ),
    Failure(
        "unreachable-host",
        _unreachable,
        lambda crm: _replace(base_items(crm), 4, (f"{crm}: reachable", FAILED), drop=3),
        lambda crm: f"{crm}: reachable",
        _no_answer,
    ),
    Failure(
        "unknown-mapping-key",
        _unknown_output,
        lambda crm: _replace(
            base_items(crm), 3, ("mapping file", FAILED), (f"{crm}: reachable", SKIPPED), drop=4
        ),
        lambda crm: "mapping file",
        _bad_mapping_file,
    ),
]


def _cases() -> list[Any]:
    out = []
    for failure in FAILURES:
        for crm in ("hubspot", "salesforce"):
            marks: list[Any] = []
            out.append(pytest.param(failure, crm, id=f"{crm}-{failure.id}", marks=marks))
    return out


@pytest.mark.parametrize(("failure", "crm"), _cases())
def test_check_catches_it_with_a_fix(failure: Failure, crm: str, tmp_path: Path) -> None:
    with Sandbox(accounts=ACCOUNTS, seed=SEED, workdir=tmp_path / "box") as box:
        config = config_for(box, tmp_path, crm)
        context = failure.break_it(box, config, crm)
        code, report, text = run_check(box, config, crm)
    assert code == 1
    assert report["ok"] is False
    assert statuses(report) == failure.items(crm)
    found = item(report, failure.failing(crm))
    assert found["status"] == FAILED
    failure.verify(found, crm, context)
    lines = text.splitlines()
    assert lines[-1] == "some checks failed"
    failed = [name for name, status in statuses(report) if status == FAILED]
    assert sum(line.startswith("✗ ") for line in lines) == len(failed)
    assert any(line.startswith(f"✗ {found['name']}: ") for line in lines), text
    assert f"    fix: {found['fix']}" in lines


def test_the_printed_checklist_shows_a_failing_items_detail_as_is(crm: str, tmp_path: Path) -> None:
    with Sandbox(accounts=ACCOUNTS, seed=SEED, workdir=tmp_path / "box") as box:
        config = config_for(box, tmp_path, crm)
        _unreachable(box, config, crm)
        code, report, text = run_check(box, config, crm)
    assert code == 1
    found = item(report, f"{crm}: reachable")
    assert f"[{crm} " in found["detail"]  # the endpoint, in brackets, as every VendorError names it
    assert f"✗ {crm}: reachable: {found['detail']}" in text.splitlines()


def test_check_on_an_empty_crm_sends_to_fields_apply(crm: str, tmp_path: Path) -> None:
    """The live-schema half of "invalid mapping": a valid file whose fields the CRM does not have yet."""
    with Sandbox(accounts=ACCOUNTS, seed=SEED, workdir=tmp_path / "box", provisioned=False) as box:
        config = config_for(box, tmp_path, crm)
        code, report, text = run_check(box, config, crm)
    assert code == 1
    assert statuses(report) == _replace(base_items(crm), 6, (f"{crm}: mapping vs live schema", FAILED))
    found = item(report, f"{crm}: mapping vs live schema")
    _schema_mismatch(found, crm, None)
    assert "    fix: run `healthsync fields apply`" in text.splitlines()
