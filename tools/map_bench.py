"""Bench section: the province map and the largest ward map of each dataset in headless Chromium."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pipeline.browser import LAPTOP_SCREEN, chromium, chromium_paths, measure_map
from pipeline.paths import ProvincePaths

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

logger = logging.getLogger(__name__)

#: What "usable on an office laptop" is checked against: the province map below this size
#: (issue 15), ward maps below theirs, and a redraw on zoom or pan within this time.
PROVINCE_MAP_MAX_MB = 5.0
WARD_MAP_MAX_MB = 3.0


def _maps(outputs: Path) -> tuple[Path | None, Path | None, int]:
    """Return the province map, the largest ward map, and the number of ward maps."""
    province = outputs / "map.html"
    wards = [p for p in (outputs / "wards").glob("*.html") if p.name != "index.html"]
    largest = max(wards, key=lambda p: p.stat().st_size, default=None)
    return (province if province.is_file() else None), largest, len(wards)


def browser_section(datasets: Sequence[Any], *, runs: int = 3) -> tuple[str, Any, str, list[str]]:
    """Measure the maps of each dataset: size, load time, redraw on zoom and pan, memory.

    Parameters
    ----------
    datasets
        Objects with ``label``, ``slug`` and ``root`` (the bench's datasets, analysed).
    runs
        Page loads per map; the figures are medians.

    Returns
    -------
    name, data, markdown, ratios
        The bench section's parts: ``data`` maps each dataset label to its figures
        (:meth:`pipeline.browser.MapTiming.as_dict` for ``province`` and ``largest_ward``).
    """
    if chromium_paths() is None:
        note = "Map browser figures not measured: chromium / chromedriver not installed."
        return "browser", {}, note, []
    data: dict[str, Any] = {}
    intro = (
        f"Maps in headless Chromium ({LAPTOP_SCREEN[0]} x {LAPTOP_SCREEN[1]}, software "
        f"rendering, {runs} loads each, medians): load = file opened until the map is painted; "
        "redraw = slowest of zooming in 3 steps, out 4, and a pan; heap = JS heap after a "
        "garbage collection (+ typed arrays of the decoded coordinates)."
    )
    lines = [
        intro,
        "",
        "| dataset | map | MB | load s | worst redraw ms | JS heap MB | arrays MB |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    ratios: list[str] = []
    with chromium() as driver:
        for d in datasets:
            outputs = ProvincePaths(d.slug, d.root).outputs
            province, ward, n_wards = _maps(outputs)
            figures: dict[str, Any] = {"ward_maps": n_wards}
            for key, path in (("province", province), ("largest_ward", ward)):
                if path is None:
                    continue
                timing = measure_map(driver, path, runs=runs)
                figures[key] = timing.as_dict()
                lines.append(
                    f"| {d.label} | {key.replace('_', ' ')} ({path.name}) | {timing.size_mb:.2f} "
                    f"| {timing.load_s:.2f} | {timing.worst_redraw_ms:.0f} "
                    f"| {timing.js_heap_mb:.1f} | {timing.buffers_mb:.1f} |"
                )
                if timing.errors:
                    logger.warning("bench: %s: page errors %s", path, timing.errors)
            data[d.label] = figures
    if datasets:
        last = datasets[-1].label
        for key, limit in (("province", PROVINCE_MAP_MAX_MB), ("largest_ward", WARD_MAP_MAX_MB)):
            f = data.get(last, {}).get(key)
            if f:
                ratios.append(
                    f"{last} {key.replace('_', ' ')} map: {f['size_mb']:.2f} MB (limit {limit:g}),"
                    f" load {f['load_s']:.1f} s, redraw <= {f['worst_redraw_ms'] / 1000:.2f} s,"
                    f" JS heap {f['js_heap_mb']:.0f} MB + {f['buffers_mb']:.0f} MB arrays"
                )
    return "browser", data, "\n".join(lines), ratios
