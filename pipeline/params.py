"""The thresholds as people read them: a name, the value (times in minutes), unit and source."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pandas as pd

from pipeline.i18n import column_label, fmt_number

if TYPE_CHECKING:
    from pipeline.i18n import Language

logger = logging.getLogger(__name__)

#: Each threshold of the config: ``key: (name vi, name en)``.
LABELS: dict[str, tuple[str, str]] = {
    "buildings.default_levels": (
        "Số tầng mặc định khi OSM không ghi", "Storeys assumed where OSM has none"),
    "buildings.storey_height_m": ("Chiều cao một tầng", "Storey height"),
    "access.truck_min_width_m": (
        "Bề rộng thông thủy tối thiểu của đường cho xe chữa cháy",
        "Minimum clear width of a fire-truck road"),
    "access.urban_renovated_min_width_m": (
        "Bề rộng đường tối thiểu trong khu đô thị cải tạo",
        "Minimum road width in renovated urban areas"),
    "access.truck_min_clear_height_m": (
        "Chiều cao thông thủy tối thiểu trên đường cho xe chữa cháy",
        "Minimum clear height over a fire-truck road"),
    "access.hose_reach_from_truck_road_m": (
        "Khoảng cách tối đa từ đường xe chữa cháy tới nhà (tầm rải vòi)",
        "Maximum distance from a fire-truck road to a building (hose reach)"),
    "access.dead_end_max_length_m": (
        "Chiều dài tối đa của đường cụt không có bãi quay xe",
        "Longest dead end without a turning area"),
    "access.deep_alley_fire_point_m": (
        "Ngõ sâu hơn mức này cần điểm chữa cháy công cộng",
        "Alleys deeper than this need a public fire point"),
    "access.passing_place_spacing_m": (
        "Khoảng cách giữa các chỗ tránh xe trên đường một làn",
        "Spacing of passing places on single-lane roads"),
    "access.fire_engine_width_m": ("Bề rộng thân xe chữa cháy", "Fire engine body width"),
    "access.small_fire_vehicle_width_m": (
        "Bề rộng xe chữa cháy nhỏ", "Small fire vehicle width"),
    "access.small_vehicle_margin_m": (
        "Khoảng hở hai bên xe chữa cháy nhỏ", "Clearance around a small fire vehicle"),
    "access.hose_cart_reach_m": (
        "Tầm kéo vòi bằng xe đẩy / bơm khiêng tay", "Reach of a hose cart / portable pump"),
    "access.lane_width_m": ("Bề rộng một làn xe", "Lane width"),
    "access.lane_width_min_m": ("Bề rộng làn xe nhỏ nhất", "Narrowest traffic lane"),
    "access.lane_width_max_m": ("Bề rộng làn xe lớn nhất", "Widest traffic lane"),
    "access.carriageway_edge_m": ("Dải mép cạnh làn ngoài", "Edge strip beside the outer lane"),
    "access.corridor_encroachment_m": (
        "Phần bị lấn chiếm trong ngõ (bậc, quầy, xe máy)",
        "Encroachment in an alley (steps, stalls, motorbikes)"),
    "access.corridor_raise_max_m": (
        "Bề rộng lớn nhất suy ra từ khoảng cách hai dãy nhà khi không có thẻ vỉa hè",
        "Widest width read from a building gap without a sidewalk tag"),
    "access.est_width_tolerance_m": (
        "Sai số của bề rộng ước lượng bằng mắt trên OSM",
        "Tolerance of a width estimated by eye on OSM"),
    "access.main_network_min_km": (
        "Chiều dài tối thiểu của một mạng đường xe chữa cháy liền mạch",
        "Shortest connected truck network that counts"),
    "access.min_reachable_truck_share": (
        "Tỷ lệ tối thiểu mạng đường xe chữa cháy các đội PCCC tiếp cận được",
        "Smallest share of the truck network the stations should reach"),
    "water.natural_source_min_area_m2": (
        "Diện tích tối thiểu của nguồn nước tự nhiên", "Smallest natural water source"),
    "water.hydrant_spacing_max_m": (
        "Khoảng cách tối đa giữa các trụ nước chữa cháy", "Maximum spacing of hydrants"),
    "water.hydrant_spacing_low_flow_m": (
        "Khoảng cách trụ nước khi lưu lượng chữa cháy ≤ 20 L/s",
        "Hydrant spacing where the fire flow is ≤ 20 L/s"),
    "water.hydrant_road_edge_max_m": (
        "Khoảng cách tối đa từ trụ nước tới mép đường", "Hydrant distance from the road edge"),
    "water.hydrant_reach_m": ("Tầm phục vụ của trụ nước", "Reach of a hydrant"),
    "water.natural_source_reach_truck_m": (
        "Tầm phục vụ của nguồn nước tự nhiên (bơm xe chữa cháy)",
        "Reach of a natural source (truck pump)"),
    "water.natural_source_reach_portable_m": (
        "Tầm phục vụ của nguồn nước tự nhiên (bơm khiêng tay)",
        "Reach of a natural source (portable pump)"),
    "water.natural_source_road_access_m": (
        "Khoảng cách tối đa từ đường xe chữa cháy tới bờ nguồn nước",
        "Maximum distance from a truck street to the bank"),
    "water.duplicate_merge_m": (
        "Hai nguồn nước gần hơn mức này coi là một", "Two sources this close are one"),
    "water.point_access_max_m": (
        "Khoảng cách tối đa từ trụ/bể nước tới tim đường xe chữa cháy",
        "Maximum distance from a hydrant or tank to a truck street"),
    "response.station_service_radius_urban_m": (
        "Bán kính phục vụ của đội PCCC (đô thị trung tâm)",
        "Fire station service radius (urban centres)"),
    "response.station_service_radius_rural_m": (
        "Bán kính phục vụ của đội PCCC (khu vực khác)",
        "Fire station service radius (elsewhere)"),
    "response.first_engine_travel_s": (
        "Thời gian chạy xe của xe đầu tiên", "First engine travel time"),
    "response.full_alarm_travel_s": (
        "Thời gian chạy xe của toàn bộ lực lượng báo cháy đầu", "Full first alarm travel time"),
    "response.volunteer_urban_s": (
        "Thời gian đáp ứng lực lượng bán chuyên trách (đô thị)",
        "Volunteer response time (urban)"),
    "response.volunteer_rural_s": (
        "Thời gian đáp ứng lực lượng bán chuyên trách (nông thôn)",
        "Volunteer response time (rural)"),
    "response.target_time_s": (
        "Thời gian tiếp cận mục tiêu", "Target response time"),
    "response.isochrone_buffer_m": (
        "Vùng phủ hai bên đường của đường đẳng thời", "Isochrone buffer along streets"),
    "density.dense_floor_area_m2_per_ha": (
        "Mật độ sàn xây dựng coi là đông đúc", "Floor area density counted as dense"),
    "density.dense_population_per_ha": (
        "Mật độ dân số coi là đông đúc", "Population density counted as dense"),
    "report.floor_area_per_person_m2": (
        "Diện tích sàn bình quân một người (ước tính số người)",
        "Floor area per person (people estimate)"),
    "report.unit_costs.alley_widening_vnd_per_m2": (
        "Đơn giá mở rộng ngõ (đất và thi công)", "Unit cost of alley widening (land and works)"),
    "report.unit_costs.hydrant_vnd_each": ("Đơn giá một trụ nước", "Unit cost of a hydrant"),
    "report.unit_costs.fire_point_vnd_each": (
        "Đơn giá một điểm chữa cháy công cộng", "Unit cost of a public fire point"),
    "report.unit_costs.station_vnd_each": (
        "Đơn giá một đội PCCC", "Unit cost of a fire station"),
}  # fmt: skip

#: The default sources (defaults.yaml, in English) in Vietnamese. A province that writes its
#: own source gets its own text shown as written.
SOURCES_VI: dict[str, str] = {
    "assumption: typical row house (nhà ống) where building:levels is untagged":
        "giả định: nhà ống điển hình khi OSM không ghi số tầng",
    "assumption: storey height used to turn `height` into levels":
        "giả định: chiều cao tầng dùng để đổi chiều cao nhà ra số tầng",
    "QCVN 06:2022/BXD §6.2.1.1 (clear carriageway of a fire-truck road)":
        "QCVN 06:2022/BXD mục 6.2.1.1 (bề rộng thông thủy phần xe chạy của đường cho xe "
        "chữa cháy)",
    "QCVN 01:2021/BXD §2.7.6 (roads in renovated urban areas; verify)":
        "QCVN 01:2021/BXD mục 2.7.6 (đường trong khu đô thị cải tạo; cần kiểm tra lại)",
    "QCVN 06:2022/BXD §6.2.1.3 (4.25 m in QCVN 06:2010 §5.2)":
        "QCVN 06:2022/BXD mục 6.2.1.3 (QCVN 06:2010 mục 5.2 quy định 4,25 m)",
    "QCVN 06:2022/BXD §6.2.2.1 (buildings up to 15 m tall; verify wording)":
        "QCVN 06:2022/BXD mục 6.2.2.1 (nhà cao đến 15 m; cần kiểm tra câu chữ)",
    "QCVN 06:2022/BXD §6.2.5 (150 ft as in the IFC); QCVN 06:2010 allowed 150 m":
        "QCVN 06:2022/BXD mục 6.2.5 (150 ft như IFC); QCVN 06:2010 cho phép 150 m",
    "Hà Nội 2023 rule on public fire-fighting points in alleys (press report; verify)":
        "quy định của Hà Nội năm 2023 về điểm chữa cháy công cộng trong ngõ (theo báo chí; "
        "cần kiểm tra lại)",
    "QCVN 06:2022/BXD §6.5 (verify)": "QCVN 06:2022/BXD mục 6.5 (cần kiểm tra lại)",
    "manufacturers' sheets (standard fire engine body)":
        "thông số của nhà sản xuất (xe chữa cháy tiêu chuẩn)",
    "manufacturers' sheets (small pickup-type fire vehicle)":
        "thông số của nhà sản xuất (xe chữa cháy nhỏ loại bán tải)",
    "assumption: 0.3 m clearance each side of a small fire vehicle":
        "giả định: khoảng hở 0,3 m mỗi bên xe chữa cháy nhỏ",
    "practice references: hose cart / portable pump ~200 m in ~3 min (verify)":
        "tài liệu thực hành: xe đẩy vòi / bơm khiêng tay khoảng 200 m trong khoảng 3 phút "
        "(cần kiểm tra lại)",
    "QCVN 01:2021/BXD §2.10.5; TCVN 2622:1995 §10.9":
        "QCVN 01:2021/BXD mục 2.10.5; TCVN 2622:1995 mục 10.9",
    "QCVN 01:2021/BXD §2.10.5 (external fire flow <= 20 L/s)":
        "QCVN 01:2021/BXD mục 2.10.5 (lưu lượng chữa cháy ngoài nhà ≤ 20 L/s)",
    "TCVN 2622 (verify)": "TCVN 2622 (cần kiểm tra lại)",
    "TCVN 2622 (hose along the street; amendments allow up to 400 m; verify)":
        "TCVN 2622 (vòi rải theo đường phố; sửa đổi cho phép đến 400 m; cần kiểm tra lại)",
    "TCVN 2622 (natural source with a truck pump; verify)":
        "TCVN 2622 (nguồn nước tự nhiên, bơm bằng xe chữa cháy; cần kiểm tra lại)",
    "TCVN 2622 (natural source with a portable pump; verify)":
        "TCVN 2622 (nguồn nước tự nhiên, bơm khiêng tay; cần kiểm tra lại)",
    "assumption: a truck street must come this close to the bank (TCVN 2622 asks for a "
    "truck street to the bank)":
        "giả định: đường xe chữa cháy phải tới gần bờ như vậy (TCVN 2622 yêu cầu có đường "
        "cho xe chữa cháy tới bờ)",
    "assumption: two sources this close are one": "giả định: hai nguồn gần như vậy là một",
    "assumption: a hydrant, tank or suction point this far from a truck street centreline is "
    "still usable (2.5 m from the road edge, TCVN 2622, plus half a carriageway and mapping "
    "error)":
        "giả định: trụ nước, bể hay điểm lấy nước cách tim đường xe chữa cháy như vậy vẫn dùng "
        "được (2,5 m từ mép đường theo TCVN 2622, cộng nửa mặt đường và sai số bản đồ)",
    "QCVN 01:2021/BXD §2.6.13 (urban centres)":
        "QCVN 01:2021/BXD mục 2.6.13 (khu vực đô thị trung tâm)",
    "QCVN 01:2021/BXD §2.6.13 (elsewhere)": "QCVN 01:2021/BXD mục 2.6.13 (khu vực khác)",
    "NFPA 1710 §4.1.2.1 (90 % of calls)": "NFPA 1710 mục 4.1.2.1 (90 % số vụ)",
    "NFPA 1710 (full first alarm)": "NFPA 1710 (toàn bộ lực lượng báo cháy đầu)",
    "NFPA 1720 (urban, 90 %)": "NFPA 1720 (đô thị, 90 %)",
    "NFPA 1720 (rural, 80 %)": "NFPA 1720 (nông thôn, 80 %)",
    "assumption between NFPA 1720 urban (9 min) and suburban (10 min); no Vietnamese "
    "travel-time rule found":
        "giả định giữa NFPA 1720 đô thị (9 phút) và ven đô (10 phút); chưa tìm thấy quy định "
        "Việt Nam về thời gian chạy xe",
    "QCVN 06:2022/BXD §6.2.2.1 (every point of a low-rise building within 60 m of a "
    "fire-truck road; verify wording)":
        "QCVN 06:2022/BXD mục 6.2.2.1 (mọi điểm của nhà thấp tầng trong vòng 60 m từ đường "
        "cho xe chữa cháy; cần kiểm tra câu chữ)",
    "assumption: gross floor area above which a hectare counts as densely built":
        "giả định: tổng diện tích sàn trên mỗi hecta từ mức này coi là xây dựng dày đặc",
    "assumption: population density above which a hectare counts as dense":
        "giả định: mật độ dân số từ mức này coi là đông đúc",
    "assumption: national average housing floor area per person, about 26 m² (Ministry of "
    "Construction, 2023; verify); non-residential floor area counts too, so people are "
    "overestimated where offices and shops are":
        "giả định: diện tích nhà ở bình quân đầu người toàn quốc khoảng 26 m² sàn (Bộ Xây "
        "dựng, 2023; cần kiểm tra lại); diện tích sàn không để ở cũng được tính nên số người "
        "bị ước tính cao hơn ở nơi có văn phòng, cửa hàng",
    "TCXDVN 104:2007 (urban traffic lane 3.0-3.75 m; typical value, verify)":
        "TCXDVN 104:2007 (làn xe đô thị 3,0-3,75 m; giá trị điển hình, cần kiểm tra lại)",
    "TCXDVN 104:2007 (narrowest urban traffic lane; verify)":
        "TCXDVN 104:2007 (làn xe đô thị hẹp nhất; cần kiểm tra lại)",
    "TCXDVN 104:2007 (widest urban traffic lane; verify)":
        "TCXDVN 104:2007 (làn xe đô thị rộng nhất; cần kiểm tra lại)",
    "TCXDVN 104:2007 (edge strip / dải mép beside the outer lane; verify)":
        "TCXDVN 104:2007 (dải mép cạnh làn ngoài cùng; cần kiểm tra lại)",
    "assumption: steps, stalls and parked motorbikes narrow an alley's clear width below the "
    "facade-to-facade gap":
        "giả định: bậc thềm, quầy hàng và xe máy đỗ làm bề rộng thông thủy của ngõ hẹp hơn "
        "khoảng cách giữa hai mặt nhà",
    "assumption: a street whose facades stand farther apart than this, with no sidewalk tag, "
    "likely has sidewalks; its corridor only shows that a truck fits":
        "giả định: đường có hai dãy nhà cách nhau xa hơn mức này mà không có thẻ vỉa hè thường "
        "có vỉa hè; khoảng cách đó chỉ cho biết xe chữa cháy đi lọt",
    "assumption: an est_width is an estimate by eye, +-0.5 m":
        "giả định: bề rộng ước lượng bằng mắt trên OSM sai số khoảng ±0,5 m",
    "assumption: a truck component shorter than this is a fragment (courtyard, driveway, mapping "
    "gap), not the street network":
        "giả định: một đoạn đường xe chữa cháy liền mạch ngắn hơn mức này là mảnh rời (sân, lối "
        "vào nhà, chỗ bản đồ bị đứt), không phải mạng đường",
    "assumption: when the stations reach less than half of the truck network, the station data "
    "or their snapping is suspect":
        "giả định: khi các đội PCCC tiếp cận được dưới một nửa mạng đường xe chữa cháy thì dữ "
        "liệu vị trí đội đáng ngờ",
    "derived: TCVN 2622:1995 (depth >= 0.5 m; 3 h of 10 L/s external fire flow = 108 m3); verify":
        "suy ra từ TCVN 2622:1995 (sâu ≥ 0,5 m; 3 giờ chữa cháy ngoài nhà 10 L/s = 108 m³); "
        "cần kiểm tra lại",
    "QCVN 01:2021/BXD §2.6.13 (urban centres: the sample is all inner city)":
        "QCVN 01:2021/BXD mục 2.6.13 (đô thị trung tâm: mẫu dữ liệu nằm trọn trong nội thành)",
}  # fmt: skip

#: Units in words: ``unit: (vi, en)``; seconds are shown in minutes.
UNITS: dict[str, tuple[str, str]] = {
    "m": ("m", "m"),
    "s": ("phút", "min"),
    "storeys": ("tầng", "storeys"),
    "m2/ha": ("m² sàn/ha", "m² floor/ha"),
    "people/ha": ("người/ha", "people/ha"),
    "m2/person": ("m² sàn/người", "m² floor/person"),
    "VND/m2": ("đồng/m²", "VND/m²"),
    "VND": ("đồng", "VND"),
    "km": ("km", "km"),
    "m2": ("m²", "m²"),
    "share": ("tỷ lệ", "share"),
}


def threshold_rows(thresholds: pd.DataFrame, lang: Language) -> pd.DataFrame:
    """Return the thresholds as people read them.

    Parameters
    ----------
    thresholds
        :func:`pipeline.shortlists.thresholds_table` (``key, value, unit, source``).
    lang
        {"vi", "en"}

    Returns
    -------
    pandas.DataFrame
        Columns labelled ``key`` (the parameter's name), ``value`` (times in minutes, numbers
        as the language writes them), ``unit`` and ``source`` (in Vietnamese where the
        default source has a rendering).
    """
    rows = []
    for r in thresholds.itertuples(index=False):
        key, unit, source = str(r.key), str(r.unit), str(r.source)
        value = float(r.value)  # type: ignore[arg-type]
        names = LABELS.get(key)
        name = (names[0] if lang == "vi" else names[1]) if names else key
        if unit == "s":
            value /= 60.0
        decimals = 0 if float(value).is_integer() else (2 if abs(value) < 10 else 1)  # noqa: PLR2004
        units = UNITS.get(unit)
        shown_unit = (units[0] if lang == "vi" else units[1]) if units else unit
        shown_source = SOURCES_VI.get(source, source) if lang == "vi" else source
        rows.append((name, fmt_number(value, lang, decimals), shown_unit, shown_source))
    cols = [column_label(c, lang) for c in ("key", "value", "unit", "source")]
    return pd.DataFrame(rows, columns=cols)
