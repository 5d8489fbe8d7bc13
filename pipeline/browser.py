"""Headless Chromium for the maps: start it, and measure a map page (load, redraw, memory)."""

from __future__ import annotations

import logging
import shutil
import statistics
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

logger = logging.getLogger(__name__)

#: An office laptop's screen, in CSS pixels.
LAPTOP_SCREEN = (1366, 768)
#: Console messages that are failed network loads (tiles, CDNs offline), not page errors.
NETWORK_NOISE = ("Failed to load resource", "net::ERR_", "ERR_NAME_NOT_RESOLVED", "favicon")
#: The page's Leaflet map (folium names it map_<hex>).
MAP_JS = "window[Object.keys(window).find(k => /^map_[0-9a-f]+$/.test(k))]"

#: Zooms in and out from the opening view, each step timed until the canvases are painted
#: (two animation frames), then a pan; arguments: the zoom steps, then the callback.
_REDRAW_JS = f"""
const done = arguments[arguments.length - 1];
const map = {MAP_JS};
const steps = arguments[0];
function frame() {{
  return new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
}}
(async () => {{
  await frame();
  const z0 = map.getZoom(), out = [];
  for (const dz of steps) {{
    const t0 = performance.now();
    map.setZoom(z0 + dz, {{animate: false}});
    await frame();
    out.push(["zoom " + (z0 + dz), performance.now() - t0]);
  }}
  map.setZoom(z0, {{animate: false}});
  await frame();
  const t0 = performance.now();
  map.panBy([300, 200], {{animate: false}});
  await frame();
  out.push(["pan", performance.now() - t0]);
  done([z0, out]);
}})();
"""


def chromium_paths() -> tuple[str, str] | None:
    """Return (chromium, chromedriver) executables, or None when either is absent."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@contextmanager
def chromium(size: tuple[int, int] = LAPTOP_SCREEN) -> Iterator[Any]:
    """Yield a headless Chromium (a selenium WebDriver) that resolves no host name.

    Parameters
    ----------
    size
        Window size in CSS pixels.

    Yields
    ------
    selenium.webdriver.Chrome
        Quit, and its profile removed, on exit.

    Raises
    ------
    RuntimeError
        Chromium or chromedriver is not installed (``apt-get install chromium
        chromium-driver``).
    """
    from selenium import webdriver  # noqa: PLC0415 - a development dependency
    from selenium.webdriver.chrome.service import Service  # noqa: PLC0415

    exe = chromium_paths()
    if exe is None:
        msg = "chromium / chromedriver not found (apt-get install chromium chromium-driver)"
        raise RuntimeError(msg)
    profile = tempfile.mkdtemp(prefix="firegap-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = exe[0]
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                # offline machine: fail tile / CDN lookups at once instead of waiting
                "--host-resolver-rules=MAP * ~NOTFOUND",
                f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}"):  # fmt: skip
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(exe[1]), options=opts)
    try:
        driver.set_page_load_timeout(600)
        driver.set_script_timeout(600)
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def page_errors(driver: Any) -> list[str]:  # noqa: ANN401 - a selenium WebDriver
    """Return the page's console errors since the last call (network failures left out)."""
    return [
        m["message"]
        for m in driver.get_log("browser")
        if m["level"] == "SEVERE" and not any(n in m["message"] for n in NETWORK_NOISE)
    ]


@dataclass
class MapTiming:
    """How a map page behaves in headless Chromium.

    ``load_s``: opening the file until the map is drawn; ``redraw_ms``: per zoom step (and a
    pan), the median over the runs of the time until the canvases are painted; ``js_heap_mb``:
    JavaScript heap after a garbage collection, ``buffers_mb``: typed arrays (the decoded
    coordinates) outside it.
    """

    file: str
    size_mb: float
    load_s: float
    zoom: int
    redraw_ms: dict[str, float]
    js_heap_mb: float
    buffers_mb: float
    errors: list[str]

    @property
    def worst_redraw_ms(self) -> float:
        """Return the slowest zoom or pan step."""
        return max(self.redraw_ms.values(), default=0.0)

    def as_dict(self) -> dict[str, Any]:
        """Return the figures as plain JSON values."""
        out = asdict(self)
        out["worst_redraw_ms"] = round(self.worst_redraw_ms, 1)
        return out


def measure_map(
    driver: Any,  # noqa: ANN401 - a selenium WebDriver
    path: Path,
    *,
    steps: tuple[int, ...] = (1, 2, 3, 1, 0, -1),
    runs: int = 3,
) -> MapTiming:
    """Open a map page and time its load, its redraw on zoom and pan, and its memory.

    Parameters
    ----------
    driver
        From :func:`chromium`.
    path
        The HTML file.
    steps
        Zoom steps from the opening zoom, each timed.
    runs
        Loads of the page; each figure is the median over them.

    Returns
    -------
    MapTiming
    """
    loads: list[float] = []
    redraws: dict[str, list[float]] = {}
    zoom, heap, buffers, errors = 0, 0.0, 0.0, []
    driver.execute_cdp_cmd("Performance.enable", {})
    for _ in range(runs):
        driver.get("about:blank")
        driver.get_log("browser")
        t0 = time.perf_counter()
        driver.get(path.resolve().as_uri())
        driver.execute_async_script(
            "const done = arguments[0]; requestAnimationFrame(() => requestAnimationFrame(done));"
        )
        loads.append(time.perf_counter() - t0)
        zoom, steps_ms = driver.execute_async_script(_REDRAW_JS, list(steps))
        for name, ms in steps_ms:
            redraws.setdefault(name, []).append(float(ms))
        driver.execute_cdp_cmd("HeapProfiler.collectGarbage", {})
        usage = driver.execute_cdp_cmd("Runtime.getHeapUsage", {})
        heap = max(heap, usage.get("usedSize", 0) / 1e6)
        buffers = max(buffers, usage.get("backingStorageSize", 0) / 1e6)
        errors = page_errors(driver)
    return MapTiming(
        file=path.name,
        size_mb=round(path.stat().st_size / 1e6, 3),
        load_s=round(statistics.median(loads), 3),
        zoom=int(zoom),
        redraw_ms={k: round(statistics.median(v), 1) for k, v in redraws.items()},
        js_heap_mb=round(heap, 1),
        buffers_mb=round(buffers, 1),
        errors=errors,
    )
