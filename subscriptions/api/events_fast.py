"""POST /webhook/{tenant}/events at the ASGI layer: a valid publish is answered without Django's request cycle.

Django's ASGI handler runs every request in a fresh thread context (request signals, sync middleware, the sync
view: several thread hops and a thread started per request), and one such request stores its events in a
transaction of its own. This path instead reads the body, judges the token, the tenant, the scope and the rate
limit with the API's own rules, and hands the body to the group committer (pipeline/group_commit.py), where it
shares one transaction with the requests that arrived with it.

It answers only what it can answer exactly as the view would: anything else goes to Django unchanged (the body
replayed), where EventsView answers it. That is: another method or path, a query string, a body that is not
application/json or not readable JSON, a Host not in ALLOWED_HOSTS, a token this process has not seen accepted within the last seconds
(tenants.auth.cached_principal), another tenant, a missing scope, an exceeded rate limit, plain HTTP where HTTPS
is required, and everything until Django has answered this route once (its response headers, the security
middleware's, are learned from that answer and sent with every answer of this path).
"""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

from django.conf import settings
from django.http.request import split_domain_port, validate_host

from eventhub import json_limits
from eventhub.conf import hub_setting
from eventhub.throttling import ClientRateThrottle
from subscriptions.api.events import EventsView
from subscriptions.pipeline.group_commit import Answer, committer
from tenants.auth import cached_principal

PATH_RE = re.compile(r"^/webhook/([a-z0-9][a-z0-9-]{0,62})/events$")
SCOPE = EventsView.required_scopes["POST"]
PASSED_ON = object()  # try_fast's word for "let Django answer this one"
# Headers of Django's answer this path does not repeat: they describe that one response or connection.
OWN_HEADERS = {b"content-length", b"date", b"server", b"set-cookie", b"connection", b"transfer-encoding"}


class FastIngest:
    """ASGI middleware in front of Django's application (eventhub/asgi.py)."""

    def __init__(self, app):
        self.app = app
        self.learned: dict[bool, list[tuple[bytes, bytes]]] = {}  # https? -> Django's headers for this route

    async def __call__(self, scope, receive, send):
        match = PATH_RE.match(scope.get("path", "")) if scope["type"] == "http" and scope.get("method") == "POST" else None
        if match is None or scope.get("query_string"):
            return await self.app(scope, receive, send)
        secure = _is_secure(scope)
        body, complete = await _read_body(scope, receive)
        answer = PASSED_ON
        if complete and secure in self.learned and (secure or not settings.SECURE_SSL_REDIRECT):
            answer = await self.try_fast(scope, match.group(1), body)
        if answer is PASSED_ON:
            return await self.app(scope, _replay(body, complete, receive), self._learning(send, secure))
        await _respond(send, answer, self.learned[secure])

    async def try_fast(self, scope, tenant_name, body):
        headers = dict(scope["headers"])
        if not _host_allowed(headers):
            return PASSED_ON  # Django answers 400 (DisallowedHost)
        principal = _principal(headers.get(b"authorization", b""))
        if principal is None or principal.tenant.name != tenant_name or SCOPE not in principal.scopes:
            return PASSED_ON
        if not _is_json(headers.get(b"content-type", b"")):
            return PASSED_ON
        try:
            data = json_limits.loads(body.decode("utf-8"), refuse_nul=True)
        except (ValueError, json_limits.NestedTooDeeply, json_limits.Unstorable):
            return PASSED_ON  # BoundedJSONParser words the 400
        if not _throttle_allows(principal):
            return PASSED_ON  # DRF answers the 429 (a refused request is not counted, so nothing counts twice)
        return await committer().record(principal.tenant, data)

    def _learning(self, send, secure):
        """send, noting the headers of Django's JSON answers to this route."""

        async def learning_send(message):
            if message["type"] == "http.response.start" and message["status"] == 202:  # nothing of a refusal (WWW-Authenticate)
                headers = [(k.lower(), v) for k, v in message.get("headers", ())]
                if (b"content-type", b"application/json") in headers:
                    self.learned[secure] = [(k, v) for k, v in headers if k not in OWN_HEADERS and k != b"content-type"]
            await send(message)

        return learning_send


async def _read_body(scope, receive) -> tuple[bytes, bool]:
    """(what was read, whether that is the whole body): reading stops past MAX_BODY_BYTES (Django then refuses it)."""
    limit = hub_setting("MAX_BODY_BYTES")
    declared = dict(scope["headers"]).get(b"content-length", b"")
    if declared.isdigit() and int(declared) > limit:
        return b"", False
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False  # a disconnect: Django's handler sees it too
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True
        if size > limit:
            return b"".join(chunks), False


def _replay(body, complete, receive):
    """receive for Django: first what was already read, then the rest from the client."""
    replayed = False

    async def replaying_receive():
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": not complete}
        return await receive()

    return replaying_receive


def _principal(authorization: bytes):
    # oauthlib's reading of the header: two words, the first "Bearer" in any case
    parts = authorization.split()
    if len(parts) != 2 or parts[0].lower() != b"bearer":
        return None
    try:
        return cached_principal(parts[1].decode("ascii"))
    except UnicodeDecodeError:
        return None


def _host_allowed(headers) -> bool:
    """Django's own check of the Host header against ALLOWED_HOSTS (HttpRequest.get_host)."""
    if settings.USE_X_FORWARDED_HOST and b"x-forwarded-host" in headers:
        return False  # rare: let Django read it
    domain, _ = split_domain_port(headers.get(b"host", b"").decode("latin-1"))
    return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)


def _is_json(content_type: bytes) -> bool:
    return content_type.split(b";", 1)[0].strip().lower() == b"application/json"


def _is_secure(scope) -> bool:
    if scope.get("scheme") == "https":
        return True
    header = settings.SECURE_PROXY_SSL_HEADER
    if not header:
        return False
    name, value = header
    wanted = name.removeprefix("HTTP_").replace("_", "-").lower().encode("latin-1")
    return dict(scope["headers"]).get(wanted, b"").decode("latin-1").split(",")[0].strip() == value


def _throttle_allows(principal) -> bool:
    """The API's rate limit for publishing, counted in the same place (Django's cache) as DRF counts it."""
    if hub_setting("RATE_LIMITS").get("ingest") is None:
        return True
    return ClientRateThrottle().allow_request(SimpleNamespace(user=principal, META={}), SimpleNamespace(throttle_scope="ingest"))


async def _respond(send, answer: Answer, learned):
    body = json.dumps(answer.body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *learned]
    if answer.retry_after is not None:
        headers.append((b"retry-after", str(answer.retry_after).encode()))
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
