"""Kirje's own JSON API under /api/kirje/v1, described by its OpenAPI schema (/schema)."""
