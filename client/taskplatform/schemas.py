"""What a task takes, declared once (taskplatform/tasks.py) and checked on both sides.

The client checks a call before anything is sent, so a web app answers 400 with the field
named; the worker checks the same declaration before a job runs, for messages from older
clients and other producers (tasks/base.py). A small vocabulary of plain values, no
dependency: `Text`, `Whole`, `Items`, `Record`, `Either`, `Nullable`, and a task's
`Signature`. The domain code behind each task checks more (a role in the catalogue, a
deliverable address); what it refuses is user input too (reason `invalid_input`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from taskplatform.errors import PayloadError


class InvalidArguments(PayloadError):
    """The arguments do not match what the task takes; `field` names where (e.g.
    `request.roles[0].count`). Nothing was sent: answer the web request with a 400."""

    def __init__(self, field: str, problem: str, item: int | None = None) -> None:
        where = f"item {item}: " if item is not None else ""
        super().__init__(f"{where}{field}: {problem}")
        self.field, self.problem, self.item = field, problem, item


KINDS = {bool: "a boolean", int: "a number", float: "a number", str: "text", list: "a list",
         tuple: "a list", dict: "an object", type(None): "null"}  # fmt: skip


def _kind(value: Any) -> str:
    return KINDS.get(type(value), type(value).__name__)


class Schema:
    """One value's rule; `check` raises InvalidArguments naming the field at `at`."""

    kinds: tuple[type, ...] = ()

    def check(self, value: Any, at: str) -> None:
        raise NotImplementedError

    def takes(self, value: Any) -> bool:
        """Whether the value is of this rule's kind (how `Either` picks a branch)."""
        return isinstance(value, self.kinds) and not isinstance(value, bool)


@dataclass(frozen=True)
class Text(Schema):
    """A string of at most `most` characters (counted once stripped), at least `least`
    non-blank ones; with `choices`, one of them (compared stripped and lower-cased)."""

    most: int | None = None
    least: int = 0
    choices: tuple[str, ...] | None = None
    kinds = (str,)

    def check(self, value: Any, at: str) -> None:
        if not isinstance(value, str):
            raise InvalidArguments(at, f"must be text, not {_kind(value)}")
        text = value.strip()
        if len(text) < self.least:
            raise InvalidArguments(at, "must not be empty" if self.least == 1 else
                                   f"must be at least {self.least} characters")  # fmt: skip
        if self.most is not None and len(text) > self.most:
            raise InvalidArguments(at, f"is {len(text)} characters; at most {self.most}")
        if self.choices is not None and text.lower() not in self.choices:
            raise InvalidArguments(at, f"must be one of {list(self.choices)}, not {value!r}")


@dataclass(frozen=True)
class Whole(Schema):
    """A whole number from `least` to `most`; `digits` also takes it written as text."""

    least: int | None = None
    most: int | None = None
    digits: bool = False
    kinds = (int,)

    def check(self, value: Any, at: str) -> None:
        number = value
        if self.digits and isinstance(value, str):
            try:
                number = int(value)
            except ValueError:
                raise InvalidArguments(at, f"must be a whole number, not {value!r}") from None
        if isinstance(number, bool) or not isinstance(number, int):
            raise InvalidArguments(at, f"must be a whole number, not {_kind(value)}")
        if (self.least is not None and number < self.least) or (
            self.most is not None and number > self.most
        ):
            raise InvalidArguments(at, f"is {number}; it must be from {self.least} to {self.most}")


@dataclass(frozen=True)
class Items(Schema):
    """A list whose every item passes `of`, with `least` to `most` items."""

    of: Schema
    least: int = 0
    most: int | None = None
    kinds = (list, tuple)

    def check(self, value: Any, at: str) -> None:
        if not isinstance(value, list | tuple):
            raise InvalidArguments(at, f"must be a list, not {_kind(value)}")
        if len(value) < self.least:
            raise InvalidArguments(at, "must not be empty" if self.least == 1 else
                                   f"needs at least {self.least} items")  # fmt: skip
        if self.most is not None and len(value) > self.most:
            raise InvalidArguments(at, f"has {len(value)} items; at most {self.most}")
        for index, item in enumerate(value):
            self.of.check(item, f"{at}[{index}]")


@dataclass(frozen=True)
class Record(Schema):
    """An object with these fields; `required` ones must be there (and not null); with
    `closed`, no other key is taken (a misspelt key would silently fall back to a default)."""

    fields: dict[str, Schema]
    required: tuple[str, ...] = ()
    closed: bool = True
    kinds = (dict,)

    def check(self, value: Any, at: str) -> None:
        if not isinstance(value, dict):
            raise InvalidArguments(at, f"must be an object, not {_kind(value)}")
        missing = [name for name in self.required if value.get(name) is None]
        if missing:
            raise InvalidArguments(f"{at}.{missing[0]}", "is required")
        if self.closed:
            unknown = sorted(str(key) for key in value if key not in self.fields)
            if unknown:
                raise InvalidArguments(
                    f"{at}.{unknown[0]}", f"is not a field; expected some of {sorted(self.fields)}"
                )
        for name, rule in self.fields.items():
            if value.get(name) is not None:  # null is "not given" (required ones: above)
                rule.check(value[name], f"{at}.{name}")

    def takes(self, value: Any) -> bool:
        return isinstance(value, dict) and all(name in value for name in self.required)


@dataclass(frozen=True)
class Nullable(Schema):
    of: Schema

    def check(self, value: Any, at: str) -> None:
        if value is not None:
            self.of.check(value, at)

    def takes(self, value: Any) -> bool:
        return value is None or self.of.takes(value)


@dataclass(frozen=True)
class Either(Schema):
    """The first branch that takes the value's kind checks it (text, or an object with a
    branch's required fields); none: the error names the forms it may take."""

    branches: tuple[Schema, ...]
    described: str

    def check(self, value: Any, at: str) -> None:
        for branch in self.branches:
            if branch.takes(value):
                branch.check(value, at)
                return
        objects = [b for b in self.branches if isinstance(b, Record)]
        if isinstance(value, dict) and objects:
            objects[-1].check(value, at)  # names the field it misses
        raise InvalidArguments(at, f"must be {self.described}, not {_kind(value)}")

    def takes(self, value: Any) -> bool:
        return any(branch.takes(value) for branch in self.branches)


@dataclass(frozen=True)
class Param:
    name: str
    rule: Schema
    required: bool = True


@dataclass(frozen=True)
class Signature:
    """A task's parameters, in order; checked as Python binds a call's arguments."""

    params: tuple[Param, ...] = field(default=())

    def check(self, args: Sequence[Any] | None, kwargs: dict[str, Any] | None) -> None:
        args, kwargs = list(args or ()), dict(kwargs or {})
        names = [param.name for param in self.params]
        if len(args) > len(names):
            raise InvalidArguments(
                "args",
                f"takes {len(names)} positional arguments ({', '.join(names)}), not {len(args)}",
            )
        bound = dict(zip(names, args, strict=False))
        for name, value in kwargs.items():
            if name not in names:
                raise InvalidArguments(name, f"is not a parameter; expected some of {names}")
            if name in bound:
                raise InvalidArguments(name, "is given twice (positionally and by name)")
            bound[name] = value
        for param in self.params:
            if param.name not in bound:
                if param.required:
                    raise InvalidArguments(param.name, "is required")
                continue
            param.rule.check(bound[param.name], param.name)
