"""`POST /services/oauth2/token`: the OAuth 2.0 username-password and client-credentials flows.

Generic clients log in first and then use the returned `access_token` and `instance_url`; the
sandbox hands out the org's one session token. Response keys and error bodies follow
https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_username_password_flow.htm and
https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_client_credentials_flow.htm
(errors are `{"error", "error_description"}` objects, not the REST API's arrays).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from urllib.parse import parse_qs

from healthsync.sandbox.salesforce.org import Org
from healthsync.sandbox.wire import Handler, Request, Response, json_response

__all__ = ["oauth_routes"]


def oauth_routes(org: Org, token: Callable[[], str], api_user: str) -> list[tuple[str, str, Handler, str]]:
    """The token endpoint, answering with `token()` for any active user or any client credentials."""

    def refuse(error: str, description: str) -> Response:
        return json_response({"error": error, "error_description": description}, 400)

    def issue(request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs(request.body.decode("utf-8", "replace")).items()}
        grant = form.get("grant_type", "")
        user = api_user
        if grant == "password":
            username = form.get("username", "").casefold()
            match = [
                u for u in org.store.records("User") if u["Username"].casefold() == username and u["IsActive"]
            ]
            if not match or not form.get("password"):
                return refuse("invalid_grant", "authentication failure")
            user = match[0]["Id"]
        elif grant == "client_credentials":
            if not form.get("client_id") or not form.get("client_secret"):
                return refuse("invalid_client_id", "client identifier invalid")
        else:
            return refuse("unsupported_grant_type", "grant type not supported")
        issued = str(int(org.ctx.clock.now().timestamp() * 1000))
        identity = f"{request.base_url}/id/00D5j000000HsAAAA/{user}"
        signature = hmac.new(token().encode(), (identity + issued).encode(), hashlib.sha256).digest()
        return json_response(
            {
                "access_token": token(),
                "instance_url": request.base_url,
                "id": identity,
                "token_type": "Bearer",
                "issued_at": issued,
                "signature": base64.b64encode(signature).decode(),
            }
        )

    return [("POST", "/services/oauth2/token", issue, "read")]
