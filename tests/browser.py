"""Open a map page in headless Chromium: JS errors, layer-control entries, load time, screenshot."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path  # noqa: TC003 - used at run time by selenium callers

from pipeline.browser import MAP_JS, chromium, chromium_paths, page_errors

__all__ = ["MAP_JS", "PageCheck", "chromium", "chromium_paths", "open_map", "open_maps"]


@dataclass
class PageCheck:
    """What a page load showed."""

    js_errors: list[str]
    overlays: list[str]
    base_layers: list[str]
    legend_text: str
    leaflet_loaded: bool
    load_s: float
    dom_s: float
    center_zoom: tuple[float, float, float]
    probe: object = None


_READ_JS = f"""
const txt = s => Array.from(document.querySelectorAll(s)).map(e => e.textContent.trim());
return [txt('.leaflet-control-layers-overlays label span > span'),
        txt('.leaflet-control-layers-base label span > span'),
        (document.querySelector('.firegap-legend') || {{}}).textContent || '',
        typeof L !== 'undefined',
        performance.timing.domContentLoadedEventEnd - performance.timing.navigationStart,
        (() => {{ const m = {MAP_JS};
                 if (!m) {{ return [0, 0, 0]; }}
                 const c = m.getCenter(); return [c.lat, c.lng, m.getZoom()]; }})()];
"""


def open_maps(
    pages: list[tuple[Path, Path]] | list[tuple[Path, Path, str]],
    *,
    size: tuple[int, int] = (1280, 900),
    wait_s: float = 0.3,
    probe: str | None = None,
) -> list[PageCheck]:
    """Load each ``(html, screenshot[, fragment])`` in one headless Chromium; report each page.

    ``wait_s`` passes before the page is read (a zoom animation takes 0.25 s); ``probe`` is a
    script body whose return value goes into :attr:`PageCheck.probe` (``map`` is the map).
    """
    out = []
    with chromium(size) as driver:
        for html, screenshot, *fragment in pages:
            driver.get_log("browser")  # drop messages of the previous page
            t0 = time.perf_counter()
            driver.get(html.resolve().as_uri() + "".join(fragment))
            load_s = time.perf_counter() - t0
            time.sleep(wait_s)  # let the canvas draw (and any animation end)
            overlays, bases, legend, has_leaflet, dom_ms, view = driver.execute_script(_READ_JS)
            probed = driver.execute_script(f"const map = {MAP_JS};" + probe) if probe else None
            driver.save_screenshot(str(screenshot))
            out.append(
                PageCheck(
                    page_errors(driver),
                    overlays,
                    bases,
                    legend,
                    bool(has_leaflet),
                    load_s,
                    dom_ms / 1000,
                    tuple(view),
                    probed,
                )
            )
    return out


def open_map(html: Path, screenshot: Path, *, size: tuple[int, int] = (1280, 900)) -> PageCheck:
    """Load one page in headless Chromium (see :func:`open_maps`)."""
    return open_maps([(html, screenshot)], size=size)[0]
