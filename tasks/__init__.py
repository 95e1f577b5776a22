"""Celery tasks, one module per queue, each a thin wrapper over a plain domain function."""
