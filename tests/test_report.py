"""Stage report on the generated town: ward figures, shortlists read back, report, browser."""

from __future__ import annotations

import json
import shutil

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest

from pipeline import cli, contracts
from pipeline._errors import InputDataError, MissingInputError
from pipeline.config import SourceFile, load_config
from pipeline.i18n import column_label, t
from pipeline.paths import PROJECT_ROOT, ProvincePaths
from pipeline.report_inputs import INPUTS, read_input
from pipeline.report_pages import _sources, network_notes, osm_data_date
from pipeline.stage import _outputs_exist, run_pipeline
from tests.browser import chromium_paths, open_maps
from tests.text_scan import codes_in, scan_outputs

SCREENS = PROJECT_ROOT.parent / "prompts" / "screens"


@pytest.fixture(scope="module")
def town_run(tmp_path_factory):
    """Run every stage on the town, the report once (Vietnamese)."""
    from tests.conftest import town_province

    config, paths = town_province(
        tmp_path_factory.mktemp("report"),
        wards=True,
        # The 4 m rule: the untagged "Ngõ 5" (service=alley, at most 3.5 m) is not passable.
        access={"use_urban_renovated_width": True},
    )
    result = run_pipeline("report", config, paths)
    return config, paths, result["report"]["summary"]


def test_outputs_and_summary(town_run):
    _, paths, s = town_run
    out = paths.outputs
    for rel in ("map.html", "report.html", "shortlists.xlsx", "shortlists.gpkg",
                "shortlists/alleys_to_widen.csv", "wards/index.html", "wards/W1.html",
                "wards/W2.html"):  # fmt: skip
        assert (out / rel).is_file(), rel
    assert not list(out.rglob("*.tmp"))
    assert s["wards"] == 2
    assert s["buildings"] == 4
    assert s["street_km"] == pytest.approx(0.53)  # undirected: 100+100+100+80+50+100 m
    assert s["truck_km"] == pytest.approx(0.40)
    deep = gpd.read_parquet(out / "network" / "deep_buildings.parquet")
    assert s["deep_buildings"] == int(deep["deep"].sum())
    bt = pd.read_parquet(out / "coverage" / "building_times.parquet")
    ts = bt["time_s" if "time_s" in bt else "time_s_existing"]
    assert s["unreached"] == int((ts.isna() | (ts > 600)).sum())
    assert s["leaflet_inlined"] is (s["map_mb"] > 0.15)
    assert s["map_mb"] < 25


def _sheet_rows(path, key, lang="vi"):
    wb = openpyxl.load_workbook(path)
    ws = wb[t(key, lang)]
    header = [c.value for c in ws[1]]
    return [dict(zip(header, (c.value for c in r), strict=True)) for r in ws.iter_rows(min_row=2)]


def test_ward_figures_and_people_at_risk_by_hand(town_run):
    config, paths, _ = town_run
    rows = _sheet_rows(paths.artifact("report", "shortlists_xlsx"), "list_wards")
    by_code = {r[column_label("ward_code", "vi")]: r for r in rows}
    # Independently of the report: buildings' wards from the coverage stage's own column,
    # flags from each stage's artifact, people = floor area spread over W1's 12,000 people
    # (W2 has no population: floor area / 26 m² per person).
    out = paths.outputs
    bt = pd.read_parquet(out / "coverage" / "building_times.parquet")
    ts = bt["time_s" if "time_s" in bt else "time_s_existing"].replace(np.inf, np.nan)
    deep = gpd.read_parquet(out / "network" / "deep_buildings.parquet")
    water = pd.read_parquet(out / "water" / "building_water.parquet")
    if "building_id" in water.columns:
        water = water.set_index("building_id")
    if "building_id" in bt.columns:
        bt = bt.set_index("building_id")
        ts.index = bt.index
    fa = gpd.read_parquet(out / "ingest" / "buildings.parquet")["floor_area_m2"]
    ward = bt["ward_id"].reindex(fa.index)
    people = pd.Series(
        np.where(ward == "W1", fa * 12000 / fa[ward == "W1"].sum(), fa / 26.0), index=fa.index
    )
    late = (ts.isna() | (ts > 600)).reindex(fa.index)
    dry = (~water["covered"].astype(bool)).reindex(fa.index)
    deep_flag = deep["deep"].astype(bool).reindex(fa.index, fill_value=False)
    for wid in ("W1", "W2"):
        mine = ward == wid
        row = by_code[wid]
        assert row[column_label("people_beyond_hose", "vi")] == pytest.approx(
            round(people[mine & deep_flag].sum()), abs=1
        )
        assert row[column_label("people_without_water", "vi")] == pytest.approx(
            round(people[mine & dry].sum()), abs=1
        )
        assert row[column_label("people_beyond_time", "vi")] == pytest.approx(
            round(people[mine & late].sum()), abs=1
        )
        at_risk = people[mine & (deep_flag | dry | late)].sum()
        assert row[column_label("people_at_risk", "vi")] == pytest.approx(round(at_risk), abs=1)
    risks = [r[column_label("people_at_risk", "vi")] for r in rows]
    assert risks == sorted(risks, reverse=True)  # ranked by people at risk
    assert [r[column_label("rank", "vi")] for r in rows] == [1, 2]
    w1 = by_code["W1"]
    assert w1[column_label("people", "vi")] == pytest.approx(12000, abs=1)
    assert w1[column_label("street_km", "vi")] == pytest.approx(0.45)
    assert w1[column_label("truck_share", "vi")] == pytest.approx(100 * 0.4 / 0.45, abs=0.1)
    assert by_code["W2"][column_label("truck_share", "vi")] == 0
    assert w1[column_label("buildings", "vi")] == 3
    assert w1[column_label("population", "vi")] == 12000
    assert w1[column_label("ward", "vi")] == "Phường Kinh Bắc"
    assert w1[column_label("ward_type", "vi")] == "phường"
    assert config.report.floor_area_per_person_m2.value == 26


def test_xlsx_sheets_columns_and_first_rows_match_stage_outputs(town_run):
    _, paths, _ = town_run
    xlsx = paths.artifact("report", "shortlists_xlsx")
    wb = openpyxl.load_workbook(xlsx)
    keys = ("list_alleys", "list_field_check", "list_fire_points", "list_hydrants",
            "list_stations")  # fmt: skip
    expected = [x for k in keys for x in (t(k, "vi"), t(f"{k}_by_ward", "vi"))]
    assert wb.sheetnames == [*expected, t("list_wards", "vi"), t("list_thresholds", "vi")]
    rows = _sheet_rows(xlsx, "list_alleys")
    header = list(rows[0])
    for col in ("id", "rank", "ward_rank", "ward", "ward_code", "name", "street",
                "house_number", "lat", "lon", "map_link", "reason", "min_width_m",
                "truck_min_width_m", "width_shortfall_m", "length_m", "land_m2",
                "n_buildings_behind", "n_deep_behind", "floor_area_behind_m2",
                "people_behind"):  # fmt: skip
        assert column_label(col, "vi") in header, col
    assert "X - hướng Bắc (VN-2000 UTM 48N, m)" in header  # the town names no 3° zone
    alleys = gpd.read_parquet(paths.outputs / "network" / "alleys.parquet")
    widen = alleys[alleys["to_widen"]]
    assert len(rows) == len(widen)
    first = rows[0]
    people = widen["floor_area_behind_m2"]  # one ward's people are proportional to floor area
    top = widen.loc[people.idxmax()]
    assert first[column_label("id", "vi")] == "AL-001"
    assert first[column_label("name", "vi")] == top["name"]
    assert first[column_label("length_m", "vi")] == pytest.approx(top["length_m"], abs=0.005)
    assert first[column_label("min_width_m", "vi")] == pytest.approx(top["min_width_m"], abs=0.005)
    short = first[column_label("width_shortfall_m", "vi")]
    assert short == pytest.approx(top["truck_min_width_m"] - top["min_width_m"], abs=0.005)
    assert first[column_label("land_m2", "vi")] == pytest.approx(
        short * first[column_label("length_m", "vi")], abs=0.5
    )
    assert first[column_label("ward", "vi")] == "Xã Hòa Long"
    assert first[column_label("ward_code", "vi")] == "W2"
    assert first[column_label("map_link", "vi")].startswith("wards/W2.html#18/")
    assert first[column_label("map_link", "vi")].endswith("/AL-001")
    assert first[column_label("reason", "vi")].startswith("Chỗ hẹp nhất 2,5 m")
    assert all(r[column_label("people_behind", "vi")] > 0 for r in rows)  # nobody: no row
    hyd = gpd.read_parquet(paths.outputs / "water" / "hydrant_candidates.parquet")
    hy_rows = _sheet_rows(xlsx, "list_hydrants")
    assert len(hy_rows) == min(int((hyd["added_buildings"] > 0).sum()), 50)
    assert all(r[column_label("added_buildings", "vi")] > 0 for r in hy_rows)
    thr = {r[column_label("key", "vi")]: r for r in _sheet_rows(xlsx, "list_thresholds")}
    row = thr["Bề rộng thông thủy tối thiểu của đường cho xe chữa cháy"]
    assert "mục 6.2.1.1" in row[column_label("source", "vi")]
    assert thr["Thời gian tiếp cận mục tiêu"][column_label("unit", "vi")] == "phút"


def test_report_and_index_pages(town_run):
    _, paths, summary = town_run
    text = paths.artifact("report", "report").read_text("utf-8")
    for key in ("sec_summary", "sec_wards", "sec_charts", "sec_lists", "sec_ward_pages",
                "sec_scenarios", "sec_thresholds", "sec_method", "sec_sources",
                "sec_limits"):  # fmt: skip
        assert t(key, "vi") in text, key
    # 3 charts, the province map and one map per ward.
    assert text.count("data:image/png;base64,") == 3 + 1 + 2
    assert "QCVN 06:2022/BXD mục 6.2.1.1" in text
    assert "town.osm.pbf" in text
    assert "giây" not in text  # times in minutes
    for ward in ("Phường Kinh Bắc", "Xã Hòa Long"):
        assert text.count(ward) >= 2  # in the ranking and as its own page
    assert "AL-001" in text
    rows = _sheet_rows(paths.artifact("report", "shortlists_xlsx"), "list_wards")
    first, second = (r[column_label("ward_code", "vi")] for r in rows)
    index = (paths.artifact("report", "wards_dir") / "index.html").read_text("utf-8")
    assert index.index(f"{first}.html") < index.index(f"{second}.html")  # riskiest first
    assert summary["people_at_risk"] == pytest.approx(
        sum(r[column_label("people_at_risk", "vi")] for r in rows), abs=2
    )


def test_report_pdf_is_a4_with_vietnamese_text(town_run):
    _, paths, summary = town_run
    pdf = paths.artifact("report", "report_pdf")
    if summary["pdf_pages"] is None:
        pytest.skip("WeasyPrint or Pango is not installed here: report.pdf was skipped")
    from pypdf import PdfReader

    reader = PdfReader(pdf)
    assert len(reader.pages) == summary["pdf_pages"] >= 3
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)  # A4 in points
    text = "\n".join(p.extract_text() for p in reader.pages)
    for words in ("Phường Kinh Bắc", "Ngõ cần mở rộng", "Ngưỡng và căn cứ pháp lý",
                  "Thời gian tiếp cận mục tiêu", "phút"):  # fmt: skip
        assert words in text, words


def test_a_missing_required_column_names_the_file(town_run, tmp_path):
    config, paths, _ = town_run
    copy = ProvincePaths("town", tmp_path / "p")
    shutil.copytree(paths.outputs, copy.outputs)
    iso = copy.outputs / "coverage" / "isochrones.parquet"
    gdf = gpd.read_parquet(iso)
    stamp = dict(gdf.attrs)
    broken = gdf.drop(columns="break_min")
    broken.attrs = stamp  # as the coverage stage would have written it, one column short
    broken.to_parquet(iso)
    with pytest.raises(InputDataError, match=r"isochrones\.parquet: column\(s\) break_min missing"):
        read_input(copy, "isochrones", config.crs)
    moved = gdf.to_crs(4326)
    moved.attrs = stamp
    moved.to_parquet(iso)
    with pytest.raises(InputDataError, match=r"isochrones\.parquet: CRS EPSG:4326 is not"):
        read_input(copy, "isochrones", config.crs)
    (copy.outputs / "coverage" / "scenarios.parquet").unlink()
    with pytest.raises(MissingInputError, match=r"coverage/scenarios\.parquet: not found"):
        read_input(copy, "scenarios", config.crs)


def test_input_registry_reads_through_the_contracts():
    assert {s.art.stage for s in INPUTS.values()} <= {"ingest", "network", "water", "coverage"}
    for spec in INPUTS.values():
        assert spec.art is contracts.TABLES[spec.art.stage, spec.art.name]
        known = (*spec.art.columns, *spec.art.optional, *spec.art.index)
        assert set(spec.columns or ()) <= set(known), spec.art.label
        assert set(spec.rename) <= set(spec.columns or ()), spec.art.label


#: Read in the page after a map link opened it: the view, the ringed feature, the scale bar.
LANDING_PROBE = """
const h = map._firegap && map._firegap.highlighted;
const rect = s => { const e = document.querySelector(s); if (!e) { return null; }
  const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
let near = null;
if (h) {
  const c = map.getCenter();
  const d = h.drawn[0];
  const pts = d.getLatLngs ? d.getLatLngs().flat(3) : [d.getLatLng()];
  near = Math.min(...pts.map(p => map.distance(p, c)));
  for (let i = 1; i < pts.length; i++) {  // distance to each segment, sampled
    for (let k = 1; k < 10; k++) {
      const p = L.latLng(pts[i - 1].lat + (pts[i].lat - pts[i - 1].lat) * k / 10,
                         pts[i - 1].lng + (pts[i].lng - pts[i - 1].lng) * k / 10);
      near = Math.min(near, map.distance(p, c));
    }
  }
}
return {id: h ? h.id : null, layer: h ? h.layer : null, onMap: h ? map.hasLayer(h.drawn[0]) : false,
        near_m: near, scale: rect(".leaflet-control-scale-line"), legend: rect(".firegap-legend"),
        scaleText: (document.querySelector(".leaflet-control-scale-line") || {}).textContent,
        width: window.innerWidth, height: window.innerHeight};
"""


def _disjoint(a, b):
    return a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]


@pytest.mark.browser
def test_map_in_headless_chromium(town_run, tmp_path):
    if chromium_paths() is None:
        pytest.skip(
            "chromium / chromedriver not installed (apt-get install chromium chromium-driver)"
        )
    _, paths, summary = town_run
    if not summary["leaflet_inlined"]:
        pytest.skip("Leaflet not vendored (run make vendor); the map would need a CDN")
    shot = tmp_path / "town_map.png"
    # The first alley's link from the XLSX: its ward map at street zoom on the alley, with the
    # row id (``#18/<lat>/<lon>/<row id>``) ringing the alley.
    wb = openpyxl.load_workbook(paths.artifact("report", "shortlists_xlsx"))
    ws = wb[t("list_alleys", "vi")]
    head = [c.value for c in ws[1]]
    link = ws.cell(row=2, column=head.index(column_label("map_link", "vi")) + 1).value
    row_id = ws.cell(row=2, column=head.index(column_label("id", "vi")) + 1).value
    file, fragment = link.split("#")
    assert fragment.split("/")[3] == row_id == "AL-001"
    ward_shot = tmp_path / "w.png"
    pages = [
        (paths.artifact("report", "map"), shot),
        (paths.outputs / file, ward_shot, "#" + fragment),
    ]
    page, ward = open_maps(
        pages,
        wait_s=1.0,  # past a zoom animation (0.25 s), which once undid the jump
        probe=LANDING_PROBE,
    )  # fmt: skip
    assert page.leaflet_loaded
    assert page.js_errors == []
    expected = [t(k, "vi") for k in ("layer_wards", "layer_isochrones", "layer_dense_unreached",
                "layer_water_reach", "layer_alleys", "layer_streets", "layer_deep_buildings",
                "layer_water", "layer_stations", "layer_shortlist")]  # fmt: skip
    assert page.overlays == expected
    assert page.base_layers == [t("base_osm", "vi"), t("base_satellite", "vi")]
    assert t("class_hose_only", "vi") in page.legend_text
    assert shot.stat().st_size > 10_000
    # the metric scale bar is on screen and not under the legend
    probe = page.probe
    assert probe["scale"] is not None
    assert probe["scaleText"].endswith(("m", "km"))
    assert _disjoint(probe["scale"], probe["legend"])
    assert probe["scale"][0] >= 0
    assert probe["scale"][3] <= probe["height"]
    assert ward.js_errors == []
    assert ward.overlays == expected
    zoom, lat, lon, _ = fragment.split("/")
    assert ward.center_zoom == pytest.approx((float(lat), float(lon), float(zoom)), abs=1e-6)
    assert ward.center_zoom[2] == 18  # street zoom
    found = ward.probe
    assert found["id"] == row_id
    assert found["layer"] == t("layer_alleys", "vi")  # the alley run itself, by its alley_id
    assert found["onMap"]
    assert found["near_m"] < 1.0  # the ringed alley passes through the link's point
    # and it is drawn: the ring's colour around the centre of the screenshot
    from PIL import Image  # matplotlib's dependency

    img = np.asarray(Image.open(ward_shot).convert("RGB")).astype(int)
    cy, cx = img.shape[0] // 2, img.shape[1] // 2
    box = img[cy - 40 : cy + 40, cx - 40 : cx + 40]
    ring = (np.abs(box - np.array([0xFA, 0xB0, 0x05])).sum(axis=2) < 60).sum()
    assert ring > 50


def test_cli_lang_en_gives_english_outputs(town_run, tmp_path):
    _, paths, _ = town_run
    root = tmp_path / "copy"
    shutil.copytree(paths.root, root)
    assert cli.main(["report", "--province", "town", "--root", str(root), "--lang", "en",
                     "--no-progress"]) == 0  # fmt: skip
    copy = ProvincePaths("town", root)
    wb = openpyxl.load_workbook(copy.artifact("report", "shortlists_xlsx"))
    assert wb.sheetnames[0] == "Alleys to widen"
    assert '<html lang="en">' in copy.artifact("report", "report").read_text("utf-8")
    assert "Fire risk map" in copy.artifact("report", "map").read_text("utf-8")
    assert json.dumps("Streets by width") in copy.artifact("report", "map").read_text("utf-8")


def test_scanner_finds_codes_and_spares_files_and_words():
    assert codes_in("Khoảng cách: hose_distance_m 3,0") == {"hose_distance_m"}
    assert codes_in("Trạng thái: existing; nguồn highway_default") == {
        "existing",
        "highway_default",
    }
    assert codes_in("Kịch bản with_planned") == {"with_planned"}
    assert codes_in("wards/ha_noi.html#18/21.0/105.8/AL-001 và ha_noi.yaml") == set()
    assert codes_in("Dữ liệu © OpenStreetMap (ODbL); NFPA 1710; hiện có") == set()


def test_no_untranslated_codes_in_vietnamese_outputs(town_run):
    _, paths, _ = town_run
    assert scan_outputs(paths.outputs) == {}


def test_sources_show_the_osm_data_date_and_rows_used(town_run, tmp_path):
    config, paths, _ = town_run
    copy = ProvincePaths("town", tmp_path)
    shutil.copytree(paths.outputs, copy.outputs)
    summary = copy.artifact("ingest", "ingest_summary")
    stations = tmp_path / "doi_pccc.csv"
    stations.write_text("name,status,lat,lon\n", encoding="utf-8")
    data = json.loads(summary.read_text("utf-8"))  # the ingest stage's, its stamp kept
    data.update(
        osm_timestamp="2023-12-20T02:01:41Z",
        authority_files=[{"file": str(stations), "what": "stations", "rows": 5, "used": 3,
                          "skipped": 2}],
    )  # fmt: skip
    summary.write_text(json.dumps(data), encoding="utf-8")
    cfg = config.model_copy(
        update={
            "stations": config.stations.model_copy(
                update={"files": [SourceFile(path=str(stations))]}
            )
        }
    )
    rows = _sources(cfg, copy, "vi", osm_data_date(copy))
    assert rows[0][2] == "Dữ liệu OSM đến ngày 2023-12-20"  # the data's date, not the file's
    (st,) = [r for r in rows if r[1] == "doi_pccc.csv"]
    assert st[0] == "Danh sách đội PCCC"
    assert st[2].endswith("dùng 3/5 dòng, bỏ 2")


def test_station_note_rebuilt_in_words():
    net = {"station_note": "The 2 existing station(s) reach only 12%",
           "truck_km_reachable_share": 0.1234}  # fmt: skip
    st = pd.DataFrame({"status": ["existing", "existing", "planned"]})
    assert network_notes(net, st, "vi") == [
        (
            "2 đội PCCC hiện có chỉ tiếp cận được 12 % mạng đường xe chữa cháy: hãy kiểm tra "
            "vị trí các đội và các đường quanh đó."
        )
    ]
    assert network_notes(net, st.iloc[2:], "en")[0].startswith("No existing fire station is known")
    assert network_notes({"station_note": ""}, st, "vi") == []


def test_without_the_pdf_engine_the_run_warns_and_writes_the_rest(town_run, tmp_path, monkeypatch):
    from pipeline.stages import report

    _, paths, _ = town_run
    root = tmp_path / "copy"
    shutil.copytree(paths.root, root)
    copy = ProvincePaths("town", root)
    monkeypatch.setattr(report.PdfJob, "problem", lambda _: "WeasyPrint is not installed")
    assert cli.main(["report", "--province", "town", "--root", str(root), "--force",
                     "--no-progress"]) == 0  # fmt: skip
    log = (copy.outputs / "firegap.log").read_text("utf-8")
    assert (
        "WARNING pipeline.stages.report: report: report.pdf not written: WeasyPrint is not" in log
    )
    assert not copy.artifact("report", "report_pdf").exists()  # no stale PDF either
    assert copy.artifact("report", "report").is_file()
    manifest = json.loads(copy.manifest.read_text("utf-8"))
    assert manifest["report"]["summary"]["pdf_pages"] is None
    # Not cached as done: once the engine is there, the next run writes the PDF.
    assert not _outputs_exist(copy, "report", manifest["report"])


def test_every_ward_figure_and_threshold_is_the_stages_own(town_run):
    """The report, the workbook, the ward index and the legend show the stages' figures."""
    from tests.consistency import check_report, legend_truck_width, stage_truck_widths

    _, paths, _ = town_run
    out = paths.outputs
    assert check_report(out) == []
    # The town turns the urban 4 m rule on (for every ward): the legend says 4 m, not 3.5 m.
    net = json.loads((out / "network" / "summary.json").read_text("utf-8"))
    assert net["truck_min_width_m"] == 4.0
    assert legend_truck_width(out) == stage_truck_widths(out) == "4"


@pytest.mark.parametrize("broken", ["missing_column", "stale"])
def test_the_report_refuses_a_stage_ward_table_it_cannot_trust(town_run, tmp_path, broken):
    """No silent default: a ward table without its figure, or from an older run, is an error."""
    from pipeline._errors import StaleInputError
    from pipeline.stage import run_stage

    _, paths, _ = town_run
    root = tmp_path / "copy"
    shutil.copytree(paths.root, root)
    copy = ProvincePaths("town", root)
    config = load_config("town", root=root)
    path = copy.outputs / "network" / "wards.parquet"
    stamp = contracts.table_stamp(path)
    frame = gpd.read_parquet(path)
    if broken == "missing_column":
        frame = frame.drop(columns="truck_share")
        error, match = InputDataError, r"network/wards\.parquet: column\(s\) truck_share missing"
    else:
        stamp = {**stamp, "key": "0ld" * 20}
        error, match = StaleInputError, r"network/wards\.parquet: stale: written by a network run"
    frame.attrs = {contracts.STAMP: stamp}
    frame.to_parquet(path)
    with pytest.raises(error, match=match) as raised:
        run_stage("report", config, copy, force=True)
    assert str(raised.value).endswith("(make network PROVINCE=town FORCE=1)")


def test_the_per_building_rows_kept_after_the_ward_figures_draw_and_print_the_same():
    """Deep buildings kept: every drawn and every beyond-reach one, in order; times: time_s."""
    from pipeline.report_inputs import deep_only, drawn_deep, shown_rows

    status = ["deep", "reached", "uncertain", "reached", "deep", "none", "reached"]
    deep = gpd.GeoDataFrame(
        {"deep": [True, False, False, True, True, False, np.nan], "deep_status": status,
         "hose_distance_m": np.arange(7.0)},
        geometry=gpd.points_from_xy(np.arange(7), np.zeros(7)), crs="EPSG:32648",
    )  # fmt: skip
    times = pd.DataFrame({"building_id": range(7), "time_s": np.arange(7.0), "ward_id": "1"})
    data = {"deep_buildings": deep, "building_times": times}
    shown_rows(data)
    kept = data["deep_buildings"]
    pd.testing.assert_frame_equal(drawn_deep(kept), drawn_deep(deep))
    pd.testing.assert_frame_equal(deep_only(kept), deep_only(deep))
    assert len(kept) < len(deep)  # the others are gone
    assert list(data["building_times"].columns) == ["time_s"]
