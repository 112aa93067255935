"""Catalog of programmes (issue 4)."""
