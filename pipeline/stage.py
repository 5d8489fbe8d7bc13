"""Stage runner: cache key from inputs + config + code, skip or run, atomic outputs, manifest."""

from __future__ import annotations

import ast
import datetime as dt
import functools
import importlib
import logging
import logging.handlers
import multiprocessing
import re
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline import __version__
from pipeline._errors import ValidationError, WorkerError
from pipeline._io import (
    commit_tmp,
    file_sha256,
    json_sha256,
    read_json,
    remove_path,
    tmp_path_for,
    write_json,
)
from pipeline.collector import rare_full_collections
from pipeline.config import config_files, dump_config
from pipeline.parallel import receive_then_join, release_freed_memory
from pipeline.paths import ARTIFACTS, OPTIONAL_ARTIFACTS, ProvincePaths

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from multiprocessing.connection import Connection
    from multiprocessing.queues import Queue

    from pipeline.config import ProvinceConfig

logger = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class StageSpec:
    """What a stage depends on: upstream stages and config sections (``None``: all of it)."""

    upstream: tuple[str, ...]
    config_sections: tuple[str, ...] | None


#: Stages in run order. ``pipeline.<name>`` defines ``run(ctx) -> dict``. The input files a stage
#: reads outside outputs/ are those named in its config sections (see ``config.config_files``).
STAGE_SPECS: dict[str, StageSpec] = {
    "ingest": StageSpec((), ("crs", "osm", "boundary", "stations", "wards", "buildings")),
    "network": StageSpec(("ingest",), ("crs", "access", "buildings", "response")),
    "water": StageSpec(("ingest", "network"), ("crs", "water", "access", "density")),
    "coverage": StageSpec(("ingest", "network"), ("crs", "response", "density", "access")),
    "report": StageSpec(("ingest", "network", "water", "coverage"), None),
}


def _closure(start: str, neighbours: Callable[[str], Iterable[str]]) -> set[str]:
    """Return ``start`` and everything reachable from it through ``neighbours``."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        item = todo.pop()
        if item not in seen:
            seen.add(item)
            todo.extend(neighbours(item))
    return seen


def upstream_closure(name: str) -> set[str]:
    """Return a stage and every stage it depends on, directly or not."""
    return _closure(name, lambda stage: STAGE_SPECS[stage].upstream)


def downstream_stages(name: str) -> list[str]:
    """Return the stages that depend on ``name``, directly or not, in run order."""
    return [s for s in STAGE_SPECS if s != name and name in upstream_closure(s)]


def available_stages() -> list[str]:
    """Return the stages in run order (each is a module of :mod:`pipeline.stages`)."""
    return list(STAGE_SPECS)


@dataclass
class StageContext:
    """What a running stage gets: config, paths, and where to write each of its outputs."""

    stage: str
    config: ProvinceConfig
    paths: ProvincePaths
    progress: bool = False
    #: The stage's cache key: stamped into what it writes (see :mod:`pipeline.contracts`).
    key: str = ""
    written: set[str] = field(default_factory=set)

    def output(self, name: str) -> Path:
        """Return the temporary path to write artifact ``name`` to (renamed on success)."""
        final = self.paths.artifact(self.stage, name)
        final.parent.mkdir(parents=True, exist_ok=True)
        self.written.add(name)
        return tmp_path_for(final)


def module_file(module: str) -> Path:
    """Return the source file of a ``pipeline`` module named relative to the package.

    ``"widths"`` is ``pipeline/widths.py``, ``"stages.network"`` is
    ``pipeline/stages/network.py``.
    """
    return PACKAGE_DIR.joinpath(*module.split(".")).with_suffix(".py")


#: An import statement of a project module, at the start of a line (parenthesised names may
#: span lines); only these are parsed, not the whole module.
_PROJECT_IMPORT = re.compile(
    r"^[ \t]*(?:from[ \t]+pipeline[\w.]*[ \t]+import[ \t]+(?:\([^)]*\)|[^\n]*)"
    r"|import[ \t]+pipeline[^\n]*)",
    re.MULTILINE,
)


def _project_imports(module: str) -> set[str]:
    """Names (relative to ``pipeline``) of the project modules a module imports.

    Read from its source, not run: ``from pipeline.stages import network``,
    ``from pipeline.stages.network import x`` and ``import pipeline.widths`` all count, at
    module level or inside a function.
    """
    path = module_file(module)
    if not path.exists():
        return set()
    stat = path.stat()
    return set(_imports_of_file(path, stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=512)
def _imports_of_file(path: Path, mtime_ns: int, size: int) -> frozenset[str]:
    """:func:`_project_imports` of one file version (cached: every stage key asks again)."""
    del mtime_ns, size  # part of the cache key only
    found: set[str] = set()
    for match in _PROJECT_IMPORT.finditer(path.read_text(encoding="utf-8")):
        try:
            tree = ast.parse(match.group(0).strip())
        except SyntaxError:  # import-like text in a docstring
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                parts = node.module.split(".")
                if parts[0] == "pipeline":
                    base = ".".join(parts[1:])
                    found.add(base)
                    found.update(f"{base}.{a.name}" if base else a.name for a in node.names)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    parts = alias.name.split(".")
                    if parts[0] == "pipeline" and len(parts) > 1:
                        found.add(".".join(parts[1:]))
    return frozenset(m for m in found if m and module_file(m).exists())


def stage_modules(name: str) -> list[str]:
    """Return the stage's module and every project module it imports, directly or not."""
    return sorted(_closure(f"stages.{name}", _project_imports))


def code_version(name: str) -> str:
    """Hash of the source of a stage and of the project modules it uses.

    Editing the report's code reruns only the report; editing ``routing.py`` reruns every stage
    that imports it.
    """
    parts = {m: file_sha256(module_file(m)) for m in stage_modules(name)}
    return json_sha256({"version": __version__, "files": parts})


#: Installed packages whose version can change a stage's results (geometry, routing, parsing);
#: the report also depends on how its files are written.
RESULT_PACKAGES: tuple[str, ...] = (
    "numpy", "pandas", "scipy", "shapely", "geopandas", "pyproj", "pyogrio", "pyarrow", "osmium",
)  # fmt: skip
REPORT_PACKAGES: tuple[str, ...] = ("folium", "matplotlib", "openpyxl", "weasyprint")


def package_versions(name: str) -> dict[str, str]:
    """Return the installed versions of the packages that shape a stage's results.

    An upgrade of Shapely or pandas reruns the stages instead of reusing results computed with
    the old versions (``importlib.metadata``: no package is imported).
    """
    wanted = RESULT_PACKAGES + (REPORT_PACKAGES if name == "report" else ())
    out = {}
    for pkg in wanted:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "absent"
    return out


def _stage_module(name: str) -> Any:  # noqa: ANN401 - a module
    return importlib.import_module(f"pipeline.stages.{name}")


def _downloaded_extract(
    name: str, config: ProvinceConfig, paths: ProvincePaths | None
) -> dict[str, Any]:
    """Return what stands for the online path's extract in the key of a stage reading OSM data.

    Downloads are never modified once complete, so its size and time stand for its content
    (no 300 MB hash on every cache check).
    """
    sections = STAGE_SPECS[name].config_sections
    if paths is None or config.osm.file or (sections is not None and "osm" not in sections):
        return {}
    raw = paths.raw_cache / config.osm.download_name
    if not raw.exists():
        return {"path": str(raw), "missing": True}
    stat = raw.stat()
    return {"path": str(raw), "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def stage_key(
    name: str,
    config: ProvinceConfig,
    manifest: dict[str, Any],
    paths: ProvincePaths | None = None,
) -> str:
    """Return the cache key of a stage: SHA-256 of code, config sections, upstream and files."""
    spec = STAGE_SPECS[name]
    files = config_files(config, spec.config_sections)
    cfg = config.model_dump(mode="json")
    sections = cfg if spec.config_sections is None else {s: cfg[s] for s in spec.config_sections}
    return json_sha256(
        {
            "code": code_version(name),
            "packages": package_versions(name),
            "config": sections,
            "upstream": {u: manifest.get(u, {}).get("key") for u in spec.upstream},
            "files": {str(p): file_sha256(p) for p in files if p.exists()},
            "missing_files": sorted(str(p) for p in files if not p.exists()),
            "download": _downloaded_extract(name, config, paths),
        }
    )


def _outputs_exist(paths: ProvincePaths, name: str, entry: dict[str, Any]) -> bool:
    """Whether every artifact is there; an optional one the config turned off may be absent."""
    off = set((entry.get("summary") or {}).get("outputs_off", []))
    return all(
        p.exists() or ((name, a) in OPTIONAL_ARTIFACTS and a in off)
        for a, p in paths.stage_artifacts(name).items()
    )


def remove_outputs(stages: list[str], paths: ProvincePaths, manifest: dict[str, Any]) -> list[str]:
    """Remove the outputs and manifest entries of ``stages``; return those that had any."""
    removed = []
    for stage in stages:
        artifacts = paths.stage_artifacts(stage).values()
        had = stage in manifest or any(p.exists() for p in artifacts)
        for final in artifacts:
            remove_path(tmp_path_for(final))
            remove_path(final)
        manifest.pop(stage, None)
        if had:
            removed.append(stage)
    if paths.manifest.exists():
        write_json(manifest, paths.manifest)
    return removed


def clear_leftovers(paths: ProvincePaths) -> list[Path]:
    """Remove the ``*.tmp`` files and folders an interrupted run left in the outputs."""
    if not paths.outputs.exists():
        return []
    found = sorted(paths.outputs.rglob("*.tmp"))
    top = [p for p in found if not any(parent in found for parent in p.parents)]
    for p in top:
        remove_path(p)
    if top:
        logger.warning(
            "removed %d temporary output(s) an interrupted run left: %s",
            len(top),
            ", ".join(str(p.relative_to(paths.outputs)) for p in top),
        )
    return top


def _cache_check(
    name: str, config: ProvinceConfig, paths: ProvincePaths
) -> tuple[dict[str, Any], str, bool]:
    """Return the manifest, stage ``name``'s cache key, and whether its entry matches it.

    An entry matches when it has that key and the stage's outputs exist.
    """
    manifest: dict[str, Any] = read_json(paths.manifest) if paths.manifest.exists() else {}
    key = stage_key(name, config, manifest, paths)
    entry = manifest.get(name, {})
    return manifest, key, bool(entry.get("key") == key and _outputs_exist(paths, name, entry))


def stage_is_current(name: str, config: ProvinceConfig, paths: ProvincePaths) -> bool:
    """Tell whether stage ``name`` would be skipped (its cache key and outputs match)."""
    return _cache_check(name, config, paths)[2]


def run_stage(
    name: str,
    config: ProvinceConfig,
    paths: ProvincePaths,
    *,
    force: bool = False,
    progress: bool = False,
) -> dict[str, Any]:
    """Run one stage unless its cache key matches the manifest; return its manifest entry.

    Outputs are written to ``*.tmp`` and renamed only when the stage succeeds. Nothing stale
    looks complete: a failed stage removes its outputs and those of every stage downstream
    (not even older ones stay) with their manifest entries, and says so on the log's last
    line; a stage that reran with new inputs removes the outputs downstream of it, which were
    computed from its previous outputs.
    """
    t_check = time.perf_counter()
    manifest, key, current = _cache_check(name, config, paths)
    entry = manifest.get(name, {})
    if not force and current:
        logger.info(
            "%s: up to date, skipped (cache hit, %.2f s to check; the run took %.1f s)",
            name,
            time.perf_counter() - t_check,
            entry.get("seconds", float("nan")),
        )
        return dict(entry)
    ctx = StageContext(stage=name, config=config, paths=paths, progress=progress, key=key)
    artifacts = paths.stage_artifacts(name)
    for final in artifacts.values():
        remove_path(tmp_path_for(final))
    logger.info("%s: running", name)
    t0 = time.perf_counter()
    try:
        with rare_full_collections():
            summary = _stage_module(name).run(ctx)
        # what the stage freed goes back to the system before the next stage of the same
        # process (make analyze) runs
        release_freed_memory()
        optional = {n for s, n in OPTIONAL_ARTIFACTS if s == name}
        missing = sorted(set(artifacts) - ctx.written - optional)
        if missing:
            msg = f"stage {name} did not write {', '.join(missing)}"
            raise ValidationError(msg)  # noqa: TRY301 - cleaned up below like any failure
    except BaseException as e:
        removed = remove_outputs([name, *downstream_stages(name)], paths, manifest)
        first_line = (str(e).splitlines() or [type(e).__name__])[0]
        logger.error("%s: failed: %s", name, first_line)  # noqa: TRY400 - one line, no traceback
        if removed:
            logger.warning(
                "stale: %s failed, so the outputs of %s were removed (none of them would match "
                "the inputs); fix the error and run the stages again (make analyze)",
                name,
                ", ".join(removed),
            )
        else:
            logger.warning(
                "stale: nothing: %s failed and no output of it or of the stages after it exists",
                name,
            )
        raise
    for art, final in artifacts.items():
        if (name, art) in OPTIONAL_ARTIFACTS and not tmp_path_for(final).exists():
            remove_path(final)  # left out this time: no stale copy of an older run
            continue
        commit_tmp(final)
    if entry.get("key") not in (None, key):
        stale = remove_outputs(downstream_stages(name), paths, manifest)
        if stale:
            logger.info(
                "%s: new outputs, so the older outputs of %s made from them were removed "
                "(rerun them: make analyze)",
                name,
                ", ".join(stale),
            )
    elapsed = time.perf_counter() - t0
    entry = {
        "key": key,
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "seconds": round(elapsed, 3),
        "summary": summary,
    }
    manifest[name] = entry
    write_json(manifest, paths.manifest)
    logger.info("%s: done (%.1f s)", name, elapsed)
    return entry


def _stage_child(  # noqa: PLR0917 - what a spawned process is handed
    conn: Connection,
    records: Queue[logging.LogRecord],
    level: int,
    name: str,
    config: ProvinceConfig,
    paths: ProvincePaths,
    options: dict[str, bool],
) -> None:
    """Body of :func:`run_stage_in_process`: log through the parent, run, send the outcome."""
    close_logging()
    root = logging.getLogger()
    root.setLevel(level)
    root.addHandler(logging.handlers.QueueHandler(records))
    try:
        out: tuple[bool, object] = (
            True,
            run_stage(name, config, paths, force=options["force"], progress=options["progress"]),
        )
    except BaseException as e:  # noqa: BLE001 - every failure goes to the parent, which raises
        out = (False, e)
    try:
        conn.send(out)
    except Exception:  # noqa: BLE001 - an error that cannot be pickled: its text goes instead
        said = (str(out[1]).splitlines() or [type(out[1]).__name__])[0]
        conn.send((False, WorkerError(f"stage {name}: {said}")))
    finally:
        close_logging()
        conn.close()


def run_stage_in_process(
    name: str,
    config: ProvinceConfig,
    paths: ProvincePaths,
    *,
    force: bool = False,
    progress: bool = False,
) -> dict[str, Any]:
    """Run :func:`run_stage` in a fresh process; return its manifest entry or raise its error.

    A stage run after another in the same process starts from the heap the first one left:
    at scale 1 ``analyze`` in one process peaked at 3.24 GB in the network stage (2.78 GB on
    its own) and its report took 84.5 s (61 s on its own). A fresh interpreter (``spawn``)
    starts the stage as ``make network`` would; its log records are handled here.

    Raises
    ------
    Exception
        The stage's own error (it has then removed its outputs, as in :func:`run_stage`).
    WorkerError
        If the stage's process died (killed, out of memory).
    """
    mp = multiprocessing.get_context("spawn")
    conn, child_conn = mp.Pipe(duplex=False)
    options = {"force": force, "progress": progress}
    root = logging.getLogger()
    records: Queue[logging.LogRecord] = mp.Queue()
    # the stage's log records are handled here, by this process's handlers (terminal, file)
    listener = logging.handlers.QueueListener(records, *root.handlers, respect_handler_level=True)
    listener.start()
    proc = mp.Process(
        target=_stage_child,
        args=(child_conn, records, root.level, name, config, paths, options),
        name=f"firegap-{name}",
    )
    proc.start()
    child_conn.close()
    try:
        out = receive_then_join(conn, proc)
    finally:
        listener.stop()  # once every record the stage sent is handled
    if out is None:
        msg = f"stage {name}: its process died (exit code {proc.exitcode})"
        raise WorkerError(msg)
    ok, value = out
    if not ok:
        raise value
    return dict(value)


def run_pipeline(
    target: str,
    config: ProvinceConfig,
    paths: ProvincePaths,
    *,
    force: bool = False,
    progress: bool = False,
) -> dict[str, dict[str, Any]]:
    """Run ``target`` after its upstream stages (``analyze``: every stage), each cached.

    Parameters
    ----------
    target
        A stage name, or ``"analyze"``.
    config
        The validated province config.
    paths
        The province's paths.
    force
        Rerun ``target`` (with ``analyze``: every stage) even when cached.
    progress
        Show progress bars.

    Returns
    -------
    dict
        Manifest entry of every stage run or skipped, by name.
    """
    order = available_stages()
    if target != "analyze" and target not in order:
        msg = f"stage {target!r} is not available in this version"
        raise ValidationError(msg)
    wanted = order if target == "analyze" else [s for s in order if s in upstream_closure(target)]
    missing = [s for s in STAGE_SPECS if s not in order]
    if missing and target == "analyze":
        logger.warning("analyze: stages not available in this version: %s", ", ".join(missing))
    paths.outputs.mkdir(parents=True, exist_ok=True)
    clear_leftovers(paths)
    results = {}
    for name in wanted:
        stage_force = force and (target in ("analyze", name))
        # a stage with another after it runs in its own process, so that each starts from a
        # fresh heap and this process holds nothing of it while the next one runs
        fresh = name != wanted[-1] and (stage_force or not stage_is_current(name, config, paths))
        run = run_stage_in_process if fresh else run_stage
        results[name] = run(name, config, paths, force=stage_force, progress=progress)
    write_resolved_config(config, paths)
    return results


def write_resolved_config(config: ProvinceConfig, paths: ProvincePaths) -> None:
    """Write the merged config the run uses to ``outputs/<p>/config.resolved.yaml``."""
    target = paths.resolved_config
    tmp = tmp_path_for(target)
    tmp.write_text(dump_config(config), encoding="utf-8")
    commit_tmp(target)


def setup_logging(paths: ProvincePaths | None, *, verbose: bool = False) -> None:
    """Log to stderr and to ``outputs/<p>/firegap.log`` (OSMnx's logs go to the same place)."""
    close_logging()
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(fmt)
    root.addHandler(console)
    if paths is not None:
        paths.outputs.mkdir(parents=True, exist_ok=True)
        fh = logging.FileHandler(paths.outputs / "firegap.log", encoding="utf-8")
        fh.setFormatter(fmt)
        root.addHandler(fh)


def close_logging() -> None:
    """Remove and close every root log handler (the log file is released)."""
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
        h.close()


__all__ = ["ARTIFACTS", "STAGE_SPECS", "StageContext", "run_pipeline", "run_stage"]
