"""Who may watch a tenant's live monitor: a logged-in member (session) or a bearer token of that tenant with
`webhook.monitor_read`. Answers with a websocket close code, so the consumer refuses before the handshake completes.

Where a token may come from: the `Authorization: Bearer <token>` header (scripts and servers), or, for browsers,
which cannot set headers on a websocket, the subprotocol list: `new WebSocket(url, ["eventhub.monitor",
"bearer.<token>"])`. A `?token=` query parameter is deliberately NOT accepted: query strings end up in access logs
and proxy logs, subprotocol headers do not. The server answers with the `eventhub.monitor` subprotocol, never the token.

Access is judged at the handshake and again, with the same rule, while the connection is open (`refusal_now`,
called by the consumer every MONITOR_RECHECK_SECONDS): losing access closes the stream with the same code a new
handshake would get.
"""

import inspect
from importlib import import_module

from channels.auth import get_user
from channels.security.websocket import OriginValidator
from django.conf import settings

from tenants.access import membership
from tenants.auth import token_principal

SUBPROTOCOL = "eventhub.monitor"
TOKEN_SUBPROTOCOL_PREFIX = "bearer."
MONITOR_SCOPE = "webhook.monitor_read"
UNAUTHENTICATED = 4401  # no session, no token, or a token the API refuses too (unknown, expired, of no tenant)
FORBIDDEN = 4403  # known, but not of this tenant or without the scope


def bearer_token(scope) -> str | None:
    """The bearer token the handshake carries (Authorization header or subprotocol), or None."""
    for name, value in scope.get("headers", ()):
        if name.lower() == b"authorization":
            kind, _, token = value.decode("latin-1").strip().partition(" ")
            if kind.lower() == "bearer" and token.strip():
                return token.strip()
    for protocol in scope.get("subprotocols") or ():
        if protocol.startswith(TOKEN_SUBPROTOCOL_PREFIX) and len(protocol) > len(TOKEN_SUBPROTOCOL_PREFIX):
            return protocol[len(TOKEN_SUBPROTOCOL_PREFIX) :]
    return None


def refusal(scope, tenant_name) -> int | None:
    """None when the connection may watch `tenant_name`, else the close code to refuse it with. Touches the database."""
    token = bearer_token(scope)
    if token is not None:
        return _token_refusal(token, tenant_name)
    user = scope.get("user")
    if user is None or not user.is_authenticated:
        return UNAUTHENTICATED
    return None if membership(user, tenant_name) is not None else FORBIDDEN


def refusal_now(scope, tenant_name) -> int | None:
    """refusal() for a connection that is already open, judged on who its principal is NOW, not at the handshake.

    A token is looked up again by refusal() anyway (revoked = deleted, expired, scope or tenant changed). The user a
    session names is read again from the session store with the function the handshake's AuthMiddleware used
    (channels' get_user): so a logout, a password change, a deactivated or deleted user count as well as a lost
    membership. Touches the database (a few indexed reads); run it in one database_sync_to_async call."""
    if bearer_token(scope) is None:
        scope = {**scope, "user": _user_of_session({"session": _session_as_stored(scope)})}
    return refusal(scope, tenant_name)


_user_of_session = inspect.unwrap(get_user)  # channels' get_user, without its own trip to a worker thread


def _session_as_stored(scope):
    """A fresh, not yet loaded copy of the connection's session (the scope's was read at the handshake)."""
    session = scope.get("session")
    return import_module(settings.SESSION_ENGINE).SessionStore(getattr(session, "session_key", None) if session is not None else None)


def _token_refusal(token, tenant_name):
    if len(token) > 512:
        return UNAUTHENTICATED
    principal = token_principal(token)  # the API's own check (django-oauth-toolkit), then the token's tenant
    if principal is None:
        return UNAUTHENTICATED
    if principal.tenant.name != tenant_name or MONITOR_SCOPE not in principal.scopes:
        return FORBIDDEN
    return None


class BrowserOriginValidator(OriginValidator):
    """channels' AllowedHostsOriginValidator, except that a handshake WITHOUT an Origin header passes on to the
    session/token check. Browsers always send Origin on a websocket handshake, so such a client is not a browser
    and cannot be a cross-site hijack; scripts with a bearer token then need not invent an Origin."""

    def valid_origin(self, parsed_origin):
        return parsed_origin is None or super().valid_origin(parsed_origin)


def allowed_hosts_origin_validator(application):
    from django.conf import settings

    allowed_hosts = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed_hosts:
        allowed_hosts = ["localhost", "127.0.0.1", "[::1]"]
    return BrowserOriginValidator(application, allowed_hosts)
