"""TaxPoynt settings, read from the environment.

Two modes:
- With `DATABASE_URL` set (tests, CI, production): PostgreSQL, Redis cache and a
  Redis Celery broker (`REDIS_URL`).
- Without it (`make demo` on a fresh machine): SQLite and tasks executed
  in-process, so the first command works with nothing running.

Secrets come only from the environment. The few defaults below are labelled
DEMO and are refused by `check --deploy` (DEBUG off + the demo SECRET_KEY).
"""
import os
from pathlib import Path

import dj_database_url
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name, default=False):
    return os.environ.get(name, str(default)).lower() in {"1", "true", "yes", "on"}


def env_list(name, default=""):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# DEMO value: only `make demo` and the tests run without SECRET_KEY set.
DEMO_SECRET_KEY = "demo-only-insecure-secret-key-change-me-in-every-real-deployment-0123456789"
SECRET_KEY = os.environ.get("SECRET_KEY", DEMO_SECRET_KEY)
DEBUG = env_bool("DEBUG", default=False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# Fernet keys for credentials at rest: the first encrypts, all decrypt
# (`manage.py rotate_keys` re-encrypts everything with the first).
# DEMO value below; production sets FERNET_KEYS="new,old,...".
FERNET_KEYS = env_list("FERNET_KEYS", "demo-only-fernet-key-0001")
FERNET_USE_HKDF = True

INSTALLED_APPS = [
    "django_prometheus",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    # ours
    "taxpoynt.tenancy",
    "taxpoynt.audit",
    "taxpoynt.ops",
    "taxpoynt.dashboard",
    "taxpoynt.apitokens",
    "integrations.connections",
    "integrations.crm",
    "integrations.pos",
    "integrations.erp",
    "invoicing",
]

# What only browser and API users need. Vendor webhooks (/webhooks/: signed
# server-to-server POSTs, no cookie, no user, csrf_exempt) skip it, see
# taxpoynt/wsgi.py: static files, sessions, APPEND_SLASH, CSRF, auth,
# messages, X-Frame-Options, allauth and the audit actor.
BROWSER_MIDDLEWARE = [
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "taxpoynt.audit.middleware.CurrentActorMiddleware",
]
MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    *BROWSER_MIDDLEWARE,
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "taxpoynt.urls"
WSGI_APPLICATION = "taxpoynt.wsgi.application"
ASGI_APPLICATION = "taxpoynt.asgi.application"

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
                "taxpoynt.tenancy.context_processors.current_organization",
            ],
        },
    },
]

# --- database -------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
    # Parameters sent apart from the SQL (psycopg's server-side binding), and
    # a statement prepared on a connection after its 5th use there (Django
    # turns psycopg's preparing off by default, for transaction-mode poolers,
    # which TaxPoynt does not sit behind): with persistent connections
    # PostgreSQL stops parsing and planning the same hot-path SQL per sale.
    DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=5)
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH", str(BASE_DIR / "var" / "demo.sqlite3")),
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- redis: cache, broker -------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "taxpoynt"),
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- celery -----------------------------------------------------------------
# Queues in priority order: POS events never wait behind CRM, batch or sync work
# because each queue has its own worker pool (see Makefile `worker` and
# docs/architecture.md); within Redis the order below is also the consume order.
CELERY_QUEUES = ("pos_realtime", "crm", "batch", "sync")
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL or "memory://")
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT = "taxpoynt.broker:Transport"  # kombu's, publishing through one client
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not bool(REDIS_URL) and not os.environ.get("CELERY_BROKER_URL")
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_QUEUES = [Queue(name) for name in CELERY_QUEUES]
CELERY_TASK_DEFAULT_QUEUE = "crm"
CELERY_TASK_ROUTES = ("taxpoynt.celery.route_task",)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # A task not acked within this time (worker died) is redelivered.
    "visibility_timeout": 3600,
    "queue_order_strategy": "priority",
}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Celery's Django fixup otherwise closes every database connection before and
# after each task, and each task (each POS sale) paid for a new PostgreSQL
# backend. Set, it recycles them only every this many tasks, and
# taxpoynt.celery closes, like Django's request cycle, the ones past
# CONN_MAX_AGE or broken (a restarted server) around each task.
CELERY_DB_REUSE_MAX = 1000
CELERY_TIMEZONE = "UTC"
# A batching vendor's wake waits this long from its sale's receipt, when the
# vendor's sales (any sellers') come closer together than that, so the next ones join
# its run (integrations/connections/wakes.py); 0 turns it off.
WEBHOOK_WAKE_LINGER_MS = int(os.environ.get("WEBHOOK_WAKE_LINGER_MS", "60"))

# --- auth: allauth ------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
SITE_ID = 1
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "dashboard:overview"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = os.environ.get("ACCOUNT_EMAIL_VERIFICATION", "none")
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_USER_MODEL_USERNAME_FIELD = "username"
ACCOUNT_LOGOUT_ON_GET = False
# Vendor OAuth providers are added by their connector issues (HubSpot and
# Salesforce ship with allauth; Square & co. get custom OAuth2 providers).
SOCIALACCOUNT_PROVIDERS = {}
SOCIALACCOUNT_STORE_TOKENS = False  # tokens live encrypted on Connection, not in allauth
SOCIALACCOUNT_ADAPTER = "integrations.connections.oauth.ConnectionSocialAccountAdapter"
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "TaxPoynt <no-reply@taxpoynt.local>")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- API --------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: its `authenticate_header` makes unauthenticated calls answer 401, not 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "taxpoynt.apitokens.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "taxpoynt.api.errors.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "taxpoynt.api.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    # Budgets per token/user and per organization (docs/api.md); counted in the default cache (Redis).
    "DEFAULT_THROTTLE_CLASSES": [
        "taxpoynt.api.throttling.CallerRateThrottle",
        "taxpoynt.api.throttling.OrganizationRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "caller": os.environ.get("API_THROTTLE_RATE_CALLER", "600/min"),
        "organization": os.environ.get("API_THROTTLE_RATE_ORGANIZATION", "1200/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "TaxPoynt API",
    "DESCRIPTION": (
        "E-invoicing for Nigerian businesses: connections, deals, POS sales, FIRS invoices.\n\n"
        "Authenticate with `Authorization: Token <token>` (create tokens under Dashboard → API tokens). "
        "Every error answers `{code, message, errors}`; lists are cursor-paginated; calls are rate-limited "
        "per token and per organization (429 with `Retry-After`). See docs/api.md."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Docs pages from drf-spectacular-sidecar's static files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "persistAuthorization": True, "validatorUrl": None},
    "REDOC_UI_SETTINGS": {"hideDownloadButton": False},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "taxpoynt.api.schema.add_error_responses",
    ],
}

# --- i18n, static -------------------------------------------------------------------
LANGUAGE_CODE = "en"
TIME_ZONE = "Africa/Lagos"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns on a missing root before collectstatic

# --- security (production sets these by environment; see docs/deployment.md) --------
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", False)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY") else None
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_COOKIE_AGE", str(12 * 3600)))
X_FRAME_OPTIONS = "DENY"

# --- upstreams: FIRS and vendors (base URLs + client ids from the environment) ------
# The sandbox defaults point at the local sandboxes started by
# `manage.py sandboxes`; production overrides every one of them.
SANDBOX_HOST = os.environ.get("SANDBOX_HOST", "127.0.0.1")
SANDBOX_PORTS = {
    "firs": int(os.environ.get("SANDBOX_PORT_FIRS", "8701")),
    "hubspot": int(os.environ.get("SANDBOX_PORT_HUBSPOT", "8702")),
    "salesforce": int(os.environ.get("SANDBOX_PORT_SALESFORCE", "8703")),
    "pipedrive": int(os.environ.get("SANDBOX_PORT_PIPEDRIVE", "8704")),
    "square": int(os.environ.get("SANDBOX_PORT_SQUARE", "8705")),
    "toast": int(os.environ.get("SANDBOX_PORT_TOAST", "8706")),
    "lightspeed": int(os.environ.get("SANDBOX_PORT_LIGHTSPEED", "8707")),
    "odoo": int(os.environ.get("SANDBOX_PORT_ODOO", "8708")),
}


def _sandbox_url(name):
    return f"http://{SANDBOX_HOST}:{SANDBOX_PORTS[name]}"


# FIRS production base URL is UNCONFIRMED (FIRS.md §3): no default guess here.
FIRS_BASE_URL = os.environ.get("FIRS_BASE_URL", _sandbox_url("firs"))
FIRS_TIMEOUT_SECONDS = float(os.environ.get("FIRS_TIMEOUT_SECONDS", "10"))

VENDORS = {
    name: {
        "base_url": os.environ.get(f"{name.upper()}_BASE_URL", _sandbox_url(name)),
        "client_id": os.environ.get(f"{name.upper()}_CLIENT_ID", f"demo-{name}-client-id"),
        # DEMO value; production sets <VENDOR>_CLIENT_SECRET.
        "client_secret": os.environ.get(f"{name.upper()}_CLIENT_SECRET", f"demo-{name}-client-secret"),
    }
    for name in ("hubspot", "salesforce", "pipedrive", "square", "toast", "lightspeed", "odoo")
}

# Vendor OAuth through django-allauth's "connect" flow, one entry per vendor:
# the allauth provider app, our provider class (allauth's, with authorize/token
# URLs from VENDORS[key]["base_url"]) and the scopes requested. Scope names are
# UNCONFIRMED (VENDORS.md §1.1); HubSpot supports PKCE.
ALLAUTH_CONNECTION_PROVIDERS = {
    "hubspot": {
        "app": "allauth.socialaccount.providers.hubspot",
        "provider_class": "integrations.crm.hubspot.oauth.HubSpotConnectProvider",
        "scopes": ["oauth", "crm.objects.deals.read", "crm.objects.line_items.read",
                   "crm.objects.companies.read", "crm.objects.contacts.read"],
        "pkce": True,
    },
    "salesforce": {
        "app": "allauth.socialaccount.providers.salesforce",
        "provider_class": "integrations.crm.salesforce.oauth.SalesforceConnectProvider",
        "scopes": ["api", "refresh_token"],
        "pkce": True,
    },
    # allauth has no Square provider: ours (integrations.pos.square.oauth) is
    # registered by a tiny app. Square supports PKCE for the code flow.
    "square": {
        "app": "integrations.pos.square.allauth_square",
        "provider_class": "integrations.pos.square.oauth.SquareConnectProvider",
        "scopes": ["ORDERS_READ", "PAYMENTS_READ", "MERCHANT_PROFILE_READ"],
        "pkce": True,
    },
}
for _key, _entry in ALLAUTH_CONNECTION_PROVIDERS.items():
    if _entry["app"] not in INSTALLED_APPS:
        INSTALLED_APPS.append(_entry["app"])
    SOCIALACCOUNT_PROVIDERS[_key] = {
        "provider_class": _entry["provider_class"],
        "SCOPE": list(_entry["scopes"]),
        "OAUTH_PKCE_ENABLED": _entry.get("pkce", False),
        "APPS": [{"client_id": VENDORS[_key]["client_id"], "secret": VENDORS[_key]["client_secret"]}],
    }

# Public base URL of this deployment (webhook URLs are signed over it).
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:8000")

# Square signs webhook deliveries with the subscription's signature key (shown
# in the Square Developer Console), not the OAuth client secret. DEMO value;
# production sets SQUARE_WEBHOOK_SIGNATURE_KEY.
SQUARE_WEBHOOK_SIGNATURE_KEY = os.environ.get("SQUARE_WEBHOOK_SIGNATURE_KEY", "demo-square-signature-key")

# --- logging: structured, one JSON object per line -----------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "taxpoynt.logging.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
    },
}

PROMETHEUS_EXPORT_MIGRATIONS = False
# prometheus_client's multiprocess mode: read from the process environment, where
# it must be before prometheus_client is imported (docs/deployment.md). Unset: one
# process's registry.
PROMETHEUS_MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
