"""Province config: ``data/provinces/<slug>.yaml`` deep-merged over ``defaults.yaml``, validated."""

from __future__ import annotations

import difflib
import logging
from typing import TYPE_CHECKING, Annotated, Any, Literal

import pydantic
import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

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


#: Units a threshold may be written in, by family: factor to the family's base unit (first).
UNIT_FAMILIES: dict[str, dict[str, float]] = {
    "length": {"m": 1.0, "mm": 1e-3, "cm": 1e-2, "dm": 0.1, "km": 1e3, "mét": 1.0},
    "time": {
        "s": 1.0, "sec": 1.0, "second": 1.0, "seconds": 1.0, "giây": 1.0,
        "min": 60.0, "minute": 60.0, "minutes": 60.0, "phút": 60.0,
        "h": 3600.0, "hour": 3600.0, "hours": 3600.0, "giờ": 3600.0,
    },
    "flow": {"l/s": 1.0, "l/min": 1 / 60, "m3/h": 1 / 3.6, "m³/h": 1 / 3.6},
    "floor_density": {"m2/ha": 1.0, "m²/ha": 1.0},
    "people_density": {"people/ha": 1.0, "người/ha": 1.0, "people/km2": 0.01, "người/km2": 0.01},
    "storeys": {"storeys": 1.0, "storey": 1.0, "floors": 1.0, "tầng": 1.0},
    "money": {"vnd": 1.0, "đồng": 1.0, "million vnd": 1e6, "triệu đồng": 1e6,
              "billion vnd": 1e9, "tỷ đồng": 1e9},
    "money_per_area": {"vnd/m2": 1.0, "vnd/m²": 1.0, "đồng/m2": 1.0, "đồng/m²": 1.0},
    "area_per_person": {"m2/person": 1.0, "m²/person": 1.0, "m2/người": 1.0, "m²/người": 1.0},
    "area": {"m2": 1.0, "m²": 1.0, "ha": 1e4, "km2": 1e6, "km²": 1e6},
    "share": {"share": 1.0, "fraction": 1.0, "%": 0.01, "percent": 0.01},
}  # fmt: skip
#: The unit of each family that stages read when the key names none.
FAMILY_BASE: dict[str, str] = {
    "length": "m", "time": "s", "flow": "L/s", "floor_density": "m2/ha",
    "people_density": "people/ha", "storeys": "storeys", "money": "VND",
    "money_per_area": "VND/m2", "area_per_person": "m2/person", "area": "m2", "share": "share",
}  # fmt: skip
#: Key suffix -> (family, base unit): a threshold's key names the unit stages read it in.
_KEY_UNITS: tuple[tuple[str, str, str], ...] = (
    ("_m2_per_ha", "floor_density", "m2/ha"),
    ("_per_person_m2", "area_per_person", "m2/person"),
    ("_per_ha", "people_density", "people/ha"),
    ("_lps", "flow", "L/s"),
    ("_m2", "area", "m2"),
    ("_km", "length", "km"),
    ("_m", "length", "m"),
    ("_min", "time", "min"),
    ("_s", "time", "s"),
    ("_share", "share", "share"),
    ("_levels", "storeys", "storeys"),
)
#: Plausible values in the base unit, to catch a wrong unit or a typo (not standards): by family,
#: narrowed for vehicle and street dimensions by a word of the key.
PLAUSIBLE: dict[str, tuple[float, float]] = {
    "length": (0.0, 100_000.0),
    "time": (0.0, 86_400.0),
    "flow": (0.0, 10_000.0),
    "floor_density": (0.0, 200_000.0),
    "people_density": (0.0, 100_000.0),
    "storeys": (0.0, 200.0),
    "money": (0.0, 1e15),
    "money_per_area": (0.0, 1e10),
    "area_per_person": (1.0, 1000.0),
    "area": (0.0, 1e10),
    "share": (0.0, 1.0),
}
PLAUSIBLE_BY_WORD: dict[str, tuple[float, float]] = {
    "width": (0.5, 30.0),
    "height": (1.0, 50.0),
    "margin": (0.0, 5.0),
}


def _family(unit: str) -> str | None:
    given = unit.strip().lower()
    return next((f for f, units in UNIT_FAMILIES.items() if given in units), None)


def _base_unit(key: str, given: str, base_units: dict[str, str]) -> tuple[str | None, str | None]:
    """Return the kind and unit stages read a threshold in.

    As defaults.yaml states it, else as the key's suffix names it, else the base unit of the
    kind of the unit given.
    """
    if key in base_units and _family(base_units[key]) is not None:
        return _family(base_units[key]), base_units[key]
    name = key.rsplit(".", 1)[-1]
    found = next(((f, b) for s, f, b in _KEY_UNITS if name.endswith(s)), None)
    if found is not None:
        return found
    family = _family(given)
    return family, FAMILY_BASE[family] if family is not None else None


def _threshold_problem(
    key: str, raw: dict[str, Any], base_units: dict[str, str]
) -> tuple[str | None, dict[str, Any]]:
    """Convert one ``{value, unit, source}`` to the unit stages read it in, or say why not."""
    value, unit = raw.get("value"), raw.get("unit")
    if isinstance(value, bool) or not isinstance(value, int | float) or not isinstance(unit, str):
        return None, raw  # wrong types: the model's own validation names them
    name = key.rsplit(".", 1)[-1]
    given = unit.strip().lower()
    family, base = _base_unit(key, unit, base_units)
    if family is None or base is None:
        return f"key {key!r}: unknown unit {unit!r}", raw
    units = UNIT_FAMILIES[family]
    if given not in units:
        return (
            f"key {key!r}: unit {unit!r} is not a {family.replace('_', ' ')} unit "
            f"(use one of {', '.join(units)})"
        ), raw
    converted = float(value) * units[given] / units[str(base).lower()]
    lo, hi = next((r for w, r in PLAUSIBLE_BY_WORD.items() if w in name), PLAUSIBLE[family])
    if not converted > 0:
        return f"key {key!r}: must be positive, not {value:g} {unit}", raw
    if not lo <= converted <= hi:
        return (
            f"key {key!r}: {value:g} {unit} is outside the plausible range {lo:g}-{hi:g} {base} "
            "(wrong unit?)"
        ), raw
    return None, {**raw, "value": converted, "unit": base}


def threshold_units(data: dict[str, Any]) -> dict[str, str]:
    """Return the unit of every threshold in raw config data, by dotted key."""
    found: dict[str, str] = {}

    def walk(node: Any, key: str) -> None:  # noqa: ANN401 - YAML data
        if isinstance(node, dict):
            if "value" in node and isinstance(node.get("unit"), str):
                found[key] = node["unit"]
                return
            for k, v in node.items():
                walk(v, f"{key}.{k}" if key else str(k))

    walk(data, "")
    return found


def normalise_thresholds(
    data: dict[str, Any], base_units: dict[str, str] | None = None
) -> dict[str, Any]:
    """Return raw config data with every threshold in the base unit its key names, checked.

    A threshold is any mapping with ``value`` and ``unit``. The stages read it in the unit
    ``defaults.yaml`` states for it (``base_units``), else the unit its key's suffix names
    (``_m`` metres, ``_km``, ``_s`` seconds, ``_m2``, ``_m2_per_ha``, ``_per_ha`` people,
    ``_lps`` litres per second, ``_share``); the value is converted from the unit given
    (mm/cm/m/km, s/min/h, L/s, L/min, m³/h, %...), then must be positive and within
    :data:`PLAUSIBLE`. ``{value: 350, unit: cm}`` for ``truck_min_width_m`` becomes
    ``{value: 3.5, unit: m}``.

    Parameters
    ----------
    data
        The merged YAML data.
    base_units
        Dotted key -> unit the stages read (see :func:`threshold_units` of the defaults).

    Returns
    -------
    dict
        A copy with converted thresholds.

    Raises
    ------
    ValueError
        Naming every key with an unknown unit, a unit of the wrong kind, or an implausible value.
    """
    problems: list[str] = []

    def walk(node: Any, key: str) -> Any:  # noqa: ANN401 - YAML data
        if not isinstance(node, dict):
            return node
        if "value" in node and "unit" in node:
            problem, out = _threshold_problem(key, node, base_units or {})
            if problem:
                problems.append(problem)
            return out
        return {k: walk(v, f"{key}.{k}" if key else str(k)) for k, v in node.items()}

    out = walk(data, "")
    if problems:
        raise ValueError("; ".join(problems))
    return dict(out)


#: Width sources (the evidence that set a street's estimate), strongest first; each has a
#: confidence in ``access.width_confidence`` (see :mod:`pipeline.widths`).
WIDTH_SOURCES: tuple[str, ...] = (
    "measured",
    "tag",
    "lanes",
    "corridor",
    "service_prior",
    "name_prior",
    "class_prior",
    "unknown_prior",
)


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
    path downloads ``download_url`` into ``cache/raw/<province>/`` once (resuming a partial
    download, checking the MD5 published beside it: ``md5_url``, by default the URL plus
    ``.md5`` as Geofabrik publishes it). A downloaded extract, or any file of ``clip_min_mb`` or
    more (``clip: auto``), is cut once to the boundary plus ``clip_buffer_m`` and the cut is
    cached in ``cache/clip/<province>/``.
    """

    file: str | None = None
    download_url: str | None = None
    download_name: str = "vietnam-latest.osm.pbf"
    md5_url: str | None = None
    verify_md5: bool = True
    timeout_s: float = Field(default=60.0, gt=0)
    clip: Literal["auto", "always", "never"] = "auto"
    clip_min_mb: float = Field(default=64.0, ge=0)
    clip_buffer_m: float = Field(default=1000.0, ge=0)
    # Without a replication timestamp in its header, a file up to this size is scanned for its
    # newest object to date the data.
    date_scan_max_mb: float = Field(default=200.0, ge=0)


class BoundaryConfig(_Model):
    """The province boundary: the OSM administrative relation, or a vector file.

    With ``osm_name`` / ``osm_relation`` (and ``osm_admin_level``) the boundary is that relation
    of the OSM data; when the data does not hold it, or holds a polygon that overlaps ``file``
    by less than ``osm_min_iou`` (an extract from before a merger), ``file`` is used instead
    (one feature picked by ``field`` = ``value``). With neither, the boundary is the extent of
    the OSM data (logged as a warning).
    """

    file: str | None = None
    layer: str | None = None
    field: str | None = None
    value: str | None = None
    osm_admin_level: int | None = None
    osm_name: str | None = None
    osm_relation: int | None = None
    osm_min_iou: float = Field(default=0.9, ge=0, le=1)


class WardsConfig(_Model):
    """Wards and communes (phường / xã), the unit every summary is given per.

    Taken from the first of: a polygon ``file``; OSM administrative areas at
    ``osm_admin_level`` (``auto``: the finest level whose areas cover ``osm_min_cover`` of the
    province; ``null``: never), given code, type and population from ``centroids_csv`` when
    their names match it; Voronoi cells of the ``centroids_csv`` commune centroids, clipped to
    the boundary and flagged approximate; else the whole province as one unit.
    """

    file: str | None = None
    layer: str | None = None
    osm_admin_level: int | Literal["auto"] | None = "auto"
    osm_min_cover: float = Field(default=0.9, gt=0, le=1)
    # Below this share of OSM wards matching the table by name, the table's centroids are used
    # (the OSM data's units are of another era).
    osm_min_matched: float = Field(default=0.5, ge=0, le=1)
    centroids_csv: str | None = None
    # Columns of the centroids table, recognised by their headers unless named here.
    id_column: str | None = None
    name_column: str | None = None
    type_column: str | None = None
    population_column: str | None = None
    lon_column: str | None = None
    lat_column: str | None = None


class SourceFile(_Model):
    """An authority file (CSV, XLSX, GeoJSON, GPKG): ``files: [path]``, or a mapping to override.

    Columns are recognised by their headers, in Vietnamese or English, with or without
    diacritics (see ``pipeline.tables.COLUMN_ALIASES``); ``columns`` maps a canonical name
    (``name``, ``status``, ``type``, ``lat``, ``lon``, ``x``, ``y``, ``id``, ``osm_id``,
    ``width_m``, ``date``, ``population``) to a header the detection misses. ``crs`` is the CRS
    of x/y columns: an EPSG code or a VN-2000 zone (``"VN-2000 / TM-3 105-30"``).
    """

    path: str
    crs: str = "EPSG:4326"
    columns: dict[str, str] = Field(default_factory=dict)
    x_column: str | None = None
    y_column: str | None = None
    type_column: str | None = None
    default_type: str | None = None
    default_status: str | None = None
    layer: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, data: Any) -> Any:  # noqa: ANN401 - raw YAML data
        return {"path": data} if isinstance(data, str) else data


class StationsConfig(_Model):
    """Fire stations: OSM ``amenity=fire_station`` plus the authority's own lists.

    Authority files need a name, a status (``hiện có`` / ``quy hoạch`` / ``đang xây dựng`` or
    ``existing`` / ``planned``; without a status column every row is existing, or the file's
    ``default_status``) and coordinates; unusable rows are listed with their line numbers.
    """

    from_osm: bool = True
    files: list[SourceFile] = Field(default_factory=list)


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
    corridor_raise_max_m: Threshold
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
    siting_position_step_m: float = Field(default=25.0, gt=0)
    candidate_spacing_m: float = Field(default=500.0, ge=0)

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


class Vn2000Zone(_Model):
    """The province's VN-2000 3° zone (TM-3, scale 0.9999), in which shortlists give x / y."""

    meridian_deg: float = Field(ge=102, le=110)
    source: str = Field(min_length=1)


class UnitCosts(_Model):
    """Indicative unit costs (VND) of the shortlists' works; a cost left unset is not shown."""

    alley_widening_vnd_per_m2: Threshold | None = None
    hydrant_vnd_each: Threshold | None = None
    fire_point_vnd_each: Threshold | None = None
    station_vnd_each: Threshold | None = None


class ReportConfig(_Model):
    """Language, coordinates, costs and map size limits of the planners' outputs (``report``).

    The province map is drawn from aggregates (truck streets merged and simplified, points
    binned into grid cells beyond ``province_max_points``, other streets, alleys and water
    reach as ``province_line_cell_m`` cells below ``province_detail_zoom`` and as lines from
    it); ward maps keep full detail.
    """

    language: Literal["vi", "en"] = "vi"
    max_map_mb: float = 25.0
    shortlist_rows: int = 50
    vn2000_zone: Vn2000Zone | None = None
    floor_area_per_person_m2: Threshold
    unit_costs: UnitCosts = Field(default_factory=UnitCosts)
    address_search_m: float = Field(default=50.0, gt=0)
    pdf: bool = True
    print_rows: int = Field(default=20, ge=0)
    ward_print_rows: int = Field(default=5, ge=0)
    isochrone_scenario: str | None = None
    coordinate_decimals: int = Field(default=6, ge=4, le=8)
    province_coordinate_decimals: int = Field(default=5, ge=4, le=8)
    province_simplify_m: float = 5.0
    ward_simplify_m: float = 0.5
    province_max_points: int = 5000
    province_grid_m: float = 250.0
    province_line_cell_m: float = 1000.0
    province_detail_zoom: int = Field(default=13, ge=8, le=18)
    satellite_tiles: str = (
        "https://server.arcgisonline.com/ArcGIS/rest/services/"
        "World_Imagery/MapServer/tile/{z}/{y}/{x}"
    )
    satellite_attribution: str = "Esri World Imagery"
    leaflet_dir: str = "cache/vendor/leaflet-1.9.4"


class SynthConfig(_Model):
    """A generated province (``tools/synth.py``) instead of real data.

    When set, the OSM file, boundary and wards are the generated dataset of ``(scale, seed)``
    (generated once, cached in ``cache/synth/``); ``make analyze PROVINCE=synth SCALE=0.25``
    overrides the scale.
    """

    scale: float = Field(default=1.0, gt=0, le=2)
    seed: int = 42


class ProvinceConfig(_Model):
    """One province's resolved config (defaults merged with the province file).

    :func:`load_config` converts every threshold to the unit the stages read it in and
    range-checks it before validation: see :func:`normalise_thresholds`.
    """

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
    text = str(error["msg"]).removeprefix("Value error, ")
    return f"key {key!r}: {text}" if key else text


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
        merged = normalise_thresholds(merged, threshold_units(defaults))
    except ValueError as e:
        msg = f"{paths.config}: {e}"
        raise ConfigError(msg) from e
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
