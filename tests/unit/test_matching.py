"""The identity bridge: trust order, normalisation, ambiguity reported, never guessed."""

from __future__ import annotations

import pytest

from healthsync.model import Account, SupportOrganization
from healthsync.sync.matching import match_organizations, normalize_domain, normalize_name


def account(
    crm_id: str, name: str, *, key: str | None = None, domains: tuple[str, ...] = (), deleted: bool = False
):
    return Account(
        crm_id=crm_id,
        name=name,
        domains=domains,
        external_keys={"customer_key": key} if key else {},
        deleted=deleted,
    )


def org(id_: str, name: str, *, external_id: str | None = None, domains: tuple[str, ...] = (), deleted=False):
    return SupportOrganization(id=id_, name=name, external_id=external_id, domains=domains, deleted=deleted)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://www.Acme.com/about", "acme.com"),
        ("acme.com", "acme.com"),
        ("WWW.ACME.COM.", "acme.com"),
        ("http://acme.co.uk:8080/x?y", "acme.co.uk"),
        ("ops@Acme.com", "acme.com"),
    ],
)
def test_normalize_domain(raw: str, expected: str) -> None:
    assert normalize_domain(raw) == expected


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("ACME, Inc.", "Acme Inc"),
        ("Acme Corporation", "ACME"),
        ("Müller GmbH", "Muller"),
        ("Smith & Sons Ltd.", "smith and sons"),
        ("The Widget Co.", "Widget"),
    ],
)
def test_normalize_name_equates_spellings_of_one_company(a: str, b: str) -> None:
    assert normalize_name(a) == normalize_name(b)


def test_a_name_of_only_suffix_words_is_kept() -> None:
    assert normalize_name("The Company") == "the company"


def test_each_step_in_trust_order() -> None:
    accounts = [
        account("001A", "Acme Corp", key="C1", domains=("https://acme.com",)),
        account("001B", "Globex Corporation", key="C2", domains=("globex.com",)),
        account("001C", "Initech LLC", key="C3"),
        account("001D", "Umbrella Health", key="C4"),
    ]
    orgs = [
        org("10", "Acme support", external_id="c1"),  # external id, case-insensitive
        org("11", "Globex EMEA", domains=("www.globex.com",)),  # domain
        org("12", "INITECH"),  # name
        org("13", "Somebody Else", domains=("else.example",)),  # nothing
        org("14", "By CRM id", external_id="001D"),  # Zendesk integrations store the CRM id
    ]
    report = match_organizations(accounts, orgs)
    assert {o: (link.account_id, link.method) for o, link in report.links.items()} == {
        "10": ("001A", "external_id"),
        "11": ("001B", "domain"),
        "12": ("001C", "name"),
        "14": ("001D", "external_id"),
    }
    assert report.unmatched_organizations == ["13"]
    assert report.unmatched_accounts == []
    assert report.counts()["by_external_id"] == 2


def test_an_external_id_that_matches_nothing_falls_through_to_domain() -> None:
    report = match_organizations(
        [account("001A", "Acme", key="C1", domains=("acme.com",))],
        [org("10", "Acme", external_id="stale-id", domains=("acme.com",))],
    )
    assert report.links["10"].method == "domain"


def test_two_candidates_are_reported_never_guessed() -> None:
    accounts = [
        account("001A", "Acme Inc", domains=("acme.com",)),
        account("001B", "ACME LLC", domains=("acme.com",)),
    ]
    report = match_organizations(accounts, [org("10", "Acme", domains=("acme.com",))])
    assert report.links == {}
    assert len(report.ambiguous) == 1
    ambiguity = report.ambiguous[0]
    assert (ambiguity.method, ambiguity.candidates) == ("domain", ("001A", "001B"))
    assert report.unmatched_accounts == ["001A", "001B"]


def test_ambiguity_stops_at_the_step_that_found_it() -> None:
    # Two accounts share a name, but the domain step already decided: name ambiguity never arises.
    accounts = [
        account("001A", "Acme", domains=("acme.com",)),
        account("001B", "Acme", domains=("acme.de",)),
    ]
    report = match_organizations(accounts, [org("10", "Acme", domains=("acme.de",))])
    assert report.account_for("10") == "001B"


def test_several_organizations_may_share_an_account_and_deleted_records_are_ignored() -> None:
    accounts = [account("001A", "Acme", key="C1"), account("001Z", "Gone", key="C9", deleted=True)]
    orgs = [
        org("10", "Acme US", external_id="C1"),
        org("11", "Acme EU", external_id="C1"),
        org("12", "Gone", external_id="C9"),
        org("13", "Acme old", external_id="C1", deleted=True),
    ]
    report = match_organizations(accounts, orgs)
    assert report.organizations_of() == {"001A": ["10", "11"]}
    assert report.unmatched_organizations == ["12"]
    assert "13" not in report.links


def test_an_account_naming_its_organization_wins_over_every_other_clue() -> None:
    named = Account(crm_id="001A", name="Acme Corp", external_keys={"zendesk_org_id": "77"})
    other = account("001B", "Acme Corp", key="C9", domains=("acme.com",))
    orgs = [org("77", "Acme Corp", external_id="c9", domains=("acme.com",))]  # every other clue: 001B
    report = match_organizations([named, other], orgs)
    assert report.links["77"].account_id == "001A"
    assert report.links["77"].method == "organization_id"
    assert report.counts()["by_organization_id"] == 1
