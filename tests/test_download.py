"""The online path, against a local HTTP server on 127.0.0.1 (no other network is used)."""

from __future__ import annotations

import csv
import hashlib
import http.server
import json
import threading
from pathlib import Path

import numpy as np
import pytest

from pipeline.cli import main
from tests.osm_fixtures import TOWN_COUNTS, town

STAMP = "2026-11-30T21:21:02Z"


def _md5(data: bytes):
    return hashlib.md5(data, usedforsecurity=False)


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``files`` (name -> bytes) with ETags and byte ranges, as a Geofabrik mirror does.

    ``cut_after``: the first extract response stops after that many bytes (a dropped link);
    ``lie_length``: announce more bytes than are sent.
    """

    files: dict[str, bytes]
    etags: dict[str, str]
    requests: list[dict[str, str]]
    cut_after: int | None = None
    lie_length: bool = False

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        name = self.path.lstrip("/")
        self.requests.append({"path": name, **dict(self.headers.items())})
        body = self.files.get(name)
        if body is None:
            self.send_error(404)
            return
        etag = self.etags.get(name, f'"{_md5(body).hexdigest()}"')
        start = 0
        rng, if_range = self.headers.get("Range"), self.headers.get("If-Range")
        partial = rng is not None and (if_range is None or if_range == etag)
        if partial:
            start = int(rng.removeprefix("bytes=").split("-")[0])
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        chunk = body[start:]
        self.send_header("ETag", etag)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(chunk) + (100_000 if self.lie_length else 0)))
        self.end_headers()
        if type(self).cut_after is not None and not name.endswith(".md5"):
            chunk = chunk[: type(self).cut_after]
            type(self).cut_after = None
        self.wfile.write(chunk)


@pytest.fixture
def server():
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(files, **options):
        handler = type("H", (_Handler,), {"files": files, "etags": {}, "requests": [], **options})
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}", handler

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


def _extract(tmp_path, stamp=STAMP, name="src.osm.pbf") -> bytes:
    """The town plus 20,000 scattered tagged nodes far outside it: a file of a few 100 kB."""
    b = town()
    rng = np.random.default_rng(7)
    for x, y in rng.uniform(20_000, 90_000, size=(20_000, 2)):
        b.node(float(x), float(y), {"name": f"điểm {x:.3f}"})
    return b.write(tmp_path / name, replication_timestamp=stamp).read_bytes()


def _md5_file(body: bytes, name="vietnam-latest.osm.pbf") -> bytes:
    return f"{_md5(body).hexdigest()}  {name}\n".encode()


def _province(project, url, boundary, **osm):
    project.province(
        "online",
        {"osm": {"file": None, "download_url": url, "download_name": "town.osm.pbf",
                 "timeout_s": 5, **osm},
         "boundary": {"file": str(boundary)}},
    )  # fmt: skip


def _run(project, capsys):
    rc = main(["ingest", "--province", "online", "--root", str(project.root), "--no-progress"])
    return rc, capsys.readouterr().err


def _raw(project):
    return project.root / "cache" / "raw" / "online"


def _summary(project):
    manifest = json.loads((project.outputs("online") / "manifest.json").read_text())
    return manifest["ingest"]["summary"]


def test_download_checked_clipped_dated_then_cached(project, town_boundary, server, capsys,
                                                    tmp_path):  # fmt: skip
    body = _extract(tmp_path)
    url, handler = server(
        {"vietnam-latest.osm.pbf": body, "vietnam-latest.osm.pbf.md5": _md5_file(body)}
    )
    _province(project, f"{url}/vietnam-latest.osm.pbf", town_boundary)
    rc, err = _run(project, capsys)
    assert rc == 0, err
    cached = _raw(project) / "town.osm.pbf"
    assert cached.read_bytes() == body
    assert f"MD5 {_md5(body).hexdigest()} matches" in err
    with (cached.parent / "SOURCES.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["sha256"] == hashlib.sha256(body).hexdigest()
    assert rows[0]["md5"] == _md5(body).hexdigest()
    s = _summary(project)
    assert s["graph_edges"] == TOWN_COUNTS["graph_edges"]
    # How big and how old, from the data's own header (not the file's mtime), in one line.
    assert s["osm_timestamp"] == STAMP
    assert s["osm_timestamp_source"] == "file header"
    assert s["osm_bytes"] == len(body)
    assert f"osm: town.osm.pbf: {len(body) / 1e6:.1f} MB, data as of 2026-11-30 21:21 UTC (" in err
    # A downloaded extract is cut to the province once; the cut keeps the data date.
    clips = list((project.root / "cache" / "clip" / "online").glob("*.osm.pbf"))
    assert [c.name for c in clips] == [s["osm_clip"]]
    from pipeline.osm_extract import header_timestamp
    from pipeline.osm_read import read_osm

    cut, whole = read_osm(clips[0]), read_osm(tmp_path / "src.osm.pbf")
    assert (len(cut.streets), len(whole.streets)) == (5, 6)  # the street 5 km away is cut off
    assert clips[0].stat().st_size < len(body) / 10  # so are the 20,000 far-away nodes

    assert header_timestamp(clips[0]).isoformat() == "2026-11-30T21:21:02+00:00"
    # Offline afterwards: the cached extract and the cached cut are used.
    _province(project, "http://127.0.0.1:9/unreachable.osm.pbf", town_boundary)
    rc, err = _run(project, capsys)
    assert rc == 0, err
    assert "using cached" in err
    assert len(handler.requests) == 2  # the .md5 and the extract, once
    assert "ingest: up to date, skipped" in _run(project, capsys)[1]
    # A newer extract put in the cache by hand (or downloaded afresh) reruns ingest.
    newer = _extract(tmp_path, stamp="2026-12-02T00:00:00Z", name="newer.osm.pbf")
    (_raw(project) / "town.osm.pbf").write_bytes(newer)
    rc, err = _run(project, capsys)
    assert rc == 0, err
    assert "using cached" in err
    assert _summary(project)["osm_timestamp"] == "2026-12-02T00:00:00Z"


def test_interrupted_download_resumes_with_a_range_request(project, town_boundary, server,
                                                          capsys, tmp_path):  # fmt: skip
    body = _extract(tmp_path)
    files = {"v.osm.pbf": body, "v.osm.pbf.md5": _md5_file(body)}
    url, handler = server(files, cut_after=len(body) // 3)
    _province(project, f"{url}/v.osm.pbf", town_boundary)
    rc, err = _run(project, capsys)
    assert rc == 2
    assert "download interrupted at" in err
    assert "run again to resume" in err
    part = _raw(project) / "town.osm.pbf.part"
    kept = part.stat().st_size
    assert 0 < kept <= len(body) // 3
    assert part.read_bytes() == body[:kept]  # whole reads only: what was cut mid-read is lost
    rc, err = _run(project, capsys)
    assert rc == 0, err
    assert "resuming at" in err
    assert (_raw(project) / "town.osm.pbf").read_bytes() == body
    assert not part.exists()
    ranged = [r for r in handler.requests if r["path"] == "v.osm.pbf" and "Range" in r]
    assert [r["Range"] for r in ranged] == [f"bytes={kept}-"]


def test_changed_file_on_the_server_is_downloaded_afresh(project, town_boundary, server,
                                                        capsys, tmp_path):  # fmt: skip
    old = _extract(tmp_path)
    url, handler = server({"v.osm.pbf": old}, cut_after=len(old) // 2)
    _province(project, f"{url}/v.osm.pbf", town_boundary)
    assert _run(project, capsys)[0] == 2
    assert (_raw(project) / "town.osm.pbf.part").stat().st_size > 0
    new = _extract(tmp_path, stamp="2026-12-01T00:00:00Z", name="new.osm.pbf")
    handler.files["v.osm.pbf"] = new
    handler.files["v.osm.pbf.md5"] = _md5_file(new)
    rc, err = _run(project, capsys)
    assert rc == 0, err
    assert "the server sent the whole file again" in err
    assert (_raw(project) / "town.osm.pbf").read_bytes() == new
    assert _summary(project)["osm_timestamp"] == "2026-12-01T00:00:00Z"


def test_checksum_mismatch_removes_the_download(project, town_boundary, server, capsys,
                                                tmp_path):  # fmt: skip
    body = _extract(tmp_path)
    url, _ = server({"v.osm.pbf": body, "v.osm.pbf.md5": _md5_file(b"something else")})
    _province(project, f"{url}/v.osm.pbf", town_boundary)
    rc, err = _run(project, capsys)
    assert rc == 2
    line = next(ln for ln in err.splitlines() if ln.startswith("firegap: error:"))
    assert f"the download's MD5 {_md5(body).hexdigest()} is not the published" in line
    assert "it was removed" in line
    assert list(_raw(project).iterdir()) == []


def test_no_published_checksum_is_a_warning(project, town_boundary, server, capsys, tmp_path):
    body = _extract(tmp_path)
    url, _ = server({"v.osm.pbf": body})
    _province(project, f"{url}/v.osm.pbf", town_boundary)
    rc, err = _run(project, capsys)
    assert rc == 0, err
    assert "WARNING" in err
    assert f"no published checksum at {url}/v.osm.pbf.md5" in err


def test_offline_without_data_says_where_to_put_the_file(project, town_boundary, capsys):
    _province(project, "http://127.0.0.1:9/vietnam-latest.osm.pbf", town_boundary)
    rc, err = _run(project, capsys)
    assert rc == 2
    line = next(ln for ln in err.splitlines() if ln.startswith("firegap: error:"))
    expected = Path(project.root) / "cache" / "raw" / "online" / "town.osm.pbf"
    assert f"put the OSM extract at {expected}" in line
    assert "--osm" in line
    assert not expected.exists()


def test_http_404_and_truncated_download_leave_nothing_complete(project, town_boundary, server,
                                                               capsys, tmp_path):  # fmt: skip
    url, _ = server({})
    _province(project, f"{url}/missing.osm.pbf", town_boundary)
    rc, err = _run(project, capsys)
    assert rc == 2
    assert "HTTPError" in err
    url, _ = server({"x.osm.pbf": b"\x00" * 10}, lie_length=True)
    _province(project, f"{url}/x.osm.pbf", town_boundary, verify_md5=False)
    rc, err = _run(project, capsys)
    assert rc == 2
    assert "cannot download" in err
    raw = _raw(project)
    assert not (raw / "town.osm.pbf").exists()
    assert not list(raw.glob("*.tmp"))
