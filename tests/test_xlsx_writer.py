"""The direct XLSX writer gives what openpyxl's write-only mode gave: values, links, layout."""

from __future__ import annotations

import zipfile

import numpy as np
import openpyxl
import pandas as pd
import pytest
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter

from pipeline import xlsx_writer
from pipeline.xlsx_writer import Sheet, write_workbook


def _table(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "Mã": [f"AL-{i:04d}" for i in range(1, n + 1)],
            "Hạng": np.arange(1, n + 1),
            "Tên": ["Ngõ 5 & <Phố Huế>", "", None, "  lề trái", 'ngoặc "kép"', "Ngõ lạ\t"]
            * (n // 6),
            "Vĩ độ": np.round(rng.uniform(20.9, 21.2, n), 6),
            "Chi phí": [np.nan, 1.5e9, 0.1 + 0.2, -3.25, np.inf, 123456789.123456789] * (n // 6),
            "Có": [True, False] * (n // 2),
            "Số nhà": pd.array([1, None, 3, 4, None, 6] * (n // 6), dtype="Int64"),
            "Hỗn hợp": [1, "hai", 3.5, None, np.float64(2.25), np.int64(7)] * (n // 6),
            "Liên kết": [f"wards/0{i % 3}.html#18/21.{i}/106.{i}/AL-{i:04d}" for i in range(n)],
        }
    )


def _openpyxl_reference(path, table: pd.DataFrame, *, link_col: str) -> None:
    """The writer the shortlists used before (openpyxl write-only), kept as the oracle."""
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("Danh sách")
    ws.freeze_panes = "B2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(table.columns))}{len(table) + 1}"
    for j, col in enumerate(table.columns, start=1):
        ws.column_dimensions[get_column_letter(j)].width = 60 if col == "Tên" else 12
    ws.append([str(c) for c in table.columns])
    j_link = list(table.columns).index(link_col)
    for values in pd.DataFrame(table.to_numpy()).astype(object).to_numpy().tolist():
        row = [None if (isinstance(v, float) and np.isnan(v)) or v is pd.NA else v for v in values]
        cell = WriteOnlyCell(ws, value=row[j_link])
        cell.hyperlink = str(row[j_link])
        row[j_link] = cell
        ws.append(row)
    wb.save(path)


def _read(path):
    wb = openpyxl.load_workbook(path)
    out = {}
    for ws in wb.worksheets:
        values = [[c.value for c in r] for r in ws.iter_rows()]
        links = {
            c.coordinate: (c.hyperlink.target, c.hyperlink.location)
            for r in ws.iter_rows()
            for c in r
            if c.hyperlink
        }
        widths = {k: v.width for k, v in ws.column_dimensions.items()}
        out[ws.title] = (values, links, ws.freeze_panes, ws.auto_filter.ref, widths)
    return wb.sheetnames, out


@pytest.mark.parametrize("chunk", [5, 10_000])
def test_same_cells_links_and_layout_as_openpyxl(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(xlsx_writer, "CHUNK_ROWS", chunk)  # rows cut into chunks, or not
    table = _table(36)
    _openpyxl_reference(tmp_path / "ref.xlsx", table, link_col="Liên kết")
    widths = [60 if c == "Tên" else 12 for c in table.columns]
    write_workbook(
        tmp_path / "new.xlsx", [Sheet("Danh sách", table, widths, link_column="Liên kết")]
    )
    ref, new = _read(tmp_path / "ref.xlsx"), _read(tmp_path / "new.xlsx")
    assert new == ref
    values, links, freeze, filt, _ = new[1]["Danh sách"]
    # the relative link keeps its '#' fragment whole: no backslashes, no split-off location
    assert links["I2"] == ("wards/00.html#18/21.0/106.0/AL-0000", None)
    assert values[1][2] == "Ngõ 5 & <Phố Huế>"
    assert values[4][2] == "  lề trái"  # leading blanks kept
    assert values[2][2] is None  # an empty string is an empty cell, as before
    assert values[1][4] is None  # NaN: empty
    assert values[3][4] == pytest.approx(0.3)
    assert (freeze, filt) == ("B2", "A1:I37")


def test_sheets_in_order_with_plain_sheet_and_no_links(tmp_path):
    a = pd.DataFrame({"x": [1.25, 2.0], "y": ["a", "b\x01c"]})  # a control character
    b = pd.DataFrame({"Tham số": ["p"], "Giá trị": ["3,50"]})
    n = write_workbook(
        tmp_path / "w.xlsx",
        (
            s
            for s in [
                Sheet("Một", a, [10, 10]),
                Sheet("Hai 'quote'", b, [50, 10], freeze_header=False, auto_filter=False),
            ]
        ),
    )
    assert n == 2
    wb = openpyxl.load_workbook(tmp_path / "w.xlsx")
    assert wb.sheetnames == ["Một", "Hai 'quote'"]
    assert [[c.value for c in r] for r in wb["Một"].iter_rows()] == [
        ["x", "y"],
        [1.25, "a"],
        [2, "bc"],
    ]
    assert wb["Hai 'quote'"].freeze_panes is None
    assert wb["Hai 'quote'"].auto_filter.ref is None
    with zipfile.ZipFile(tmp_path / "w.xlsx") as z:
        names = z.namelist()
        assert "xl/worksheets/_rels/sheet1.xml.rels" not in names  # no links, no rels part
        assert z.testzip() is None
    # pandas (openpyxl engine) reads it as any workbook
    back = pd.read_excel(tmp_path / "w.xlsx", sheet_name="Một")
    assert back["x"].tolist() == [1.25, 2.0]
