"""Density grid: cell ids, floor area per hectare, population from wards or a raster."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine

from pipeline._errors import MissingInputError
from pipeline.config import DensityConfig, Threshold
from pipeline.density import (
    build_cells,
    building_cells,
    building_points,
    cell_ids,
    cell_squares,
    raster_population,
)

CRS = "EPSG:32648"
X0, Y0 = 590_000.0, 2_340_000.0


def _config(**kw):
    return DensityConfig(
        cell_size_m=100,
        dense_floor_area_m2_per_ha=Threshold(value=5000, unit="m2/ha", source="test"),
        dense_population_per_ha=Threshold(value=100, unit="people/ha", source="test"),
        **kw,
    )


def _buildings(rects_levels):
    geoms = [shapely.box(X0 + a, Y0 + b, X0 + c, Y0 + d) for (a, b, c, d), _ in rects_levels]
    levels = np.array([lv for _, lv in rects_levels], dtype=float)
    fp = shapely.area(np.asarray(geoms))
    return gpd.GeoDataFrame(
        {"footprint_m2": fp, "levels": levels, "floor_area_m2": fp * levels},
        geometry=geoms,
        crs=CRS,
    )


def _wards():
    west = shapely.box(X0 - 1000, Y0 - 1000, X0 + 170, Y0 + 1000)
    east = shapely.box(X0 + 170, Y0 - 1000, X0 + 1000, Y0 + 1000)
    return gpd.GeoDataFrame(
        {"ward_id": ["W", "E"], "name": ["Tây", "Đông"], "ward_type": ["phường", "xã"],
         "population": [300.0, np.nan], "approximate": False},
        geometry=[west, east], crs=CRS,
    )  # fmt: skip


def test_cell_ids_and_squares_round_trip():
    xy = np.array([[X0 + 10, Y0 + 10], [X0 + 99.9, Y0 + 0.1], [X0 + 100, Y0 + 10], [X0 - 1, Y0]])
    ids = cell_ids(xy, 100)
    assert ids[0] == ids[1] != ids[2]
    sq = cell_squares(ids, 100)
    assert shapely.covers(sq, shapely.points(xy)).all()
    assert sq[0].bounds == (X0, Y0, X0 + 100, Y0 + 100)
    assert sq[3].bounds == (X0 - 100, Y0, X0, Y0 + 100)


def test_floor_area_dense_flags_and_ward_population():
    b = _buildings([
        ((10, 10, 50, 50), 4),  # 6400 m² in cell (0, 0): dense by floor area
        ((60, 60, 70, 70), 2),  # + 200 m² in the same cell
        ((110, 10, 120, 20), 1),  # 100 m² in cell (1, 0), still ward W (x < 170)
        ((510, 10, 530, 30), 2),  # 800 m² in cell (5, 0), ward E (population unknown)
    ])  # fmt: skip
    cells = build_cells(b, _wards(), _config())
    assert len(cells) == 3
    c0 = cells[cells.geometry.centroid.x == X0 + 50].iloc[0]
    c1 = cells[cells.geometry.centroid.x == X0 + 150].iloc[0]
    c5 = cells[cells.geometry.centroid.x == X0 + 550].iloc[0]
    assert c0["buildings"] == 2
    assert c0["floor_area_m2"] == pytest.approx(6600)
    assert c0["floor_area_m2_per_ha"] == pytest.approx(6600)
    assert c0["dense"]
    # Ward W's 300 people spread by floor area: 6600 / 6700 and 100 / 6700.
    assert c0["population"] == pytest.approx(300 * 6600 / 6700)
    assert c1["population"] == pytest.approx(300 * 100 / 6700)
    assert not c1["dense"]
    assert c5["ward_id"] == "E"
    assert np.isnan(c5["population"])
    assert not c5["dense"]
    assert cells["population"].sum() == pytest.approx(300)


def test_population_threshold_makes_cells_dense():
    b = _buildings([((10, 10, 20, 20), 1), ((510, 10, 520, 20), 1)])
    wards = _wards()
    wards.loc[1, "population"] = 150.0
    cells = build_cells(b, wards, _config())
    # 300 and 150 people on 1 ha each: both above 100 / ha; floor area alone is tiny.
    assert cells["dense"].all()


def test_raster_population_sums_pixels_into_cells(tmp_path):
    # A 4 x 4 raster of 50 m pixels from (X0, Y0 + 200) down: 16 pixels, people 0..15.
    path = tmp_path / "pop.tif"
    data = np.arange(16, dtype="float32").reshape(4, 4)
    transform = Affine(50.0, 0.0, X0, 0.0, -50.0, Y0 + 200)
    with rasterio.open(path, "w", driver="GTiff", width=4, height=4, count=1, dtype="float32",
                       crs=CRS, transform=transform, nodata=-1) as dst:  # fmt: skip
        dst.write(data, 1)
    people = raster_population(path, crs=CRS, cell_m=100, bounds=(X0, Y0, X0 + 200, Y0 + 200))
    assert people.sum() == pytest.approx(data.sum())
    # The top-left 100 m cell holds pixels (0,0), (0,1), (1,0), (1,1): 0 + 1 + 4 + 5.
    top_left = cell_ids(np.array([[X0 + 50, Y0 + 150]]), 100)[0]
    assert people[top_left] == pytest.approx(10)
    b = _buildings([((10, 10, 20, 20), 1)])
    whole = gpd.GeoDataFrame(
        {"ward_id": ["all"], "name": ["T"], "ward_type": ["province"], "population": [np.nan],
         "approximate": [True]},
        geometry=[shapely.box(X0, Y0, X0 + 200, Y0 + 200)], crs=CRS,
    )  # fmt: skip
    cells = build_cells(b, whole, _config(), raster_people=people)
    assert len(cells) == 4  # raster cells without buildings are kept
    assert cells["population"].sum() == pytest.approx(120)
    with pytest.raises(MissingInputError, match="population_raster"):
        raster_population(tmp_path / "nope.tif", crs=CRS, cell_m=100, bounds=(0, 0, 1, 1))


def test_buildings_at_their_points_place_like_their_footprints():
    """A frame already at its points (water, coverage) gets the cells of its footprints."""
    b = _buildings([((10, 10, 30, 30), 2), ((150, 20, 190, 60), 4), ((95, 5, 105, 15), 1)])
    # An L whose centroid (outside it) lies in another cell than its point on surface.
    ell = shapely.Polygon([(0, 0), (190, 0), (190, 10), (10, 10), (10, 190), (0, 190)])
    b.loc[3] = [ell.area, 1.0, ell.area, shapely.affinity.translate(ell, X0 + 200, Y0)]
    at = b.set_geometry(building_points(b.geometry.to_numpy()), crs=CRS)
    assert (shapely.get_type_id(at.geometry.to_numpy()) == 0).all()
    ids = building_cells(b, 100)
    np.testing.assert_array_equal(building_cells(at, 100), ids)
    assert ids[3] != cell_ids(shapely.get_coordinates(b.geometry.centroid.to_numpy()), 100)[3]
    by_points = build_cells(at, _wards(), _config())
    by_footprints = build_cells(b, _wards(), _config())
    assert by_points.to_wkb().equals(by_footprints.to_wkb())
