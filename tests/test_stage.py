"""No stale outputs: a failed stage takes its downstream outputs with it; leftovers are cleared."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from pipeline.cli import main
from pipeline.paths import ProvincePaths
from pipeline.stage import downstream_stages
from tests.conftest import Project

DOWNSTREAM_OF_INGEST = ["network", "water", "coverage", "report"]


@pytest.fixture(scope="module")
def analyzed(tmp_path_factory):
    """The reference town analysed once; each test works on a copy of the project folder."""
    from tests.osm_fixtures import TOWN_BOUNDS, boundary_geojson, town

    base = tmp_path_factory.mktemp("analyzed")
    pbf = town().write(base / "town.osm.pbf")
    boundary = boundary_geojson(base / "boundary.geojson", *TOWN_BOUNDS)
    project = Project(base / "project")
    project.province("town", {"osm": {"file": str(pbf)}, "boundary": {"file": str(boundary)}})
    assert (
        main(["analyze", "--province", "town", "--root", str(project.root), "--no-progress"]) == 0
    )
    return project.root


@pytest.fixture
def root(analyzed, tmp_path):
    copy = tmp_path / "project"
    shutil.copytree(analyzed, copy)
    return copy


def _run(root, stage, capsys, *extra):
    rc = main([stage, "--province", "town", "--root", str(root), "--no-progress", *extra])
    return rc, capsys.readouterr().err


def _manifest(paths):
    return json.loads(paths.manifest.read_text()) if paths.manifest.exists() else {}


def _has_outputs(paths, stage):
    return [n for n, p in paths.stage_artifacts(stage).items() if p.exists()]


def _edit(root, **sections):
    path = root / "data" / "provinces" / "town.yaml"
    data = yaml.safe_load(path.read_text("utf-8"))
    for k, v in sections.items():
        data[k] = {**data.get(k, {}), **v}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")


def test_downstream_stages_in_run_order():
    assert downstream_stages("ingest") == DOWNSTREAM_OF_INGEST
    assert downstream_stages("network") == ["water", "coverage", "report"]
    assert downstream_stages("water") == ["report"]
    assert downstream_stages("report") == []


def test_failed_stage_removes_its_outputs_and_everything_downstream(root, tmp_path, capsys):
    paths = ProvincePaths("town", root)
    assert (root / "outputs" / "town" / "map.html").exists()
    # The network stage now fails: a public fire points file that is not there.
    _edit(root, access={"public_fire_points_files": [str(tmp_path / "absent.csv")]})
    rc, err = _run(root, "analyze", capsys)
    assert rc == 2
    assert "absent.csv: file not found" in err
    assert _has_outputs(paths, "ingest")  # upstream of the failure: still valid, kept
    for stage in ("network", "water", "coverage", "report"):
        assert _has_outputs(paths, stage) == [], stage
    assert set(_manifest(paths)) == {"ingest"}
    assert not (root / "outputs" / "town" / "map.html").exists()
    last = (root / "outputs" / "town" / "firegap.log").read_text("utf-8").splitlines()[-1]
    assert "stale: network failed, so the outputs of network, water, coverage, report were " in last
    assert "removed" in last


def test_failed_report_keeps_the_analysis_and_removes_the_old_map(root, capsys, monkeypatch):
    paths = ProvincePaths("town", root)
    import pipeline.stages.report

    def boom(ctx):
        (ctx.output("map")).write_text("half a map")
        msg = "disk full"
        raise OSError(msg)

    monkeypatch.setattr(pipeline.stages.report, "run", boom)
    with pytest.raises(OSError, match="disk full"):
        _run(root, "report", capsys, "--force")
    assert _has_outputs(paths, "report") == []
    assert not list((root / "outputs" / "town").glob("*.tmp"))
    for stage in ("ingest", "network", "water", "coverage"):
        assert stage in _manifest(paths)
        assert len(_has_outputs(paths, stage)) == len(paths.stage_artifacts(stage))


def test_a_rerun_upstream_stage_removes_outputs_made_from_its_old_outputs(root, capsys):
    paths = ProvincePaths("town", root)
    # FORCE with the same inputs: same key, the downstream outputs still match; kept.
    rc, err = _run(root, "ingest", capsys, "--force")
    assert rc == 0, err
    assert all(_has_outputs(paths, s) for s in DOWNSTREAM_OF_INGEST)
    # New inputs for ingest only: what was made from the old ingest goes.
    _edit(root, buildings={"default_levels": {"value": 3, "unit": "storeys", "source": "test"}})
    rc, err = _run(root, "ingest", capsys)
    assert rc == 0, err
    assert "ingest: new outputs, so the older outputs of network, water, coverage, report" in err
    for stage in DOWNSTREAM_OF_INGEST:
        assert _has_outputs(paths, stage) == [], stage
    assert set(_manifest(paths)) == {"ingest"}
    rc, err = _run(root, "analyze", capsys)
    assert rc == 0, err
    assert (root / "outputs" / "town" / "map.html").exists()


def test_leftovers_of_a_killed_run_are_cleared_at_the_next_start(root, capsys):
    out = root / "outputs" / "town"
    (out / "report.html.tmp").write_text("half a report")
    (out / "wards.tmp").mkdir()
    (out / "wards.tmp" / "x.html").write_text("half a ward map")
    (out / "ingest" / "buildings.parquet.tmp").write_bytes(b"half")
    rc, err = _run(root, "ingest", capsys)  # a cache hit: the stage does not even run
    assert rc == 0, err
    assert not list(out.rglob("*.tmp"))
    assert "removed 3 temporary output(s) an interrupted run left" in err
    assert (out / "report.html").exists()  # the complete outputs are not touched


def test_an_upgrade_of_a_result_package_changes_the_key(monkeypatch):
    from pipeline import stage as stage_mod
    from pipeline.config import load_config
    from pipeline.paths import PROJECT_ROOT

    config = load_config("ha_noi", root=PROJECT_ROOT)
    before = stage_mod.stage_key("network", config, {})
    real = stage_mod.metadata.version
    monkeypatch.setattr(
        stage_mod.metadata, "version", lambda p: "99.0" if p == "shapely" else real(p)
    )
    assert stage_mod.stage_key("network", config, {}) != before
    assert stage_mod.package_versions("report")["matplotlib"] == real("matplotlib")
    assert "matplotlib" not in stage_mod.package_versions("network")


def test_project_imports_are_found_wherever_they_are_written(tmp_path):
    from pipeline.stage import _imports_of_file

    src = tmp_path / "mod.py"
    src.write_text(
        '"""Doc.\n\nfrom pipeline the text goes on (not an import).\n"""\n'
        "from pipeline import contracts\n"
        "from pipeline.stages import (\n    network,  # a comment\n    water,\n)\n"
        "import pipeline.widths as w\n"
        "import numpy as np\n"
        "def f():\n"
        "    from pipeline.routing import snap_to_edges  # noqa: PLC0415\n"
        "    import pipeline.no_such_module\n",
        encoding="utf-8",
    )
    found = _imports_of_file(src, 0, 0)
    assert found == {
        "contracts", "stages.network", "stages.water", "widths", "routing",
    }  # fmt: skip
