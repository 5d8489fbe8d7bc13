"""report.pdf: the printable report rendered by a real HTML-to-PDF engine (WeasyPrint)."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.collector import rare_full_collections
from pipeline.parallel import receive_then_join

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

logger = logging.getLogger(__name__)

#: How to get the engine, said when it is missing.
INSTALL_HINT = (
    "install WeasyPrint (pip install weasyprint==70.0, part of make setup) and the Pango "
    "library (Debian/Ubuntu: apt-get install libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core)"
)
#: Loggers of the engine: per-step INFO lines, kept to their warnings.
ENGINE_LOGGERS = ("weasyprint", "weasyprint.progress", "fontTools")


def pdf_engine_problem() -> str | None:
    """Return why the PDF engine cannot run here, or None when it can.

    The engine is imported to find out; its loggers are kept to their warnings first (at
    import it logs a progress line per stylesheet it parses).
    """
    for name in ENGINE_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        import weasyprint  # noqa: F401, PLC0415 - optional engine, loaded on demand
    except ImportError as e:
        return f"WeasyPrint is not installed ({e})"
    except OSError as e:  # WeasyPrint is there, Pango is not
        return f"the Pango library WeasyPrint needs is missing ({e})"
    return None


def _render(html_text: str, path: Path, *, base_url: Path) -> int:
    """Render ``html_text`` to ``path`` with the engine; return the number of pages."""
    import weasyprint  # noqa: PLC0415 - optional engine, loaded on demand

    for name in ENGINE_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    doc = weasyprint.HTML(string=html_text, base_url=str(base_url)).render()
    doc.write_pdf(str(path))
    return len(doc.pages)


def _log_done(path: Path, pages: int, seconds: float) -> None:
    logger.info(
        "report: report.pdf, %d A4 pages, %.1f MB (%.1f s)",
        pages, path.stat().st_size / 1e6, seconds,
    )  # fmt: skip


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
    t0 = time.perf_counter()
    pages = _render(html_text, path, base_url=base_url)
    _log_done(path, pages, time.perf_counter() - t0)
    return pages


class _Collect(logging.Handler):
    """Keep the engine's log records (as name, level, text) to hand them to the parent."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.name, record.levelno, record.getMessage()))


def _child(pdf_path: str, base_url: str, conn: Connection) -> None:
    """Child process of :class:`PdfJob`: load the engine, render the page it is sent.

    It first says whether the engine can run; then renders the page it is sent (``None``:
    none) and sends the pages or the traceback.
    """
    collect = _Collect()
    logging.getLogger().addHandler(collect)
    problem = pdf_engine_problem()
    conn.send({"problem": problem})
    html_path = None if problem is not None else conn.recv()
    if html_path is None:
        conn.close()
        return
    out: dict[str, Any] = {"log": collect.records}
    try:
        t0 = time.perf_counter()
        text = Path(html_path).read_text(encoding="utf-8")
        with rare_full_collections():  # the engine makes millions of layout boxes
            out["pages"] = _render(text, Path(pdf_path), base_url=Path(base_url))
        out["seconds"] = time.perf_counter() - t0
    except BaseException:  # noqa: BLE001 - every failure goes to the parent, which raises
        out["error"] = traceback.format_exc()
    conn.send(out)
    conn.close()


class PdfJob:
    """report.pdf rendered in a child process while this one goes on (the ward maps).

    The engine runs on one core for most of a minute; the other core draws the maps. The
    child is a fresh interpreter (``spawn``): it holds the engine and the page, not a copy of
    the report stage's tables. It may be started before the page is written
    (``html_path=None``): it loads the engine meanwhile, and :meth:`render` hands it the page.

    Parameters
    ----------
    html_path
        The report page, written (images inlined as data URIs); ``None``: see :meth:`render`.
    path
        The PDF file to write.
    base_url
        Folder relative links of the page resolve against.
    """

    def __init__(self, html_path: Path | None, path: Path, *, base_url: Path) -> None:
        self.path = path
        mp = multiprocessing.get_context("spawn")
        self._conn, child_conn = mp.Pipe()
        self._proc = mp.Process(
            target=_child,
            args=(str(path), str(base_url), child_conn),
            name="firegap-report-pdf",
        )
        self._proc.start()
        child_conn.close()
        self._pages: int | None = None
        self._problem: dict[str, str | None] = {}
        if html_path is not None:
            self.render(html_path)

    def problem(self) -> str | None:
        """Return why the engine cannot run (the child has then ended), or None when it can.

        Waits for the child to have loaded the engine.
        """
        if "problem" not in self._problem:
            try:
                said = self._conn.recv()
            except EOFError:  # died: said by result()
                said = {"problem": None}
            self._problem["problem"] = said["problem"]
        return self._problem["problem"]

    def render(self, html_path: Path) -> None:
        """Hand the written page to the child, which renders it (see :meth:`result`)."""
        if self.problem() is None and not self._conn.closed:
            with contextlib.suppress(OSError):  # died: said by result()
                self._conn.send(str(html_path))

    def done(self) -> bool:
        """Tell, without waiting, whether the child is done (its result, or its end, is in)."""
        if self._pages is not None or self._conn.closed:
            return True
        if "problem" not in self._problem:  # its first word: whether the engine can run
            if not self._conn.poll():
                return False
            if self.problem() is not None:
                return True
        return bool(self._conn.poll())

    def result(self) -> int:
        """Wait for the PDF; return its number of pages (again at once on a second call).

        Raises
        ------
        RuntimeError
            If the engine failed (with its traceback) or the child died (killed, out of
            memory).
        """
        if self._pages is not None:  # already waited for
            return self._pages
        problem = self.problem()
        if problem is not None:
            msg = f"report.pdf: the PDF engine cannot run: {problem}"
            raise RuntimeError(msg)
        out = receive_then_join(self._conn, self._proc)
        if out is None:
            msg = f"report.pdf: the PDF process died (exit code {self._proc.exitcode})"
            raise RuntimeError(msg)
        for name, level, text in out["log"]:
            logging.getLogger(name).log(level, "%s", text)
        if "error" in out:
            msg = f"report.pdf: the PDF engine failed:\n{out['error']}"
            raise RuntimeError(msg)
        _log_done(self.path, out["pages"], out["seconds"])
        self._pages = int(out["pages"])
        return self._pages

    def cancel(self) -> None:
        """Stop the child (the stage failed: its PDF would be removed anyway)."""
        if self._proc.is_alive():
            self._proc.terminate()
        self._proc.join()
        self._conn.close()
