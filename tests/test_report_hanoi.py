"""The report on the real Hà Nội sample: PDF, no raw codes, the 105°00' zone, lists that help."""

from __future__ import annotations

import shutil

import openpyxl
import pytest
import yaml

from pipeline.cli import main
from pipeline.i18n import column_label, t
from pipeline.paths import PROJECT_ROOT
from tests.conftest import SHARED_DATA
from tests.text_scan import scan_outputs

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]


@pytest.fixture(scope="module")
def hanoi(tmp_path_factory):
    """``make analyze PROVINCE=ha_noi`` in a copy of the project (shared data by full path)."""
    root = tmp_path_factory.mktemp("hanoi")
    shutil.copytree(PROJECT_ROOT / "data", root / "data")
    cfg_path = root / "data" / "provinces" / "ha_noi.yaml"
    cfg = yaml.safe_load(cfg_path.read_text("utf-8"))
    cfg["osm"]["file"] = str(SHARED_DATA / "hanoi_osm_sample" / "map.osm")
    cfg["boundary"]["file"] = str(
        SHARED_DATA / "vn_provinces_2025" / "diaphantinhvn_merged.geojson"
    )
    cfg_path.write_text(yaml.safe_dump(cfg, allow_unicode=True), "utf-8")
    assert main(["analyze", "--province", "ha_noi", "--root", str(root), "--no-progress"]) == 0
    return root / "outputs" / "ha_noi"


def test_pdf_zone_and_no_codes(hanoi):
    from pypdf import PdfReader

    if not (hanoi / "report.pdf").exists():
        pytest.skip("WeasyPrint or Pango is not installed here: report.pdf was skipped")
    reader = PdfReader(hanoi / "report.pdf")
    assert len(reader.pages) >= 3
    assert "Dữ liệu OSM đến ngày 2023-12-20" in reader.pages[0].extract_text()  # the data's date
    assert scan_outputs(hanoi) == {}
    wb = openpyxl.load_workbook(hanoi / "shortlists.xlsx", read_only=True)
    header = [c.value for c in next(wb[t("list_alleys", "vi")].iter_rows(max_row=1))]
    assert column_label("vn2000_x", "vi", zone="VN-2000 TM-3 105°00\u2032") in header


def test_every_list_row_benefits_someone(hanoi):
    wb = openpyxl.load_workbook(hanoi / "shortlists.xlsx", read_only=True)
    checks = {"list_alleys_by_ward": "people_behind", "list_fire_points_by_ward": "people",
              "list_hydrants_by_ward": "people"}  # fmt: skip
    for sheet, col in checks.items():
        rows = list(wb[t(sheet, "vi")].iter_rows(values_only=True))
        idx = rows[0].index(column_label(col, "vi"))
        assert len(rows) > 1, sheet
        assert all(r[idx] > 0 for r in rows[1:]), sheet


@pytest.mark.browser
def test_a_workbook_link_lands_on_its_alley_at_street_zoom(hanoi, tmp_path):
    """Must show: the first alley to widen, opened from the workbook, is drawn and ringed."""
    from pipeline.browser import chromium_paths
    from tests.browser import open_maps
    from tests.test_report import LANDING_PROBE

    if chromium_paths() is None:
        pytest.skip(
            "chromium / chromedriver not installed (apt-get install chromium chromium-driver)"
        )
    wb = openpyxl.load_workbook(hanoi / "shortlists.xlsx", read_only=True)
    rows = list(wb[t("list_alleys", "vi")].iter_rows(max_row=2, values_only=True))
    head, first = rows[0], rows[1]
    link = first[head.index(column_label("map_link", "vi"))]
    row_id = first[head.index(column_label("id", "vi"))]
    file, fragment = link.split("#")
    zoom, lat, lon, link_id = fragment.split("/")
    assert link_id == row_id == "AL-001"
    (ward,) = open_maps(
        [(hanoi / file, tmp_path / "ward.png", "#" + fragment)], wait_s=1.0, probe=LANDING_PROBE
    )
    assert ward.js_errors == []
    assert ward.center_zoom == pytest.approx((float(lat), float(lon), float(zoom)), abs=1e-6)
    assert ward.center_zoom[2] == 18  # street zoom
    found = ward.probe
    assert found["id"] == "AL-001"
    assert found["layer"] == t("layer_alleys", "vi")  # Ngõ Thịnh Hào 1, drawn as its alley run
    assert found["onMap"]
    assert found["near_m"] < 1.0  # the link's point lies on the ringed alley
