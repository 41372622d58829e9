"""`requests` sessions for the requests-based SDKs (simple-salesforce, zenpy).

Two transport details live here so no connector special-cases them:

- **A CA bundle that sticks.** `session.verify = path` is silently overridden by `REQUESTS_CA_BUNDLE`
  / `CURL_CA_BUNDLE` from the environment (psf/requests#3829), and the SDKs never pass `verify` per
  call. An adapter that sets `verify` on every send makes a configured `ca_bundle` (a corporate TLS
  proxy's CA, or the sandbox's) win while keeping the environment's proxy settings.
- **A base URL the SDK cannot build.** zenpy builds `https://{subdomain}.{domain}`; an account behind
  a custom host, a proxy path or the local sandbox is reached by rebasing that prefix in the
  transport, not by patching the SDK.

No retries here: `healthsync.http` owns them (adapters keep `max_retries=0`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from healthsync import __version__

__all__ = ["make_session"]

USER_AGENT = f"healthsync/{__version__} (+https://github.com/healthsync)"


class _Adapter(HTTPAdapter):
    """Sends with a fixed CA bundle and, optionally, a rebased URL prefix."""

    def __init__(self, *, ca_bundle: str | None, rebase: tuple[str, str] | None) -> None:
        super().__init__(max_retries=0, pool_maxsize=16)
        self._ca_bundle = ca_bundle
        self._rebase = rebase

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if self._ca_bundle is not None:
            kwargs["verify"] = self._ca_bundle
        original = request.url
        if self._rebase is not None and original and original.startswith(self._rebase[0]):
            request.url = self._rebase[1] + original[len(self._rebase[0]) :]
            response = super().send(request, **kwargs)
            # SDKs recognise their own responses by the URL they built (zenpy checks its base URL
            # in `response.request.url`), so the request keeps that URL once it has been sent.
            request.url = original
            return response
        return super().send(request, **kwargs)


def make_session(
    *, ca_bundle: Path | str | None = None, rebase: tuple[str, str] | None = None
) -> requests.Session:
    """A session for an SDK: our User-Agent, no retries, an optional CA bundle and URL rebase.

    Args:
        ca_bundle: PEM file of CAs to trust for https (None: the system's / environment's).
        rebase: `(prefix the SDK builds, prefix to send to)`, e.g.
            `("https://acme.zendesk.com", "http://127.0.0.1:8080")`.
    """
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    adapter = _Adapter(ca_bundle=str(ca_bundle) if ca_bundle is not None else None, rebase=rebase)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
