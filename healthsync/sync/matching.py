"""The identity bridge: which support organization belongs to which CRM account.

Tickets and CSAT live on Zendesk organizations; scores live on CRM accounts. They are linked in
order of trust, each step only for what the previous ones left unlinked:

0. **organization id**: the account names the organization itself (the `zendesk_org_id` input
   field, where a team keeps the Zendesk organization id in the CRM);
1. **external id**: the organization's `external_id` equals the account's mapped key (e.g. the
   `customer_key` input field) or the account's CRM id (what Zendesk's own CRM integrations store);
2. **domain**: an organization domain equals an account domain (website or email domains,
   normalised: lower case, no scheme, no `www.`, no path);
3. **name**: the normalised names are equal (case, punctuation, accents and legal suffixes such as
   Inc, LLC, GmbH removed: "ACME, Inc." and "Acme Inc" match).

A step that finds two or more candidate accounts links nothing: the organization is reported as
ambiguous with its candidates, never silently given to one of them. Several organizations may link
to one account (a company with a support org per region); the report lists what stayed unmatched
on both sides, so RevOps can fix the data rather than trust a guess.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from healthsync.model import Account, SupportOrganization

__all__ = ["Ambiguity", "Link", "MatchReport", "match_organizations", "normalize_domain", "normalize_name"]

Method = Literal["organization_id", "external_id", "domain", "name"]

LEGAL_SUFFIXES = frozenset(
    [
        "ag",
        "bv",
        "co",
        "company",
        "corp",
        "corporation",
        "gmbh",
        "inc",
        "incorporated",
        "kg",
        "limited",
        "llc",
        "llp",
        "lp",
        "ltd",
        "nv",
        "oy",
        "oyj",
        "plc",
        "pte",
        "pty",
        "sa",
        "sarl",
        "sas",
        "spa",
        "srl",
        "the",
    ]
)
"""Words that distinguish legal entities, not companies; dropped before comparing names."""

_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def normalize_domain(value: str) -> str:
    """`https://www.Acme.com/about` → `acme.com`; e-mail addresses give their domain."""
    text = value.strip().lower()
    if "@" in text and "/" not in text:
        text = text.rsplit("@", 1)[1]
    text = re.sub(r"^[a-z][a-z0-9+.-]*://", "", text)
    text = text.split("/", 1)[0].split("?", 1)[0].split(":", 1)[0].rstrip(".")
    return text.removeprefix("www.")


def normalize_name(value: str) -> str:
    """`"ACME, Inc."` → `"acme"`: accents, case, punctuation and legal suffixes removed."""
    ascii_text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    words = [w for w in _NON_ALNUM.split(ascii_text.lower().replace("&", " and ")) if w]
    kept = [w for w in words if w not in LEGAL_SUFFIXES]
    return " ".join(kept or words)


@dataclass(frozen=True, slots=True)
class Link:
    """An organization linked to an account, and the evidence used."""

    organization_id: str
    account_id: str
    method: Method
    evidence: str


@dataclass(frozen=True, slots=True)
class Ambiguity:
    """An organization that fits several accounts at one step; nothing was linked."""

    organization_id: str
    organization_name: str
    method: Method
    evidence: str
    candidates: tuple[str, ...]


@dataclass
class MatchReport:
    """Links, plus everything a person should look at."""

    links: dict[str, Link] = field(default_factory=dict)
    """By organization id."""
    ambiguous: list[Ambiguity] = field(default_factory=list)
    unmatched_organizations: list[str] = field(default_factory=list)
    unmatched_accounts: list[str] = field(default_factory=list)

    def account_for(self, organization_id: str) -> str | None:
        """The CRM account id an organization is linked to, if any."""
        link = self.links.get(organization_id)
        return link.account_id if link else None

    def organizations_of(self) -> dict[str, list[str]]:
        """Organization ids per account id (an account may have several)."""
        out: dict[str, list[str]] = defaultdict(list)
        for link in self.links.values():
            out[link.account_id].append(link.organization_id)
        return dict(out)

    def counts(self) -> dict[str, int]:
        """Links per method plus the problem counts, for the run record."""
        by_method: dict[str, int] = defaultdict(int)
        for link in self.links.values():
            by_method[link.method] += 1
        return {
            **{f"by_{m}": by_method.get(m, 0) for m in ("organization_id", "external_id", "domain", "name")},
            "ambiguous": len(self.ambiguous),
            "unmatched_organizations": len(self.unmatched_organizations),
            "unmatched_accounts": len(self.unmatched_accounts),
        }


_Index = dict[str, str | set[str]]
"""Account ids by key value: one id as it is (most values name one account), several as a set."""


def _index(accounts: Sequence[Account], keys: Iterable[str]) -> _Index:
    index: _Index = {}
    for account, key_values in zip(accounts, keys, strict=True):
        for value in key_values.split("\x00") if key_values else ():
            held = index.get(value)
            if held is None:
                index[value] = account.crm_id
            elif isinstance(held, str):
                if held != account.crm_id:
                    index[value] = {held, account.crm_id}
            else:
                held.add(account.crm_id)
    return index


def _found(index: _Index, probe: str) -> set[str]:
    held = index.get(probe)
    if held is None:
        return set()
    return {held} if isinstance(held, str) else held


def match_organizations(
    accounts: Sequence[Account],
    organizations: Sequence[SupportOrganization],
    *,
    key_field: str | None = "customer_key",
) -> MatchReport:
    """Link support organizations to CRM accounts by external id, then domain, then name.

    Args:
        accounts: the CRM accounts (deleted ones are ignored).
        organizations: the support organizations (deleted ones are ignored).
        key_field: the `Account.external_keys` entry that organizations' `external_id` may hold;
            the CRM id is always accepted too.
    """
    live_accounts = [a for a in accounts if not a.deleted]
    report = MatchReport()

    def keys_of(account: Account) -> str:
        values = {account.crm_id.casefold()}
        key = account.external_keys.get(key_field) if key_field else None
        if key:
            values.add(str(key).strip().casefold())
        return "\x00".join(sorted(values))

    steps: list[tuple[Method, _Index]] = [
        (
            "organization_id",
            _index(
                live_accounts,
                (str(a.external_keys.get("zendesk_org_id") or "").strip().casefold() for a in live_accounts),
            ),
        ),
        ("external_id", _index(live_accounts, (keys_of(a) for a in live_accounts))),
        (
            "domain",
            _index(
                live_accounts,
                (
                    "\x00".join(sorted({normalize_domain(d) for d in a.domains if d.strip()}))
                    for a in live_accounts
                ),
            ),
        ),
        ("name", _index(live_accounts, (normalize_name(a.name) for a in live_accounts))),
    ]
    for org in sorted((o for o in organizations if not o.deleted), key=lambda o: o.id):
        probes: dict[Method, list[str]] = {
            "organization_id": [org.id.strip().casefold()],
            "external_id": [org.external_id.strip().casefold()]
            if org.external_id and org.external_id.strip()
            else [],
            "domain": sorted({normalize_domain(d) for d in org.domains if d.strip()}),
            "name": [normalize_name(org.name)] if org.name.strip() else [],
        }
        for method, index in steps:
            candidates: set[str] = set()
            evidence = ""
            for probe in probes[method]:
                found = _found(index, probe)
                if found and not evidence:
                    evidence = probe
                candidates |= found
            if len(candidates) == 1:
                report.links[org.id] = Link(org.id, next(iter(candidates)), method, evidence)
                break
            if len(candidates) > 1:
                report.ambiguous.append(
                    Ambiguity(org.id, org.name, method, evidence, tuple(sorted(candidates)))
                )
                break
        else:
            report.unmatched_organizations.append(org.id)
    linked = {link.account_id for link in report.links.values()}
    report.unmatched_accounts = sorted(a.crm_id for a in live_accounts if a.crm_id not in linked)
    return report
