"""The web app's own settings (a module named `config`, as many web apps have one)."""

import os

BULK_LIMIT = int(os.environ.get("BULK_LIMIT", "10000"))
