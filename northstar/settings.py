"""Django settings, driven by NORTHSTAR_* environment variables (see docs/operations.md)."""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

from northstar.background import huey_from_url
from northstar.datadir import data_dir, ensure_layout, secret_key

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = data_dir()
ensure_layout(DATA_DIR)
REPOS_DIR = DATA_DIR / "repos"

SECRET_KEY = secret_key(DATA_DIR)
DEBUG = os.environ.get("NORTHSTAR_DEBUG", "") == "1"
ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("NORTHSTAR_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",")
    if h.strip()
]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("NORTHSTAR_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]
# Public base URL used in clone URLs and links printed by git; defaults to the request's host.
BASE_URL = os.environ.get("NORTHSTAR_BASE_URL", "").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "ninja",  # serves the API docs' Swagger UI from our own static files, not a CDN
    "django_tasks",
    "huey.contrib.djhuey",
    "northstar.events",
    "northstar.accounts",
    "northstar.projects",
    "northstar.gitserver",
    "northstar.review",
    "northstar.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "northstar.urls"
WSGI_APPLICATION = "northstar.wsgi.application"

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

_default_db = f"sqlite:///{DATA_DIR / 'northstar.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(os.environ.get("NORTHSTAR_DATABASE_URL") or _default_db, conn_max_age=60)
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # A file, not memory, so that a live server process in the tests can share it.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock at BEGIN
        # so concurrent writers queue on busy_timeout instead of failing mid-transaction.
        "init_command": ("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"),
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = False

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
# Large JSON bodies are refused before they are parsed; git traffic streams and is unaffected.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("NORTHSTAR_MAX_BODY_BYTES", 2 * 1024 * 1024))

EMAIL_BACKEND = os.environ.get("NORTHSTAR_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("NORTHSTAR_EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("NORTHSTAR_EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("NORTHSTAR_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("NORTHSTAR_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = os.environ.get("NORTHSTAR_EMAIL_TLS", "") == "1"
DEFAULT_FROM_EMAIL = os.environ.get("NORTHSTAR_EMAIL_FROM", "northstar@localhost")

# Computed diffs are cached by commit ids (immutable, so never stale). A file cache in the
# data dir is shared by every process on this machine; several web machines should point
# NORTHSTAR_CACHE_DIR at a shared volume.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": os.environ.get("NORTHSTAR_CACHE_DIR") or str(DATA_DIR / "cache"),
        "TIMEOUT": 14 * 24 * 3600,
        "OPTIONS": {"MAX_ENTRIES": 5000},
    }
}

# Background tasks: the django-tasks API, executed by Huey (see northstar/background.py).
# NORTHSTAR_TASKS_IMMEDIATE=1 runs tasks inline, for tests that need no worker process.
HUEY_URL = os.environ.get("NORTHSTAR_HUEY_URL") or f"sqlite:///{DATA_DIR / 'tasks' / 'huey.sqlite3'}"
HUEY = huey_from_url(HUEY_URL, immediate=os.environ.get("NORTHSTAR_TASKS_IMMEDIATE") == "1")
TASKS = {"default": {"BACKEND": "huey.contrib.djhuey.tasks_backend.HueyBackend"}}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("NORTHSTAR_LOG_LEVEL", "INFO")},
    # Huey's consumer installs its own handler; don't print its lines twice.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "huey": {"propagate": False}},
}
