"""SLA Watchdog settings: one module, every value from the environment or a `.env` file.

With nothing configured the service runs on the embedded default: SQLite under var/,
an in-process cache and emails printed to the console. Every variable is documented in
.env.example; a malformed value stops start-up with an error naming it.
"""

import contextlib
import ipaddress
import math
from datetime import timedelta
from pathlib import Path

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv
from kombu import Exchange, Queue

from sla.enums import Announcement, SlaState, choices
from watchdog.environment import (
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_list,
    env_rate,
    env_str,
)
from watchdog.secret_key import installation_secret_key

# Lets runtime code write the generic forms the type checker reads: ModelAdmin[Ticket].
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

# Real environment variables win over the .env file.
load_dotenv(BASE_DIR / ".env", override=False)

# --- Core ---------------------------------------------------------------------------------

DEBUG = env_bool("DEBUG", True)
# Whoever knows SECRET_KEY can sign a JWT for any user, so no key is ever written in the
# repository. Production sets it (DEBUG=false refuses to start without); a development
# installation without one gets a random key of its own, made on first start and kept in
# SECRET_KEY_FILE (under var/, outside git). Not in production: each host or container
# would make a different key, and a lost var/ would sign everyone out.
SECRET_KEY = env_str("SECRET_KEY")
SECRET_KEY_FILE = Path(env_str("SECRET_KEY_FILE", str(VAR_DIR / "secret_key")))
if not SECRET_KEY and DEBUG:
    SECRET_KEY = installation_secret_key(SECRET_KEY_FILE)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])

if not SECRET_KEY or SECRET_KEY.startswith("django-insecure") or len(SECRET_KEY) < 50:
    raise ImproperlyConfigured(
        "SECRET_KEY must be a random value of at least 50 characters (it is required "
        "when DEBUG=false). Generate one with: python -c 'import secrets; "
        "print(secrets.token_urlsafe(64))'"
    )
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "ALLOWED_HOSTS must list the host names this service answers to when DEBUG=false."
    )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "django_filters",
    "django_ratelimit",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "django_htmx",
    "watchdog",
    "accounts",
    "people",
    "tickets",
    "notifications",
    "policies",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # request.htmx: the board answers its own refreshes with the table alone.
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "watchdog.cache_control.NoStoreForCredentialsMiddleware",
]

ROOT_URLCONF = "watchdog.urls"
WSGI_APPLICATION = "watchdog.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------

SQLITE_DEFAULT_URL = f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
DATABASE_URL = env_str("DATABASE_URL", SQLITE_DEFAULT_URL)
try:
    _database = dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)
except ValueError as error:
    raise ImproperlyConfigured(f"DATABASE_URL is not valid: {error}") from None

if _database["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside the writer. IMMEDIATE takes the write lock when a
    # transaction begins, so read-then-write transactions (the checker, ticket edits)
    # serialise instead of failing with "database is locked" on upgrade.
    _database["CONN_MAX_AGE"] = 0
    _database["CONN_HEALTH_CHECKS"] = False
    _database["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    # A file, not shared-cache memory: concurrency tests open several connections.
    _database["TEST"] = {"NAME": str(VAR_DIR / f"test-{Path(str(_database['NAME'])).stem}.sqlite3")}
    VAR_DIR.mkdir(exist_ok=True)
elif env_str("DATABASE_TEST_NAME", ""):
    # The test suite's database, instead of Django's "test_<name>": on a server shared
    # with others, a name inside one's own namespace.
    _database["TEST"] = {"NAME": env_str("DATABASE_TEST_NAME", "")}
DATABASES = {"default": _database}

# --- Cache (rate-limit counters) ----------------------------------------------------------

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    if not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured(f"REDIS_URL={REDIS_URL!r} is not valid: expected redis://...")
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "sla-watchdog"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Email --------------------------------------------------------------------------------

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_TIMEOUT = env_float("EMAIL_TIMEOUT", 10.0, minimum=0.1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "SLA Watchdog <watchdog@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL cannot both be true.")

# --- Webhooks and chat (notifications/transports/webhook.py, slack.py) ----------------------

WEBHOOK_TIMEOUT = env_float("WEBHOOK_TIMEOUT", 10.0, minimum=0.1)
# Networks a webhook URL may reach although they are not public (loopback, private,
# link-local ...): none by default, so that a URL cannot reach the host's own services or
# the cloud metadata address (notifications/transports/addresses.py).
WEBHOOK_ALLOWED_NETWORKS = env_list("WEBHOOK_ALLOWED_NETWORKS", [])
for _network in WEBHOOK_ALLOWED_NETWORKS:
    try:
        ipaddress.ip_network(_network)
    except ValueError as _error:
        raise ImproperlyConfigured(
            f"WEBHOOK_ALLOWED_NETWORKS: {_network!r} is not a network such as 10.0.0.0/8."
        ) from _error

# --- SLA engine ---------------------------------------------------------------------------

SLA_WARNING_MINUTES = env_int("SLA_WARNING_MINUTES", 60, minimum=1)
# The checker loop sleeps until the next due time, but never longer than this.
SLA_CHECK_INTERVAL = env_float("SLA_CHECK_INTERVAL", 10.0, minimum=0.1)
SLA_DELIVERY_BATCH_SIZE = env_int("SLA_DELIVERY_BATCH_SIZE", 100, minimum=1)
# Accepted emails recorded as sent together: 1 records each as the server accepts it (a
# crash re-sends at most the one in flight); more saves a commit per email, and a crash
# may re-send that many.
SLA_DELIVERY_MARK_EVERY = env_int("SLA_DELIVERY_MARK_EVERY", 1, minimum=1)
SLA_DELIVERY_LEASE_SECONDS = env_int("SLA_DELIVERY_LEASE_SECONDS", 300, minimum=10)
SLA_DELIVERY_MAX_ATTEMPTS = env_int("SLA_DELIVERY_MAX_ATTEMPTS", 12, minimum=1)
SLA_RETRY_BASE_SECONDS = env_int("SLA_RETRY_BASE_SECONDS", 15, minimum=1)
SLA_RETRY_MAX_SECONDS = env_int("SLA_RETRY_MAX_SECONDS", 3600, minimum=1)

# --- Celery: the SLA check and deliveries on a distributed engine (optional) ----------------
# Empty CELERY_BROKER_URL (the default): no Celery at all; `check_sla --loop` or cron checks
# and delivers in-process. Set: Celery beat runs the SLA check every SLA_CHECK_INTERVAL
# seconds and workers deliver the outbox, calling the same functions as check_sla.
# Redis: redis://127.0.0.1:6379/1 (not REDIS_URL's database: the cache's clear() empties
# it). RabbitMQ: amqp://guest:guest@127.0.0.1:5672//.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
if CELERY_BROKER_URL and not CELERY_BROKER_URL.startswith(
    ("redis://", "rediss://", "amqp://", "amqps://", "pyamqp://")
):
    raise ImproperlyConfigured(
        f"CELERY_BROKER_URL={CELERY_BROKER_URL!r} is not valid: expected redis://... or amqp://..."
    )
# Lets several deployments (or test runs) share one broker without taking each other's work.
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "sla-watchdog")
# beat's SLA checks have a queue of their own, which every worker also consumes (a plain
# `celery -A watchdog worker` listens on both): a worker that finishes a delivery task
# takes the waiting check next, instead of the deliveries queued before it, so state
# changes keep their interval however long the delivery backlog is. `-Q <queue>-checks`
# gives checks a worker of their own.
CELERY_CHECK_QUEUE = f"{CELERY_TASK_DEFAULT_QUEUE}-checks"
CELERY_TASK_QUEUES = [
    Queue(name, Exchange(name), routing_key=name)
    for name in (CELERY_TASK_DEFAULT_QUEUE, CELERY_CHECK_QUEUE)
]
CELERY_TASK_ROUTES = {"tickets.tasks.check_sla": {"queue": CELERY_CHECK_QUEUE}}
# A delivery task stops starting batches after this many seconds and returns (queueing a
# successor when emails are still due), so a worker is never held by the backlog for longer
# than this and a batch, and a check waits for at most that.
CELERY_DELIVERY_TASK_SECONDS = env_float("CELERY_DELIVERY_TASK_SECONDS", 1.0, minimum=0.0)
# The outbox row is the record of a delivery, never the message: no results are kept, and
# a task carries no data, so a lost message costs one check interval and a redelivered one
# claims whatever is due by then.
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
# Acknowledge a message after its task ran, and give it back when the worker process died
# mid-task, so a crash is retried rather than forgotten.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# When the broker connection drops, let running tasks finish; do not kill them (Celery's
# default until 6.0, set here on purpose). The outbox row is the record of an email, not
# the message: a task that finishes after the connection is gone only fails to acknowledge
# a message whose redelivery claims nothing twice (rows in flight are leased, and marked
# sent as the server accepts them). Killing it instead is what can duplicate: a delivery
# cut between the SMTP server's acceptance and the row's mark sends that email again when
# the lease ends, and the rest of its batch waits for the lease (seen in bench/README.md's
# first 100k run). A delivery task runs for CELERY_DELIVERY_TASK_SECONDS plus a batch, so
# letting it finish costs little; the hard time limit still bounds any task.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
# One message at a time per worker process: a long delivery holds back no queued task.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_CONCURRENCY = env_int("CELERY_WORKER_CONCURRENCY", 0) or None  # None: CPUs
# A delivery cut short leaves the emails it had claimed to be retried when their lease ends.
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 540, minimum=1)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 600, minimum=2)
# Redis hands an unacknowledged message to another worker after this long, even while the
# first still runs it, so it must outlast the hard time limit.
CELERY_VISIBILITY_TIMEOUT = env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=3)
if not CELERY_TASK_SOFT_TIME_LIMIT < CELERY_TASK_TIME_LIMIT < CELERY_VISIBILITY_TIMEOUT:
    raise ImproperlyConfigured(
        "Expected CELERY_TASK_SOFT_TIME_LIMIT < CELERY_TASK_TIME_LIMIT < "
        f"CELERY_VISIBILITY_TIMEOUT, got {CELERY_TASK_SOFT_TIME_LIMIT}, "
        f"{CELERY_TASK_TIME_LIMIT} and {CELERY_VISIBILITY_TIMEOUT}."
    )
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,  # Redis only; RabbitMQ ignores it
    "socket_connect_timeout": 5,
}
# Each attempt of a worker or beat to reach the broker gives up after this long (then they
# retry). Callers someone waits on, API requests and /healthz, use watchdog.celery's
# broker_connection instead, which gives up for good after 2 s.
CELERY_BROKER_CONNECTION_TIMEOUT = 5
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    "check-sla": {
        "task": "tickets.tasks.check_sla",
        "schedule": timedelta(seconds=SLA_CHECK_INTERVAL),
        # A check still queued when the next one is due adds nothing: drop it.
        "options": {"expires": SLA_CHECK_INTERVAL},
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TIMEZONE = "UTC"
# Workers and beat log through LOGGING below (watchdog.celery.use_django_logging).

# --- API ----------------------------------------------------------------------------------

REGISTRATION_OPEN = env_bool("REGISTRATION_OPEN", False)
# How long a registration's email confirmation link stays valid (docs/email.md).
EMAIL_CONFIRMATION_MAX_AGE_SECONDS = env_int(
    "EMAIL_CONFIRMATION_MAX_AGE_SECONDS", 3 * 24 * 3600, minimum=60
)
API_PAGE_SIZE = env_int("API_PAGE_SIZE", 50, minimum=1)
API_MAX_PAGE_SIZE = env_int("API_MAX_PAGE_SIZE", 200, minimum=1)
# Numbered pages count the matching tickets up to this many (or to the end of the page
# asked for, if deeper), then say "at least": an exact COUNT(*) reads every match. 0: exact.
API_COUNT_LIMIT = env_int("API_COUNT_LIMIT", 10_000, minimum=0)

# django-ratelimit rates ("count/period"), keyed per user for tickets, and per client IP
# and per (username, client IP) for the token endpoints: a username's limit counts one
# address's guesses, so a stranger's bad passwords never lock its owner out.
RATELIMIT_TICKETS_LIST = env_rate("RATELIMIT_TICKETS_LIST", "10/m")
RATELIMIT_TICKETS_CREATE = env_rate("RATELIMIT_TICKETS_CREATE", "5/m")
# The compliance report: its API, page and CSV on one budget per user (each a report).
RATELIMIT_REPORTS = env_rate("RATELIMIT_REPORTS", "10/m")
RATELIMIT_LOGIN_PER_IP = env_rate("RATELIMIT_LOGIN_PER_IP", "30/m")
RATELIMIT_LOGIN_PER_USERNAME = env_rate("RATELIMIT_LOGIN_PER_USERNAME", "5/m")
RATELIMIT_REGISTER_PER_IP = env_rate("RATELIMIT_REGISTER_PER_IP", "10/h")
RATELIMIT_ENABLE = env_bool("RATELIMIT_ENABLE", True)
# How many reverse proxies in front of the service append to X-Forwarded-For; the client
# IP the limits count is the entry that many from the right (watchdog.ratelimits). 0, the
# default, ignores the header: set it only when every request comes through them, or
# clients could pick their own address (docs/deployment.md).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0, maximum=10)
# django-ratelimit's own cache checks know neither Django's built-in Redis cache nor that
# a per-process cache is a deliberate embedded default; watchdog.checks says it instead.
SILENCED_SYSTEM_CHECKS = [
    "django_ratelimit.E003",
    "django_ratelimit.W001",
    # HSTS preload is a commitment that is slow to undo, so it stays an operator's opt-in
    # (SECURE_HSTS_PRELOAD=true); `check --deploy` should not fail for want of it.
    "security.W021",
]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiTokenAuthentication",
        "accounts.authentication.LoginJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["watchdog.parsers.JSONBodyParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "tickets.pagination.TicketPagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "watchdog.exceptions.json_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

# Every credential belongs to a login (accounts.models.Login), which ends at logout, at
# its expiry, or when the user's password changes: docs/authentication.md.
# API tokens (knox: stored hashed), from POST /api-token-auth/ and registration.
API_TOKEN_LIFETIME = timedelta(hours=env_int("API_TOKEN_LIFETIME_HOURS", 10, minimum=1))
# JWTs from POST /api/token/: refreshing never extends a login past this, from sign-in.
JWT_REFRESH_LIFETIME = timedelta(hours=env_int("JWT_REFRESH_LIFETIME_HOURS", 24, minimum=1))
JWT_ACCESS_LIFETIME = timedelta(minutes=env_int("JWT_ACCESS_LIFETIME_MINUTES", 5, minimum=1))
# knox's token model is swappable, and a relation to it names this setting.
KNOX_TOKEN_MODEL = "knox.AuthToken"  # noqa: S105 (a model, not a secret)
REST_KNOX = {
    "TOKEN_TTL": API_TOKEN_LIFETIME,
    "AUTO_REFRESH": False,
}
SIMPLE_JWT = {
    "SIGNING_KEY": SECRET_KEY,
    "ALGORITHM": "HS256",
    "ACCESS_TOKEN_LIFETIME": JWT_ACCESS_LIFETIME,
    "REFRESH_TOKEN_LIFETIME": JWT_REFRESH_LIFETIME,
    # Rotation and single use are the login's (Login.refresh_jti), not simplejwt's
    # blacklist app, which keeps every refresh token in plain text.
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": False,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "SLA Watchdog API",
    "DESCRIPTION": "Support-ticket deadlines, with alerts before and when an SLA is missed.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # sla_state and first_response_state share these states: one enum, not two names.
    # (The choices as the fields have them: for a bare Enum, drf-spectacular would hash
    # its member names, not the labels, and the override would match nothing.)
    "ENUM_NAME_OVERRIDES": {
        "SlaStateEnum": choices(SlaState),
        # Two fields named `kind`: a notification's and an endpoint's.
        "AnnouncementEnum": choices(Announcement),
        "EndpointKindEnum": "notifications.models.EndpointKind",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "watchdog.schema.state_request_rules",
        "watchdog.schema.state_server_answers",
    ],
}

# Content-Security-Policy (django-csp) on every answer. The API's JSON needs none; the
# policy is for the pages: /api/docs/ (Swagger UI from drf-spectacular-sidecar, its start
# script a file of its own, see watchdog.urls) and the admin. Styles may be inline:
# Swagger UI sets style attributes, and its page has a <style> block.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'none'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
    }
}

# Request bodies larger than this are refused with 413 before they are parsed.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 256 * 1024, minimum=1024)

# --- Auth ---------------------------------------------------------------------------------

# The pages (dashboard/): a session from the sign-in form, the board after it.
LOGIN_URL = "sign-in"
LOGIN_REDIRECT_URL = "board"
LOGOUT_REDIRECT_URL = "sign-in"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "accounts.passwords.NotOnlyWhitespaceValidator"},
]

# --- Time, language, static files --------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env_str("STATIC_ROOT", str(VAR_DIR / "static"))
# WhiteNoise warns on every request while the directory is missing (before collectstatic).
with contextlib.suppress(OSError):
    Path(STATIC_ROOT).mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Production hardening (all on when DEBUG=false; `manage.py check --deploy` passes) ----

SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Load balancers and container engines probe /healthz over plain HTTP from inside.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    # Only behind a proxy that sets X-Forwarded-Proto itself and strips the client's.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(
        f"LOG_LEVEL={env_str('LOG_LEVEL')!r} is not valid: expected DEBUG, INFO, WARNING, "
        "ERROR or CRITICAL."
    )
# json: one JSON object a line, with ticket_id / notification_id fields, for log shippers.
LOG_FORMAT = env_choice("LOG_FORMAT", "plain", {"plain", "json"})
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "watchdog.jsonlog.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.request": {"level": "ERROR"}},
}

# --- Pages --------------------------------------------------------------------------------

# The at-risk board refreshes its table on its own this often (htmx polling), in seconds.
DASHBOARD_REFRESH_SECONDS = env_int("DASHBOARD_REFRESH_SECONDS", 30, minimum=1)

# --- Operations: /healthz and /metrics ------------------------------------------------------

# /healthz answers 503 when no SLA check has finished for this long (a checker loop or beat
# runs one every SLA_CHECK_INTERVAL; raise it when check_sla runs from cron)...
HEALTH_CHECKER_STALE_SECONDS = env_int(
    "HEALTH_CHECKER_STALE_SECONDS", max(60, math.ceil(3 * SLA_CHECK_INTERVAL)), minimum=1
)
# ...or when an email has been due for this long without any sender taking it.
HEALTH_MAX_OVERDUE_SECONDS = env_int("HEALTH_MAX_OVERDUE_SECONDS", 300, minimum=1)
# /healthz and /metrics count the emails given up on within this window (docs/email.md).
HEALTH_FAILED_WINDOW_SECONDS = env_int("HEALTH_FAILED_WINDOW_SECONDS", 3600, minimum=60)
# Prometheus scrapes /metrics with "Authorization: Bearer <METRICS_TOKEN>". Empty: only
# staff users signed in to the admin can read it; anyone else gets 404.
METRICS_TOKEN = env_str("METRICS_TOKEN")
if METRICS_TOKEN and len(METRICS_TOKEN) < 32:
    raise ImproperlyConfigured(
        "METRICS_TOKEN must be at least 32 characters. Generate one with: "
        "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
    )
