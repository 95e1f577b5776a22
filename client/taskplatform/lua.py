"""The platform's Lua scripts, read from the `.lua` files shipped beside the code.

A script is a file of its own so that it reads, diffs and lints as Lua, with its KEYS and
ARGV written at its top. A first line `-- uses: name, ...` puts those scripts of the same
package in front of it (shared functions: broker/lua/place.lua). Comment lines are left out
of what is sent: a script sent with EVAL on every publish (the publish-once put) would
otherwise carry its documentation each time.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

_USES = "-- uses:"


@cache
def script(package: str, name: str) -> str:
    """The body of `<package>/lua/<name>.lua`, its `uses` in front, read once per process."""
    text = (files(package) / "lua" / f"{name}.lua").read_text(encoding="utf-8")
    first = text.split("\n", 1)[0]
    used = []
    if first.startswith(_USES):
        used = [script(package, n.strip()) for n in first[len(_USES) :].split(",") if n.strip()]
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    return "\n".join([*used, body]) + "\n"
