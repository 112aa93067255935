"""The spreadsheet exports: text a site chose never becomes a formula, numbers stay numbers."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from mediasrv.study import export

ROW: tuple[export.Cell, ...] = (
    "=HYPERLINK(\"http://evil.example\",\"点我\")", "@SUM(A1)", "河北省/邢台市", "2026-11", 4, 360, 8.0, True,
    3, 2, 1, 0, 2,
)  # fmt: skip


def test_xlsx_keeps_formula_looking_text_as_text_and_numbers_as_numbers() -> None:
    sheet = load_workbook(io.BytesIO(export.to_xlsx([ROW], "2026-11"))).worksheets[0]
    assert sheet.title == "学习情况 2026-11"
    assert [c.value for c in sheet[1]] == list(export.HEADER)
    cells = sheet[2]
    assert [c.value for c in cells] == list(ROW)
    assert cells[0].data_type == "s" and cells[1].data_type == "s"  # not "f": it does not run
    assert cells[4].data_type == "n" and cells[7].data_type == "b"


def test_csv_quotes_formula_looking_text() -> None:
    text = export.to_csv([ROW]).decode("utf-8")
    assert text.startswith("\ufeff")
    table = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert table[1][:2] == ['\'=HYPERLINK("http://evil.example","点我")', "'@SUM(A1)"]
    assert table[1][4:8] == ["4", "360", "8.0", "true"]
