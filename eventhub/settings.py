"""Django settings for eventhub, read once from the environment.

Embedded default (no variables set): SQLite under ./data, in-memory channel layer, no broker.
Scale-out: DATABASE_URL (PostgreSQL), AMQP_URL (RabbitMQ), REDIS_URL (Redis channel layer).
Bad values are not fatal here: eventhub/environment.py reads and checks them, records problems in CONFIG_ERRORS and
falls back to a safe default; the system checks in eventhub/checks.py report them, so `manage.py check` says what is
wrong instead of a traceback.
"""

import os
from pathlib import Path

from eventhub.environment import (  # CONFIG_ERRORS is a setting too: eventhub/checks.py reports it
    CONFIG_ERRORS, caches, channel_layers, database, env_bool, env_positive_ints, log_format, logging_config,
    rate_limits, secret_key, sqlite_url,
)
from tenants.scopes import SCOPES

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("EVENTHUB_DATA_DIR", BASE_DIR / "data"))

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = secret_key(DATA_DIR)
SECRET_KEY_FROM_ENV = bool(os.environ.get("SECRET_KEY", "").strip())
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

INSTALLED_APPS = [
    "daphne",  # makes `manage.py runserver` an ASGI server (HTTP and websockets)
    "django.contrib.admin",
    "django.contrib.auth",
    "axes",  # log-in throttling: eventhub.login_throttle
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "servestatic.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "csp",
    "rest_framework",
    "oauth2_provider",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "eventhub.apps.EventhubConfig",
    "tenants",
    "subscriptions",
    "monitor",
    "dashboard",
    "portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "eventhub.middleware.reject_nul_characters",
    "servestatic.middleware.ServeStaticMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as axes asks: it turns a locked-out log-in into eventhub.login_throttle.lockout_response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "eventhub.urls"
ASGI_APPLICATION = "eventhub.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "dashboard.context.dashboard",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "").strip() or sqlite_url(DATA_DIR)
DATABASES = {"default": database(DATABASE_URL, DATA_DIR)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Broker and channel layer ---------------------------------------------------------------
AMQP_URL = os.environ.get("AMQP_URL", "").strip() or None
REDIS_URL = os.environ.get("REDIS_URL", "").strip() or None

CHANNEL_LAYERS = channel_layers(REDIS_URL)
CACHES = caches(REDIS_URL)

# --- Auth -----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/login/"

# Mail (member invitations): printed to the server's output unless an SMTP server is configured with EMAIL_HOST
# (and EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS=1, DEFAULT_FROM_EMAIL as needed).
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.console.EmailBackend"
EMAIL_PORT = int(os.environ.get("EMAIL_PORT") or 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = os.environ.get("EMAIL_USE_TLS", "") in ("1", "true", "yes")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "eventhub <eventhub@localhost>")
PASSWORD_RESET_TIMEOUT = int(os.environ.get("INVITATION_TIMEOUT_SECONDS") or 3 * 24 * 3600)  # invitation links
LOGIN_REDIRECT_URL = "/"

# Log-in throttling (django-axes, with the limits and the page of eventhub.login_throttle). Every authenticate()
# call goes through axes first; failures are rows in the database, shared by every web process. The client's
# address is REMOTE_ADDR, as the ASGI server gives it: `serve` (uvicorn) takes it from X-Forwarded-For only when
# the connection comes from FORWARDED_ALLOW_IPS (uvicorn's setting, by default 127.0.0.1 and ::1: a proxy on
# this host), so a client cannot choose its own address by sending that header.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_HANDLER = "eventhub.login_throttle.LoginThrottleHandler"
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either one locks: an account (from anywhere) or an address
AXES_FAILURE_LIMIT = "eventhub.login_throttle.account_failure_limit"
AXES_COOLOFF_TIME = "eventhub.login_throttle.lock_duration"
AXES_LOCKOUT_CALLABLE = "eventhub.login_throttle.lockout_response"
AXES_CLIENT_IP_CALLABLE = "eventhub.login_throttle.client_address"
# Tries while locked are refused but not counted, so the lock ends when Retry-After says and retrying cannot
# extend it; a successful log-in does not wipe the failures (it would let anyone with an account, on the same
# address, reset that address' count).
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = False
AXES_DISABLE_ACCESS_LOG = True  # throttling needs the failures only, not a row for every log-in
AXES_VERBOSE = False

# --- I18N / static --------------------------------------------------------------------------
LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Production: set STATIC_ROOT and run `manage.py collectstatic`.
STATIC_ROOT = os.environ.get("STATIC_ROOT") or None
# The embedded default serves assets straight from the apps and static/ (no collectstatic step). ServeStatic (the
# ASGI-native fork of WhiteNoise) streams files with an async iterator: WhiteNoise's sync one made Django warn
# "StreamingHttpResponse must consume synchronous iterators" on every asset served over ASGI.
SERVESTATIC_USE_FINDERS = True
SERVESTATIC_AUTOREFRESH = DEBUG

# --- Content-Security-Policy (django-csp) ----------------------------------------------------
# Pages load scripts, styles, images and fonts from this origin only, and no inline script or style can run: an
# injected <script> or onclick= does nothing. connect-src 'self' covers the live viewer's fetches and its websocket
# (CSP 3 matches ws:/wss: to the page's own host). No page may be framed (as X-Frame-Options: DENY says).
# The API docs have a policy of their own (eventhub.docs).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["tenants.auth.TenantTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["tenants.permissions.HasTenantScope"],
    "DEFAULT_PARSER_CLASSES": ["eventhub.api.BoundedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "eventhub.api.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["eventhub.throttling.ClientRateThrottle"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    # Throttles count per REMOTE_ADDR (see AXES_CLIENT_IP_CALLABLE); DRF's default would trust any X-Forwarded-For.
    "NUM_PROXIES": 0,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "eventhub API",
    "DESCRIPTION": "Event catalog, tenant event subscriptions (Emporix-compatible), webhooks and delivery log.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# django-oauth-toolkit's own model names, stated so migrations can refer to them.
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "oauth2_provider.AccessToken"
OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL = "oauth2_provider.RefreshToken"
OAUTH2_PROVIDER_ID_TOKEN_MODEL = "oauth2_provider.IDToken"
OAUTH2_PROVIDER_GRANT_MODEL = "oauth2_provider.Grant"

OAUTH2_PROVIDER = {
    "SCOPES": SCOPES,
    "SCOPES_BACKEND_CLASS": "tenants.oauth.TenantScopes",
    "ACCESS_TOKEN_EXPIRE_SECONDS": 3600,
    # Only the client-credentials grant is used; everything RFC 9700 (OAuth 2.0 Security BCP) asks is on:
    # tokens stored as checksums, never accepted in a query string, no implicit or password grants.
    "PKCE_REQUIRED": True,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"],
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    **{
        f"COMPLIANT_BCP_RFC9700_{gate}": True
        for gate in (
            "IMPLICIT_GRANT", "PASSWORD_GRANT", "PKCE_METHOD", "ACCESS_TOKEN_TRANSPORT", "AUTHZ_RESPONSE_ISS", "TOKEN_STORAGE",
            "REFRESH_TOKEN", "REDIRECT_URI_SCHEME", "REDIRECT_URI_MATCHING", "PKCE_REQUIRED",
        )
    },
}

# --- eventhub's own settings, read through eventhub.conf ------------------------------------
EVENTHUB = {
    "ALLOW_PRIVATE_TARGETS": env_bool("EVENTHUB_ALLOW_PRIVATE_TARGETS", False),
    "RATE_LIMITS": rate_limits(os.environ.get("EVENTHUB_RATE_LIMITS")),
    **env_positive_ints(
        LOGIN_FAILURES_PER_ACCOUNT="EVENTHUB_LOGIN_FAILURES_PER_ACCOUNT",
        LOGIN_FAILURES_PER_ADDRESS="EVENTHUB_LOGIN_FAILURES_PER_ADDRESS",
        LOGIN_LOCK_SECONDS="EVENTHUB_LOGIN_LOCK_SECONDS",
    ),
}

LOG_FORMAT = log_format()  # plain, or json (one object a line, for log shippers)
LOGGING = logging_config(LOG_FORMAT, os.environ.get("LOG_LEVEL", "INFO"))

if not DEBUG:
    SESSION_COOKIE_HTTPONLY = True
    X_FRAME_OPTIONS = "DENY"
    SECURE_CONTENT_TYPE_NOSNIFF = True

# HTTPS=1: the hub is reached over HTTPS only (directly, or behind a TLS proxy that sets X-Forwarded-Proto).
# Cookies become secure-only, plain HTTP is redirected, HSTS is sent. Probes and the scraper may still use HTTP.
HTTPS = env_bool("HTTPS", False)
PROBE_PATHS = [r"^healthz$", r"^readyz$", r"^metrics$"]  # answered over plain HTTP too
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_REDIRECT_EXEMPT = PROBE_PATHS
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("HSTS_SECONDS", "31536000"))
    # Both are commitments for the whole domain: turn them off (0) if a subdomain is not served over HTTPS.
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("HSTS_PRELOAD", True)
