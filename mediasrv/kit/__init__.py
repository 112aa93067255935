"""Cross-cutting server helpers: errors, HTTP responses and ranges, paging."""
