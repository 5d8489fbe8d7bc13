"""A fast writer of plain-table workbooks (XLSX): the sheet XML written directly, streamed.

The shortlists workbook holds hundreds of thousands of rows (every alley to widen, twice);
openpyxl builds an element per cell and took minutes for it. This module writes what
openpyxl's write-only mode wrote (inline strings, numbers as ``%.16g``, a frozen header,
an auto filter, column widths and external hyperlinks whose target keeps its ``#`` fragment,
as ``wards/x.html#18/<lat>/<lon>/<id>`` needs), a column at a time, one sheet at a time.
"""

from __future__ import annotations

import math
import re
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape, quoteattr

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.writer.theme import theme_xml

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from pathlib import Path

#: Rows of sheet XML built and written at a time (bounded memory, few write calls).
CHUNK_ROWS = 20_000
#: Characters XML 1.0 refuses (openpyxl refused them too); they are dropped from strings.
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
#: Longest string a cell holds (Excel's limit; openpyxl cut there too).
MAX_CELL_CHARS = 32_767

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_DOC_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT_SHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
_STYLES = (
    f'<styleSheet xmlns="{_MAIN}"><numFmts count="0"/><fonts count="1"><font>'
    '<name val="Calibri"/><family val="2"/><color theme="1"/><sz val="11"/>'
    '<scheme val="minor"/></font></fonts><fills count="2"><fill><patternFill/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills><borders count="1"><border>'
    "<left/><right/><top/><bottom/><diagonal/></border></borders>"
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
    '</cellStyleXfs><cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" '
    'xfId="0"/></cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" '
    'builtinId="0"/></cellStyles><tableStyles count="0" defaultTableStyle="TableStyleMedium9" '
    'defaultPivotStyle="PivotStyleLight16"/></styleSheet>'
)


@dataclass(frozen=True)
class Sheet:
    """One sheet: a table (its column names are the header row) and how it is shown.

    Attributes
    ----------
    title
        Sheet name (at most 31 characters).
    table
        The rows; values are ``str``, numbers, ``bool`` or missing (an empty cell).
    widths
        Column widths (characters), one per column.
    freeze_header
        Freeze the header row and the first column (the view scrolls at ``B2``).
    auto_filter
        Put a filter on the header row.
    link_column
        A column whose non-empty values are also the cells' hyperlink targets (relative
        paths with a ``#`` fragment are kept as they are).
    """

    title: str
    table: pd.DataFrame
    widths: Sequence[float]
    freeze_header: bool = True
    auto_filter: bool = True
    link_column: str | None = None


def _text(value: str) -> str:
    """Return an inline-string cell body (XML-escaped; leading / trailing blanks preserved)."""
    value = _ILLEGAL.sub("", value)[:MAX_CELL_CHARS]
    stripped = value.strip()
    space = ' xml:space="preserve"' if stripped and stripped != value else ""
    return f' t="inlineStr"><is><t{space}>{escape(value)}</t></is></c>'


def _number(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        return ""
    return f' t="n"><v>{"%.16g" % value}</v></c>'  # noqa: UP031 - openpyxl's format


def _cell(value: object) -> str:
    """Return the cell's XML after ``<c r="A1"``; "" for an empty cell (not written)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, str):
        return _text(value) if value else ""
    if isinstance(value, (bool, np.bool_)):
        return f' t="b"><v>{int(value)}</v></c>'
    if isinstance(value, (float, np.floating)):
        return _number(float(value))
    if isinstance(value, (int, np.integer)):
        return f' t="n"><v>{int(value)}</v></c>'
    return _text(str(value))


def _joined(*parts: pa.Array | str) -> pa.Array:
    """Concatenate string arrays (and constants) row by row; missing where any part is."""
    return pc.binary_join_element_wise(*parts, "")


def _string_cells(values: pd.Series) -> pa.Array | None:
    """Return the inline-string cells of a column of text (missing and "" give no cell).

    The column's XML is built by Arrow, as :func:`_text` builds it cell by cell; ``None``
    when a value is not text, or is one :func:`_text` would cut or clean (illegal
    characters, too long): that column goes cell by cell.
    """
    texts: list[str | None] = []
    preserve: list[bool] = []
    for v in values.astype(object).tolist():
        if type(v) is str:
            stripped = v.strip()
            texts.append(v or None)
            preserve.append(bool(stripped) and stripped != v)
        elif v is None or v is pd.NA or (type(v) is float and math.isnan(v)):
            texts.append(None)
            preserve.append(False)
        else:
            return None
    arr = pa.array(texts, type=pa.string())
    if arr.null_count < len(arr) and (
        pc.any(pc.match_substring_regex(arr, _ILLEGAL.pattern)).as_py()
        or pc.max(pc.utf8_length(arr)).as_py() > MAX_CELL_CHARS
    ):
        return None
    for char, entity in (("&", "&amp;"), (">", "&gt;"), ("<", "&lt;")):  # saxutils.escape
        arr = pc.replace_substring(arr, char, entity)
    opening = pc.if_else(
        pa.array(preserve, type=pa.bool_()),
        ' t="inlineStr"><is><t xml:space="preserve">',
        ' t="inlineStr"><is><t>',
    )
    return _joined(opening, arr, "</t></is></c>")


def _column_cells(values: pd.Series) -> pa.Array:
    """Return the cells of one column after ``<c r="A1"``, missing for an empty cell.

    The same text as :func:`_cell` gives each value, built a column at a time.
    """
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype) and not values.hasnans:
        return pc.if_else(
            pa.array(values.to_numpy(bool)), ' t="b"><v>1</v></c>', ' t="b"><v>0</v></c>'
        )
    if pd.api.types.is_integer_dtype(dtype) and not values.hasnans:
        ints = pa.array(values.to_numpy(np.int64))
        return _joined(' t="n"><v>', pc.cast(ints, pa.string()), "</v></c>")
    if pd.api.types.is_float_dtype(dtype) and not isinstance(dtype, pd.ArrowDtype):
        x = values.to_numpy(float)
        text = ["%.16g" % v for v in x.tolist()]  # noqa: UP031 - openpyxl's format
        return _joined(
            ' t="n"><v>', pa.array(text, type=pa.string(), mask=~np.isfinite(x)), "</v></c>"
        )
    strings = _string_cells(values)
    if strings is not None:
        return strings
    return pa.array([_cell(v) or None for v in values.astype(object).tolist()], type=pa.string())


def _sheet_parts(sheet: Sheet, rel_ids: list[str]) -> Iterable[str]:
    """Yield the worksheet XML in pieces; fills ``rel_ids`` with its hyperlink targets."""
    table = sheet.table
    n_rows, n_cols = table.shape
    letters = [get_column_letter(j) for j in range(1, n_cols + 1)]
    last = f"{letters[-1]}{n_rows + 1}" if n_cols else "A1"
    view = (
        '<pane xSplit="1" ySplit="1" topLeftCell="B2" activePane="bottomRight" state="frozen"/>'
        '<selection pane="topRight"/><selection pane="bottomLeft"/>'
        '<selection pane="bottomRight" activeCell="A1" sqref="A1"/>'
        if sheet.freeze_header
        else '<selection activeCell="A1" sqref="A1"/>'
    )
    cols = "".join(
        f'<col min="{j}" max="{j}" width="{w:g}" customWidth="1"/>'
        for j, w in enumerate(sheet.widths, start=1)
    )
    yield (
        f'<worksheet xmlns="{_MAIN}" xmlns:r="{_DOC_REL}"><sheetPr><outlinePr summaryBelow="1" '
        f'summaryRight="1"/><pageSetUpPr/></sheetPr><dimension ref="A1:{last}"/><sheetViews>'
        f'<sheetView workbookViewId="0">{view}</sheetView></sheetViews>'
        f'<sheetFormatPr baseColWidth="8" defaultRowHeight="15"/>'
        f"{f'<cols>{cols}</cols>' if cols else ''}<sheetData>"
    )
    header = "".join(
        f'<c r="{c}1"{_text(str(h))}' for c, h in zip(letters, table.columns, strict=True)
    )
    yield f'<row r="1">{header}</row>'
    names = list(table.columns)
    link_j = names.index(sheet.link_column) if sheet.link_column in names else -1
    links: list[str] = []
    for start in range(0, n_rows, CHUNK_ROWS):
        part = table.iloc[start : start + CHUNK_ROWS]
        numbers = pc.cast(pa.array(np.arange(start + 2, start + 2 + len(part))), pa.string())
        cells = [
            pc.fill_null(_joined(f'<c r="{c}', numbers, '"', _column_cells(part.iloc[:, j])), "")
            for j, c in enumerate(letters)
        ]
        rows = _joined('<row r="', numbers, '">', *cells, "</row>")
        del cells
        if link_j >= 0:
            for i, v in enumerate(part.iloc[:, link_j].tolist(), start=start + 2):
                if isinstance(v, str) and v:
                    rel_ids.append(v)
                    ref = f"{letters[link_j]}{i}"
                    links.append(f'<hyperlink ref="{ref}" r:id="rId{len(rel_ids)}"/>')
        yield "".join(rows.to_pylist())
    yield "</sheetData>"
    if sheet.auto_filter and n_cols:
        yield f'<autoFilter ref="A1:{last}"/>'
    if links:
        yield f"<hyperlinks>{''.join(links)}</hyperlinks>"
    yield (
        '<pageMargins left="0.75" right="0.75" top="1" bottom="1" header="0.5" footer="0.5"/>'
        "</worksheet>"
    )


def _rels(targets: Sequence[str]) -> str:
    kind = f"{_DOC_REL}/hyperlink"
    items = "".join(
        f'<Relationship Id="rId{i}" Type="{kind}" Target={quoteattr(t)} TargetMode="External"/>'
        for i, t in enumerate(targets, start=1)
    )
    return f'<Relationships xmlns="{_PKG_REL}">{items}</Relationships>'


def write_workbook(path: Path, sheets: Iterable[Sheet]) -> int:
    """Write the sheets, in order, as one ``.xlsx`` workbook; return the number of sheets.

    Parameters
    ----------
    path
        The file (any suffix; the format is fixed).
    sheets
        The sheets; consumed one at a time, so a generator keeps one table in memory.

    Returns
    -------
    int
    """
    names: list[tuple[str, str]] = []  # (title, filter range) per sheet
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as z:
        for k, sheet in enumerate(sheets, start=1):
            targets: list[str] = []
            with z.open(f"xl/worksheets/sheet{k}.xml", "w", force_zip64=True) as f:
                for piece in _sheet_parts(sheet, targets):
                    f.write(piece.encode("utf-8"))
            if targets:
                z.writestr(f"xl/worksheets/_rels/sheet{k}.xml.rels", _rels(targets))
            n_rows, n_cols = sheet.table.shape
            ref = ""
            if sheet.auto_filter and n_cols:
                col = get_column_letter(n_cols)
                ref = f"{quote_sheetname(sheet.title)}!$A$1:${col}${n_rows + 1}"
            names.append((sheet.title, ref))
        _package(z, names)
    return len(names)


def _package(z: zipfile.ZipFile, names: list[tuple[str, str]]) -> None:
    """Write the parts around the sheets: content types, relationships, workbook, styles, theme."""
    n = len(names)
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{k}.xml" ContentType="{_CT_SHEET}"/>'
        for k in range(1, n + 1)
    )
    ct = "application/vnd.openxmlformats-"
    z.writestr(
        "[Content_Types].xml",
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        f'<Default Extension="rels" ContentType="{ct}package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" '
        f'ContentType="{ct}officedocument.spreadsheetml.sheet.main+xml"/>'
        f'<Override PartName="/xl/styles.xml" '
        f'ContentType="{ct}officedocument.spreadsheetml.styles+xml"/>'
        f'<Override PartName="/xl/theme/theme1.xml" ContentType="{ct}officedocument.theme+xml"/>'
        f'<Override PartName="/docProps/app.xml" '
        f'ContentType="{ct}officedocument.extended-properties+xml"/>'
        f"{overrides}</Types>",
    )
    z.writestr(
        "_rels/.rels",
        f'<Relationships xmlns="{_PKG_REL}"><Relationship Id="rId1" '
        f'Type="{_DOC_REL}/officeDocument" Target="xl/workbook.xml"/><Relationship Id="rId2" '
        f'Type="{_DOC_REL}/extended-properties" Target="docProps/app.xml"/></Relationships>',
    )
    z.writestr(
        "docProps/app.xml",
        '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
        'extended-properties"><Application>firegap</Application></Properties>',
    )
    sheets = "".join(
        f'<sheet name={quoteattr(title)} sheetId="{k}" r:id="rId{k}"/>'
        for k, (title, _) in enumerate(names, start=1)
    )
    defined = "".join(
        f'<definedName name="_xlnm._FilterDatabase" localSheetId="{k}" hidden="1">'
        f"{escape(ref)}</definedName>"
        for k, (_, ref) in enumerate(names)
        if ref
    )
    z.writestr(
        "xl/workbook.xml",
        f'<workbook xmlns="{_MAIN}" xmlns:r="{_DOC_REL}"><workbookPr/><bookViews>'
        '<workbookView activeTab="0"/></bookViews>'
        f"<sheets>{sheets}</sheets>"
        f"{f'<definedNames>{defined}</definedNames>' if defined else ''}"
        '<calcPr calcId="124519" fullCalcOnLoad="1"/></workbook>',
    )
    rels = "".join(
        f'<Relationship Id="rId{k}" Type="{_DOC_REL}/worksheet" Target="worksheets/sheet{k}.xml"/>'
        for k in range(1, n + 1)
    )
    z.writestr(
        "xl/_rels/workbook.xml.rels",
        f'<Relationships xmlns="{_PKG_REL}">{rels}'
        f'<Relationship Id="rId{n + 1}" Type="{_DOC_REL}/styles" Target="styles.xml"/>'
        f'<Relationship Id="rId{n + 2}" Type="{_DOC_REL}/theme" Target="theme/theme1.xml"/>'
        "</Relationships>",
    )
    z.writestr("xl/styles.xml", _STYLES)
    z.writestr("xl/theme/theme1.xml", theme_xml)
