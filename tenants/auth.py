"""Bearer tokens: a valid OAuth2 token becomes a principal of exactly one tenant, for the API and the live monitor.

django-oauth-toolkit judges the token (its checksum lookup, expiry, application, introspection when configured);
`access_token_principal` then maps its client to the tenant. HTTP gets there through DRF (TenantTokenAuthentication),
the websocket, which has no HTTP request, through `token_principal`: both end in the same function.

The fast ingest path (subscriptions/api/events_fast.py) reads `cached_principal`: what DRF accepted in this process
within the last TOKEN_CACHE_SECONDS, until the token expires. Revoking a token, or changing its client, application
or tenant, empties that cache in the process that did it at once, and every other process within TOKEN_CACHE_SECONDS.

A token in use is judged again before its entry runs out: the first use past half its life starts one re-check in
the background (the same judgement, `token_principal`), which renews the entry or, for a token no longer accepted,
drops it. Without that, every request in flight when an entry ran out went through Django's request cycle together
(one sync thread, a transaction each): a stall of hundreds of milliseconds every TOKEN_CACHE_SECONDS under load.
"""

import hashlib
import logging
import threading
import time
from dataclasses import dataclass

from django.db.models.signals import post_delete, post_save
from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from oauth2_provider.models import get_access_token_model, get_application_model
from oauth2_provider.settings import oauth2_settings
from oauthlib.common import Request as OAuthRequest
from rest_framework.exceptions import AuthenticationFailed

from tenants.models import ApiClient, Tenant

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TokenPrincipal:
    """Who is calling: one tenant's API client, with the scopes its token carries."""

    tenant: Tenant
    scopes: frozenset
    client_id: str

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None

    def __str__(self):
        return f"client {self.client_id} of tenant {self.tenant.name}"


def access_token_principal(access_token) -> TokenPrincipal | None:
    """The principal of a token django-oauth-toolkit accepted; None when its client belongs to no tenant."""
    client = ApiClient.objects.select_related("tenant").filter(application_id=access_token.application_id).first()
    if client is None:
        return None
    return TokenPrincipal(client.tenant, frozenset(access_token.scope.split()), access_token.application.client_id)


def token_principal(token: str, uri: str = "") -> TokenPrincipal | None:
    """Who a raw bearer token names, judged by django-oauth-toolkit's validator as on the HTTP path; None when the
    token is unknown, expired, revoked, of an unusable application, or of no tenant. `uri`: the resource it is used
    for (a resource-restricted token is refused elsewhere). Touches the database."""
    return _judge(token, uri)[1]


def _judge(token: str, uri: str = ""):
    """(the AccessToken, its principal) as token_principal judges them; (None, None) for a token not accepted."""
    request = OAuthRequest(uri)
    if not oauth2_settings.OAUTH2_VALIDATOR_CLASS().validate_bearer_token(token, [], request):
        return None, None
    return request.access_token, access_token_principal(request.access_token)


class TenantTokenAuthentication(OAuth2Authentication):
    www_authenticate_realm = "eventhub"

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None:
            if request.META.get("HTTP_AUTHORIZATION", "").lower().startswith("bearer "):
                # django-oauth-toolkit answers None for a token it does not accept, and DRF would then say that no
                # credentials were given: they were, and the caller must learn that this token is the problem.
                raise AuthenticationFailed("The access token is invalid, expired or revoked.")
            return None
        _, token = result
        principal = access_token_principal(token)
        if principal is None:
            raise AuthenticationFailed("This token belongs to no tenant.")
        _remember(token, principal)
        return principal, token


# --- the brief cache of accepted tokens ----------------------------------------------------------------------------
TOKEN_CACHE_SECONDS = 2.0
MAX_CACHED_TOKENS = 10_000
_principals: dict[str, tuple[float, float, TokenPrincipal]] = {}  # checksum -> (cached until, expires, principal)
_principals_lock = threading.Lock()
_generation = 0  # forget_cached_principals counts up: a re-check that read before a change does not cache
_rechecks: dict[str, threading.Thread] = {}  # checksum -> the thread re-checking it


def cached_principal(token: str) -> TokenPrincipal | None:
    """The principal DRF accepted for this raw token in this process within TOKEN_CACHE_SECONDS, if the token has
    not expired since; None otherwise (then ask DRF: TenantTokenAuthentication). A use in the second half of the
    entry's life starts its re-check (one at a time per token)."""
    checksum = hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
    entry = _principals.get(checksum)
    if entry is None:
        return None
    until, expires, principal = entry
    now = time.time()
    if now >= until or now >= expires:
        return None
    if now >= until - TOKEN_CACHE_SECONDS / 2 and checksum not in _rechecks:
        _start_recheck(token, checksum)
    return principal


def _remember(access_token, principal: TokenPrincipal, generation: int | None = None):
    """Cache what was accepted; with `generation`, only if nothing was forgotten since that generation was read."""
    with _principals_lock:
        if generation is not None and generation != _generation:
            return  # a revocation (or any change) landed while this was being judged: judge it again next time
        if len(_principals) >= MAX_CACHED_TOKENS:
            _principals.clear()
        # django-oauth-toolkit stores the token's SHA-256 (hex) as token_checksum
        _principals[access_token.token_checksum] = (time.time() + TOKEN_CACHE_SECONDS, access_token.expires.timestamp(), principal)


def forget_cached_principals(**kwargs):
    """A token, client, application or tenant changed or went: nothing cached is trusted any more."""
    global _generation
    with _principals_lock:
        _principals.clear()
        _generation += 1


def _start_recheck(token: str, checksum: str) -> None:
    with _principals_lock:
        if checksum in _rechecks:
            return
        thread = threading.Thread(target=_recheck, args=(token, checksum), name="eventhub-token-recheck", daemon=True)
        _rechecks[checksum] = thread
    thread.start()


def _recheck(token: str, checksum: str) -> None:
    """Judge a cached token again (django-oauth-toolkit, as for the websocket); renew its entry or drop it."""
    from django.db import connection

    generation = _generation
    try:
        access_token, principal = _judge(token)
        if principal is not None:
            _remember(access_token, principal, generation)
        else:
            with _principals_lock:
                _principals.pop(checksum, None)
    except Exception:  # the database away, say: the entry runs out as it would have, and DRF judges the next use
        logger.warning("re-checking a cached token failed; it is judged again on its next use after expiry", exc_info=True)
    finally:
        with _principals_lock:
            _rechecks.pop(checksum, None)
        connection.close()  # this thread's own connection (back to the pool on PostgreSQL)


for _model in (get_access_token_model(), get_application_model(), ApiClient, Tenant):
    post_save.connect(forget_cached_principals, sender=_model, dispatch_uid=f"tenants.auth.forget.save.{_model.__name__}")
    post_delete.connect(forget_cached_principals, sender=_model, dispatch_uid=f"tenants.auth.forget.delete.{_model.__name__}")
