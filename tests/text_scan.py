"""Find untranslated codes in what a Vietnamese user reads: maps, workbook, CSV, report, PDF."""

from __future__ import annotations

import html
import json
import re
from typing import TYPE_CHECKING

import openpyxl
import pandas as pd

from pipeline.access import TRUCK_STATUSES
from pipeline.i18n_terms import TERMS
from pipeline.stages.network import DEEP_STATUSES

if TYPE_CHECKING:
    from pathlib import Path

#: snake_case identifiers (``hose_distance_m``, ``with_planned``, ``highway_default``).
SNAKE = re.compile(r"(?<![\w./#-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w./-])")
#: English codes of the artifacts (statuses, kinds, sources) as whole words.
ENGLISH = re.compile(
    r"(?<![\w'-])("
    + "|".join(sorted((re.escape(k) for k in (*TERMS, *TRUCK_STATUSES, *DEEP_STATUSES)
                       if k.isascii()), key=len, reverse=True))
    + r")(?![\w'-])"
)  # fmt: skip
#: File names and links are not codes.
FILES = re.compile(r"\S+\.(?:html|ya?ml|osm|pbf|geojson|csv|xlsx|gpkg|json|pdf|parquet)\S*")
#: English words that are allowed in Vietnamese text: names of standards, tools, tiles.
ALLOWED = {"OpenStreetMap", "ODbL", "OSM", "NFPA", "IFC", "Esri", "World", "Imagery"}


def codes_in(text: str) -> set[str]:
    """Return the untranslated codes found in a user-facing text."""
    text = FILES.sub(" ", html.unescape(text))
    found = set(SNAKE.findall(text))
    found |= {m for m in ENGLISH.findall(text) if m not in ALLOWED}
    return found


def page_text(page: str) -> str:
    """Return the text a reader sees in an HTML page (no styles, scripts, tags or images)."""
    page = re.sub(r"<(style|script)\b.*?</\1>", " ", page, flags=re.DOTALL)
    page = re.sub(r"data:image/[a-z]+;base64,[A-Za-z0-9+/=]+", " ", page)
    return re.sub(r"<[^>]+>", " ", page)


def _layer_text(data: dict) -> list[str]:
    """Return the words of one firegap map layer: tooltip headings, labels, values, popups."""
    if "multi" in data:
        return [w for d in data["multi"] for w in _layer_text(d)]
    tip = data.get("tip") or {}
    words = [tip.get("h") or "", *(row[0] for row in tip.get("rows", []))]
    for col, values in data.get("v", {}).items():
        if col != "name":  # street and place names are names, not codes
            words += values
    words += [p for p in data.get("pop") or [] if p]
    return words


def map_text(page: str) -> str:
    """Return a Leaflet map's user text: title, legend, layer names, tooltips and popups."""
    parts = re.findall(r'<div class="firegap-(?:legend|title)">(.*?)</div>', page, re.DOTALL)
    parts += [json.loads(raw) for raw in re.findall(r'innerHTML = ("(?:[^"\\]|\\.)*")', page)]
    decoder = json.JSONDecoder()
    for m in re.finditer(r"L\.firegapLayer\(", page):
        data, _ = decoder.raw_decode(page, m.end())
        parts += _layer_text(data)
    names = re.findall(r'"name":\s*("(?:[^"\\]|\\.)*")', page)  # layer control names
    names += re.findall(r'name: ("(?:[^"\\]|\\.)*")', page)  # firegap layers
    parts += [json.loads(n) for n in names]
    return re.sub(r"<[^>]+>", " ", " ".join(parts))


def workbook_text(path: Path) -> str:
    """Return every sheet name and every text cell of a workbook."""
    wb = openpyxl.load_workbook(path, read_only=True)
    parts = list(wb.sheetnames)
    for ws in wb.worksheets:
        for row in ws.iter_rows(values_only=True):
            parts += [str(v) for v in row if isinstance(v, str)]
    wb.close()
    return "\n".join(parts)


def csv_text(path: Path) -> str:
    """Return a CSV's header and text cells."""
    df = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    return "\n".join([*df.columns, *df.to_numpy().ravel().tolist()])


def pdf_text(path: Path) -> str:
    """Return the text of every page of a PDF."""
    from pypdf import PdfReader

    return "\n".join(p.extract_text() for p in PdfReader(path).pages)


def scan_outputs(out: Path) -> dict[str, set[str]]:
    """Return the untranslated codes of every user-facing output of a report run, by file."""
    texts = {"report.html": page_text((out / "report.html").read_text("utf-8"))}
    texts["wards/index.html"] = page_text((out / "wards" / "index.html").read_text("utf-8"))
    for p in [out / "map.html", *sorted((out / "wards").glob("*.html"))]:
        if p.name != "index.html":
            texts[str(p.relative_to(out))] = map_text(p.read_text("utf-8"))
    texts["shortlists.xlsx"] = workbook_text(out / "shortlists.xlsx")
    for p in sorted((out / "shortlists").glob("*.csv")):
        texts[str(p.relative_to(out))] = csv_text(p)
    if (out / "report.pdf").exists():
        texts["report.pdf"] = pdf_text(out / "report.pdf")
    found = {name: codes_in(text) for name, text in texts.items()}
    return {name: codes for name, codes in found.items() if codes}
