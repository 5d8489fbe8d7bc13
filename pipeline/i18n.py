"""Vietnamese and English text of every user-facing string of the maps, shortlists and report."""

from __future__ import annotations

import logging
import math
import re
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Literal

from pipeline._errors import ConfigError
from pipeline.i18n_terms import PHRASES, TERMS

if TYPE_CHECKING:
    import pandas as pd

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
    "layer_wards_approximate": ("Ranh giới phường/xã (gần đúng)", "Ward boundaries (approximate)"),
    "base_osm": ("Bản đồ OSM", "OpenStreetMap"),
    "base_satellite": ("Ảnh vệ tinh", "Satellite"),
    "legend": ("Chú giải", "Legend"),
    "class_truck": ("Xe chữa cháy vào được (≥ {truck} m)", "Fire truck (≥ {truck} m)"),
    "class_small_vehicle": ("Chỉ xe chữa cháy nhỏ", "Small fire vehicle only"),
    "class_hose_only": ("Chỉ kéo vòi", "Hose only"),
    "class_blocked": ("Bị chắn", "Blocked"),
    "alleys_to_widen": (
        "Ngõ cần mở rộng (xe không vào được, có nhà phía sau)",
        "Alley to widen (trucks cannot enter, buildings behind)",
    ),
    "alleys_field_check": (
        "Ngõ cần khảo sát (chưa chắc xe vào được, có nhà phía sau)",
        "Alley to check (trucks may not enter, buildings behind)",
    ),
    "alleys_other": ("Ngõ khác", "Other alleys"),
    "street_field_check": (
        "Cần khảo sát thực địa: có thể hẹp hơn {truck} m",
        "Field check: may be narrower than {truck} m",
    ),
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
        (
            "Đội PCCC tại đây đưa thêm khoảng {people} người và {dense} ha khu đông đúc vào "
            "thời gian tiếp cận {target} phút."
        ),
        (
            "A station here brings about {people} people and {dense} ha of dense area within "
            "{target} min."
        ),
    ),
    "why_station_people": (
        "Đội PCCC tại đây đưa thêm khoảng {people} người vào thời gian tiếp cận {target} phút.",
        "A station here brings about {people} people within {target} min.",
    ),
    "why_hydrant": (
        (
            "Trụ nước tại đây đưa thêm {buildings} nhà (khoảng {people} người, {area} m² sàn) "
            "vào tầm nước {reach} m theo đường phố."
        ),
        (
            "A hydrant here brings {buildings} buildings (about {people} people, {area} m² of "
            "floor) within {reach} m of water along the streets."
        ),
    ),
    "why_fire_point": (
        (
            "Ngõ sâu {depth} m (quá {limit} m) chưa có điểm chữa cháy công cộng; {buildings} nhà "
            "(khoảng {people} người, {area} m² sàn) ở xa hơn {hose} m tầm vòi từ đường xe chữa "
            "cháy."
        ),
        (
            "Alley {depth} m deep (over {limit} m) without a public fire point; {buildings} "
            "buildings (about {people} people, {area} m² of floor) are beyond the {hose} m hose "
            "reach from a fire-truck street."
        ),
    ),
    "why_alley": (
        (
            "Chỗ hẹp nhất {width} m, thiếu {short} m so với {truck} m cho xe chữa cháy; phía sau "
            "có {buildings} nhà (khoảng {people} người), {deep} nhà ngoài tầm vòi {hose} m. Mở "
            "rộng {length} m, cần khoảng {land} m² đất."
        ),
        (
            "Narrowest {width} m, {short} m short of the {truck} m a fire truck needs; {buildings} "
            "buildings (about {people} people) behind it, {deep} beyond the {hose} m hose reach. "
            "Widen {length} m, taking about {land} m² of land."
        ),
    ),
    "why_field_check": (
        (
            "Chưa chắc xe chữa cháy vào được: bề rộng ước tính {width} m (khoảng {low}\u2013{high} "
            "m), ngưỡng {truck} m; phía sau có {buildings} nhà (khoảng {people} người). Cần đo bề "
            "rộng chỗ hẹp nhất."
        ),
        (
            "Unsure whether a fire truck can enter: width estimated at {width} m "
            "({low}\u2013{high} "
            "m) against {truck} m; {buildings} buildings (about {people} people) behind it. "
            "Measure the narrowest point."
        ),
    ),
    "evidence_hydrant": (
        (
            "Không có trụ nước hay nguồn nước dùng được trong tầm (OSM và tệp của cơ quan chức "
            "năng); kiểm tra sổ trụ nước của công ty cấp nước trước khi đầu tư."
        ),
        (
            "No hydrant or usable water source within reach (OSM and authority files); check the "
            "water company's hydrant register before investing."
        ),
    ),
    "evidence_station": (
        "Thời gian chạy xe theo mạng đường OSM với tốc độ giả định; mật độ từ diện tích sàn.",
        "Driving times on the OSM street network at assumed speeds; density from floor area.",
    ),
    "open_ward_map": ("Mở bản đồ phường/xã tại đây", "Open the ward map here"),
    "site_alley": ("Ngõ cần mở rộng", "Alley to widen"),
    "site_field_check": ("Ngõ cần đo kiểm tra", "Alley to measure (uncertain)"),
    "reach_hydrant": (
        "Đường trong tầm trụ nước ({m} m theo đường)",
        "Streets within hydrant reach ({m} m along the streets)",
    ),
    "reach_natural": (
        "Đường trong tầm nguồn nước tự nhiên ({m} m theo đường)",
        "Streets within reach of a natural source ({m} m along the streets)",
    ),
    "ward_approximate": (
        "Ranh giới gần đúng (ô Voronoi quanh tâm phường/xã)",
        "Approximate boundary (Voronoi cell around the ward centre)",
    ),
    "approximate_boundary": ("ranh giới gần đúng", "approximate boundary"),
    "cells_narrow_share": (
        (
            "Ô {cell} km: tỷ lệ chiều dài đường xe chữa cháy không vào được "
            "(phóng to để xem từng đường)"
        ),
        "{cell} km cells: share of street length fire trucks cannot use (zoom in for streets)",
    ),
    "cells_alleys": (
        "Ô {cell} km: số ngõ cần mở rộng hoặc khảo sát (phóng to để xem từng ngõ)",
        "{cell} km cells: alleys to widen or check (zoom in for each alley)",
    ),
    "cells_reach_share": (
        "Ô {cell} km: tỷ lệ chiều dài đường trong tầm nước (phóng to để xem từng đoạn)",
        "{cell} km cells: share of street length within water reach (zoom in for stretches)",
    ),
    "cells_alleys_count": ("{n} ngõ cần mở rộng / khảo sát", "{n} alleys to widen / check"),
    "col_narrow_km": ("Đường xe chữa cháy không vào được (km)", "Streets trucks cannot use (km)"),
    "col_narrow_share": ("Tỷ lệ (%)", "Share (%)"),
    "col_reach_km": ("Đường trong tầm nước (km)", "Streets within water reach (km)"),
    "col_uncertain_km": ("Đường cần khảo sát (km)", "Streets to check (km)"),
    "col_reach_share": ("Tỷ lệ trong tầm nước (%)", "Share within water reach (%)"),
    "whole_province": ("Toàn tỉnh", "Whole province"),
    # Shortlists (sheet names are at most 31 characters)
    "list_alleys": ("Ngõ cần mở rộng", "Alleys to widen"),
    "list_alleys_by_ward": ("Ngõ mở rộng - theo phường xã", "Alleys to widen - by ward"),
    "list_field_check": ("Ngõ cần đo kiểm tra", "Alleys to measure"),
    "list_field_check_by_ward": ("Ngõ cần đo - theo phường xã", "Alleys to measure - by ward"),
    "list_hydrants": ("Trụ nước mới", "New hydrant sites"),
    "list_hydrants_by_ward": ("Trụ nước mới - theo phường xã", "New hydrants - by ward"),
    "list_fire_points": ("Điểm chữa cháy mới", "New fire points"),
    "list_fire_points_by_ward": ("Điểm chữa cháy - theo phường xã", "New fire points - by ward"),
    "list_stations": ("Đội PCCC mới", "New station sites"),
    "list_stations_by_ward": ("Đội PCCC mới - theo phường xã", "New stations - by ward"),
    "list_wards": ("Phường xã theo rủi ro", "Wards by risk"),
    "list_thresholds": ("Ngưỡng và nguồn", "Thresholds and sources"),
    # Column labels
    "col_id": ("Mã", "ID"),
    "col_rank": ("Hạng toàn tỉnh", "Province rank"),
    "col_ward_rank": ("Hạng trong phường/xã", "Rank in ward"),
    "col_ward": ("Phường/xã", "Ward"),
    "col_ward_id": ("Mã phường/xã", "Ward code"),
    "col_ward_code": ("Mã phường/xã", "Ward code"),
    "col_ward_type": ("Loại", "Type"),
    "col_name": ("Tên", "Name"),
    "col_street": ("Đường gần nhất", "Nearest street"),
    "col_house_number": ("Số nhà gần nhất (OSM)", "Nearest house number (OSM)"),
    "col_length_m": ("Chiều dài (m)", "Length (m)"),
    "col_depth_m": ("Độ sâu (m)", "Depth (m)"),
    "col_min_width_m": ("Bề rộng chỗ hẹp nhất (m)", "Narrowest width (m)"),
    "col_min_width_low_m": ("Bề rộng thấp nhất có thể (m)", "Width, low end (m)"),
    "col_min_width_high_m": ("Bề rộng cao nhất có thể (m)", "Width, high end (m)"),
    "col_truck_min_width_m": ("Bề rộng cần cho xe chữa cháy (m)", "Width a fire truck needs (m)"),
    "col_width_shortfall_m": ("Thiếu so với ngưỡng (m)", "Shortfall (m)"),
    "col_land_m2": ("Đất cần lấy khoảng (m²)", "Land to take, approx. (m²)"),
    "col_people_behind": ("Số người phía sau (ước tính)", "People behind (estimated)"),
    "col_people": ("Số người (ước tính)", "People (estimated)"),
    "col_cost_vnd": ("Chi phí tham khảo (VND)", "Indicative cost (VND)"),
    "col_evidence": ("Căn cứ", "Evidence"),
    "col_confidence": ("Độ tin cậy bề rộng (%)", "Width confidence (%)"),
    "col_field_check": ("Cần kiểm tra thực địa", "Field check needed"),
    "col_n_buildings": ("Số nhà phía sau", "Buildings behind"),
    "col_floor_area_m2": ("Diện tích sàn (m²)", "Floor area (m²)"),
    "col_added_buildings": ("Số nhà được phục vụ thêm", "Buildings newly reached"),
    "col_added_floor_area_m2": ("Diện tích sàn thêm (m²)", "Floor area newly reached (m²)"),
    "col_added_dense_ha": ("Khu đông đúc được phủ thêm (ha)", "Dense area newly covered (ha)"),
    "col_lon": ("Kinh độ (WGS84)", "Longitude (WGS84)"),
    "col_lat": ("Vĩ độ (WGS84)", "Latitude (WGS84)"),
    "col_vn2000_x": ("X - hướng Bắc ({zone}, m)", "X - northing ({zone}, m)"),
    "col_vn2000_y": ("Y - hướng Đông ({zone}, m)", "Y - easting ({zone}, m)"),
    "col_map_link": ("Liên kết bản đồ", "Map link"),
    "col_people_at_risk": ("Số người có nguy cơ (ước tính)", "People at risk (estimated)"),
    "col_people_beyond_hose": ("Người ngoài tầm vòi", "People beyond hose reach"),
    "col_people_without_water": ("Người ngoài tầm nước", "People without water in reach"),
    "col_people_beyond_time": (
        "Người quá thời gian tiếp cận mục tiêu",
        "People beyond the target time",
    ),
    "col_risk_share": ("Tỷ lệ người có nguy cơ (%)", "Share of people at risk (%)"),
    "col_n_alleys_to_widen": ("Ngõ cần mở rộng", "Alleys to widen"),
    "col_n_field_check": ("Ngõ cần đo kiểm tra", "Alleys to measure"),
    "col_median_time_min": ("Thời gian tiếp cận trung vị (phút)", "Median response time (min)"),
    "col_population": ("Dân số", "Population"),
    "col_area_km2": ("Diện tích (km²)", "Area (km²)"),
    "col_street_km": ("Đường (km)", "Streets (km)"),
    "col_truck_share": ("Tỷ lệ đường xe chữa cháy (%)", "Truck-street share (%)"),
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
    "col_approximate": ("Ranh giới gần đúng", "Approximate boundary"),
    "col_reason": ("Lý do", "Reason"),
    "col_key": ("Tham số", "Parameter"),
    "col_value": ("Giá trị", "Value"),
    "col_unit": ("Đơn vị", "Unit"),
    "col_source": ("Nguồn", "Source"),
    "col_width_m": ("Bề rộng (m)", "Width (m)"),
    "col_width_source": ("Nguồn bề rộng", "Width source"),
    "col_truck_status": ("Xe chữa cháy", "Fire truck"),
    "col_truck_status_reason": ("Vì", "Because of"),
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
    "ev_class": ("loại đường: {value}", "road class: {value}"),
    "ev_service": ("loại đường nội bộ: {value}", "service road kind: {value}"),
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
    "col_time_min": ("Thời gian (phút)", "Time (min)"),
    "col_status": ("Trạng thái", "Status"),
    "col_highway": ("Loại đường", "Road class"),
    "col_hose_distance_m": ("Khoảng cách rải vòi (m)", "Hose distance (m)"),
    "col_bottleneck_width_m": (
        "Bề rộng chỗ hẹp nhất trên lối vào (m)",
        "Narrowest width on the way in (m)",
    ),
    "col_width_low_m": ("Bề rộng thấp nhất có thể (m)", "Width, low end (m)"),
    "col_width_high_m": ("Bề rộng cao nhất có thể (m)", "Width, high end (m)"),
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
    "chart_risk": (
        "Số người có nguy cơ theo phường/xã (ước tính)",
        "People at risk by ward (estimated)",
    ),
    "chart_width": ("Chiều dài đường theo loại bề rộng (km)", "Street length by width class (km)"),
    "chart_time": ("Phân bố thời gian tiếp cận (phút)", "Response time distribution (min)"),
    "chart_buildings": ("Số nhà", "Buildings"),
    "chart_unreachable": ("Không tiếp cận được", "Unreachable"),
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
            "Xếp hạng theo số người (ước tính) sống trong những nhà có ít nhất một thiếu hụt: "
            "ngoài "
            "tầm vòi từ đường xe chữa cháy, ngoài tầm nước, hoặc quá thời gian tiếp cận mục tiêu; "
            "mỗi nhà chỉ tính một lần. Các cột bên cạnh cho số người theo từng thiếu hụt."
        ),
        (
            "Ranked by the estimated people living in buildings with at least one gap: beyond hose "
            "reach of a fire-truck street, beyond water reach, or beyond the target response time; "
            "each building counted once. The columns beside give the people behind each gap."
        ),
    ),
    "sec_lists": ("Danh sách ưu tiên toàn tỉnh", "Province priority lists"),
    "sec_ward_pages": ("Từng phường/xã", "Ward by ward"),
    "sec_method": ("Phương pháp", "Method"),
    "sec_figures": ("Số liệu chính", "Key figures"),
    "list_rows_note": (
        "{shown} / {total} dòng; toàn bộ danh sách trong shortlists.xlsx.",
        "{shown} of {total} rows; the full lists are in shortlists.xlsx.",
    ),
    "list_empty": ("Không có dòng nào.", "No rows."),
    "osm_date": ("Dữ liệu OSM đến ngày {date}", "OSM data as of {date}"),
    "coords_note": (
        (
            "Tọa độ: WGS84 và VN-2000 múi 3° của tỉnh ({zone}, k = 0,9999); X là hướng Bắc, "
            "Y là hướng Đông."
        ),
        (
            "Coordinates: WGS84 and the province's VN-2000 3° zone ({zone}, k = 0.9999); X is "
            "northing, Y is easting."
        ),
    ),
    "people_at_risk_headline": (
        "Khoảng {people} người sống trong nhà có ít nhất một thiếu hụt về PCCC.",
        "About {people} people live in buildings with at least one fire-fighting gap.",
    ),
    "method_widths": (
        (
            "Bề rộng mỗi đoạn đường được ước tính từ các căn cứ có trên OSM (thẻ bề rộng, số làn, "
            "khoảng cách giữa hai dãy nhà, cấp đường, tên ngõ) hoặc từ số liệu đo của cơ quan chức "
            "năng, kèm khoảng giá trị có thể và độ tin cậy. Đường có bề rộng dưới ngưỡng cho xe "
            "chữa "
            "cháy là không vào được; khi khoảng giá trị vắt qua ngưỡng, đường được đánh dấu cần "
            "kiểm tra thực địa và đưa vào danh sách ngõ cần đo, không vào danh sách ngõ cần mở "
            "rộng."
        ),
        (
            "Each street's width is estimated from the evidence in OSM (width tags, lanes, the gap "
            "between the buildings, road class, alley names) or from the authority's measurements, "
            "with a plausible interval and a confidence. A street narrower than a fire truck needs "
            "is not passable; when the interval straddles the threshold it needs a field check and "
            "goes to the list of alleys to measure, not to the list to widen."
        ),
    ),
    "method_deep": (
        (
            "Nhà ngoài tầm vòi: mọi điểm của nhà cách đường xe chữa cháy quá {hose} m theo đường "
            "đi "
            "bộ (QCVN 06:2022/BXD mục 6.2.2.1)."
        ),
        (
            "Beyond hose reach: a building more than {hose} m from a fire-truck street along the "
            "walkable network (QCVN 06:2022/BXD §6.2.2.1)."
        ),
    ),
    "method_water": (
        (
            "Tầm nước đo theo đường phố, không theo đường chim bay: {hydrant} m từ trụ nước, "
            "{natural} m từ nguồn nước tự nhiên có đường cho xe chữa cháy tới bờ."
        ),
        (
            "Water reach is measured along the streets, not as the crow flies: {hydrant} m from a "
            "hydrant, {natural} m from a natural source a fire truck can reach."
        ),
    ),
    "method_time": (
        (
            "Thời gian tiếp cận là thời gian chạy xe từ đội PCCC gần nhất theo mạng đường xe chữa "
            "cháy với tốc độ giả định theo cấp đường; mục tiêu {target} phút."
        ),
        (
            "Response time is the driving time from the nearest fire station over the fire-truck "
            "network at assumed speeds by road class; the target is {target} min."
        ),
    ),
    "method_sites": (
        (
            "Vị trí đội PCCC mới được chọn lần lượt (bài toán phủ tối đa, thuật toán tham lam) "
            "trong các nút giao của mạng đường xe chữa cháy, mỗi ô {spacing} m một nút (nút có "
            "nhiều đường nhất), sao cho đưa thêm nhiều người nhất ở khu đông đúc vào thời gian "
            "mục tiêu; các nhà trên cùng một đoạn phố {step} m được tính chung một điểm. Đây là "
            "khu vực nên tìm đất, không phải thửa đất cụ thể."
        ),
        (
            "New station sites are chosen one at a time (greedy maximal covering) among the "
            "junctions of the fire-truck network, one per {spacing} m square (the junction with "
            "the most streets), to bring the most people of dense areas within the target time; "
            "buildings on one {step} m stretch of street count as one spot. A site is an area to "
            "look for land in, not a plot."
        ),
    ),
    "method_people": (
        (
            "Số người là ước tính: dân số của phường/xã chia cho các nhà theo diện tích sàn; nơi "
            "chưa có dân số, lấy diện tích sàn chia {m2} m² mỗi người."
        ),
        (
            "People are estimates: a ward's population spread over its buildings by floor area; "
            "where the population is unknown, floor area divided by {m2} m² per person."
        ),
    ),
    "method_lists": (
        (
            "Mỗi danh sách chỉ gồm những vị trí mang lại lợi ích (có người phía sau hoặc được tiếp "
            "cận thêm); không thêm dòng cho đủ số. Hạng toàn tỉnh và hạng trong phường/xã là hai "
            "thứ tự khác nhau của cùng một danh sách. Đất cần lấy ≈ phần thiếu bề rộng \u00d7 "
            "chiều dài."
        ),
        (
            "Each list holds only sites that benefit someone (people behind, or newly reached); "
            "lists are never padded. The province rank and the rank within the ward are two orders "
            "of the same list. Land to take ≈ width shortfall \u00d7 length."
        ),
    ),
    "method_costs": (
        (
            "Chi phí tham khảo = khối lượng \u00d7 đơn giá trong cấu hình tỉnh (nguồn ghi trong "
            "bảng "
            "ngưỡng); không hiện khi chưa có đơn giá."
        ),
        (
            "Indicative cost = quantity \u00d7 the unit cost in the province config (its source "
            "is in "
            "the thresholds table); not shown when no unit cost is set."
        ),
    ),
    "src_boundary": ("Ranh giới tỉnh", "Province boundary"),
    "src_wards": ("Ranh giới phường/xã", "Ward boundaries"),
    "src_ward_centroids": ("Danh sách phường/xã (tâm)", "Ward list (centroids)"),
    "src_population": ("Dân số (ảnh raster)", "Population raster"),
    "src_stations": ("Danh sách đội PCCC", "Fire station list"),
    "src_water": ("Nguồn nước của cơ quan chức năng", "Authority water sources"),
    "src_buildings": ("Dữ liệu nhà bổ sung", "Extra building footprints"),
    "src_fire_points": ("Điểm chữa cháy công cộng", "Public fire points"),
    "src_file_date": ("ngày tệp {date}", "file date {date}"),
    "src_rows": (
        "dùng {used}/{rows} dòng, bỏ {skipped}",
        "{used} of {rows} rows used, {skipped} skipped",
    ),
    "note_no_station": (
        (
            "Chưa biết đội PCCC hiện có nào (OSM và tệp của cơ quan chức năng đều không có): "
            "không tính được thời gian tiếp cận; hãy thêm danh sách đội PCCC vào cấu hình tỉnh."
        ),
        (
            "No existing fire station is known (neither OSM nor an authority file has one): "
            "response times cannot be computed; add the stations to the province config."
        ),
    ),
    "note_low_reach": (
        (
            "{n} đội PCCC hiện có chỉ tiếp cận được {share} % mạng đường xe chữa cháy: hãy kiểm "
            "tra vị trí các đội và các đường quanh đó."
        ),
        (
            "The {n} existing station(s) reach only {share} % of the fire-truck street network: "
            "check the stations' positions and the streets around them."
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


def column_label(column: str, lang: Language, **values: object) -> str:
    """Return the user-facing label of an artifact column (the column name if none is known).

    ``values`` fill placeholders some labels have (``zone`` of the VN-2000 columns); labels
    without them ignore the values.
    """
    key = f"col_{column}"
    if key not in TEXT:
        return column
    vi, en = TEXT[key]
    text = vi if lang == "vi" else en
    return text.format(**values) if "{" in text else text


def yes_no(value: object, lang: Language) -> str:
    """Return "yes" or "no" in ``lang`` for a truthy value."""
    return t("yes" if bool(value) else "no", lang)


def fmt_number(value: object, lang: Language, decimals: int = 0) -> str:
    """Return a number as people write it: ``1.234,5`` in Vietnamese, ``1,234.5`` in English.

    Halves round away from zero, as people round the number they see (3.25 m is "3,3 m", not
    the "3,2 m" of binary round-half-even). Missing values (None, NaN, inf) give
    :data:`MISSING`.
    """
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return MISSING
    if not math.isfinite(x):
        return MISSING
    shown = Decimal(repr(x)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    text = f"{shown:,.{decimals}f}"
    if lang == "vi":
        text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    return text


def term(code: object, lang: Language) -> str:
    """Return a code of the artifacts (status, kind, source, scenario) in words.

    Unknown codes come back unchanged: the untranslated-code test of the outputs finds them.
    """
    text = "" if code is None else str(code)
    pair = TERMS.get(text)
    if pair is None:  # truck and hose-reach statuses have their own keys
        key = next((k for k in (f"truck_{text}", f"deep_{text}") if k in TEXT), None)
        return t(key, lang) if key is not None else text
    return pair[0] if lang == "vi" else pair[1]


def ward_type_label(value: object, lang: Language) -> str:
    """Return a ward type in words (``phường`` and ``xã`` in English as ward / commune)."""
    text = "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)
    return term(text.strip().lower(), lang) if text.strip().lower() in TERMS else text


_DECIMAL = re.compile(r"(\d)\.(\d)")
_CODE = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[_:][A-Za-z0-9]+)+|[A-Za-z]+")


#: Columns whose values are codes of the artifacts (shown through :func:`term`).
CODED_COLUMNS: frozenset[str] = frozenset(
    {"width_source", "highway", "kind", "status", "truck_status", "truck_status_reason",
     "width_class", "scenario", "deep_status", "weight_kind"}
)  # fmt: skip
#: Columns holding sentences or evidence lists in English (shown through
#: :func:`translate_reason`).
TEXT_COLUMNS: frozenset[str] = frozenset({"reason", "block_reason"})


def translate_values(values: pd.Series, column: str, lang: Language) -> pd.Series:
    """Return a column's values in words when the column holds codes or English reasons."""
    if column == "width_evidence":
        words = values.map(lambda v: describe_evidence(v, lang))
    elif column in CODED_COLUMNS:
        words = values.map(lambda v: term(v, lang))
    elif column in TEXT_COLUMNS:
        words = values.map(lambda v: translate_reason(v, lang))
    else:
        return values
    return words.where(values.notna(), values)


def _translate_codes(text: str, lang: Language) -> str:
    """Return a text with its English phrases and every known code in words (numbers kept)."""
    if not text:
        return text

    def one(m: re.Match[str]) -> str:
        word = m.group(0)
        return term(word, lang) if word in TERMS else word

    for pattern, (vi, en) in PHRASES:
        text = pattern.sub(vi if lang == "vi" else en, text)
    out = _CODE.sub(one, text)
    return _DECIMAL.sub(r"\1,\2", out) if lang == "vi" else out


def translate_reason(text: object, lang: Language) -> str:
    """Return a reason sentence of the water stage (English) in ``lang``."""
    out = "" if text is None or (isinstance(text, float) and math.isnan(text)) else str(text)
    return _translate_codes(out, lang)


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
        value = term(value.strip(), lang) if value.strip() in TERMS else value
        if lang == "vi":
            value = _DECIMAL.sub(r"\1,\2", value.replace("sections", "mặt cắt"))
        key = _EVIDENCE_KEYS.get(word.strip())
        if key is None:
            logger.warning("i18n: no text for width evidence %r", piece)
            parts.append(piece)
        else:
            parts.append(t(key, lang, value=value.strip()))
    return "; ".join(parts)
