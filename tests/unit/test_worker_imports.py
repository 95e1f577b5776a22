"""The worker class loads before Sentry starts: it must leave Celery's consumer unloaded.

`celery worker` builds the app's `Worker` (worker/process.py) before it loads the app's
modules, which start Sentry (config/sentry.py). Celery's consumer binds `build_tracer` when
it is imported; loaded earlier, it binds the one Sentry has not wrapped yet, and a solo
worker then sends no task error to Sentry (seen: tests/integration/test_logs_and_sentry.py).
"""

import subprocess
import sys


def test_the_worker_class_does_not_load_celerys_consumer():
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys; import worker.process;"
         " print('celery.worker.consumer.consumer' in sys.modules)"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert loaded.stdout.strip() == "False"
