"""Every Lua script the platform ships compiles on a real Redis."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import redis

from taskplatform import lua
from tests.unit.test_redis_keys_and_lua import lua_files

SCRIPTS = lua_files()


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.stem)
def test_script_compiles(path: Path) -> None:
    package = path.parts[-3]
    body = lua.script(package, path.stem)
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    sha = client.script_load(body)
    assert client.script_exists(sha) == [True]
