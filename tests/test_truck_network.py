"""Points join the real network: a station on a driveway beside a courtyard road (a fragment)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest

from pipeline.config import load_config
from pipeline.paths import ProvincePaths
from pipeline.stage import run_pipeline
from tests.osm_fixtures import OsmBuilder, boundary_geojson


def driveway_city() -> OsmBuilder:
    """A 5 km street grid and a fire station behind a 20 m driveway (metres)::

        (0,1000)--------primary--------(1000,1000)
           |                |              |
           |   tertiary x=500: a node at (500,490) where the driveway leaves,
           |                |-- driveway (service=driveway, 20 m) --> station yard
           |                |      courtyard road x=545, y 470..529 (59 m, houses 6 m apart:
           |                |      passable, but joined to nothing) ; station node (543, 490)
        (0,0)-----------primary---------(1000,0)

    The station's nearest truck street is the courtyard road (2 m away); the grid is 43 m away.
    """
    b = OsmBuilder()
    sw, se = b.node(0, 0, nid=1), b.node(1000, 0, nid=2)
    ne, nw = b.node(1000, 1000, nid=3), b.node(0, 1000, nid=4)
    s_mid, n_mid, gate = b.node(500, 0, nid=5), b.node(500, 1000, nid=6), b.node(500, 490, nid=7)
    b.way([sw, s_mid, se, ne, n_mid, nw, sw], {"highway": "primary", "lanes": "2"})
    b.way([s_mid, gate, n_mid], {"highway": "tertiary", "name": "Đường Giữa"})
    yard = b.node(520, 490, nid=8)
    b.way([gate, yard], {"highway": "service", "service": "driveway"})
    b.way([b.node(545, 470, nid=9), b.node(545, 529, nid=10)], {"highway": "service"})
    for k in range(11):
        y = 470 + 5 * k + 0.5
        b.rect(548, y, 556, y + 4, {"building": "yes"})
        b.rect(534, y, 542, y + 4, {"building": "yes"})
    b.node(543, 490, {"amenity": "fire_station", "name": "Đội PCCC khu A"})
    return b


@pytest.fixture(scope="module")
def driveway_run(tmp_path_factory):
    from tests.conftest import Project

    tmp = tmp_path_factory.mktemp("driveway")
    project = Project(tmp / "project")
    pbf = driveway_city().write(tmp / "city.osm.pbf")
    boundary = boundary_geojson(tmp / "b.geojson", -50, -50, 1050, 1050)
    project.province(
        "dw",
        {"osm": {"file": str(pbf)}, "boundary": {"file": str(boundary)},
         "access": {"min_reachable_truck_share": {"value": 0.999, "unit": "share",
                                                  "source": "test"}}},
    )  # fmt: skip
    paths = ProvincePaths("dw", project.root)
    result = run_pipeline("coverage", load_config("dw", root=project.root), paths)
    return paths, result


def test_station_beside_a_fragment_joins_the_main_network(driveway_run):
    paths, result = driveway_run
    st = gpd.read_parquet(paths.artifact("network", "stations")).iloc[0]
    assert st["snap_note"] == "fragment_skipped"
    assert st["connected"]
    assert st["nearest_truck_m"] == pytest.approx(2.0, abs=0.05)
    assert st["nearest_component_km"] == pytest.approx(0.059, abs=0.001)
    assert st["snap_m"] == pytest.approx(43.0, abs=0.05)
    s = result["network"]["summary"]
    assert s["stations_off_fragment"] == 1
    assert s["main_network_km"] == pytest.approx(5.0, abs=0.01)
    edges = gpd.read_parquet(paths.artifact("network", "edges"))
    courtyard = edges[(edges["u"] == 9) & (edges["v"] == 10)].iloc[0]
    assert courtyard["truck_ok"]  # wide enough ...
    assert not courtyard["truck_connected"]  # ... but not the network


def test_the_fragment_does_not_wreck_the_city(driveway_run):
    paths, result = driveway_run
    s = result["network"]["summary"]
    # The stations reach all of the grid: 5 of the 5.059 truck km.
    assert s["truck_km_reachable_share"] == pytest.approx(5 / 5.059, abs=0.002)
    # Below the (test) threshold of 99.9 %, the summary says so in words.
    assert "reach only 99%" in s["station_note"]
    cov = result["coverage"]["summary"]["scenarios"]["existing"]
    assert cov["stations"] == 1
    times = gpd.read_parquet(paths.artifact("coverage", "node_times")).set_index("osmid")
    reached = np.isfinite(times["time_s_existing"].astype(float))
    assert reached.loc[[1, 5, 6, 7]].all()  # the whole grid (ways split at shared nodes) ...
    assert not reached.loc[[9, 10]].any()  # ... and not the courtyard
    b = gpd.read_parquet(paths.artifact("network", "deep_buildings"))
    # The courtyard road is joined to no street, and the yard houses stand 34 m and more from
    # the grid: no hose path reaches them, which the output says rather than hides.
    assert (~b["reachable"]).sum() == 22
    assert b["deep"].all()
