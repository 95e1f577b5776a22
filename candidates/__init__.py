"""Candidates: full-text search with ranking and filters, and reindexing the search vectors."""
