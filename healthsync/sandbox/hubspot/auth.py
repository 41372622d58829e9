"""Private-app tokens and their scopes: the 403 MISSING_SCOPES a call outside them answers, and the
token-introspection endpoint that lists them.

A HubSpot private app's access token carries the scopes chosen for the app; a call that none of them
covers answers 403 with category MISSING_SCOPES and the scopes that would cover it (any one of them)
in `errors[].context.requiredGranularScopes`, as integrations quote the body:
`{"status":"error","message":"This app hasn't been granted all required scopes to make this call. Read
more about required scopes here: https://developers.hubspot.com/scopes.","correlationId":"…","errors":
[{"message":"One or more of the following scopes are required.","context":{"requiredGranularScopes":
["crm.objects.companies.write"]}}],"links":{"scopes":"https://developers.hubspot.com/scopes"},
"category":"MISSING_SCOPES"}` (https://developers.hubspot.com/docs/api-reference/error-handling : 403
when "the authentication provided does not have the proper permissions").

Which scopes cover which call comes from the `security` lists of the published CRM specs
(`../shared/vendor-specs/hubspot/*.json`, each entry an alternative), narrowed to the object the
call is about, as HubSpot enforces them: companies and deals need `crm.objects.<object>.read|write`;
tasks need `crm.objects.contacts.read|write` (the tasks spec, and the "Scope requirements" of
https://developers.hubspot.com/docs/api-reference/latest/crm/activities/tasks/guide ); owners
`crm.objects.owners.read` (or `automation`); property and pipeline definitions are read with the
object's read scopes or `crm.schemas.<object>.read` and written only with `crm.schemas.<object>.write`
(properties and pipelines specs); custom object schemas need `crm.schemas.custom.read`.

`POST /oauth/v2/private-apps/get/access-token-info` with `{"tokenKey": token}` answers
`{userId, hubId, appId, scopes}` for a private-app token, needs no scope, and takes the token from the
body (the `Authorization` header is optional for `pat-na1` tokens)
(https://developers.hubspot.com/docs/api/private-apps#view-private-app-access-token-information ).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from healthsync.sandbox.hubspot.errors import (
    INVALID_AUTHENTICATION,
    VALIDATION_ERROR,
    api_error,
    status_error,
)
from healthsync.sandbox.hubspot.objects import read_body
from healthsync.sandbox.hubspot.store import resolve_type
from healthsync.sandbox.wire import ApiError, Kind, Request, Response, Router, json_response

__all__ = [
    "DEFAULT_SCOPES",
    "TOKEN_INFO_PATH",
    "PrivateAppTokens",
    "TokenInfoRoutes",
    "missing_scopes_error",
    "required_scopes",
]

TOKEN_INFO_PATH = "/oauth/v2/private-apps/get/access-token-info"  # noqa: S105 - a path, not a secret
SCOPES_DOC = "https://developers.hubspot.com/scopes"

DEFAULT_SCOPES: tuple[str, ...] = (
    "oauth",
    "crm.objects.companies.read",
    "crm.objects.companies.write",
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.objects.deals.read",
    "crm.objects.deals.write",
    "crm.objects.owners.read",
    "crm.schemas.companies.read",
    "crm.schemas.companies.write",
    "crm.schemas.contacts.read",
    "crm.schemas.contacts.write",
    "crm.schemas.custom.read",
    "crm.schemas.deals.read",
    "crm.schemas.deals.write",
    "crm.schemas.tasks.read",
    "crm.schemas.tasks.write",
)
"""What the sandbox's token carries unless restricted: every scope a healthsync sync, `check` and
`fields apply` need against the objects it touches (companies, deals, tasks, owners, their
properties and the deal pipelines), plus `oauth`, which HubSpot's own example token lists."""


@dataclass(frozen=True)
class _ObjectScopes:
    read: tuple[str, ...]
    write: tuple[str, ...]
    schema_read: tuple[str, ...]
    schema_write: tuple[str, ...]

    @property
    def definitions_read(self) -> tuple[str, ...]:
        """Property and pipeline reads: the schema scope or any scope on the records themselves."""
        return (*self.schema_read, *self.read, *self.write)


def _standard(name: str) -> _ObjectScopes:
    return _ObjectScopes(
        (f"crm.objects.{name}.read",),
        (f"crm.objects.{name}.write",),
        (f"crm.schemas.{name}.read",),
        (f"crm.schemas.{name}.write",),
    )


_BY_OBJECT: dict[str, _ObjectScopes] = {
    "companies": _standard("companies"),
    "deals": _standard("deals"),
    "contacts": _standard("contacts"),
    # Task records are guarded by the contacts scopes (crm-tasks-v3.json security); task property
    # definitions by crm.schemas.tasks.* (or crm.objects.tasks.read for reads, properties spec).
    "tasks": _ObjectScopes(
        ("crm.objects.contacts.read",),
        ("crm.objects.contacts.write",),
        ("crm.schemas.tasks.read", "crm.objects.tasks.read"),
        ("crm.schemas.tasks.write",),
    ),
}


def _object(params: Mapping[str, str], key: str) -> _ObjectScopes | None:
    try:
        return _BY_OBJECT.get(resolve_type(params.get(key, "")).name)
    except ApiError:
        return None  # the route answers its own 400 for an object type it cannot map


def required_scopes(template: str, kind: Kind, params: Mapping[str, str]) -> tuple[str, ...]:
    """The scopes any one of which lets a call through; empty when the call needs none."""
    write = kind == "write"
    if template.startswith("/crm/v3/owners"):
        return ("crm.objects.owners.read", "automation")
    if template.startswith(("/crm/v3/schemas", "/crm-object-schemas/v3/schemas")):
        return ("crm.schemas.custom.read",)
    if template.startswith(("/crm/v3/properties/", "/crm/v3/pipelines/")):
        scopes = _object(params, "objectType")
        if scopes is None:
            return ()
        return scopes.schema_write if write else scopes.definitions_read
    if template.startswith("/crm/v3/objects/"):
        scopes = _object(params, "objectType")
    elif template.startswith(("/crm/v4/objects/", "/crm/v4/associations/")):
        scopes = _object(params, "fromObjectType")
    else:
        return ()
    if scopes is None:
        return ()
    return scopes.write if write else scopes.read


def missing_scopes_error(required: Iterable[str]) -> ApiError:
    """HubSpot's 403 MISSING_SCOPES naming the scopes that would cover the call."""
    body = status_error(403)
    body["errors"] = [
        {
            "message": "One or more of the following scopes are required.",
            "context": {"requiredGranularScopes": list(required)},
        }
    ]
    body["links"] = {"scopes": SCOPES_DOC}
    return ApiError(403, body)


class PrivateAppTokens:
    """The portal's private-app access tokens and the scopes each carries (thread-safe).

    Args:
        default_token: the token the sandbox hands out (ready line, `--write-config`).
        seed: makes the tokens `issue` mints deterministic.
    """

    def __init__(self, default_token: str, seed: int) -> None:
        self.default = default_token
        self._seed = seed
        self._lock = threading.Lock()
        self._scopes: dict[str, frozenset[str]] = {default_token: frozenset(DEFAULT_SCOPES)}

    def scopes(self, token: str) -> frozenset[str] | None:
        """The scopes `token` carries; None for a token this portal never issued."""
        return self._scopes.get(token)

    def set(self, token: str, scopes: Iterable[str] | None) -> frozenset[str]:
        """Give `token` exactly `scopes` (None: the default set); KeyError for an unknown token."""
        granted = frozenset(DEFAULT_SCOPES if scopes is None else _scope_names(scopes))
        with self._lock:
            if token not in self._scopes:
                raise KeyError(token)
            self._scopes[token] = granted
        return granted

    def issue(self, scopes: Iterable[str] | None) -> str:
        """A further private-app token carrying `scopes` (None: the default set)."""
        granted = frozenset(DEFAULT_SCOPES if scopes is None else _scope_names(scopes))
        with self._lock:
            name = f"healthsync-sandbox-hubspot-{self._seed}-token-{len(self._scopes)}"
            token = f"pat-na1-{uuid.uuid5(uuid.NAMESPACE_URL, name)}"
            self._scopes[token] = granted
        return token


def _scope_names(scopes: Iterable[str]) -> list[str]:
    if isinstance(scopes, str):
        raise TypeError("scopes must be a list of scope names, not one string")
    names = list(scopes)
    bad = [s for s in names if not isinstance(s, str) or not s]
    if bad:
        raise TypeError(f"scope names must be non-empty strings: {bad!r}")
    return names


class TokenInfoRoutes:
    """`POST /oauth/v2/private-apps/get/access-token-info`: a private-app token's hub, app, user, scopes."""

    def __init__(self, tokens: PrivateAppTokens, vendor: str, *, hub_id: int, app_id: int, user_id: int):
        self.tokens = tokens
        self.vendor = vendor
        self.hub_id = hub_id
        self.app_id = app_id
        self.user_id = user_id

    def register(self, router: Router) -> None:
        """A read, though a POST: it changes nothing."""
        router.add(self.vendor, "POST", TOKEN_INFO_PATH, self.token_info, "read")

    def token_info(self, request: Request) -> Response:
        """`{userId, hubId, appId, scopes}` for `tokenKey`; 400 without one, 401 for an unknown one."""
        token = read_body(request).get("tokenKey")
        if not isinstance(token, str) or not token:
            raise api_error(400, VALIDATION_ERROR, "tokenKey is required: the private app access token")
        scopes = self.tokens.scopes(token)
        if scopes is None:
            raise api_error(
                401, INVALID_AUTHENTICATION, "The access token in tokenKey is not a valid private app token"
            )
        return json_response(
            {"userId": self.user_id, "hubId": self.hub_id, "appId": self.app_id, "scopes": sorted(scopes)}
        )
