"""Codes of the artifacts in words (statuses, kinds, sources, scenarios) and reason phrases."""

from __future__ import annotations

import re

#: Every code an artifact may show people, by code: ``{code: (vi, en)}``.
TERMS: dict[str, tuple[str, str]] = {
    # Where a street width comes from (network stage, issue 11 and before)
    "measured": ("đo đạc thực địa", "field measurement"),
    "tag": ("thẻ bề rộng OSM", "OSM width tag"),
    "width": ("bề rộng", "width"),
    "est_width": ("bề rộng ước tính (OSM)", "estimated width (OSM)"),
    "lanes": ("số làn xe", "number of lanes"),
    "corridor": ("khoảng cách giữa hai dãy nhà", "gap between the buildings"),
    "building_gap": ("khoảng cách giữa hai dãy nhà", "gap between the buildings"),
    "class_prior": ("mặc định theo cấp đường", "default for the road class"),
    "highway_default": ("mặc định theo cấp đường", "default for the road class"),
    "service_prior": ("mặc định cho đường nội bộ", "default for service roads"),
    "name_prior": ("mặc định theo tên ngõ/ngách/hẻm", "default for alley names"),
    "name_default": ("mặc định theo tên ngõ/ngách/hẻm", "default for alley names"),
    "unknown_prior": ("mặc định khi không rõ cấp đường", "default for an unknown class"),
    "sections": ("mặt cắt", "sections"),
    # Reasons of a truck status (the statuses themselves: i18n keys truck_* and deep_*)
    "maxwidth": ("giới hạn bề rộng xe", "vehicle width limit"),
    "maxwidth:physical": ("giới hạn bề rộng thực tế", "physical width limit"),
    "maxheight": ("giới hạn chiều cao", "height limit"),
    "access": ("cấm đi vào", "no access"),
    "motor_vehicle": ("cấm xe cơ giới", "no motor vehicles"),
    "highway": ("loại đường không cho xe", "road type closed to vehicles"),
    # Width classes
    "truck": ("xe chữa cháy vào được", "fire truck"),
    "small_vehicle": ("chỉ xe chữa cháy nhỏ", "small fire vehicle only"),
    "hose_only": ("chỉ kéo vòi", "hose only"),
    "blocked": ("bị chắn", "blocked"),
    # Stations and scenarios
    "existing": ("hiện có", "existing"),
    "planned": ("quy hoạch", "planned"),
    "with_planned": ("hiện có và quy hoạch", "existing and planned"),
    "with_suggested": ("hiện có và đề xuất", "existing and suggested"),
    # Water source kinds
    "hydrant": ("trụ nước chữa cháy", "fire hydrant"),
    "fire_hydrant": ("trụ nước chữa cháy", "fire hydrant"),
    "water_tank": ("bể nước chữa cháy", "water tank"),
    "suction_point": ("điểm lấy nước", "suction point"),
    "fire_water_pond": ("hồ nước chữa cháy", "fire-water pond"),
    "pond": ("ao", "pond"),
    "lake": ("hồ", "lake"),
    "reservoir": ("hồ chứa", "reservoir"),
    "basin": ("bể chứa", "basin"),
    "water": ("mặt nước", "water body"),
    "river": ("sông", "river"),
    "canal": ("kênh", "canal"),
    "oxbow": ("hồ móng ngựa", "oxbow lake"),
    "lagoon": ("đầm", "lagoon"),
    "stream": ("suối", "stream"),
    "ditch": ("mương", "ditch"),
    "drain": ("rãnh thoát nước", "drain"),
    # Ward types
    "province": ("toàn tỉnh (chưa có ranh giới phường/xã)", "whole province (no ward layer)"),
    "phường": ("phường", "ward"),
    "xã": ("xã", "commune"),
    "đặc khu": ("đặc khu", "special zone"),
    # OSM road classes (highway=*)
    "motorway": ("đường cao tốc", "motorway"),
    "trunk": ("quốc lộ chính", "trunk road"),
    "primary": ("đường chính", "primary road"),
    "secondary": ("đường cấp 2", "secondary road"),
    "tertiary": ("đường cấp 3", "tertiary road"),
    "motorway_link": ("nhánh nối đường cao tốc", "motorway link"),
    "trunk_link": ("nhánh nối quốc lộ", "trunk link"),
    "primary_link": ("nhánh nối đường chính", "primary link"),
    "secondary_link": ("nhánh nối đường cấp 2", "secondary link"),
    "tertiary_link": ("nhánh nối đường cấp 3", "tertiary link"),
    "unclassified": ("đường nhỏ chưa phân cấp", "unclassified road"),
    "residential": ("đường khu dân cư", "residential street"),
    "living_street": ("đường khu dân cư ưu tiên người đi bộ", "living street"),
    "service": ("đường nội bộ", "service road"),
    "track": ("đường đất", "track"),
    "road": ("đường (chưa rõ loại)", "road of unknown class"),
    "pedestrian": ("phố đi bộ", "pedestrian street"),
    "footway": ("đường đi bộ", "footway"),
    "path": ("lối đi", "path"),
    "steps": ("bậc thang", "steps"),
    "cycleway": ("đường xe đạp", "cycleway"),
    "bridleway": ("đường mòn", "bridleway"),
    # Kinds of service roads (service=*)
    "alley": ("ngõ", "alley"),
    "driveway": ("lối vào nhà", "driveway"),
    "parking_aisle": ("lối trong bãi đỗ xe", "parking aisle"),
    "emergency_access": ("lối cho xe cứu hỏa, cứu thương", "emergency access"),
    "drive-through": ("lối mua hàng trên xe", "drive-through"),
    # Demand weights
    "floor_area": ("diện tích sàn", "floor area"),
    "population": ("dân số", "population"),
}

#: English reason phrases of the stages, as regular expressions, with their renderings.
PHRASES: tuple[tuple[re.Pattern[str], tuple[str, str]], ...] = (
    (
        re.compile(r"no truck street within (\d+(?:\.\d+)?) m of the bank"),
        (
            r"không có đường xe chữa cháy trong \1 m tới bờ",
            r"no fire-truck street within \1 m of the bank",
        ),
    ),
    (
        re.compile(r"no truck street within (\d+(?:\.\d+)?) m"),
        (r"không có đường xe chữa cháy trong \1 m", r"no fire-truck street within \1 m"),
    ),
    (
        re.compile(r"kind '([^']*)' is not counted \(water\.natural_kinds\)"),
        (r"loại nguồn nước \1 không được tính", r"water kind \1 not counted"),
    ),
)  # fmt: skip
