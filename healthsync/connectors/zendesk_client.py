"""The zenpy client healthsync drives: one raw page per call, on our session.

**Why zenpy's generators are not used.** zenpy hides page boundaries (a page's cursor is only known
once its last record has been consumed and the next page fetched inside `next()`), fetches pages
outside `healthsync.http`, and its response handlers only recognise URLs on `{subdomain}.zendesk.com`:
through a rebased session (the sandbox, a proxy) its public calls return a bare `requests.Response`
instead of objects. So each page is one `BaseApi._get(url, raw_response=True, params=...)` — the
call zenpy's own generators make for every page after the first — which keeps zenpy's
authentication, timeout and error mapping (`APIException`, `RecordNotFoundException`) and gives the
raw page to our paginators. Query values are passed as `params` so requests encodes them (zenpy's
`Url.build` does not, and a cursor may hold `+` or `/`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from zenpy import Zenpy

from healthsync.config import ZendeskSection
from healthsync.connectors.sessions import make_session
from healthsync.connectors.zendesk_errors import VENDOR, raise_on_throttle
from healthsync.errors import PaginationError

__all__ = ["PLACEHOLDER_SUBDOMAIN", "JsonPage", "ZendeskClient", "zendesk_target"]

PLACEHOLDER_SUBDOMAIN = "healthsync"
"""zenpy requires a subdomain; a URL that is not `https://<sub>.zendesk.com` is reached by rebasing
`https://healthsync.zendesk.com` onto it in the session (`sessions.make_session`)."""

JsonPage = dict[str, Any]


def zendesk_target(section: ZendeskSection) -> tuple[str, tuple[str, str] | None]:
    """The subdomain to give zenpy and the session rebase, if the account is not `<sub>.zendesk.com`."""
    base = section.base_url.rstrip("/")
    parts = urlsplit(base)
    host = parts.hostname or ""
    labels = host.split(".")
    standard = parts.scheme == "https" and not parts.port and not parts.path and len(labels) == 3
    if standard and host.endswith(".zendesk.com"):
        return labels[0], None
    return PLACEHOLDER_SUBDOMAIN, (f"https://{PLACEHOLDER_SUBDOMAIN}.zendesk.com", base)


class ZendeskClient:
    """One raw page per call through an unmodified zenpy client (see the module docstring)."""

    def __init__(self, zenpy: Any, subdomain: str) -> None:
        self.zenpy = zenpy
        self.api_base = f"https://{subdomain}.zendesk.com/api/v2"

    @classmethod
    def build(
        cls,
        section: ZendeskSection,
        *,
        credential: str,
        secret: str,
        ca_bundle: str | None = None,
    ) -> ZendeskClient:
        """A zenpy client on our session: CA bundle, optional rebase, 429s raised, no SDK retries."""
        subdomain, rebase = zendesk_target(section)
        session = make_session(ca_bundle=ca_bundle, rebase=rebase)
        session.hooks["response"].append(raise_on_throttle)
        auth = {"oauth_token": secret} if credential.endswith("oauth_token") else {"token": secret}
        zenpy = Zenpy(
            subdomain=subdomain,
            email=section.email,
            session=session,
            # 0 seconds of budget: should a 429 ever reach zenpy, it raises instead of sleeping.
            ratelimit_budget=0,
            disable_cache=True,
            **auth,
        )
        return cls(zenpy, subdomain)

    @property
    def session(self) -> requests.Session:
        """The requests session zenpy sends with."""
        session: requests.Session = self.zenpy.users.session
        return session

    def get(self, path: str, params: Mapping[str, str]) -> JsonPage:
        """GET `/api/v2/{path}.json` with `params`; the JSON object answered."""
        response = self.zenpy.users._get(
            f"{self.api_base}/{path}.json", raw_response=True, params=dict(params)
        )
        body = response.json()
        if not isinstance(body, dict):
            raise PaginationError(f"expected a JSON object from {path}", vendor=VENDOR)
        return body

    def close(self) -> None:
        """Release pooled connections."""
        self.session.close()
