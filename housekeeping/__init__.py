"""Housekeeping that beat schedules: queue-health snapshots, purges, digests and alerts."""
