"""Cross-cutting server helpers: who is calling, errors, HTTP responses and ranges, paging."""
