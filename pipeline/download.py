"""The online path: fetch an OSM extract into ``cache/raw/<province>/`` once, resumable, checked."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import logging
import re
import time
from typing import TYPE_CHECKING, Any

import requests
from tqdm import tqdm

from pipeline._errors import InputDataError, MissingInputError
from pipeline._io import file_sha256, remove_path

if TYPE_CHECKING:
    from pathlib import Path

    from pipeline.config import OsmConfig

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20
#: Read size of the download: what a dropped connection loses of the last read.
_STREAM_CHUNK = 1 << 16
_HTTP_PARTIAL = 206
_HTTP_RANGE_NOT_SATISFIABLE = 416


def part_path(target: Path) -> Path:
    """Where a download in progress is kept between runs (resumed from there)."""
    return target.with_name(target.name + ".part")


def _md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def published_md5(cfg: OsmConfig) -> tuple[str | None, str]:
    """Return the MD5 published beside the extract (``<url>.md5``, as Geofabrik does) and its URL.

    ``None`` when it cannot be had (logged: the download is then not verified).
    """
    url = cfg.md5_url or f"{cfg.download_url}.md5"
    try:
        resp = requests.get(url, timeout=cfg.timeout_s)
        resp.raise_for_status()
    except requests.RequestException as e:
        logger.warning(
            "download: no published checksum at %s (%s): not verified", url, type(e).__name__
        )
        return None, url
    match = re.match(r"\s*([0-9a-fA-F]{32})\b", resp.text)
    if match is None:
        logger.warning("download: %s holds no MD5 checksum: not verified", url)
        return None, url
    return match.group(1).lower(), url


def _request(
    cfg: OsmConfig, part: Path, meta: dict[str, Any]
) -> tuple[requests.Response, int, bool]:
    """Open the download, resuming from ``part`` when the server still has the same file."""
    assert cfg.download_url is not None  # noqa: S101 - checked by the caller
    have = part.stat().st_size if part.exists() else 0
    headers = {}
    same_file = meta.get("url") == cfg.download_url
    validator = meta.get("etag") or meta.get("last_modified")
    if have and same_file and validator:
        headers = {"Range": f"bytes={have}-", "If-Range": validator}
    resp = requests.get(cfg.download_url, stream=True, timeout=cfg.timeout_s, headers=headers)
    if resp.status_code == _HTTP_RANGE_NOT_SATISFIABLE and headers:
        resp.close()  # the part is already whole: the checksum says whether it is right
        return resp, have, True
    resp.raise_for_status()
    resume = bool(headers) and resp.status_code == _HTTP_PARTIAL
    if headers and not resume:
        logger.info("download: the server sent the whole file again (changed or no ranges)")
    return resp, have if resume else 0, resume


def _download(cfg: OsmConfig, part: Path, *, progress: bool) -> None:
    """Stream the extract into ``part``, appending to what an earlier run left there."""
    meta_path = part.with_name(part.name + ".json")
    meta = json.loads(meta_path.read_text("utf-8")) if meta_path.exists() else {}
    resp, start, resumed = _request(cfg, part, meta)
    if resp.status_code == _HTTP_RANGE_NOT_SATISFIABLE:
        return
    with resp:
        length = int(resp.headers.get("Content-Length", 0)) or None
        total = start + length if length is not None else None
        meta = {
            "url": cfg.download_url,
            "etag": resp.headers.get("ETag"),
            "last_modified": resp.headers.get("Last-Modified"),
            "total": total,
        }
        meta_path.write_text(json.dumps(meta), encoding="utf-8")
        if resumed:
            logger.info("download: resuming at %.1f MB", start / 1e6)
        t0 = time.perf_counter()
        with part.open("ab" if resumed else "wb") as fh:
            bar = tqdm(total=total, initial=start, unit="B", unit_scale=True, disable=not progress)
            try:
                for chunk in resp.iter_content(_STREAM_CHUNK):
                    fh.write(chunk)
                    bar.update(len(chunk))
            finally:
                bar.close()
            got = fh.tell()
        if total is not None and got != total:
            msg = (
                f"{cfg.download_url}: download interrupted at {got / 1e6:.1f} of "
                f"{total / 1e6:.1f} MB; run again to resume from {part}"
            )
            raise MissingInputError(msg)
        logger.info("download: %.1f MB in %.0f s", (got - start) / 1e6, time.perf_counter() - t0)


def fetch_extract(cfg: OsmConfig, raw_dir: Path, *, progress: bool = False) -> Path:
    """Return the cached OSM extract, downloading it first if it is not in the cache.

    A partial download (``<name>.part``) is resumed with an HTTP range request when the server
    still serves the same file (same ETag or Last-Modified). The whole file's MD5 must match
    the one published beside it; a mismatch removes the download.

    Parameters
    ----------
    cfg
        The ``osm`` config section (``download_url``, ``download_name``, ``md5_url``,
        ``verify_md5``, ``timeout_s``).
    raw_dir
        ``cache/raw/<province>/``; downloads there are never modified once complete.
    progress
        Show a download progress bar.

    Returns
    -------
    Path
        The extract in the cache.

    Raises
    ------
    MissingInputError
        Offline (or the server failed, or the download was cut) and the file is not in the
        cache: the message says which file to put where, or how to resume.
    InputDataError
        The download does not match its published checksum.
    """
    target = raw_dir / cfg.download_name
    if target.exists() and target.stat().st_size > 0:
        logger.info("download: using cached %s", target)
        return target
    where = (
        f"put the OSM extract at {target} (for example {cfg.download_url}), "
        "or set osm.file in the province config, or pass --osm FILE (make ... OSM=FILE)"
    )
    if not cfg.download_url:
        msg = f"no OSM data: {where}"
        raise MissingInputError(msg)
    raw_dir.mkdir(parents=True, exist_ok=True)
    part = part_path(target)
    logger.info("download: %s -> %s", cfg.download_url, target)
    try:
        _download(cfg, part, progress=progress)
    except requests.RequestException as e:
        have = part.stat().st_size if part.exists() else 0
        if have:
            msg = (
                f"{cfg.download_url}: download interrupted at {have / 1e6:.1f} MB "
                f"({type(e).__name__}); run again to resume from {part}, or {where}"
            )
        else:
            msg = f"cannot download {cfg.download_url} ({type(e).__name__}); offline? {where}"
        raise MissingInputError(msg) from e
    expected, md5_url = published_md5(cfg) if cfg.verify_md5 else (None, "")
    md5 = _md5_of(part)
    if expected is not None and md5 != expected:
        remove_path(part)
        remove_path(part.with_name(part.name + ".json"))
        msg = (
            f"{cfg.download_url}: the download's MD5 {md5} is not the published {expected} "
            f"({md5_url}); it was removed: run again to download it afresh"
        )
        raise InputDataError(msg)
    if expected is not None:
        logger.info("download: MD5 %s matches %s", md5, md5_url)
    part.replace(target)
    remove_path(part.with_name(part.name + ".json"))
    _log_source(raw_dir, cfg.download_name, cfg.download_url, target, md5=md5)
    return target


def _log_source(raw_dir: Path, dataset: str, url: str, path: Path, *, md5: str) -> None:
    """Append the download to ``SOURCES.csv`` beside it: dataset, url, sha256, md5, retrieved."""
    log = raw_dir / "SOURCES.csv"
    new = not log.exists()
    with log.open("a", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        if new:
            writer.writerow(["dataset", "url", "sha256", "md5", "bytes", "retrieved"])
        writer.writerow(
            [
                dataset,
                url,
                file_sha256(path),
                md5,
                path.stat().st_size,
                dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            ]
        )
