"""The online path, against a local HTTP server on 127.0.0.1 (no other network is used)."""

from __future__ import annotations

import csv
import functools
import hashlib
import http.server
import threading
from pathlib import Path

import pytest

from pipeline.cli import main
from tests.osm_fixtures import TOWN_COUNTS


class _Handler(http.server.SimpleHTTPRequestHandler):
    truncate = False

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.truncate:
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"\x00" * 10)
            return
        super().do_GET()


@pytest.fixture
def server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()

    def start(truncate=False):
        handler = functools.partial(
            type("H", (_Handler,), {"truncate": truncate}), directory=str(served)
        )
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        servers.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}"

    servers: list[http.server.ThreadingHTTPServer] = []
    yield served, start
    for s in servers:
        s.shutdown()
        s.server_close()


def _province(project, url, boundary):
    project.province(
        "online",
        {"osm": {"file": None, "download_url": url, "download_name": "town.osm.pbf",
                 "timeout_s": 5},
         "boundary": {"file": str(boundary)}},
    )  # fmt: skip


def _run(project, capsys):
    rc = main(["ingest", "--province", "online", "--root", str(project.root), "--no-progress"])
    return rc, capsys.readouterr().err


def test_download_then_cache(project, town_pbf, town_boundary, server, capsys):
    served, start = server
    (served / "vietnam-latest.osm.pbf").write_bytes(town_pbf.read_bytes())
    _province(project, f"{start()}/vietnam-latest.osm.pbf", town_boundary)
    rc, err = _run(project, capsys)
    assert rc == 0, err
    cached = project.root / "cache" / "raw" / "online" / "town.osm.pbf"
    assert cached.read_bytes() == town_pbf.read_bytes()
    with (cached.parent / "SOURCES.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["sha256"] == hashlib.sha256(cached.read_bytes()).hexdigest()
    import json

    manifest = json.loads((project.outputs("online") / "manifest.json").read_text())
    assert manifest["ingest"]["summary"]["graph_edges"] == TOWN_COUNTS["graph_edges"]
    # Offline afterwards: the cached extract is used, nothing is fetched again.
    _province(project, "http://127.0.0.1:9/unreachable.osm.pbf", town_boundary)
    rc, err = _run(project, capsys)
    assert rc == 0, err
    assert "using cached" in err


def test_offline_without_data_says_where_to_put_the_file(project, town_boundary, capsys):
    _province(project, "http://127.0.0.1:9/vietnam-latest.osm.pbf", town_boundary)
    rc, err = _run(project, capsys)
    assert rc == 2
    line = next(ln for ln in err.splitlines() if ln.startswith("firegap: error:"))
    expected = Path(project.root) / "cache" / "raw" / "online" / "town.osm.pbf"
    assert f"put the OSM extract at {expected}" in line
    assert "--osm" in line
    assert not expected.exists()


def test_http_404_and_truncated_download_leave_nothing(project, town_boundary, server, capsys):
    _, start = server
    _province(project, f"{start()}/missing.osm.pbf", town_boundary)
    rc, err = _run(project, capsys)
    assert rc == 2
    assert "HTTPError" in err
    _province(project, f"{start(truncate=True)}/x.osm.pbf", town_boundary)
    rc, err = _run(project, capsys)
    assert rc == 2
    raw = project.root / "cache" / "raw" / "online"
    assert not (raw / "town.osm.pbf").exists()
    assert not list(raw.glob("*.tmp"))
