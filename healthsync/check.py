"""`healthsync check`: everything a sync needs, verified one item at a time, each ✗ with its fix.

An admin runs it after install and after every change of credentials or mapping: the config parses,
every secret resolves, each system answers with the given credentials and the permissions
healthsync needs, the mapping matches the live CRM schema, the usage source answers and the state
store opens. Nothing is written anywhere. Items that depend on a failed one are skipped, not failed
again, so the first ✗ is the one to fix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from healthsync.config import Config, load_config
from healthsync.connectors.registry import crm_connector, ticket_source, usage_source
from healthsync.errors import (
    AuthError,
    ConfigError,
    HealthsyncError,
    MappingError,
    StateError,
    TransientError,
    VendorError,
)
from healthsync.http import Http
from healthsync.mappings import load_mapping
from healthsync.mappings.schema import required_schema
from healthsync.mappings.validate import check_live_schema
from healthsync.secrets import resolve

__all__ = ["CheckItem", "CheckReport", "run_checks"]

_HOSTS = {
    "hubspot": "[hubspot] host",
    "salesforce": "[salesforce] instance_url",
    "zendesk": "[zendesk] url or subdomain",
}


@dataclass(frozen=True)
class CheckItem:
    """One line of the checklist."""

    name: str
    ok: bool | None
    """True passed, False failed, None skipped (an item it depends on failed)."""
    detail: str
    fix: str | None = None
    problems: tuple[str, ...] = ()


@dataclass
class CheckReport:
    """The checklist; `ok` only when every item passed."""

    items: list[CheckItem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every item passed (none failed or was skipped)."""
        return bool(self.items) and all(item.ok for item in self.items)

    def to_json(self) -> dict[str, Any]:
        """`check --json`."""
        return {
            "ok": self.ok,
            "checks": [
                {
                    "name": i.name,
                    "status": {True: "ok", False: "failed", None: "skipped"}[i.ok],
                    "detail": i.detail,
                    "fix": i.fix,
                    "problems": list(i.problems),
                }
                for i in self.items
            ],
        }


def _vendor_failure(system: str, exc: HealthsyncError) -> CheckItem:
    """A failed call as a checklist item: wrong credentials, missing permission, or unreachable."""
    if isinstance(exc, AuthError):
        permission = getattr(exc, "status", None) == 403 or "scope" in str(exc).lower()
        fix = getattr(exc, "fix", None) or next((p.fix for p in exc.problems if p.fix), None)
        return CheckItem(
            f"{system}: permissions" if permission else f"{system}: credentials",
            False,
            VendorError.__str__(exc),  # with the vendor, endpoint and status; the fix goes in its own field
            fix,
        )
    if isinstance(exc, TransientError):
        return CheckItem(
            f"{system}: reachable",
            False,
            f"{system} did not answer: {exc}",
            f"check {_HOSTS.get(system, 'the address')} in the config, the network and any proxy "
            "between this machine and the vendor",
        )
    return CheckItem(f"{system}: reachable", False, str(exc))


def _guard(name: str, action: Callable[[], str]) -> CheckItem:
    try:
        return CheckItem(name, True, action())
    except ConfigError as exc:
        return CheckItem(name, False, _head(exc), _first_fix(exc), tuple(str(p) for p in exc.problems))
    except HealthsyncError as exc:
        return CheckItem(name, False, str(exc))


def _head(exc: HealthsyncError) -> str:
    """The error's own sentence, without the problem list `str()` appends."""
    return str(exc.args[0]) if exc.args else str(exc)


def _first_fix(exc: ConfigError) -> str | None:
    return next((p.fix for p in exc.problems if p.fix), None)


def run_checks(config_path: Path, *, http: Http | None = None) -> CheckReport:
    """Run every check against the config at `config_path`; never writes to any system."""
    report = CheckReport()
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        report.items.append(
            CheckItem("config", False, _head(exc), _first_fix(exc), tuple(str(p) for p in exc.problems))
        )
        return report
    report.items.append(CheckItem("config", True, f"{config_path} parses and validates"))
    http = http or Http(retry_budget=0)  # a check reports a failure at once rather than backing off

    secrets = _check_secrets(config)
    report.items.append(secrets)
    report.items.append(_guard("state store", lambda: _open_state(config)))
    report.items.append(_guard("mapping file", lambda: _mapping_file(config)))
    mapping_ok = report.items[-1].ok
    if not secrets.ok:
        for system in _systems(config):
            report.items.append(CheckItem(f"{system}: reachable", None, "skipped: a secret is missing"))
        return report
    report.items += _check_crm(config, http, mapping_ok=bool(mapping_ok))
    if config.zendesk is not None:
        report.items += _check_zendesk(config, http)
    if config.usage is not None:
        report.items.append(_guard("usage source", lambda: _usage(config)))
    return report


def _systems(config: Config) -> list[str]:
    out: list[str] = [config.crm.system]
    if config.zendesk is not None:
        out.append("zendesk")
    return out


def _check_secrets(config: Config) -> CheckItem:
    used = (f"{config.crm.system}.", "zendesk.", "usage.", "state.", "alerts.")
    refs = [(key, ref) for key, ref in config.secret_refs() if key.startswith(used)]
    base = config.source.parent if config.source is not None else None
    missing: list[str] = []
    fixes: list[str] = []
    for key, ref in refs:
        try:
            resolve(ref, context=key, base_dir=base)
        except ConfigError as exc:
            missing.append(str(exc.problems[0]) if exc.problems else _head(exc))
            fix = _first_fix(exc)
            if fix:
                fixes.append(fix)
    if missing:
        return CheckItem(
            "secrets", False, f"{len(missing)} of {len(refs)} secrets not found", "; ".join(fixes) or None,
            tuple(missing),
        )  # fmt: skip
    return CheckItem("secrets", True, f"{len(refs)} secrets found ({', '.join(k for k, _ in refs)})")


def _open_state(config: Config) -> str:
    from healthsync.sync.engine import open_store

    try:
        store = open_store(config)
    except StateError as exc:
        raise ConfigError(str(exc)) from exc
    store.close()
    return f"{store.url} opens (schema current)"


def _mapping_file(config: Config) -> str:
    mapping = load_mapping(config.crm.system, config.crm.mapping)
    return f"{' + '.join(mapping.sources)} valid"


def _check_crm(config: Config, http: Http, *, mapping_ok: bool) -> list[CheckItem]:
    system = config.crm.system
    items: list[CheckItem] = []
    try:
        crm = crm_connector(config, http)
        mapping = crm.mapping
        needs = required_schema(mapping)
        live = crm.live_schema(needs.objects)
    except (VendorError, AuthError) as exc:
        return [_vendor_failure(system, exc)]
    except MappingError as exc:
        return [CheckItem(f"{system}: reachable", None, f"skipped: the mapping is invalid ({_head(exc)})")]
    except ConfigError as exc:
        return [CheckItem(f"{system}: credentials", False, _head(exc), _first_fix(exc))]
    items.append(CheckItem(f"{system}: reachable", True, f"{system} answered as the configured user"))
    items.append(_permissions(system, crm, live))
    if not mapping_ok:
        items.append(
            CheckItem(f"{system}: mapping vs live schema", None, "skipped: the mapping file is invalid")
        )
        return items
    problems = check_live_schema(mapping, live, needs)
    if problems:
        fixable = all(p.fixable for p in problems)
        items.append(
            CheckItem(
                f"{system}: mapping vs live schema",
                False,
                f"{len(problems)} problem(s) between the mapping and the live {system} schema",
                "run `healthsync fields apply`" if fixable else "see each problem's fix",
                tuple(str(p) for p in problems),
            )
        )
    else:
        items.append(
            CheckItem(
                f"{system}: mapping vs live schema", True, f"every mapped field exists in {system} as needed"
            )
        )
    return items


def _permissions(system: str, crm: Any, live: Any) -> CheckItem:
    """What healthsync's user may do: HubSpot token scopes, Salesforce object access."""
    try:
        missing = crm.missing_permissions(live)
    except (VendorError, AuthError) as exc:
        return _vendor_failure(system, exc)
    if missing:
        return CheckItem(
            f"{system}: permissions",
            False,
            f"healthsync's user lacks: {', '.join(missing)}",
            "grant them to the integration user (Salesforce: profile or permission set; HubSpot: the "
            "private app's scopes), then run `healthsync check` again",
            tuple(missing),
        )
    return CheckItem(f"{system}: permissions", True, "read and write access to every object healthsync uses")


def _check_zendesk(config: Config, http: Http) -> list[CheckItem]:
    try:
        zendesk = ticket_source(config, http)
        assert zendesk is not None
        me = zendesk.whoami()
    except (VendorError, AuthError) as exc:
        return [_vendor_failure("zendesk", exc)]
    except ConfigError as exc:
        return [CheckItem("zendesk: credentials", False, _head(exc), _first_fix(exc))]
    who = getattr(me, "email", None) or getattr(me, "name", None) or "the configured user"
    return [CheckItem("zendesk: reachable", True, f"signed in as {who}")]


def _usage(config: Config) -> str:
    source = usage_source(config)
    assert source is not None
    today = datetime.now(UTC).date()
    try:
        rows = sum(len(batch) for batch in source.iter_daily_usage(today - timedelta(days=6), today))
    finally:
        source.close()
    return f"{config.usage.kind if config.usage else ''} usage source answers ({rows} account-days this week)"
