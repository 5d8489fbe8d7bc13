"""The bench harness: measurement, growth exponents, reports, and the isochrone references."""

from __future__ import annotations

import json
import sys

import geopandas as gpd
import numpy as np
import pytest
import shapely

from pipeline.bench import (
    StageRow,
    _bind,
    _travel_time_edges,
    growth_exponents,
    markdown_table,
    reference_isochrones_csgraph,
    reference_isochrones_osmnx,
    run_bench,
    run_measured,
    speedup_line,
)
from pipeline.config import load_config
from pipeline.graph import to_graph
from pipeline.paths import ProvincePaths


def _row(stage, items, seconds):
    return StageRow("synth", stage, items, seconds + 2.0, seconds, 100.0, ok=True)


def test_run_measured_reports_this_childs_own_peak_rss(tmp_path):
    big = run_measured(
        [sys.executable, "-c", "b = bytearray(300 * 2**20); b[::4096] = b'x' * len(b[::4096])"],
        tmp_path / "big.log",
    )
    small = run_measured([sys.executable, "-c", "pass"], tmp_path / "small.log")
    assert big.returncode == 0
    assert big.peak_rss_mb > 300
    # Not the running maximum over all children (RUSAGE_CHILDREN would say 300+ MB here).
    assert small.peak_rss_mb < 100
    failed = run_measured([sys.executable, "-c", "raise SystemExit(3)"], tmp_path / "f.log")
    assert failed.returncode == 3


def test_growth_exponents_tell_linear_from_quadratic():
    n = [1000, 2000, 4000, 8000]
    rows = [_row("linear", k, 0.001 * k) for k in n]
    rows += [_row("nlogn", k, 1e-4 * k * np.log(k)) for k in n]
    rows += [_row("quadratic", k, 1e-7 * k * k) for k in n]
    exp = growth_exponents(rows)
    assert exp["linear"] == pytest.approx(1.0, abs=0.01)
    assert 1.0 < exp["nlogn"] < 1.2
    assert exp["quadratic"] == pytest.approx(2.0, abs=0.01)


def test_speedup_line_uses_the_largest_graph():
    def iso(ds, method, nodes, seconds):
        return {"kind": "isochrones", "dataset": ds, "method": method, "seconds": seconds,
                "graph_nodes": nodes, "stations": 3, "breaks": 4, "peak_rss_mb": 10.0}  # fmt: skip

    results = [iso("small", "ours", 10, 1.0), iso("small", "osmnx", 10, 2.0),
               iso("big", "ours", 1000, 0.5), iso("big", "osmnx", 1000, 60.0)]  # fmt: skip
    line = speedup_line(results)
    assert line.startswith("isochrone speed-up on big")
    assert "120.0x" in line
    assert "not measured" in speedup_line([])


def test_markdown_table_has_one_line_per_stage():
    table = markdown_table([_row("ingest", 1000, 2.0), _row("network", 1000, 4.0)])
    lines = table.splitlines()
    assert len(lines) == 4
    assert "| 1,000 | 4.0 | 2.0 | 100 | 500 |" in lines[2]


@pytest.fixture(scope="module")
def tiny_bench(tmp_path_factory):
    base = tmp_path_factory.mktemp("bench")
    doc = run_bench(
        scales=[0.001], real=False, baselines=False, out_dir=base / "out",
        root=base / "root", stages=["ingest"], cache_dir=base / "synth",
    )  # fmt: skip
    return base, doc


def test_bench_end_to_end_on_the_tiny_town(tiny_bench):
    base, doc = tiny_bench
    (row,) = doc["stages"]
    assert row["stage"] == "ingest"
    assert row["ok"]
    assert row["items"] > 500  # graph edges + buildings of the tiny town
    assert row["peak_rss_mb"] > 50
    assert row["wall_s"] >= row["stage_s"] > 0
    files = sorted(p.name for p in (base / "out").iterdir() if p.is_file())
    assert [f.rsplit(".", 1)[1] for f in files] == ["json", "md"]
    saved = json.loads((base / "out" / files[0]).read_text())
    assert saved["stages"][0]["items"] == row["items"]
    assert doc["markdown"].splitlines()[-1].startswith("isochrone speed-up")


def test_reference_isochrones_agree_and_nest(tiny_bench):
    base, doc = tiny_bench
    slug = doc["datasets"][0]["slug"]
    root = base / "root"
    nodes, edges = _travel_time_edges(load_config(slug, root=root), ProvincePaths(slug, root))
    stations = nodes.index.to_numpy()[[0, len(nodes) // 2]]
    breaks = [30.0, 60.0, 120.0]
    ours = reference_isochrones_csgraph(nodes, edges, stations, breaks)
    theirs = reference_isochrones_osmnx(to_graph(nodes, edges), stations, breaks)
    # Ours is break-major, the OSMnx loop station-major: reorder before comparing.
    theirs = [theirs[s * len(breaks) + b] for b in range(len(breaks)) for s in range(2)]
    assert np.allclose(shapely.area(ours), shapely.area(theirs))
    a = shapely.area(ours).reshape(len(breaks), 2)
    assert (np.diff(a, axis=0) >= 0).all()  # a longer time never shrinks an isochrone
    assert a[-1].max() > 0


def test_gap_width_functions_get_geometries_and_config_values(tiny_bench):
    base, doc = tiny_bench
    slug = doc["datasets"][0]["slug"]
    config = load_config(slug, root=base / "root")
    seen = {}

    def gap_widths(lines, buildings, *, step_m, search_m, quantile, chunk_samples=10):
        seen.update(lines=lines, buildings=buildings, step_m=step_m, search_m=search_m,
                    quantile=quantile, chunk_samples=chunk_samples)  # fmt: skip
        return len(lines)

    edges = gpd.GeoDataFrame(geometry=[shapely.LineString([(0, 0), (1, 0)])], crs=32648)
    buildings = gpd.GeoDataFrame(geometry=[shapely.box(0, 1, 1, 2)] * 2, crs=32648)
    assert _bind(gap_widths, edges, buildings, config) == 1
    assert seen["step_m"] == config.access.gap_sample_step_m
    assert seen["search_m"] == config.access.gap_search_m
    assert seen["quantile"] == config.access.gap_quantile
    assert seen["chunk_samples"] == 10
    assert len(seen["buildings"]) == 2
    assert isinstance(seen["lines"][0], shapely.LineString)
