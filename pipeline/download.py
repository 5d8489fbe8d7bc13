"""The online path: fetch an OSM extract into ``cache/raw/<province>/`` once, atomically."""

from __future__ import annotations

import csv
import datetime as dt
import logging
from typing import TYPE_CHECKING

import requests
from tqdm import tqdm

from pipeline._errors import InputDataError, MissingInputError
from pipeline._io import atomic_path, file_sha256

if TYPE_CHECKING:
    from pathlib import Path

    from pipeline.config import OsmConfig

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20


def fetch_extract(cfg: OsmConfig, raw_dir: Path, *, progress: bool = False) -> Path:
    """Return the cached OSM extract, downloading it first if it is not in the cache.

    Parameters
    ----------
    cfg
        The ``osm`` config section (``download_url``, ``download_name``, ``timeout_s``).
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
        Offline (or the server failed) and the file is not in the cache: the message says which
        file to put where.
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
    logger.info("download: %s -> %s", cfg.download_url, target)
    try:
        with requests.get(cfg.download_url, stream=True, timeout=cfg.timeout_s) as resp:
            resp.raise_for_status()
            total = int(resp.headers.get("Content-Length", 0)) or None
            with atomic_path(target) as tmp, tmp.open("wb") as fh:
                bar = tqdm(total=total, unit="B", unit_scale=True, disable=not progress)
                for chunk in resp.iter_content(_CHUNK):
                    fh.write(chunk)
                    bar.update(len(chunk))
                bar.close()
                if total is not None and fh.tell() != total:
                    msg = f"{cfg.download_url}: download truncated ({fh.tell()} of {total} bytes)"
                    raise InputDataError(msg)
    except requests.RequestException as e:
        msg = f"cannot download {cfg.download_url} ({type(e).__name__}); offline? {where}"
        raise MissingInputError(msg) from e
    _log_source(raw_dir, cfg.download_name, cfg.download_url, target)
    return target


def _log_source(raw_dir: Path, dataset: str, url: str, path: Path) -> None:
    """Append the download to ``SOURCES.csv`` beside it: dataset, url, sha256, retrieved."""
    log = raw_dir / "SOURCES.csv"
    new = not log.exists()
    with log.open("a", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        if new:
            writer.writerow(["dataset", "url", "sha256", "bytes", "retrieved"])
        writer.writerow(
            [
                dataset,
                url,
                file_sha256(path),
                path.stat().st_size,
                dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            ]
        )
