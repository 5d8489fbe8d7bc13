"""The ward maps shared between the stage and its forked workers: each drawn once, in order."""

from __future__ import annotations

import os
import time
from types import SimpleNamespace
from typing import TYPE_CHECKING

import pytest

from pipeline.parallel import THREADS_ENV
from pipeline.stages import report

if TYPE_CHECKING:
    from pathlib import Path


def _fake_job(tmp_path: Path, n: int) -> SimpleNamespace:
    return SimpleNamespace(wtable=list(range(n)), out=tmp_path)


def _record(job: SimpleNamespace, i: int) -> float:
    # one file per drawing, named by the ward and the process that drew it
    (job.out / f"{i}-{os.getpid()}").touch()
    time.sleep(0.01)
    return i + 0.5


@pytest.mark.parametrize("threads", ["1", "3"])
def test_every_ward_is_drawn_once_and_sizes_come_back_in_ward_order(
    threads: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(THREADS_ENV, threads)
    monkeypatch.setattr(report, "_ward_map", _record)  # inherited by the forked workers
    n = 40
    sizes = report._ward_maps(_fake_job(tmp_path, n), progress=False)
    assert sizes == [i + 0.5 for i in range(n)]
    drawn = [p.name.split("-") for p in tmp_path.iterdir()]
    assert sorted(int(i) for i, _ in drawn) == list(range(n))  # once each, none missed
    pids = {pid for _, pid in drawn}
    if threads == "1":
        assert pids == {str(os.getpid())}
    else:  # the stage draws too, beside its workers
        assert str(os.getpid()) in pids
        assert len(pids) >= 2


def test_an_error_in_the_stage_stops_the_workers_taking_wards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(THREADS_ENV, "2")
    stage = os.getpid()

    def fail_here(job: SimpleNamespace, i: int) -> float:
        if os.getpid() == stage:
            msg = "disk full"
            raise OSError(msg)
        return _record(job, i)

    monkeypatch.setattr(report, "_ward_map", fail_here)
    with pytest.raises(OSError, match="disk full"):
        report._ward_maps(_fake_job(tmp_path, 400), progress=False)
    assert len(list(tmp_path.iterdir())) < 400  # the worker stopped early


def _drawn_by(out: Path) -> dict[int, str]:
    return {int(i): pid for i, pid in (p.name.split("-") for p in out.iterdir())}


def test_the_stage_draws_wards_before_the_workers_are_forked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Until ``fork_when`` says yes (the PDF is done), the stage draws alone, ward by ward."""
    monkeypatch.setenv(THREADS_ENV, "2")
    monkeypatch.setattr(report, "_ward_map", _record)
    asked = []

    def pdf_done() -> bool:
        asked.append(len(list(tmp_path.iterdir())))  # wards drawn when asked
        return len(asked) > 5

    n = 60
    sizes = report._ward_maps(_fake_job(tmp_path, n), progress=False, fork_when=pdf_done)
    assert sizes == [i + 0.5 for i in range(n)]
    assert asked == list(range(6))  # asked before each ward until yes, then never again
    drawn = _drawn_by(tmp_path)
    assert sorted(drawn) == list(range(n))
    assert {drawn[i] for i in range(5)} == {str(os.getpid())}  # before the fork: the stage
    assert len(set(drawn.values())) == 2  # then a worker beside it


def test_without_a_yes_the_stage_draws_every_ward_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(THREADS_ENV, "2")
    monkeypatch.setattr(report, "_ward_map", _record)
    sizes = report._ward_maps(_fake_job(tmp_path, 12), progress=False, fork_when=lambda: False)
    assert sizes == [i + 0.5 for i in range(12)]
    assert set(_drawn_by(tmp_path).values()) == {str(os.getpid())}


def test_an_error_in_a_worker_is_raised_by_the_stage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(THREADS_ENV, "2")
    stage = os.getpid()

    def fail_there(job: SimpleNamespace, i: int) -> float:
        if os.getpid() != stage:
            msg = "no space left in the worker"
            raise OSError(msg)
        return _record(job, i)

    monkeypatch.setattr(report, "_ward_map", fail_there)
    with pytest.raises(OSError, match="no space left in the worker"):
        report._ward_maps(_fake_job(tmp_path, 200), progress=False)


def test_ward_layers_keep_their_wgs84_shapes_and_each_wards_view_without_projected_ones() -> None:
    """The projected shapes are dropped; each ward's view extent is that of its own streets."""
    import geopandas as gpd
    import numpy as np
    import shapely

    from pipeline.config import load_config
    from pipeline.map_encode import round_wgs84

    config = load_config("ha_noi")
    x0, y0 = 590_000.0, 2_340_000.0
    lines = [shapely.LineString([(x0 + 10 * i, y0), (x0 + 10 * i + 5, y0 + 20 * i + 3)])
             for i in range(12)]  # fmt: skip
    lines[4] = None  # a street without shape
    edges = gpd.GeoDataFrame(
        {"ward_id": ["a", "b", "c"] * 4, "reversed": [False, False, True] * 4},
        geometry=lines, crs="EPSG:32648",
    )  # fmt: skip
    rows = report._ward_rows(edges)
    extents = report._ward_extents(edges, rows)
    for wid in ("a", "b", "c"):
        expected = report._take(edges, rows, wid).total_bounds
        np.testing.assert_array_equal(extents[wid][0], expected)
    frame = report._ward_frame("edges", edges, config)
    assert frame.geometry.isna().all()  # projected shapes gone
    drawn = ~edges["reversed"].to_numpy()
    made = round_wgs84(
        frame[drawn], config.report.coordinate_decimals, config.report.ward_simplify_m
    )
    plain = round_wgs84(
        edges[drawn], config.report.coordinate_decimals, config.report.ward_simplify_m
    )
    assert list(shapely.to_wkb(made)) == list(shapely.to_wkb(plain))
    assert report._ward_frame("stations", edges, config) is edges  # not drawn as they are
