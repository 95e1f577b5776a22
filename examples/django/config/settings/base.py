"""Settings of a project laid out as cookiecutter-django lays it out (`config/settings/`).

The platform's client needs one of them: the Redis the platform uses (REDIS_URL), handed
to the client when the app is ready (jobs/apps.py).
"""

import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-a-secret")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["jobs.apps.JobsConfig"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
DATABASES: dict = {}
USE_TZ = True

#: The platform's Redis: its broker and result store.
TASKPLATFORM_REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
