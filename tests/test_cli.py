"""The command line: stages, caching, overrides, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import pipeline.stages.ingest
from pipeline.cli import main
from pipeline.paths import PROJECT_ROOT
from tests.conftest import SHARED_DATA


def _cli(project, *args):
    return main([*args, "--root", str(project.root), "--no-progress"])


def test_ingest_then_cache_hit_without_rerunning(town_project, monkeypatch, capsys):
    assert _cli(town_project, "ingest", "--province", "town") == 0
    manifest = json.loads((town_project.outputs("town") / "manifest.json").read_text())
    assert manifest["ingest"]["summary"]["buildings"] == 4

    def boom(ctx):
        raise AssertionError("ingest must not rerun on a cache hit")

    monkeypatch.setattr(pipeline.stages.ingest, "run", boom)
    assert _cli(town_project, "ingest", "--province", "town") == 0
    assert "up to date, skipped (cache hit" in capsys.readouterr().err
    # --force reruns (and here hits the patched stage).
    with pytest.raises(AssertionError, match="must not rerun"):
        _cli(town_project, "ingest", "--province", "town", "--force")


def test_resolved_config_written(town_project):
    assert _cli(town_project, "ingest", "--province", "town", "--lang", "en") == 0
    text = (town_project.outputs("town") / "config.resolved.yaml").read_text(encoding="utf-8")
    assert "language: en" in text
    assert "QCVN 06:2022/BXD §6.2.1.1" in text
    assert (town_project.outputs("town") / "firegap.log").exists()


def test_osm_override(project, town_pbf, town_boundary, tmp_path):
    project.province("p", {"osm": {"file": str(tmp_path / "absent.osm.pbf")},
                           "boundary": {"file": str(town_boundary)}})  # fmt: skip
    assert _cli(project, "ingest", "--province", "p", "--osm", str(town_pbf)) == 0


def test_module_entry_point_usage_error():
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "nonsense", "--province", "x"],
        capture_output=True, text=True, cwd=PROJECT_ROOT, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "invalid choice" in proc.stderr


def test_every_config_in_repo_validates():
    from pipeline.config import available_provinces, load_config

    slugs = available_provinces()
    assert {"bac_ninh", "ha_noi"} <= set(slugs)
    for slug in slugs:
        cfg = load_config(slug)
        for section in ("access", "water", "response"):
            for name, value in cfg.section(section).items():
                if isinstance(value, dict) and "value" in value:
                    assert value["source"].strip(), f"{slug}.{section}.{name} has no source"


def test_bac_ninh_offline_says_where_to_put_the_extract(monkeypatch, tmp_path, capsys):
    """Bắc Ninh has no local extract: offline, the error names the exact cache path."""
    import shutil

    root = tmp_path / "root"
    shutil.copytree(PROJECT_ROOT / "data", root / "data")
    # Make the download fail fast on loopback instead of waiting on the real host.
    cfg = root / "data" / "provinces" / "bac_ninh.yaml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace(
        "  file: null", "  file: null\n  download_url: http://127.0.0.1:9/vietnam-latest.osm.pbf"
    ), encoding="utf-8")  # fmt: skip
    rc = main(["ingest", "--province", "bac_ninh", "--root", str(root), "--no-progress"])
    assert rc == 2
    err = capsys.readouterr().err
    assert f"put the OSM extract at {root / 'cache/raw/bac_ninh/vietnam-latest.osm.pbf'}" in err


@pytest.mark.shared_data
def test_real_overpass_json_through_cli(tmp_path):
    """`make ingest PROVINCE=ha_noi OSM=<Overpass JSON>` on the real sample, end to end."""
    import shutil

    root = tmp_path / "root"
    shutil.copytree(PROJECT_ROOT / "data", root / "data")
    src = SHARED_DATA / "hanoi_osm_sample" / "overpass_highways_hanoi_center_2023-12-13.json"
    cfg = root / "data" / "provinces" / "ha_noi.yaml"
    text = cfg.read_text(encoding="utf-8").replace(
        "../shared/", str(PROJECT_ROOT.parent / "shared") + "/"
    )
    cfg.write_text(text, encoding="utf-8")
    rc = main(["ingest", "--province", "ha_noi", "--root", str(root), "--osm", str(src),
               "--no-progress"])  # fmt: skip
    assert rc == 0
    summary = json.loads((root / "outputs" / "ha_noi" / "ingest" / "summary.json").read_text())
    assert summary["streets"] == 5074
    assert summary["buildings"] == 0
    assert summary["graph_edges"] > 20_000  # OSMnx, simplified: 21,483 (oneways once)


def test_a_stage_runs_only_its_upstream_stages():
    from pipeline.stage import upstream_closure

    assert upstream_closure("coverage") == {"ingest", "network", "coverage"}
    assert upstream_closure("report") == {"ingest", "network", "water", "coverage", "report"}


def test_stage_code_hash_covers_exactly_the_modules_it_imports():
    from pipeline.stage import stage_modules

    ingest = stage_modules("ingest")
    assert {"stages.ingest", "osm_read", "graph", "boundary", "wards", "tables", "_io"} <= set(
        ingest
    )
    assert "stages.report" not in ingest
    assert "stages.network" not in ingest
    assert {"stages.network", "widths", "routing"} <= set(stage_modules("network"))
    # nothing of the developer tooling (tools/) shapes a stage's results
    assert not any(m.startswith(("bench", "synth", "map_bench")) for m in stage_modules("report"))
