"""Flower's configuration file (`celery -A config flower --conf=config/flower.py`).

Flower is open to anyone by default (CVE-2022-30034 was about this). Outside development it
refuses to start without basic auth (FLOWER_BASIC_AUTH) or an OAuth provider
(FLOWER_AUTH_PROVIDER with Flower's FLOWER_OAUTH2_* settings). Persistent mode keeps task
history across restarts in FLOWER_DB. Flower executes this file and reads the option names
it defines; other names are ignored.
"""

from config.settings import settings

if not (settings.flower_basic_auth or settings.flower_auth_provider):
    if settings.app_env != "development":
        raise SystemExit(
            "invalid setting FLOWER_BASIC_AUTH: Flower refuses to start without auth"
            f" when APP_ENV={settings.app_env}; set user:password (or FLOWER_AUTH_PROVIDER)"
        )
elif settings.flower_basic_auth:
    basic_auth = settings.flower_basic_auth.split(",")

persistent = True
db = settings.flower_db
state_save_interval = 60_000  # ms: history survives a crash, not only a clean stop
max_tasks = 50_000
