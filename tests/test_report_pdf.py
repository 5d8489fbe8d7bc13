"""report.pdf rendered in a second process: pages, errors and warnings come back to the stage."""

from __future__ import annotations

import logging

import pytest

from pipeline.report_pdf import PdfJob, pdf_engine_problem

needs_engine = pytest.mark.skipif(
    pdf_engine_problem() is not None, reason="WeasyPrint or Pango is not installed here"
)

PAGES = """<!DOCTYPE html><html><head><meta charset="utf-8"><style>
@page {size: A4} .page {break-before: page}</style></head><body>
<p>Phường Kinh Bắc</p><p class="page">Xã Hòa Long</p><p class="page">{extra}</p></body></html>
"""


@needs_engine
def test_the_pdf_is_written_by_a_second_process_with_its_pages(tmp_path, caplog):
    from pypdf import PdfReader

    html = tmp_path / "report.html"
    html.write_text(PAGES.replace("{extra}", "Ngõ cần mở rộng"), encoding="utf-8")
    pdf = tmp_path / "report.pdf"
    with caplog.at_level(logging.INFO, logger="pipeline.report_pdf"):
        pages = PdfJob(html, pdf, base_url=tmp_path).result()
    assert pages == 3
    reader = PdfReader(pdf)
    assert len(reader.pages) == 3
    assert "Xã Hòa Long" in reader.pages[1].extract_text()
    assert "report.pdf, 3 A4 pages" in caplog.text


@needs_engine
def test_the_engines_warnings_reach_this_process_log(tmp_path, caplog):
    html = tmp_path / "report.html"
    html.write_text(PAGES.replace("{extra}", '<img src="missing.png" alt="">'), "utf-8")
    with caplog.at_level(logging.WARNING):
        PdfJob(html, tmp_path / "report.pdf", base_url=tmp_path).result()
    assert any(r.name.startswith("weasyprint") and "missing.png" in r.getMessage()
               for r in caplog.records)  # fmt: skip


def test_a_failure_in_the_second_process_is_raised_with_its_traceback(tmp_path):
    job = PdfJob(tmp_path / "no-such.html", tmp_path / "report.pdf", base_url=tmp_path)
    with pytest.raises(RuntimeError, match=r"(?s)PDF engine failed.*FileNotFoundError"):
        job.result()
    assert not (tmp_path / "report.pdf").exists()


@needs_engine
def test_cancel_stops_the_second_process(tmp_path):
    html = tmp_path / "report.html"
    html.write_text(PAGES.replace("{extra}", "x " * 200_000), encoding="utf-8")
    job = PdfJob(html, tmp_path / "report.pdf", base_url=tmp_path)
    job.cancel()
    assert not job._proc.is_alive()


def test_done_tells_without_waiting_and_stays_true_after_the_result(tmp_path):
    job = PdfJob(tmp_path / "no-such.html", tmp_path / "report.pdf", base_url=tmp_path)
    while not job.done():  # the child fails at once: it reports and ends
        job._proc.join(timeout=0.05)
    with pytest.raises(RuntimeError, match="PDF engine failed"):
        job.result()
    assert job.done()  # the pipe is closed: still done, no error


@needs_engine
def test_a_job_started_before_its_page_renders_the_page_handed_to_it(tmp_path):
    job = PdfJob(None, tmp_path / "report.pdf", base_url=tmp_path)
    assert job.problem() is None  # the engine is loaded while the page is being written
    assert not job.done()  # waiting for its page
    html = tmp_path / "report.html"
    html.write_text(PAGES.replace("{extra}", "Ngõ 5"), encoding="utf-8")
    job.render(html)
    assert job.result() == 3
    assert (tmp_path / "report.pdf").is_file()
    assert job.done()


def test_a_job_stopped_before_its_page_writes_nothing(tmp_path):
    job = PdfJob(None, tmp_path / "report.pdf", base_url=tmp_path)
    job.cancel()
    assert not job._proc.is_alive()
    assert not (tmp_path / "report.pdf").exists()
