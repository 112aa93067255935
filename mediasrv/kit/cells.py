"""Spreadsheet cells that stay text: what sites typed (agent versions, notes) goes into CSV and XLSX
exports an administrator opens in Excel."""

from __future__ import annotations

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def excel_cell(value: str | None) -> str:
    """Text as Excel shows it, never as a formula: agent versions come from the sites themselves, and
    '=HYPERLINK(...)' in one must not run on an administrator's machine."""
    if not value:
        return ""
    return "'" + value if value.startswith(_FORMULA_START) else value
