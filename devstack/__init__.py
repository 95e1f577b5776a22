"""The local stack behind `make run` and `make test`: real Redis and Postgres servers, from
the machine or from pip packages, and the launcher that brings the platform up on them.

Nothing here is imported by the platform itself; it is tooling for a laptop or a CI box.
"""
