"""The one map from (province, artifact) to a path in cache/ and outputs/<province>/."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: Project root: the folder holding ``pyproject.toml``, ``data/`` and ``outputs/``.
PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: Each stage's artifacts, relative to ``outputs/<province>/``. A stage writes only its own.
ARTIFACTS: dict[str, dict[str, str]] = {
    "ingest": {
        "boundary": "ingest/boundary.parquet",
        "streets": "ingest/streets.parquet",
        "buildings": "ingest/buildings.parquet",
        "stations": "ingest/stations.parquet",
        "water_points": "ingest/water_points.parquet",
        "water_bodies": "ingest/water_bodies.parquet",
        "admin": "ingest/admin.parquet",
        "wards": "ingest/wards.parquet",
        "graph_nodes": "ingest/graph_nodes.parquet",
        "graph_edges": "ingest/graph_edges.parquet",
        "rejects": "ingest/rejects.csv",
        "ingest_summary": "ingest/summary.json",
    },
    "network": {
        "edges": "network/edges.parquet",
        "alleys": "network/alleys.parquet",
        "dead_ends": "network/dead_ends.parquet",
        "deep_buildings": "network/deep_buildings.parquet",
        "building_snap": "network/building_snap.parquet",
        "fire_point_candidates": "network/fire_point_candidates.parquet",
        "stations": "network/stations.parquet",
        "wards": "network/wards.parquet",
        "rejects": "network/rejects.csv",
        "network_summary": "network/summary.json",
    },
    "water": {
        "sources": "water/sources.parquet",
        "source_rejects": "water/source_rejects.csv",
        "building_water": "water/building_water.parquet",
        "street_water": "water/street_water.parquet",
        "reach": "water/reach.parquet",
        "spacing_gaps": "water/spacing_gaps.parquet",
        "hydrant_candidates": "water/hydrant_candidates.parquet",
        "water_wards": "water/wards.parquet",
        "dense_gaps": "water/dense_gaps.parquet",
        "water_summary": "water/summary.json",
    },
    "coverage": {
        "node_times": "coverage/node_times.parquet",
        "isochrones": "coverage/isochrones.parquet",
        "service_areas": "coverage/service_areas.parquet",
        "building_times": "coverage/building_times.parquet",
        "cells": "coverage/cells.parquet",
        "dense_unreached": "coverage/dense_unreached.parquet",
        "station_candidates": "coverage/station_candidates.parquet",
        "scenarios": "coverage/scenarios.parquet",
        "coverage_wards": "coverage/wards.parquet",
        "drive_graph": "coverage/drive_graph.npz",
        "coverage_summary": "coverage/summary.json",
    },
    "report": {
        "map": "map.html",
        "wards_dir": "wards",
        "report": "report.html",
        "report_pdf": "report.pdf",
        "shortlists_xlsx": "shortlists.xlsx",
        "shortlists_gpkg": "shortlists.gpkg",
        "shortlists_csv_dir": "shortlists",
    },
}

#: Artifacts a stage may leave out (with a warning), as ``(stage, name)``: the PDF needs an
#: engine the user may not have. A missing one makes the next run rerun the stage.
OPTIONAL_ARTIFACTS: frozenset[tuple[str, str]] = frozenset({("report", "report_pdf")})

STAGES: tuple[str, ...] = ("ingest", "network", "water", "coverage", "report")


@dataclass(frozen=True)
class ProvincePaths:
    """Paths of one province's config, cache and outputs.

    Parameters
    ----------
    province
        The province slug, as in ``data/provinces/<slug>.yaml``.
    root
        Project root; defaults to the folder holding this package.
    """

    province: str
    root: Path = PROJECT_ROOT

    @property
    def config(self) -> Path:
        """The province's YAML config."""
        return self.root / "data" / "provinces" / f"{self.province}.yaml"

    @property
    def defaults(self) -> Path:
        """The defaults every province config is merged over."""
        return self.root / "data" / "provinces" / "defaults.yaml"

    @property
    def raw_cache(self) -> Path:
        """Immutable raw downloads for this province."""
        return self.root / "cache" / "raw" / self.province

    @property
    def clip_cache(self) -> Path:
        """OSM extracts cut to this province (keyed by the source's hash and the boundary)."""
        return self.root / "cache" / "clip" / self.province

    @property
    def outputs(self) -> Path:
        """All outputs of this province."""
        return self.root / "outputs" / self.province

    @property
    def manifest(self) -> Path:
        """The stage manifest: input hashes and timings of every finished stage."""
        return self.outputs / "manifest.json"

    @property
    def resolved_config(self) -> Path:
        """The merged, validated config the last run used."""
        return self.outputs / "config.resolved.yaml"

    def artifact(self, stage: str, name: str) -> Path:
        """Return the path of one stage artifact.

        Parameters
        ----------
        stage
            One of :data:`STAGES`.
        name
            The artifact's key in :data:`ARTIFACTS`.

        Returns
        -------
        Path
        """
        return self.outputs / ARTIFACTS[stage][name]

    def stage_artifacts(self, stage: str) -> dict[str, Path]:
        """Return every artifact path of a stage, by name."""
        return {name: self.outputs / rel for name, rel in ARTIFACTS[stage].items()}


def resolve_input(path: str | Path, root: Path = PROJECT_ROOT) -> Path:
    """Resolve a path from a config or the command line against the project root.

    Parameters
    ----------
    path
        Absolute, or relative to the project root (``../shared/data/...`` works).
    root
        Project root.

    Returns
    -------
    Path
    """
    p = Path(path).expanduser()
    return p if p.is_absolute() else (root / p)
