"""report.pdf: the printable report rendered by a real HTML-to-PDF engine (WeasyPrint)."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

logger = logging.getLogger(__name__)

#: How to get the engine, said when it is missing.
INSTALL_HINT = (
    "install WeasyPrint (pip install weasyprint==70.0, part of make setup) and the Pango "
    "library (Debian/Ubuntu: apt-get install libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core)"
)


def pdf_engine_problem() -> str | None:
    """Return why the PDF engine cannot run here, or None when it can."""
    try:
        import weasyprint  # noqa: F401, PLC0415 - optional engine, loaded on demand
    except ImportError as e:
        return f"WeasyPrint is not installed ({e})"
    except OSError as e:  # WeasyPrint is there, Pango is not
        return f"the Pango library WeasyPrint needs is missing ({e})"
    return None


def write_pdf(html_text: str, path: Path, *, base_url: Path) -> int:
    """Render ``html_text`` (print CSS: A4 pages, page numbers) to ``path``; return its pages.

    Parameters
    ----------
    html_text
        The report page (images inlined as data URIs).
    path
        The PDF file to write.
    base_url
        Folder relative links of the page resolve against.

    Returns
    -------
    int
        Number of pages written.
    """
    import weasyprint  # noqa: PLC0415 - optional engine, loaded on demand

    for name in ("weasyprint", "weasyprint.progress", "fontTools"):  # per-step INFO lines
        logging.getLogger(name).setLevel(logging.WARNING)
    t0 = time.perf_counter()
    doc = weasyprint.HTML(string=html_text, base_url=str(base_url)).render()
    doc.write_pdf(str(path))
    logger.info(
        "report: report.pdf, %d A4 pages, %.1f MB (%.1f s)",
        len(doc.pages), path.stat().st_size / 1e6, time.perf_counter() - t0,
    )  # fmt: skip
    return len(doc.pages)
