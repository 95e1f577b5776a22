"""Alembic environment: migrations run against DATABASE_URL, online only."""

from logging.config import fileConfig

from alembic import context
from sqlalchemy import create_engine, pool

from config.settings import settings

# A caller that has its own logging (the test suite) sets configure_logger=False.
if context.config.config_file_name and context.config.attributes.get("configure_logger", True):
    fileConfig(context.config.config_file_name, disable_existing_loggers=False)


def run_migrations_online() -> None:
    engine = create_engine(settings.sqlalchemy_url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported: run against DATABASE_URL")
run_migrations_online()
