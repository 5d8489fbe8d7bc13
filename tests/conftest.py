"""Shared fixtures: a generated town as real OSM files, a temporary project root."""

from __future__ import annotations

import json
import shutil
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from pipeline.contracts import STAMP
from pipeline.paths import PROJECT_ROOT
from tests.osm_fixtures import TOWN_BOUNDS, boundary_geojson, town, ward_geojson

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

    from pipeline.config import ProvinceConfig
    from pipeline.contracts import Artifact
    from pipeline.paths import ProvincePaths

SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``shared_data`` tests, with a reason, when ../shared/data is absent."""
    if SHARED_DATA.is_dir():
        return
    skip = pytest.mark.skip(reason=f"shared test data not found at {SHARED_DATA}")
    for item in items:
        if "shared_data" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def town_pbf(tmp_path: Path) -> Path:
    """The reference town written as .osm.pbf."""
    return town().write(tmp_path / "town.osm.pbf")


@pytest.fixture
def town_boundary(tmp_path: Path) -> Path:
    """A WGS84 GeoJSON polygon around the reference town."""
    return boundary_geojson(tmp_path / "boundary.geojson", *TOWN_BOUNDS)


class Project:
    """A temporary project root with the real defaults.yaml and one province config."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "data" / "provinces").mkdir(parents=True)
        shutil.copy(
            PROJECT_ROOT / "data" / "provinces" / "defaults.yaml",
            root / "data" / "provinces" / "defaults.yaml",
        )

    def province(self, slug: str, overrides: dict[str, Any]) -> str:
        base = {"name": {"vi": f"Tỉnh {slug}", "en": f"{slug} Province"}}
        path = self.root / "data" / "provinces" / f"{slug}.yaml"
        path.write_text(yaml.safe_dump({**base, **overrides}, allow_unicode=True), "utf-8")
        return slug

    def outputs(self, slug: str) -> Path:
        return self.root / "outputs" / slug


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A temporary project root."""
    return Project(tmp_path / "project")


@pytest.fixture
def town_project(project: Project, town_pbf: Path, town_boundary: Path) -> Project:
    """A project whose province ``town`` reads the reference town."""
    project.province(
        "town", {"osm": {"file": str(town_pbf)}, "boundary": {"file": str(town_boundary)}}
    )
    return project


def town_province(
    tmp: Path, *, wards: bool = False, **overrides: Any
) -> tuple[ProvinceConfig, ProvincePaths]:
    """Make a project in ``tmp`` whose province ``town`` reads the reference town.

    ``wards``: with the town's two wards from a file; ``overrides``: more config keys.
    Returns the loaded config and the province's paths (no stage run yet).
    """
    from pipeline.config import load_config
    from pipeline.paths import ProvincePaths

    project = Project(tmp / "project")
    config: dict[str, Any] = {
        "osm": {"file": str(town().write(tmp / "town.osm.pbf"))},
        "boundary": {"file": str(boundary_geojson(tmp / "b.geojson", *TOWN_BOUNDS))},
    }
    if wards:
        config["wards"] = {"file": str(ward_geojson(tmp / "wards.geojson"))}
    project.province("town", {**config, **overrides})
    return load_config("town", root=project.root), ProvincePaths("town", project.root)


def write_stand_in(paths: ProvincePaths, art: Artifact, frame: pd.DataFrame) -> None:
    """Write an artifact as its stage would (stamped, with a manifest entry): a test's stand-in.

    The stage's manifest entry is kept when there is one (the file then passes for its output),
    else made with the key ``stand-in-<stage>``.
    """
    manifest = json.loads(paths.manifest.read_text("utf-8")) if paths.manifest.exists() else {}
    entry = manifest.setdefault(art.stage, {"key": f"stand-in-{art.stage}", "summary": {}})
    out = frame.copy(deep=False)
    out.attrs = {STAMP: {"stage": art.stage, "artifact": art.name, "key": entry["key"]}}
    path = art.path(paths)
    path.parent.mkdir(parents=True, exist_ok=True)
    out.to_parquet(path)
    paths.manifest.write_text(json.dumps(manifest), "utf-8")
