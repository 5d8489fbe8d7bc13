"""Open a map page in headless Chromium: JS errors, layer-control entries, load time, screenshot."""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path  # noqa: TC003 - used at run time by selenium callers

#: Console messages that are failed network loads (tiles, CDNs offline), not page errors.
NETWORK_NOISE = ("Failed to load resource", "net::ERR_", "ERR_NAME_NOT_RESOLVED", "favicon")


def chromium_paths() -> tuple[str, str] | None:
    """Return (chromium, chromedriver) executables, or None when either is absent."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


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
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    exe = chromium_paths()
    assert exe is not None
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
    js = """
    const txt = s => Array.from(document.querySelectorAll(s)).map(e => e.textContent.trim());
    return [txt('.leaflet-control-layers-overlays label span > span'),
            txt('.leaflet-control-layers-base label span > span'),
            (document.querySelector('.firegap-legend') || {}).textContent || '',
            typeof L !== 'undefined',
            performance.timing.domContentLoadedEventEnd - performance.timing.navigationStart,
            (() => { const m = window[Object.keys(window).find(k => /^map_[0-9a-f]+$/.test(k))];
                     if (!m) { return [0, 0, 0]; }
                     const c = m.getCenter(); return [c.lat, c.lng, m.getZoom()]; })()];
    """
    out = []
    try:
        driver.set_page_load_timeout(300)
        for html, screenshot, *fragment in pages:
            driver.get_log("browser")  # drop messages of the previous page
            t0 = time.perf_counter()
            driver.get(html.resolve().as_uri() + "".join(fragment))
            load_s = time.perf_counter() - t0
            time.sleep(wait_s)  # let the canvas draw (and any animation end)
            overlays, bases, legend, has_leaflet, dom_ms, view = driver.execute_script(js)
            probed = (
                driver.execute_script(
                    "const map = window[Object.keys(window).find(k => /^map_[0-9a-f]+$/.test(k))];"
                    + probe
                )
                if probe
                else None
            )
            driver.save_screenshot(str(screenshot))
            errors = [
                m["message"] for m in driver.get_log("browser")
                if m["level"] == "SEVERE" and not any(n in m["message"] for n in NETWORK_NOISE)
            ]  # fmt: skip
            out.append(
                PageCheck(
                    errors,
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
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    return out


def open_map(html: Path, screenshot: Path, *, size: tuple[int, int] = (1280, 900)) -> PageCheck:
    """Load one page in headless Chromium (see :func:`open_maps`)."""
    return open_maps([(html, screenshot)], size=size)[0]
