"""Thresholds: units converted to the base unit the key names, values range-checked, one line."""

from __future__ import annotations

import json

import pytest

from pipeline.cli import main
from pipeline.config import load_config


def _province(project, town_pbf, town_boundary, **sections):
    project.province(
        "t",
        {"osm": {"file": str(town_pbf)}, "boundary": {"file": str(town_boundary)}, **sections},
    )
    return project


@pytest.mark.parametrize(
    ("section", "key", "given", "expected"),
    [
        ("access", "truck_min_width_m", {"value": 350, "unit": "cm"}, 3.5),
        ("access", "truck_min_width_m", {"value": 3500, "unit": "mm"}, 3.5),
        ("access", "dead_end_max_length_m", {"value": 0.15, "unit": "km"}, 150.0),
        ("response", "target_time_s", {"value": 10, "unit": "min"}, 600.0),
        ("response", "target_time_s", {"value": 0.25, "unit": "h"}, 900.0),
        ("density", "dense_population_per_ha", {"value": 20000, "unit": "người/km2"}, 200.0),
    ],
)
def test_units_converted_to_the_keys_unit(project, town_pbf, town_boundary, section, key, given,
                                          expected):  # fmt: skip
    _province(project, town_pbf, town_boundary, **{section: {key: given}})
    cfg = load_config("t", root=project.root)
    threshold = getattr(getattr(cfg, section), key)
    assert threshold.value == pytest.approx(expected)
    # The source comes from defaults.yaml (deep merge), the unit is now the base unit.
    assert threshold.source
    assert threshold.unit == {"_m": "m", "_s": "s"}.get(key[-2:], threshold.unit)


def test_350_cm_runs_the_network_stage_like_3_5_m(project, town_pbf, town_boundary, capsys):
    def network(width):
        _province(project, town_pbf, town_boundary, access={"truck_min_width_m": width})
        rc = main(["network", "--province", "t", "--root", str(project.root), "--no-progress"])
        assert rc == 0, capsys.readouterr().err
        manifest = json.loads((project.outputs("t") / "manifest.json").read_text())
        return manifest["network"]["summary"]

    in_cm = network({"value": 350, "unit": "cm"})
    in_m = network({"value": 3.5, "unit": "m"})
    assert in_cm == in_m


@pytest.mark.parametrize(
    ("section", "key", "given", "expected"),
    [
        ("access", "truck_min_width_m", {"value": 350, "unit": "m"},
         "key 'access.truck_min_width_m': 350 m is outside the plausible range 0.5-30 m"),
        ("access", "truck_min_width_m", {"value": -3.5, "unit": "m"},
         "key 'access.truck_min_width_m': must be positive"),
        ("access", "hose_reach_from_truck_road_m", {"value": 0, "unit": "m"}, "must be positive"),
        ("access", "truck_min_width_m", {"value": 3.5, "unit": "feet"},
         "unit 'feet' is not a length unit"),
        ("response", "target_time_s", {"value": 10, "unit": "km"},
         "key 'response.target_time_s': unit 'km' is not a time unit"),
        ("buildings", "default_levels", {"value": 2, "unit": "bananas"},
         "key 'buildings.default_levels': unit 'bananas' is not a storeys unit"),
        ("response", "target_time_s", {"value": 3, "unit": "days"}, "not a time unit"),
    ],
)  # fmt: skip
def test_bad_threshold_is_one_line_exit_2(project, town_pbf, town_boundary, capsys, section, key,
                                          given, expected):  # fmt: skip
    _province(project, town_pbf, town_boundary, **{section: {key: given}})
    rc = main(["ingest", "--province", "t", "--root", str(project.root), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("firegap: error:")]
    assert len(lines) == 1
    assert "t.yaml" in lines[0]
    assert expected in lines[0]
    assert not (project.outputs("t") / "ingest").exists()


def test_every_default_threshold_is_already_in_its_base_unit():
    """defaults.yaml states each threshold in the unit its key names (no silent conversion)."""
    import yaml

    from pipeline.config import normalise_thresholds, threshold_units
    from pipeline.paths import PROJECT_ROOT

    raw = yaml.safe_load((PROJECT_ROOT / "data" / "provinces" / "defaults.yaml").read_text("utf-8"))
    assert normalise_thresholds(raw, threshold_units(raw)) == raw
    assert normalise_thresholds(raw) == raw  # and each key's suffix names the same unit


@pytest.mark.parametrize(
    ("key", "given", "expected"),
    [
        ("report.unit_costs.widen", {"value": 2, "unit": "triệu đồng"}, (2e6, "VND")),
        ("report.unit_costs.pipe", {"value": 5e5, "unit": "VND/m2"}, (5e5, "VND/m2")),
        ("report.people_space", {"value": 26, "unit": "m2/person"}, (26, "m2/person")),
        ("access.min_reachable_truck_share", {"value": 50, "unit": "%"}, (0.5, "share")),
        ("access.main_network_min_km", {"value": 2000, "unit": "m"}, (2, "km")),
        ("water.natural_source_min_area_m2", {"value": 0.1, "unit": "ha"}, (1000, "m2")),
        ("buildings.default_levels", {"value": 3, "unit": "tầng"}, (3, "storeys")),
    ],
)
def test_units_named_by_the_key_or_by_the_kind_given(key, given, expected):
    from pipeline.config import normalise_thresholds

    raw: dict = {}
    node = raw
    *parents, leaf = key.split(".")
    for p in parents:
        node = node.setdefault(p, {})
    node[leaf] = {**given, "source": "test"}
    out = normalise_thresholds(raw)
    for p in parents:
        out = out[p]
    assert (out[leaf]["value"], out[leaf]["unit"]) == pytest.approx(expected)
