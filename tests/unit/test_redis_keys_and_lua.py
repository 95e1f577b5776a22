"""Redis key names and Lua scripts each live in one place.

Key names: only the broker's rooms (broker/, the broker implementations in config/brokers/,
and the client's wire protocol) spell a key; every other module asks broker/keys.py. Lua:
every script is a `.lua` file, loaded once, and every file is used.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

from taskplatform import lua

ROOT = Path(__file__).resolve().parents[2]
#: Where key names may be spelled.
KEY_ROOMS = ("broker/", "config/brokers/", "client/taskplatform/wire.py")
#: A Redis key of ours, or one of Celery's result keys.
KEY_NAME = re.compile(r"^(taskplatform:|celery-task-meta-)")


def _package_dirs() -> list[Path]:
    """The package folders the distributions ship (pyproject's packages.find)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = {pattern.rstrip("*") for pattern in project["packages"]["find"]["include"]}
    return [
        ROOT / where / package
        for where in project["packages"]["find"]["where"]
        for package in sorted(packages)
        if (ROOT / where / package).is_dir()
    ]


def _shipped_modules() -> list[Path]:
    """The modules the distributions ship (their packages and py-modules)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = [ROOT / f"{name}.py" for name in project.get("py-modules", [])]
    for package in _package_dirs():
        found.extend(package.rglob("*.py"))
    return sorted(set(found))


def lua_files() -> list[Path]:
    """Every Lua script the distributions ship: `lua/` folders of their packages."""
    return sorted(path for package in _package_dirs() for path in package.rglob("lua/*.lua"))


def test_only_the_broker_rooms_spell_a_redis_key() -> None:
    spelled = []
    modules = _shipped_modules()
    assert ROOT / "deadletters" / "spool.py" in modules
    for path in modules:
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(KEY_ROOMS):
            continue
        for node in ast.walk(ast.parse(path.read_text(), rel)):
            if isinstance(node, ast.Constant) and KEY_NAME.match(str(node.value)):
                spelled.append(f"{rel}:{node.lineno}: {node.value!r}")
    assert not spelled, "use broker/keys.py instead:\n" + "\n".join(spelled)


def test_the_check_finds_a_spelled_key() -> None:
    """The scan above would see a key spelled in an f-string, the way it would be written."""
    tree = ast.parse('KEY = f"taskplatform:thing:{name}"')
    found = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)]
    assert any(KEY_NAME.match(v) for v in found)


def test_every_lua_file_is_loaded_by_a_module() -> None:
    sources = "\n".join(p.read_text() for p in _shipped_modules())
    names = {p.stem for p in lua_files()}
    used_by_scripts = {
        name.strip()
        for p in lua_files()
        if (first := p.read_text().split("\n", 1)[0]).startswith("-- uses:")
        for name in first.removeprefix("-- uses:").split(",")
    }
    unused = sorted(n for n in names if f'"{n}")' not in sources and n not in used_by_scripts)
    assert len(names) >= 14 and not unused


@pytest.mark.parametrize("path", lua_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_a_script_is_sent_without_its_comments(path: Path) -> None:
    package = "taskplatform" if path.parts[-3] == "taskplatform" else path.parts[-3]
    body = lua.script(package, path.stem)
    assert body.strip()
    assert not [line for line in body.splitlines() if line.lstrip().startswith("--")]
    # and the file documents what the script takes, for the next reader
    assert path.read_text().lstrip().startswith("--")


def test_a_script_that_uses_another_carries_it_first() -> None:
    requeue = lua.script("broker", "requeue")
    assert requeue.startswith(lua.script("broker", "place").rstrip("\n"))
    assert "count_and_place(ARGV[1], false" in requeue
    assert lua.script("broker", "requeue") is requeue  # read once per process
