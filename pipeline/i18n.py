"""Vietnamese and English text of every user-facing string of the maps, shortlists and report."""

from __future__ import annotations

import logging
from typing import Literal

from pipeline._errors import ConfigError

logger = logging.getLogger(__name__)

Language = Literal["vi", "en"]
LANGUAGES: tuple[Language, ...] = ("vi", "en")
#: Shown where a value is unknown.
MISSING = "\u2013"

#: Every user-facing string, by key: ``{key: (vi, en)}``.
TEXT: dict[str, tuple[str, str]] = {
    # Map layers and legend
    "layer_streets": ("Đường theo bề rộng", "Streets by width"),
    "layer_alleys": ("Ngõ hẹp / sâu", "Narrow / deep alleys"),
    "layer_deep_buildings": ("Nhà trong ngõ sâu", "Deep-alley buildings"),
    "layer_water": ("Trụ nước và nguồn nước", "Hydrants and water sources"),
    "layer_water_reach": ("Phạm vi nguồn nước", "Water source reach"),
    "layer_stations": ("Đội PCCC (hiện có / quy hoạch)", "Fire stations (existing / planned)"),
    "layer_isochrones": ("Thời gian tiếp cận", "Response-time isochrones"),
    "layer_dense_unreached": ("Khu đông đúc chưa tiếp cận", "Dense, unreached cells"),
    "layer_shortlist": ("Địa điểm đề xuất", "Shortlisted sites"),
    "layer_wards": ("Ranh giới phường/xã", "Ward boundaries"),
    "base_osm": ("Bản đồ OSM", "OpenStreetMap"),
    "base_satellite": ("Ảnh vệ tinh", "Satellite"),
    "legend": ("Chú giải", "Legend"),
    "class_truck": ("Xe chữa cháy vào được (≥ {truck} m)", "Fire truck (≥ {truck} m)"),
    "class_small_vehicle": ("Chỉ xe chữa cháy nhỏ", "Small fire vehicle only"),
    "class_hose_only": ("Chỉ kéo vòi", "Hose only"),
    "class_blocked": ("Bị chắn", "Blocked"),
    "status_existing": ("Hiện có", "Existing"),
    "status_planned": ("Quy hoạch", "Planned"),
    "water_usable": ("Nguồn nước dùng được", "Usable water source"),
    "water_unusable": ("Nguồn nước không dùng được", "Unusable water source"),
    "minutes": ("{m:g} phút", "{m:g} min"),
    "cells_count": ("{n} nhà", "{n} buildings"),
    "site_station": ("Địa điểm đội PCCC mới", "New station site"),
    "site_hydrant": ("Vị trí trụ nước mới", "New hydrant / water point"),
    "site_fire_point": ("Điểm chữa cháy công cộng", "Public fire-fighting point"),
    "why_station": (
        "Hạng {rank}: thêm {buildings} nhà / {area} m² sàn vào vùng {target} phút",
        "Rank {rank}: brings {buildings} buildings / {area} m² floor area within {target} min",
    ),
    "why_hydrant": (
        "Hạng {rank}: thêm {buildings} nhà / {area} m² sàn trong tầm nước",
        "Rank {rank}: brings {buildings} buildings / {area} m² floor area within water reach",
    ),
    "why_fire_point": (
        "Hạng {rank}: ngõ sâu không có điểm chữa cháy; {buildings} nhà / {area} m² sàn phía sau",
        "Rank {rank}: deep alley without a fire point; {buildings} buildings / {area} m² behind it",
    ),
    "open_ward_map": ("Mở bản đồ phường/xã", "Open the ward map"),
    "whole_province": ("Toàn tỉnh", "Whole province"),
    # Shortlists (sheet names are at most 31 characters)
    "list_alleys": ("Ngõ cần mở rộng", "Alleys to widen"),
    "list_hydrants": ("Trụ nước mới", "New hydrant sites"),
    "list_fire_points": ("Điểm chữa cháy mới", "New fire points"),
    "list_stations": ("Đội PCCC mới", "New station sites"),
    "list_wards": ("Phường xã theo rủi ro", "Wards by risk"),
    "list_thresholds": ("Ngưỡng và nguồn", "Thresholds and sources"),
    # Column labels
    "col_id": ("Mã", "ID"),
    "col_rank": ("Hạng", "Rank"),
    "col_ward": ("Phường/xã", "Ward"),
    "col_ward_id": ("Mã phường/xã", "Ward ID"),
    "col_ward_type": ("Loại", "Type"),
    "col_name": ("Tên", "Name"),
    "col_length_m": ("Chiều dài (m)", "Length (m)"),
    "col_depth_m": ("Độ sâu (m)", "Depth (m)"),
    "col_min_width_m": ("Bề rộng nhỏ nhất (m)", "Minimum width (m)"),
    "col_n_buildings": ("Số nhà phía sau", "Buildings behind"),
    "col_n_deep_buildings": ("Số nhà ngoài tầm vòi", "Buildings beyond hose reach"),
    "col_floor_area_m2": ("Diện tích sàn (m²)", "Floor area (m²)"),
    "col_added_buildings": ("Số nhà được phục vụ thêm", "Buildings added"),
    "col_added_floor_area_m2": ("Diện tích sàn thêm (m²)", "Floor area added (m²)"),
    "col_has_fire_point": ("Có điểm chữa cháy", "Has a fire point"),
    "col_priority": ("Ưu tiên", "Priority"),
    "col_lon": ("Kinh độ (WGS84)", "Longitude (WGS84)"),
    "col_lat": ("Vĩ độ (WGS84)", "Latitude (WGS84)"),
    "col_x_utm": ("X (UTM 48N, m)", "X (UTM 48N, m)"),
    "col_y_utm": ("Y (UTM 48N, m)", "Y (UTM 48N, m)"),
    "col_x_vn2000": ("X (VN-2000 / UTM 48N, m)", "X (VN-2000 / UTM 48N, m)"),
    "col_y_vn2000": ("Y (VN-2000 / UTM 48N, m)", "Y (VN-2000 / UTM 48N, m)"),
    "col_map_link": ("Liên kết bản đồ", "Map link"),
    "col_population": ("Dân số", "Population"),
    "col_area_km2": ("Diện tích (km²)", "Area (km²)"),
    "col_street_km": ("Đường (km)", "Streets (km)"),
    "col_truck_share": ("Tỷ lệ đường xe chữa cháy", "Truck-street share"),
    "col_n_alleys": ("Số ngõ hẹp/sâu", "Narrow/deep alleys"),
    "col_buildings": ("Số nhà", "Buildings"),
    "col_scenario": ("Kịch bản", "Scenario"),
    "col_stations": ("Số đội PCCC", "Stations"),
    "col_buildings_within_target": ("Nhà trong thời gian mục tiêu", "Buildings within target"),
    "col_floor_area_within_target_m2": (
        "Diện tích sàn trong thời gian mục tiêu (m²)",
        "Floor area within target (m²)",
    ),
    "col_population_within_target": ("Dân số trong thời gian mục tiêu", "People within target"),
    "col_dense_cells": ("Ô đông đúc", "Dense cells"),
    "col_dense_unreached_cells": ("Ô đông đúc chưa tiếp cận", "Dense cells unreached"),
    "col_dense_unreached_ha": (
        "Diện tích đông đúc chưa tiếp cận (ha)",
        "Dense area unreached (ha)",
    ),
    "col_dense_unreached_population": (
        "Dân số vùng đông đúc chưa tiếp cận",
        "People in dense unreached cells",
    ),
    "col_newly_covered_population": ("Dân số được phủ thêm", "People newly covered"),
    "col_newly_covered_floor_area_m2": (
        "Diện tích sàn được phủ thêm (m²)",
        "Floor area newly covered (m²)",
    ),
    "col_newly_covered_dense_ha": (
        "Diện tích đông đúc được phủ thêm (ha)",
        "Dense area newly covered (ha)",
    ),
    "col_deep_share": ("Tỷ lệ nhà ngõ sâu", "Deep-alley share"),
    "col_water_uncovered_share": ("Tỷ lệ nhà thiếu nước", "Share without water"),
    "col_unreached_share": ("Tỷ lệ nhà quá thời gian", "Share beyond target time"),
    "col_median_time_s": ("Thời gian trung vị (giây)", "Median response time (s)"),
    "col_risk": ("Điểm rủi ro (0\u20131)", "Risk score (0\u20131)"),
    "col_approximate": ("Ranh giới gần đúng", "Approximate boundary"),
    "col_reason": ("Lý do", "Reason"),
    "col_key": ("Tham số", "Parameter"),
    "col_value": ("Giá trị", "Value"),
    "col_unit": ("Đơn vị", "Unit"),
    "col_source": ("Nguồn", "Source"),
    "col_width_m": ("Bề rộng (m)", "Width (m)"),
    "col_width_source": ("Nguồn bề rộng", "Width source"),
    "col_truck_status": ("Xe chữa cháy", "Fire truck"),
    "col_width_evidence": ("Căn cứ bề rộng", "Width evidence"),
    "col_width_confidence": ("Độ tin cậy bề rộng", "Width confidence"),
    "col_n_buildings_behind": ("Số nhà phía sau", "Buildings behind"),
    "col_n_deep_behind": ("Số nhà phía sau ngoài tầm vòi", "Buildings behind beyond hose reach"),
    "col_floor_area_behind_m2": ("Diện tích sàn phía sau (m²)", "Floor area behind (m²)"),
    "col_deep_status": ("Ngoài tầm vòi", "Beyond hose reach"),
    # Truck status of a street or alley, and how sure a building's hose reach is
    "truck_passable": ("Xe chữa cháy vào được", "Passable for fire trucks"),
    "truck_not_passable": ("Xe chữa cháy không vào được", "Not passable for fire trucks"),
    "truck_uncertain": ("Chưa chắc: cần khảo sát thực địa", "Uncertain: field check needed"),
    "deep_deep": ("Ngoài tầm vòi", "Beyond hose reach"),
    "deep_not_deep": ("Trong tầm vòi", "Within hose reach"),
    "deep_uncertain": ("Chưa chắc: cần khảo sát thực địa", "Uncertain: field check needed"),
    # Width evidence (pipeline.widths), one phrase per kind of evidence
    "ev_class": ("loại đường {value}", "road class {value}"),
    "ev_service": ("đường nội bộ loại {value}", "service road kind {value}"),
    "ev_alley_name": ("tên ngõ/hẻm", "alley name"),
    "ev_lanes": ("{value} làn xe", "{value} lane(s)"),
    "ev_corridor": (
        "khoảng cách giữa hai dãy nhà {value}",
        "gap between the building rows {value}",
    ),
    "ev_sidewalk": ("có vỉa hè", "has sidewalks"),
    "ev_width": ("thẻ bề rộng {value}", "width tag {value}"),
    "ev_est_width": ("bề rộng ước tính (thẻ) {value}", "estimated width tag {value}"),
    "ev_measured": ("đo thực địa {value}", "field survey {value}"),
    "col_kind": ("Loại", "Kind"),
    "col_reach_m": ("Tầm phục vụ (m)", "Reach (m)"),
    "col_time_s": ("Thời gian (giây)", "Time (s)"),
    "col_status": ("Trạng thái", "Status"),
    "yes": ("Có", "Yes"),
    "no": ("Không", "No"),
    # Report
    "report_title": (
        "Báo cáo hạ tầng PCCC: {province}",
        "Fire-fighting infrastructure: {province}",
    ),
    "map_title": ("Bản đồ rủi ro PCCC: {name}", "Fire risk map: {name}"),
    "index_title": ("Bản đồ theo phường/xã: {province}", "Ward maps: {province}"),
    "generated": ("Lập ngày {date}", "Generated on {date}"),
    "sec_summary": ("Số liệu tổng hợp", "Summary"),
    "sec_wards": ("Theo phường/xã", "By ward"),
    "sec_charts": ("Biểu đồ", "Charts"),
    "sec_scenarios": ("So sánh kịch bản", "Scenario comparison"),
    "sec_sources": ("Nguồn dữ liệu", "Data sources"),
    "sec_thresholds": ("Ngưỡng và căn cứ pháp lý", "Thresholds and legal sources"),
    "sec_limits": ("Giới hạn của dữ liệu", "Known limits of the data"),
    "sec_outputs": ("Tệp kết quả", "Output files"),
    "no_data": ("Không có dữ liệu", "No data"),
    "stage_missing": ("Chưa có kết quả bước {stage}", "No results from stage {stage} yet"),
    "sum_street_km": ("Tổng chiều dài đường (km)", "Street length (km)"),
    "sum_truck_km": ("Đường xe chữa cháy vào được (km)", "Fire-truck streets (km)"),
    "sum_narrow_km": ("Đường dưới ngưỡng (km)", "Streets below the truck width (km)"),
    "sum_alleys": ("Ngõ hẹp/sâu", "Narrow/deep alleys"),
    "sum_buildings": ("Số nhà", "Buildings"),
    "sum_deep_buildings": ("Nhà ngoài tầm vòi từ đường xe", "Buildings beyond hose reach"),
    "sum_water_sources": ("Nguồn nước dùng được", "Usable water sources"),
    "sum_water_uncovered": ("Nhà ngoài tầm nước", "Buildings beyond water reach"),
    "sum_stations": ("Đội PCCC", "Fire stations"),
    "sum_unreached": ("Nhà quá thời gian mục tiêu", "Buildings beyond the target time"),
    "sum_dense_unreached": ("Ô đông đúc chưa tiếp cận", "Dense, unreached cells"),
    "chart_risk": ("Điểm rủi ro theo phường/xã", "Risk score by ward"),
    "chart_width": ("Chiều dài đường theo loại bề rộng (km)", "Street length by width class (km)"),
    "chart_time": ("Phân bố thời gian tiếp cận (phút)", "Response time distribution (min)"),
    "chart_buildings": ("Số nhà", "Buildings"),
    "limit_widths": (
        (
            "Bề rộng đường phần lớn được suy ra (thẻ OSM, số làn, khoảng cách giữa các nhà, loại "
            "đường), không phải đo đạc thực địa."
        ),
        (
            "Street widths are mostly inferred (OSM tags, lanes, gaps between buildings, "
            "road class), not surveyed."
        ),
    ),
    "limit_buildings": (
        (
            "Dữ liệu nhà trên OSM chưa đầy đủ ở nhiều nơi; số nhà và diện tích sàn có thể thấp hơn "
            "thực tế. Số tầng mặc định khi không có thẻ."
        ),
        (
            "OSM building coverage is incomplete in places; building counts and floor areas may be "
            "low. Untagged buildings get a default number of storeys."
        ),
    ),
    "limit_speeds": (
        (
            "Tốc độ xe chữa cháy là giả định theo kịch bản (không có nguồn Việt Nam); không tính "
            "ùn tắc."
        ),
        (
            "Fire-truck speeds are scenario assumptions (no Vietnamese source); congestion is not "
            "modelled."
        ),
    ),
    "limit_water": (
        (
            "Trụ nước và nguồn nước chỉ gồm những gì có trên OSM và trong tệp của cơ quan "
            "chức năng; lưu lượng và áp lực không được kiểm tra."
        ),
        (
            "Hydrants and water sources are only those in OSM and the authority files; flow and "
            "pressure are not checked."
        ),
    ),
    "limit_wards": (
        "Ranh giới phường/xã gần đúng (ô Voronoi quanh tâm) khi không có ranh giới thật.",
        (
            "Ward boundaries are approximate (Voronoi cells around centroids) where no real "
            "boundaries exist."
        ),
    ),
    "limit_stations": (
        "Vị trí đội PCCC chỉ gồm những đội có tọa độ; đội thiếu tọa độ bị bỏ qua.",
        "Only fire stations with coordinates are used; units without coordinates are skipped.",
    ),
    "risk_note": (
        (
            "Điểm rủi ro 0\u20131: trung bình có trọng số của tỷ lệ nhà quá thời gian mục tiêu, "
            "thời gian tiếp cận trung vị, tỷ lệ nhà ngõ sâu và tỷ lệ nhà thiếu nước ({weights})."
        ),
        (
            "Risk score 0\u20131: weighted mean of the share of buildings beyond the target "
            "time, the median response time, the deep-alley share and the share without water "
            "({weights})."
        ),
    ),
    "src_osm": ("Dữ liệu OSM", "OSM data"),
    "src_config": ("Cấu hình tỉnh", "Province config"),
    "attribution": (
        "Dữ liệu bản đồ © những người đóng góp OpenStreetMap (ODbL)",
        "Map data © OpenStreetMap contributors (ODbL)",
    ),
}


def check_language(lang: str) -> Language:
    """Return ``lang`` as a supported language, or raise a ConfigError naming the choices."""
    if lang not in LANGUAGES:
        msg = f"report.language: unknown language {lang!r}; use one of {', '.join(LANGUAGES)}"
        raise ConfigError(msg)
    return lang


def t(key: str, lang: Language, **values: object) -> str:
    """Return the text of ``key`` in ``lang``, with ``values`` formatted in.

    Parameters
    ----------
    key
        A key of :data:`TEXT`.
    lang
        {"vi", "en"}
    **values
        Placeholders of the text.

    Returns
    -------
    str
    """
    vi, en = TEXT[key]
    text = vi if lang == "vi" else en
    return text.format(**values) if values else text


def column_label(column: str, lang: Language) -> str:
    """Return the user-facing label of an artifact column (the column name if none is known)."""
    key = f"col_{column}"
    return t(key, lang) if key in TEXT else column


def yes_no(value: object, lang: Language) -> str:
    """Return "yes" or "no" in ``lang`` for a truthy value."""
    return t("yes" if bool(value) else "no", lang)


#: Evidence words of :func:`pipeline.widths.estimate_widths` and their text keys.
_EVIDENCE_KEYS = {
    "class": "ev_class",
    "service": "ev_service",
    "alley name": "ev_alley_name",
    "lanes": "ev_lanes",
    "corridor": "ev_corridor",
    "sidewalk": "ev_sidewalk",
    "width": "ev_width",
    "est_width": "ev_est_width",
    "measured": "ev_measured",
}


def describe_evidence(evidence: str, lang: Language) -> str:
    """Render a street's ``width_evidence`` (``"class=service; lanes=2"``) in ``lang``.

    Parameters
    ----------
    evidence
        The ``"; "``-separated evidence of :func:`pipeline.widths.estimate_widths`.
    lang
        {"vi", "en"}

    Returns
    -------
    str
        One phrase per piece of evidence, joined by ``"; "``; unknown pieces are kept as they
        are (with a warning in the log, so that a missing translation is noticed).
    """
    parts = []
    for piece in (p.strip() for p in str(evidence).split(";")):
        if not piece:
            continue
        word, _, value = piece.partition("=")
        if lang == "vi":
            value = value.replace("sections", "mặt cắt")
        key = _EVIDENCE_KEYS.get(word.strip())
        if key is None:
            logger.warning("i18n: no text for width evidence %r", piece)
            parts.append(piece)
        else:
            parts.append(t(key, lang, value=value.strip()))
    return "; ".join(parts)
