"""The bench harness: measurement, growth exponents, reports, and the isochrone references."""

from __future__ import annotations

import json
import sys

import geopandas as gpd
import numpy as np
import pytest
import shapely

from pipeline.config import load_config
from pipeline.graph import read_graph_layers
from pipeline.isochrones import edge_travel_time_s, read_drive_graph
from pipeline.paths import ProvincePaths
from pipeline.stage import run_stage
from tools.bench import (
    GROWTH_DIVISOR,
    SECTIONS,
    Section,
    StageRow,
    _bind,
    companion_scales,
    growth_exponents,
    markdown_table,
    run_bench,
    run_measured,
    speedup_line,
    worker_isochrones,
)


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
    assert 0 < big.cpu_s < big.wall_s + 1
    # Not the running maximum over all children (RUSAGE_CHILDREN would say 300+ MB here).
    assert small.peak_rss_mb < 100
    failed = run_measured([sys.executable, "-c", "raise SystemExit(3)"], tmp_path / "f.log")
    assert failed.returncode == 3


_TOUCH = "b = bytearray(200 * 2**20); b[::4096] = b'x' * len(b[::4096])"


def test_run_measured_adds_up_processes_running_side_by_side(tmp_path):
    # The parent and a child each hold 200 MB for a second at the same time: one process's
    # ru_maxrss would say about 200 MB, the machine held 400.
    child = f"import time; {_TOUCH}; time.sleep(1.0)"
    script = (
        "import subprocess, sys, time\n"
        f"p = subprocess.Popen([sys.executable, '-c', {child!r}])\n"
        f"{_TOUCH}\n"
        "time.sleep(1.0)\n"
        "p.wait()\n"
    )
    both = run_measured([sys.executable, "-c", script], tmp_path / "both.log")
    assert both.returncode == 0
    assert both.peak_rss_mb > 380


def test_run_measured_counts_pages_a_forked_child_shares_once(tmp_path):
    # The parent touches 300 MB, then forks a child that holds the same pages for a second:
    # the machine holds about 300 MB, not the 600 MB that adding two RSS figures would say.
    script = (
        "import os, time\n"
        "b = bytearray(300 * 2**20); b[::4096] = b'x' * len(b[::4096])\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    time.sleep(1.0)\n"
        "    os._exit(0)\n"
        "os.waitpid(pid, 0)\n"
    )
    shared = run_measured([sys.executable, "-c", script], tmp_path / "fork.log")
    assert shared.returncode == 0
    assert 280 < shared.peak_rss_mb < 450


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
    def iso(ds, method, nodes, seconds, prep):
        return {"kind": "isochrones", "dataset": ds, "method": method, "seconds": seconds,
                "prep_s": prep, "total_s": prep + seconds, "graph_nodes": nodes, "stations": 3,
                "breaks": 4, "peak_rss_mb": 10.0}  # fmt: skip

    results = [iso("small", "ours", 10, 1.0, 0.1), iso("small", "osmnx", 10, 2.0, 0.1),
               iso("big", "ours", 1000, 0.5, 1.0),
               iso("big", "osmnx", 1000, 60.0, 15.0)]  # fmt: skip
    line = speedup_line(results)
    assert line.startswith("isochrone speed-up on big")
    assert "end to end: 50.0x" in line  # (15 + 60) / (1 + 0.5)
    assert "isochrones alone 120.0x" in line
    assert "not measured" in speedup_line([])


def test_markdown_table_has_one_line_per_stage():
    table = markdown_table([_row("ingest", 1000, 2.0), _row("network", 1000, 4.0)])
    lines = table.splitlines()
    assert len(lines) == 4
    assert "| 1,000 | 4.0 | 2.0 | nan | 100 | 500 |" in lines[2]


@pytest.fixture(scope="module")
def tiny_bench(tmp_path_factory):
    base = tmp_path_factory.mktemp("bench")
    doc = run_bench(
        scales=[0.002], real=False, baselines=False, out_dir=base / "out",
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
    closing = doc["markdown"].split("Ratios:\n\n")[1].splitlines()
    assert closing[0].startswith("- whole analysis on synth x0.002")
    assert closing[-1].startswith("- OSM read on synth x0.002")
    reader = doc["sections"]["reader"]["synth x0.002"]
    assert reader["objects_per_s"] > 0
    assert reader["objects_per_cpu_s"] > 0
    assert reader["objects_in_file"] > reader["objects_kept"] > 0


def test_isochrone_workers_time_the_preparation_on_the_same_graph(tiny_bench):
    base, doc = tiny_bench
    slug = doc["datasets"][0]["slug"]
    root = base / "root"
    config, paths = load_config(slug, root=root), ProvincePaths(slug, root)
    for stage in ("network", "coverage"):  # ours reads the coverage stage's drive_graph
        run_stage(stage, config, paths)
    ours = worker_isochrones(slug, root, "ours")
    theirs = worker_isochrones(slug, root, "osmnx")
    for r in (ours, theirs):
        assert r["prep_s"] > 0
        assert r["total_s"] == pytest.approx(r["prep_s"] + r["seconds"], abs=2e-3)
        assert (
            r["polygons"]
            == r["breaks"]
            == len(load_config(slug, root=root).response.isochrone_breaks_min)
        )
    # The same station nodes; ours also holds the nodes the stage split in at the stations.
    assert ours["stations"] == theirs["stations"] > 0
    assert ours["graph_nodes"] >= theirs["graph_nodes"]


def test_drive_graph_times_equal_the_stage_formula(tiny_bench):
    base, doc = tiny_bench
    slug = doc["datasets"][0]["slug"]
    root = base / "root"
    config, paths = load_config(slug, root=root), ProvincePaths(slug, root)
    resp = config.response
    speeds = resp.speed_scenarios_kph[resp.speed_scenario]
    g = read_drive_graph(paths.artifact("ingest", "graph_nodes"),
                         paths.artifact("ingest", "graph_edges"), speeds)  # fmt: skip
    nodes, edges = read_graph_layers(
        paths.artifact("ingest", "graph_nodes"), paths.artifact("ingest", "graph_edges")
    )
    expected = edge_travel_time_s(edges, speeds).to_numpy()
    against_oneway = edges["oneway"].to_numpy(dtype=bool) & edges["reversed"].to_numpy(dtype=bool)
    t = g.edges["travel_time"].to_numpy()
    assert np.array_equal(np.isinf(t), against_oneway)
    assert np.allclose(t[~against_oneway], expected[~against_oneway])
    assert len(g.nodes) == len(nodes)
    assert shapely.equals_exact(g.geometry, edges.geometry.to_numpy(), tolerance=0).all()


def test_sections_are_the_report_and_a_new_one_can_be_added(tiny_bench, tmp_path):
    base, doc = tiny_bench
    names = [f.__name__ for f in SECTIONS]
    assert names[:2] == ["section_stages", "section_reader"]
    assert set(doc["sections"]) >= {"stages", "reader", "maps", "browser"}

    def section_extra(ctx):
        return Section("extra", {"n": len(ctx.rows)}, "Extra part", ["extra ratio"])

    doc2 = run_bench(
        scales=[0.002], real=False, baselines=False, out_dir=tmp_path / "out",
        root=base / "root", stages=[], cache_dir=base / "synth",
        sections=[*SECTIONS, section_extra],
    )  # fmt: skip
    assert doc2["sections"]["extra"] == {"n": 0}
    assert "Extra part" in doc2["markdown"]
    assert doc2["markdown"].splitlines()[-1] == "- extra ratio"


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


def test_one_scale_gets_a_companion_for_the_growth_exponents():
    assert companion_scales([1.0]) == [1.0 / GROWTH_DIVISOR]
    assert companion_scales([0.25, 1.0]) == []
    assert companion_scales([]) == []
