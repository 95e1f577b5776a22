"""Settings of a project laid out as cookiecutter-django lays it out (`config/settings/`).

The platform's client needs one of them: the Redis the platform uses (REDIS_URL), handed
to the client when the app is ready (jobs/apps.py). With a database (DATABASE_URL, Postgres)
the app also publishes through the outbox (`POST /outbox/<task>`), whose table comes from
`manage.py migrate` (the app `taskplatform.outbox.django`).
"""

import os
from urllib.parse import unquote, urlsplit

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-a-secret")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["jobs.apps.JobsConfig"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
DATABASES: dict = {}
if os.environ.get("DATABASE_URL"):
    _db = urlsplit(os.environ["DATABASE_URL"])
    DATABASES["default"] = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": _db.path.lstrip("/"),
        "USER": unquote(_db.username or ""),
        "PASSWORD": unquote(_db.password or ""),
        "HOST": _db.hostname or "",
        "PORT": str(_db.port or ""),
    }
    INSTALLED_APPS.append("taskplatform.outbox.django")
USE_TZ = True

#: The platform's Redis: its broker and result store.
TASKPLATFORM_REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
