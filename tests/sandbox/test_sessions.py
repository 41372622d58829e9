"""Sessions for requests-based SDKs: the configured CA wins over the environment; URLs rebase."""

from __future__ import annotations

import pytest
import requests

from healthsync.connectors.sessions import USER_AGENT, make_session
from healthsync.sandbox import Sandbox
from healthsync.sandbox.salesforce import SalesforceApp


def test_ca_bundle_wins_over_requests_ca_bundle_env(small_dataset, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    with Sandbox(dataset=small_dataset, apps=[SalesforceApp], generate=False) as box:
        info = box.info()["salesforce"]
        with make_session(ca_bundle=info["ca_bundle"]) as session:
            response = session.get(f"{info['instance_url']}/services/data/")
            assert response.status_code == 200
            assert response.request.headers["User-Agent"] == USER_AGENT
        with requests.Session() as plain:
            plain.verify = info["ca_bundle"]
            with pytest.raises(requests.exceptions.SSLError):
                plain.get(f"{info['instance_url']}/services/data/")  # the pitfall this module avoids


def test_rebase_sends_sdk_urls_to_another_host(small_dataset) -> None:
    with Sandbox(dataset=small_dataset, apps=[SalesforceApp], generate=False) as box:
        info = box.info()["salesforce"]
        with make_session(
            ca_bundle=info["ca_bundle"], rebase=("https://acme.example.invalid", info["instance_url"])
        ) as s:
            assert s.get("https://acme.example.invalid/services/data/").status_code == 200


def test_zenpy_public_calls_work_through_a_rebased_session(small_dataset) -> None:
    from zenpy import Zenpy

    from healthsync.sandbox.zendesk import ZendeskApp

    with Sandbox(dataset=small_dataset, apps=[ZendeskApp], generate=False) as box:
        info = box.info()["zendesk"]
        session = make_session(rebase=("https://healthsync.zendesk.com", info["url"]))
        client = Zenpy(subdomain="healthsync", email=info["email"], token=info["token"], session=session)
        me = client.users.me()
        assert me.email == info["email"]  # a User object, not a bare Response
        session.close()
