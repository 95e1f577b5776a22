"""The database engine: one pooled engine per process, created after fork.

A connection pool must never cross a fork (a child would share its parent's sockets), so
the engine is made lazily and remade when the process id changes; the parent's connections
are left to the parent (`dispose(close=False)`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from config.settings import settings

_engine: Engine | None = None
_engine_pid: int | None = None


def make_engine(url: str | None = None) -> Engine:
    """A pooled engine with short connect and pool timeouts: callers fail fast, not hang."""
    return create_engine(
        url or settings.sqlalchemy_url,
        pool_size=5,
        max_overflow=5,
        pool_timeout=settings.database_connect_timeout,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={"connect_timeout": settings.database_connect_timeout},
    )


def engine() -> Engine:
    """This process's engine."""
    global _engine, _engine_pid
    if _engine is None or _engine_pid != os.getpid():
        if _engine is not None:
            _engine.dispose(close=False)
        _engine, _engine_pid = make_engine(), os.getpid()
    return _engine


@contextmanager
def session(bind: Engine | None = None) -> Iterator[Session]:
    """A session in a transaction: committed on success, rolled back on error."""
    factory = sessionmaker(bind=bind or engine(), expire_on_commit=False)
    with factory.begin() as db:
        yield db
