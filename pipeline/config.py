"""Province config: ``data/provinces/<slug>.yaml`` deep-merged over ``defaults.yaml``, validated."""

from __future__ import annotations

import difflib
import logging
from typing import TYPE_CHECKING, Annotated, Any, Literal

import pydantic
import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from pipeline._errors import ConfigError
from pipeline.paths import PROJECT_ROOT, ProvincePaths

if TYPE_CHECKING:
    from pathlib import Path

logger = logging.getLogger(__name__)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Threshold(_Model):
    """A number from a standard, with its unit and its source, as the config must hold it."""

    value: float
    unit: str
    source: str = Field(min_length=1)


def _check_interval(v: tuple[float, float, float]) -> tuple[float, float, float]:
    low, typical, high = v
    if not 0 < low <= typical <= high:
        msg = f"[low, typical, high] must be positive and in increasing order, not {list(v)}"
        raise ValueError(msg)
    return v


#: A plausible width interval ``[low, typical, high]`` in metres.
WidthInterval = Annotated[tuple[float, float, float], AfterValidator(_check_interval)]


class Names(_Model):
    """Names of the province in Vietnamese and English."""

    vi: str
    en: str


class OsmConfig(_Model):
    """Where the OSM data comes from.

    ``file`` is a local ``.osm.pbf``, ``.osm`` (XML) or Overpass ``.json``. Without it the online
    path downloads ``download_url`` into ``cache/raw/<province>/`` once and clips it.
    """

    file: str | None = None
    download_url: str | None = None
    download_name: str = "vietnam-latest.osm.pbf"
    timeout_s: float = 60.0


class BoundaryConfig(_Model):
    """The province boundary: a vector file (one feature selected by a field) or the OSM data.

    With neither, the boundary is the convex hull of the OSM data (logged as a warning).
    """

    file: str | None = None
    layer: str | None = None
    field: str | None = None
    value: str | None = None
    osm_admin_level: int | None = None
    osm_name: str | None = None


class StationsConfig(_Model):
    """Fire stations: OSM ``amenity=fire_station`` plus the authority's own lists.

    Authority CSVs have columns ``name`` (or ``name_vi``), ``status`` (``existing`` or
    ``planned``), ``lat``, ``lon``; rows without coordinates are reported and skipped.
    """

    from_osm: bool = True
    files: list[str] = Field(default_factory=list)


class WardsConfig(_Model):
    """Wards and communes (phường / xã), the unit every summary is given per.

    Taken from the first of: a polygon ``file``; OSM administrative areas at
    ``osm_admin_level``; a ``centroids_csv`` of commune centroids (Voronoi cells clipped to the
    boundary, flagged approximate); else the whole province as one unit.
    """

    file: str | None = None
    layer: str | None = None
    osm_admin_level: int | None = None
    centroids_csv: str | None = None
    id_column: str = "code"
    name_column: str = "name"
    type_column: str = "type"
    population_column: str = "population_2025"
    lon_column: str = "centroid_lon"
    lat_column: str = "centroid_lat"


class SourceFile(_Model):
    """An authority file of water sources or buildings (CSV, GeoJSON, GPKG, XLSX)."""

    path: str
    crs: str = "EPSG:4326"
    x_column: str | None = None
    y_column: str | None = None
    type_column: str | None = None
    default_type: str | None = None
    layer: str | None = None


class BuildingsConfig(_Model):
    """Building footprints beyond OSM (Google Open Buildings CSV, Microsoft GeoJSON lines)."""

    extra_files: list[SourceFile] = Field(default_factory=list)
    extra_min_confidence: float = Field(default=0.7, ge=0, le=1)
    default_levels: Threshold
    storey_height_m: Threshold


class AccessConfig(_Model):
    """Fire-truck access thresholds and width inference settings (stage ``network``)."""

    truck_min_width_m: Threshold
    urban_renovated_min_width_m: Threshold
    use_urban_renovated_width: bool = False
    urban_renovated_ward_types: list[str] = Field(default_factory=list)
    truck_min_clear_height_m: Threshold
    hose_reach_from_truck_road_m: Threshold
    dead_end_max_length_m: Threshold
    deep_alley_fire_point_m: Threshold
    passing_place_spacing_m: Threshold
    fire_engine_width_m: Threshold
    small_fire_vehicle_width_m: Threshold
    small_vehicle_margin_m: Threshold
    hose_cart_reach_m: Threshold
    lane_width_m: Threshold
    lane_width_min_m: Threshold
    lane_width_max_m: Threshold
    carriageway_edge_m: Threshold
    lanes_highways: list[str] = Field(default_factory=list)
    width_prior_source: str = Field(min_length=1)
    width_priors_m: dict[str, WidthInterval]
    unknown_highway_prior_m: WidthInterval
    service_priors_m: dict[str, WidthInterval] = Field(default_factory=dict)
    alley_name_prefixes: list[str] = Field(default_factory=list)
    alley_name_prior_m: WidthInterval
    alley_name_prior_highways: list[str] = Field(default_factory=list)
    gap_sample_step_m: float = Field(default=5.0, gt=0)
    gap_search_m: float = Field(default=15.0, gt=0)
    gap_quantile: float = Field(default=0.1, ge=0, le=1)
    corridor_min_sections: int = Field(default=3, ge=1)
    corridor_min_share: float = Field(default=0.5, ge=0, le=1)
    corridor_encroachment_m: Threshold
    sidewalk_highways: list[str] = Field(default_factory=list)
    est_width_tolerance_m: Threshold
    width_confidence: dict[str, float]
    measured_widths_files: list[SourceFile] = Field(default_factory=list)
    measured_match_m: float = Field(default=10.0, gt=0)
    blocked_highways: list[str] = Field(default_factory=lambda: ["steps"])
    blocked_access_keys: list[str] = Field(
        default_factory=lambda: ["access", "vehicle", "motor_vehicle", "motorcar"]
    )
    blocked_access_values: list[str] = Field(default_factory=lambda: ["no"])
    emergency_access_values: list[str] = Field(default_factory=lambda: ["yes", "designated"])
    main_network_min_km: Threshold
    min_reachable_truck_share: Threshold
    public_fire_points_files: list[SourceFile] = Field(default_factory=list)
    fire_point_snap_m: float = 30.0
    frontage_tolerance_m: float = 1.0
    direct_access_max_m: float = 20.0
    node_direct_access_m: float = 12.0
    hose_path_highways: list[str] = Field(
        default_factory=lambda: ["footway", "path", "steps", "cycleway", "corridor", "bridleway"]
    )

    @field_validator("width_confidence")
    @classmethod
    def _confidence_complete(cls, v: dict[str, float]) -> dict[str, float]:
        from pipeline.widths import WIDTH_SOURCES  # noqa: PLC0415 - widths imports config types

        wanted = set(WIDTH_SOURCES)
        if set(v) != wanted or any(not 0 <= c <= 1 for c in v.values()):
            msg = f"must give a confidence in [0, 1] for exactly {', '.join(sorted(wanted))}"
            raise ValueError(msg)
        return v


class WaterConfig(_Model):
    """Water-for-fire-fighting thresholds and authority files (stage ``water``)."""

    files: list[SourceFile] = Field(default_factory=list)
    hydrant_spacing_max_m: Threshold
    hydrant_spacing_low_flow_m: Threshold
    hydrant_road_edge_max_m: Threshold
    hydrant_reach_m: Threshold
    natural_source_reach_truck_m: Threshold
    natural_source_reach_portable_m: Threshold
    natural_source_road_access_m: Threshold
    natural_source_min_area_m2: Threshold
    duplicate_merge_m: Threshold
    point_access_max_m: Threshold
    use_low_flow_spacing: bool = False
    natural_source_pump: Literal["truck", "portable"] = "truck"
    natural_kinds: list[str] = Field(default_factory=list)
    type_aliases: dict[str, str] = Field(default_factory=dict)
    candidate_count: int = Field(default=20, ge=0)
    candidate_weight: Literal["auto", "floor_area", "population"] = "auto"
    candidate_tile_m: float = Field(default=500.0, gt=0)


class ResponseConfig(_Model):
    """Response-time thresholds, truck speeds and isochrone breaks (stage ``coverage``)."""

    station_service_radius_urban_m: Threshold
    station_service_radius_rural_m: Threshold
    first_engine_travel_s: Threshold
    full_alarm_travel_s: Threshold
    volunteer_urban_s: Threshold
    volunteer_rural_s: Threshold
    target_time_s: Threshold
    speed_scenario: str = "base"
    speed_scenarios_kph: dict[str, dict[str, float]]
    speed_source: str
    turn_delay_s: float = 0.0
    follow_oneway: bool = True
    isochrone_breaks_min: list[float]
    isochrone_buffer_m: Threshold
    isochrone_cell_m: float = Field(default=20.0, gt=0)
    station_snap_max_m: float = Field(default=500.0, gt=0)
    station_candidate_count: int = Field(default=5, ge=0)
    candidate_min_street_count: int = Field(default=3, ge=1)

    @field_validator("isochrone_breaks_min")
    @classmethod
    def _breaks_sorted(cls, v: list[float]) -> list[float]:
        if not v or any(b <= 0 for b in v) or sorted(v) != v:
            msg = "must be a non-empty list of positive minutes in increasing order"
            raise ValueError(msg)
        return v


class DensityConfig(_Model):
    """How dense areas are found: grid, thresholds and optional population inputs."""

    cell_size_m: float = 100.0
    dense_floor_area_m2_per_ha: Threshold
    dense_population_per_ha: Threshold
    population_raster: str | None = None
    urban_ward_types: list[str] = Field(default_factory=lambda: ["phường"])


class ReportConfig(_Model):
    """Language, risk weights and map size limits of the planners' outputs (stage ``report``).

    The province map is drawn from aggregates (truck streets merged and simplified, points
    binned into grid cells beyond ``province_max_points``); ward maps keep full detail.
    """

    language: Literal["vi", "en"] = "vi"
    max_map_mb: float = 25.0
    shortlist_rows: int = 50
    risk_weights: dict[str, float] = Field(
        default_factory=lambda: {
            "unreached": 0.35,
            "response_time": 0.25,
            "alley_access": 0.25,
            "water": 0.15,
        }
    )
    isochrone_scenario: str | None = None
    coordinate_decimals: int = Field(default=6, ge=4, le=8)
    province_coordinate_decimals: int = Field(default=5, ge=4, le=8)
    province_simplify_m: float = 5.0
    ward_simplify_m: float = 0.5
    province_max_points: int = 5000
    province_grid_m: float = 250.0
    satellite_tiles: str = (
        "https://server.arcgisonline.com/ArcGIS/rest/services/"
        "World_Imagery/MapServer/tile/{z}/{y}/{x}"
    )
    satellite_attribution: str = "Esri World Imagery"
    leaflet_dir: str = "cache/vendor/leaflet-1.9.4"


class SynthConfig(_Model):
    """A generated province (``pipeline/synth.py``) instead of real data.

    When set, the OSM file, boundary and wards are the generated dataset of ``(scale, seed)``
    (generated once, cached in ``cache/synth/``); ``make analyze PROVINCE=synth SCALE=0.25``
    overrides the scale.
    """

    scale: float = Field(default=1.0, gt=0, le=2)
    seed: int = 42


class ProvinceConfig(_Model):
    """One province's resolved config (defaults merged with the province file)."""

    slug: str
    name: Names
    crs: str = "EPSG:32648"
    osm: OsmConfig
    boundary: BoundaryConfig
    stations: StationsConfig
    wards: WardsConfig = Field(default_factory=WardsConfig)
    buildings: BuildingsConfig
    access: AccessConfig
    water: WaterConfig
    response: ResponseConfig
    density: DensityConfig
    report: ReportConfig
    synth: SynthConfig | None = None

    @field_validator("crs")
    @classmethod
    def _projected_crs(cls, v: str) -> str:
        from pyproj import CRS  # noqa: PLC0415 - keep import time of the CLI low
        from pyproj.exceptions import CRSError  # noqa: PLC0415

        try:
            crs = CRS.from_user_input(v)
        except CRSError as e:
            msg = f"unknown CRS {v!r}"
            raise ValueError(msg) from e
        if not crs.is_projected:
            msg = f"{v} is not a projected CRS; metric work needs one (e.g. EPSG:32648, UTM 48N)"
            raise ValueError(msg)
        return v

    def section(self, name: str) -> dict[str, Any]:
        """Return one section as plain data (for hashing into a stage's cache key)."""
        return self.model_dump(mode="json")[name]  # type: ignore[no-any-return]


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Return ``base`` with ``override`` merged in; nested dicts merge, anything else replaces.

    Parameters
    ----------
    base
        The defaults.
    override
        The province's values.

    Returns
    -------
    dict
        A new dict; neither input is changed.
    """
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        msg = f"{path}: not valid YAML ({e})"
        raise ConfigError(msg) from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        msg = f"{path}: the top level must be a mapping of keys, not {type(data).__name__}"
        raise ConfigError(msg)
    return data


def _known_keys(model: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    current: Any = model
    for part in loc[:-1]:
        field = current.model_fields.get(part) if isinstance(part, str) else None
        if field is None:
            return []
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            current = annotation
        else:
            return []
    return list(current.model_fields)


def _describe(error: Any, model: type[BaseModel]) -> str:  # noqa: ANN401 - pydantic error dict
    loc = tuple(error["loc"])
    key = ".".join(str(p) for p in loc)
    if error["type"] == "extra_forbidden":
        hint = difflib.get_close_matches(str(loc[-1]), _known_keys(model, loc), n=1)
        suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
        return f"unknown key {key!r}{suggestion}"
    if error["type"] == "missing":
        return f"missing key {key!r}"
    return f"key {key!r}: {error['msg']}"


def available_provinces(root: Path = PROJECT_ROOT) -> list[str]:
    """Return the slugs of every province config in ``data/provinces/``."""
    folder = root / "data" / "provinces"
    return sorted(p.stem for p in folder.glob("*.yaml") if p.stem != "defaults")


def load_config(province: str, *, root: Path = PROJECT_ROOT) -> ProvinceConfig:
    """Load, merge and validate a province config.

    Parameters
    ----------
    province
        Slug of ``data/provinces/<slug>.yaml``.
    root
        Project root.

    Returns
    -------
    ProvinceConfig

    Raises
    ------
    ConfigError
        Unknown province, YAML syntax error, unknown or missing key, or a bad value; the
        message names the file and the key path.
    """
    paths = ProvincePaths(province, root)
    if not paths.config.exists():
        known = ", ".join(available_provinces(root)) or "none"
        msg = (
            f"{paths.config}: unknown province {province!r}; known provinces: {known}. "
            "Add a province by adding data/provinces/<slug>.yaml"
        )
        raise ConfigError(msg)
    defaults = _read_yaml(paths.defaults) if paths.defaults.exists() else {}
    own = _read_yaml(paths.config)
    merged = deep_merge(defaults, own)
    merged.setdefault("slug", province)
    try:
        return ProvinceConfig.model_validate(merged)
    except pydantic.ValidationError as e:
        problems = "; ".join(_describe(err, ProvinceConfig) for err in e.errors())
        msg = f"{paths.config}: {problems}"
        raise ConfigError(msg) from e


_FILE_KEYS = ("file", "files", "path")
_FILE_SUFFIXES = ("_csv", "_raster", "_files", "_file", "_dir")


def _is_file_key(key: str) -> bool:
    return key in _FILE_KEYS or key.endswith(_FILE_SUFFIXES)


def config_files(
    config: ProvinceConfig, sections: tuple[str, ...] | None, *, root: Path = PROJECT_ROOT
) -> list[Path]:
    """Return every input file named in the given config sections (all sections for ``None``).

    A key counts as a file when it is ``file``, ``files`` or ``path``, or ends in ``_csv``,
    ``_raster``, ``_file``, ``_files`` or ``_dir`` (a folder: all its files are hashed); lists and
    nested source entries are followed. Their
    hashes key the stages' caches, so a changed input file reruns the stages that read it.

    Parameters
    ----------
    config
        The resolved config.
    sections
        Top-level section names.
    root
        Project root relative paths are resolved against.

    Returns
    -------
    list of Path
    """
    from pipeline.paths import resolve_input  # noqa: PLC0415 - paths imports nothing heavy

    data = config.model_dump(mode="json")
    found: list[Path] = []

    def walk(node: Any, is_file: bool) -> None:  # noqa: ANN401 - JSON data
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, _is_file_key(str(k)))
        elif isinstance(node, list):
            for v in node:
                walk(v, is_file)
        elif is_file and isinstance(node, str) and node:
            found.append(resolve_input(node, root))

    for name in data if sections is None else sections:
        walk(data.get(name), is_file=False)
    return sorted(set(found))


def dump_config(config: ProvinceConfig) -> str:
    """Return the resolved config as YAML text (written to ``config.resolved.yaml``)."""
    text: str = yaml.safe_dump(config.model_dump(mode="json"), allow_unicode=True, sort_keys=False)
    return text
