"""Caching manifests: build (a site's document from its lists and profile), store (versions, deltas,
signatures, the poll cache), models."""
