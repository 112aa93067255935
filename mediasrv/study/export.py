"""Compliance as a spreadsheet: one row per site for a month, as CSV (UTF-8 with a BOM, which Excel
in China opens right) or XLSX (typed cells: numbers sum, "task met" filters). Both from one table."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from urllib.parse import quote

from openpyxl import Workbook
from openpyxl.cell import Cell as XlCell
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from mediasrv.kit.cells import excel_cell
from mediasrv.study.compliance import Summary, Task

Cell = str | int | float | bool
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# What an export route answers, for its OpenAPI description (compliance, the fault register).
RESPONSES: dict[int | str, dict[str, object]] = {
    200: {
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            XLSX: {"schema": {"type": "string", "format": "binary"}},
        }
    }
}

HEADER = (
    "站点编码 code", "站点名称 name", "地区 region", "月份 month", "学习次数 sessions", "学习分钟 minutes",
    "课时 class hours", "完成月度任务 task met", "必学节目 required", "完整收看 fully", "部分收看 partly",
    "未收看 not watched", "自动记录完整收看 evidenced",
)  # fmt: skip
WIDTHS = (14, 24, 28, 9, 10, 10, 9, 12, 10, 10, 10, 10, 14)


def rows(summaries: Sequence[Summary], month: str, task: Task) -> list[tuple[Cell, ...]]:
    return [_row(r, month, task) for r in summaries]


def _row(r: Summary, month: str, task: Task) -> tuple[Cell, ...]:
    not_watched = r.required - r.fully - r.partly
    hours = r.class_hours(task)
    met = r.task_met(task)
    return (r.code, r.name, r.region, month, r.sessions, r.minutes, hours, met, r.required, r.fully, r.partly,
            not_watched, r.evidenced)  # fmt: skip


def filename(month: str, region: str, ext: str) -> tuple[str, str]:
    """(ASCII fallback, the name with the region's last part) for Content-Disposition."""
    place = re.sub(r"[^\w-]", "", region.rsplit("/", 1)[-1])
    name = f"compliance-{place}-{month}.{ext}" if place else f"compliance-{month}.{ext}"
    return f"compliance-{month}.{ext}", name


def disposition(month: str, region: str, ext: str) -> str:
    ascii_name, name = filename(month, region, ext)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


def to_csv(table: list[tuple[Cell, ...]], header: Sequence[str] = HEADER) -> bytes:
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in table:
        # Text a site chose is never a formula; booleans as the words spreadsheets read.
        writer.writerow(
            excel_cell(v) if isinstance(v, str) else ("true" if v else "false") if isinstance(v, bool) else v
            for v in row
        )
    return out.getvalue().encode("utf-8")


def _text(ws: Worksheet, value: str) -> XlCell:
    cell = WriteOnlyCell(ws, value=value)
    # openpyxl takes a leading "=" as a formula; a site's name is text and must never run.
    cell.data_type = "s"
    return cell


def to_xlsx(
    table: list[tuple[Cell, ...]],
    month: str,
    *,
    header: Sequence[str] = HEADER,
    widths: Sequence[int] = WIDTHS,
    title: str = "学习情况",
) -> bytes:
    """Write-only workbook: rows stream to the file, so 25,000 sites do not build a cell tree. The
    header, widths and sheet title are compliance's unless given (the fault register's are its own)."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=f"{title} {month}")
    ws.freeze_panes = "A2"
    for i, width in enumerate(widths):
        ws.column_dimensions[chr(ord("A") + i)].width = width
    bold = Font(bold=True)
    first = []
    for name in header:
        cell = _text(ws, name)
        cell.font = bold
        first.append(cell)
    ws.append(first)
    for row in table:
        ws.append([_text(ws, v) if isinstance(v, str) else v for v in row])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
