"""VN-2000 coordinates of a province's own 3° zone (TM-3, scale 0.9999), as planners use them."""

from __future__ import annotations

import functools
import logging
import math
from typing import TYPE_CHECKING

from pyproj import CRS
from pyproj.crs import ProjectedCRS
from pyproj.crs.coordinate_operation import TransverseMercatorConversion
from pyproj.database import query_crs_info
from pyproj.enums import PJType

if TYPE_CHECKING:
    from pipeline.config import Vn2000Zone

logger = logging.getLogger(__name__)

#: VN-2000 geographic CRS (EPSG:4756): the base of every VN-2000 grid.
VN2000_GEOGRAPHIC = 4756
#: VN-2000 / UTM zone 48N: the fallback when a province names no 3° zone.
VN2000_UTM48N = 3405
#: Scale factor on the central meridian of a 3° zone (VN-2000 TM-3).
TM3_SCALE = 0.9999
TM3_FALSE_EASTING_M = 500_000.0


def meridian_text(meridian_deg: float) -> str:
    """Return a meridian as degrees and minutes, e.g. ``105°30'``."""
    deg = int(meridian_deg)
    minutes = round((meridian_deg - deg) * 60)
    return f"{deg}°{minutes:02d}\u2032"


@functools.cache
def tm3_epsg_codes() -> dict[float, int]:
    """Return the EPSG codes of the VN-2000 3° zones (scale 0.9999) by central meridian."""
    out: dict[float, int] = {}
    for info in query_crs_info(auth_name="EPSG", pj_types=PJType.PROJECTED_CRS):
        if not info.name.startswith("VN-2000 / TM-3"):
            continue
        op = CRS.from_epsg(info.code).coordinate_operation
        params = {p.name: float(p.value) for p in (op.params if op is not None else [])}
        if math.isclose(params.get("Scale factor at natural origin", 0.0), TM3_SCALE):
            out.setdefault(round(params["Longitude of natural origin"], 4), int(info.code))
    return out


def tm3_crs(meridian_deg: float) -> CRS:
    """Return the VN-2000 3° grid (TM-3, k = 0.9999, false easting 500 km) of a central meridian.

    The EPSG zone when one exists for the meridian (EPSG:5896-5899, 9205-9218; Hà Nội's 105°00'
    is EPSG:5897, "zone 482"), else the same Transverse Mercator built on VN-2000 (EPSG:4756).
    """
    code = tm3_epsg_codes().get(round(meridian_deg, 4))
    if code is not None:
        return CRS.from_epsg(code)
    conversion = TransverseMercatorConversion(
        latitude_natural_origin=0.0,
        longitude_natural_origin=meridian_deg,
        false_easting=TM3_FALSE_EASTING_M,
        false_northing=0.0,
        scale_factor_natural_origin=TM3_SCALE,
    )
    return ProjectedCRS(
        conversion=conversion,
        geodetic_crs=CRS.from_epsg(VN2000_GEOGRAPHIC),
        name=f"VN-2000 / TM-3 {meridian_text(meridian_deg)}",
    )


def zone_crs(zone: Vn2000Zone | None) -> CRS:
    """Return the VN-2000 grid of a province: its TM-3 zone (:func:`tm3_crs`), or UTM 48N.

    Parameters
    ----------
    zone
        ``report.vn2000_zone`` of the province config.

    Returns
    -------
    pyproj.CRS
    """
    if zone is None:
        return CRS.from_epsg(VN2000_UTM48N)
    return tm3_crs(zone.meridian_deg)


def zone_label(zone: Vn2000Zone | None) -> str:
    """Return the grid's short name for column headers, e.g. ``VN-2000 TM-3 105°00'``."""
    if zone is None:
        return "VN-2000 UTM 48N"
    return f"VN-2000 TM-3 {meridian_text(zone.meridian_deg)}"
