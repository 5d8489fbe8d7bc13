"""Benchmarks: every stage on real and generated data, scaling exponents, and the baselines."""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import inspect
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from pipeline.config import load_config
from pipeline.paths import PROJECT_ROOT, ProvincePaths
from pipeline.stage import available_stages
from pipeline.synth import CACHE_DIR, generate, iter_scales

if TYPE_CHECKING:
    from collections.abc import Callable

    import geopandas as gpd
    import networkx as nx

    from pipeline.config import ProvinceConfig

logger = logging.getLogger(__name__)

#: Default scales of the scaling check (1 = the province).
DEFAULT_SCALES = "0.125,0.25,0.5,1"
#: Where the bench keeps its own project (configs of generated provinces and their outputs).
BENCH_ROOT = PROJECT_ROOT / "cache" / "bench" / "project"
#: Edges the per-edge Python loop baseline of gap widths runs on (its time is per 1,000 edges).
GAP_LOOP_SAMPLE = 2000
#: Isochrone stations the OSMnx baseline runs from at most (the same set for both methods).
MAX_ISO_STATIONS = 12


@dataclass
class Measure:
    """One process run: wall time, peak RSS of the process and the exit code."""

    wall_s: float
    peak_rss_mb: float
    returncode: int


@dataclass
class StageRow:
    """A stage's measurement on one dataset."""

    dataset: str
    stage: str
    items: int
    wall_s: float
    stage_s: float | None
    peak_rss_mb: float
    ok: bool
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def items_per_s(self) -> float:
        """Items (graph edges + buildings) per second of stage time."""
        t = self.stage_s or self.wall_s
        return self.items / t if t > 0 else float("nan")


#: A tiny launcher between the bench and each measured process. A child's ``ru_maxrss``
#: starts at the RSS of the process that forked it (Linux keeps the pre-exec high-water mark),
#: so the bench's own memory would be counted; the launcher is about 10 MB.
_LAUNCHER = (
    "import json, os, sys\n"
    "pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ)\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "with open(sys.argv[1], 'w') as f:\n"
    "    json.dump({'rc': os.waitstatus_to_exitcode(status), 'maxrss_kb': usage.ru_maxrss}, f)\n"
)


def run_measured(cmd: list[str], log: Path, *, cwd: Path = PROJECT_ROOT) -> Measure:
    """Run ``cmd`` in a fresh process; return its wall time and its own peak RSS.

    Parameters
    ----------
    cmd
        Program (an absolute path) and arguments.
    log
        File that receives the process's stdout and stderr.
    cwd
        Working folder.

    Returns
    -------
    Measure
        ``peak_rss_mb`` from ``os.wait4`` in a small launcher process (``ru_maxrss`` of the
        measured process and its waited-for children only, not of the bench).
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    usage_file = log.with_name(log.name + ".rusage.json")
    usage_file.unlink(missing_ok=True)
    t0 = time.perf_counter()
    with log.open("w", encoding="utf-8") as fh:
        launcher = [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(usage_file), *cmd]
        done = subprocess.run(launcher, stdout=fh, stderr=subprocess.STDOUT, cwd=cwd, check=False)
    wall = time.perf_counter() - t0
    if not usage_file.exists():
        return Measure(wall, float("nan"), done.returncode or 1)
    usage = json.loads(usage_file.read_text(encoding="utf-8"))
    # Linux reports ru_maxrss in KiB.
    return Measure(wall, usage["maxrss_kb"] / 1024, int(usage["rc"]))


@dataclass(frozen=True)
class Dataset:
    """A province the bench runs: its label, slug, project root and scale (None: real)."""

    label: str
    slug: str
    root: Path
    scale: float | None


def prepare_synth(scale: float, *, seed: int, root: Path, cache_dir: Path = CACHE_DIR) -> Dataset:
    """Generate (or reuse) the dataset of ``scale`` and write its config into the bench root.

    Parameters
    ----------
    scale
        Relative to the province (1 = province).
    seed
        Generator seed.
    root
        The bench's project root: ``data/provinces/defaults.yaml`` is copied there and
        ``synth_<scale>.yaml`` points at the cached PBF and boundary (absolute paths).

    Returns
    -------
    Dataset
    """
    ds = generate(scale, seed=seed, cache_dir=cache_dir, progress=False)
    provinces = root / "data" / "provinces"
    provinces.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT_ROOT / "data" / "provinces" / "defaults.yaml", provinces / "defaults.yaml")
    slug = f"synth_{str(scale).replace('.', '_')}"
    cfg = {
        "name": {"vi": f"Tỉnh tổng hợp {scale:g}", "en": f"Synthetic province x{scale:g}"},
        "osm": {"file": str(ds.pbf.resolve())},
        "boundary": {"file": str(ds.boundary.resolve())},
        "wards": {"file": str(ds.wards.resolve())},
    }
    text = yaml.safe_dump(cfg, allow_unicode=True)
    (provinces / f"{slug}.yaml").write_text(text, encoding="utf-8")
    return Dataset(f"synth x{scale:g}", slug, root, scale)


def _manifest(ds: Dataset) -> dict[str, Any]:
    path = ProvincePaths(ds.slug, ds.root).manifest
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def _input_size(ds: Dataset) -> int:
    """Graph edges + buildings of an ingested dataset (the size every stage scales with)."""
    s = _manifest(ds).get("ingest", {}).get("summary", {})
    return int(s.get("graph_edges", 0)) + int(s.get("buildings", 0))


def bench_stages(ds: Dataset, stages: list[str], logs: Path) -> list[StageRow]:
    """Run each stage of ``ds`` in a fresh process (``--force``, upstream cached); measure it."""
    rows = []
    for stage in stages:
        cmd = [sys.executable, "-m", "pipeline", stage, "--province", ds.slug,
               "--root", str(ds.root), "--force", "--no-progress"]  # fmt: skip
        m = run_measured(cmd, logs / f"{ds.slug}-{stage}.log")
        entry = _manifest(ds).get(stage, {})
        row = StageRow(
            dataset=ds.label, stage=stage, items=_input_size(ds), wall_s=round(m.wall_s, 2),
            stage_s=entry.get("seconds"), peak_rss_mb=round(m.peak_rss_mb, 1),
            ok=m.returncode == 0, summary=entry.get("summary", {}),
        )  # fmt: skip
        rows.append(row)
        logger.info(
            "bench: %s %s: %.1f s wall, %.0f MB peak, %s items%s",
            ds.label, stage, m.wall_s, m.peak_rss_mb, f"{row.items:,}",
            "" if row.ok else f" FAILED (see {logs / f'{ds.slug}-{stage}.log'})",
        )  # fmt: skip
        if not row.ok:
            break
    return rows


def growth_exponents(rows: list[StageRow]) -> dict[str, float]:
    """Slope of log(stage time) against log(items) per stage, over the generated sizes.

    Parameters
    ----------
    rows
        Successful measurements of one stage at several sizes.

    Returns
    -------
    dict
        Stage -> exponent (1: linear; n log n gives about 1.1 over these sizes; 2: quadratic).
    """
    out = {}
    for stage in dict.fromkeys(r.stage for r in rows):
        pts = [(r.items, r.stage_s or r.wall_s) for r in rows if r.stage == stage and r.ok]
        pts = [(n, t) for n, t in pts if n > 0 and t > 0]
        if len({n for n, _ in pts}) >= 2:  # noqa: PLR2004 - a slope needs two sizes
            x, y = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
            out[stage] = round(float(np.polyfit(x, y, 1)[0]), 2)
    return out


# --- baselines: run in their own processes so each gets its own peak RSS --------------------


def _travel_time_edges(config: ProvinceConfig, paths: ProvincePaths) -> tuple[Any, Any]:
    """Graph nodes and edges with ``travel_time`` (s): the network stage's, or from speeds."""
    from pipeline.graph import read_graph_layers  # noqa: PLC0415

    nodes, edges = read_graph_layers(
        paths.artifact("ingest", "graph_nodes"), paths.artifact("ingest", "graph_edges")
    )
    net = paths.artifact("network", "edges")
    if net.exists():
        from pipeline._io import read_geoparquet  # noqa: PLC0415

        n_edges = read_geoparquet(net)
        if "travel_time" in n_edges.columns and {"u", "v", "key"} <= set(n_edges.columns):
            return nodes, n_edges.set_index(["u", "v", "key"])
    speeds = config.response.speed_scenarios_kph[config.response.speed_scenario]
    kph = edges["highway"].map(speeds).fillna(speeds.get("default", 20.0)).astype(float)
    edges = edges.copy()
    edges["travel_time"] = edges["length"].to_numpy() / (kph.to_numpy() / 3.6)
    return nodes, edges


def _station_nodes(paths: ProvincePaths, nodes: gpd.GeoDataFrame) -> np.ndarray:
    import shapely  # noqa: PLC0415

    from pipeline._io import read_geoparquet  # noqa: PLC0415

    st = read_geoparquet(paths.artifact("ingest", "stations"))
    pts = st.geometry.to_numpy()[:MAX_ISO_STATIONS]
    if len(pts) == 0:  # no station in the data (the Hà Nội sample): use spread-out nodes
        rng = np.random.default_rng(0)
        return rng.choice(nodes.index.to_numpy(), size=min(5, len(nodes)), replace=False)
    tree = shapely.STRtree(nodes.geometry.to_numpy())
    nearest = tree.query_nearest(pts, all_matches=False)[1]
    return np.asarray(nodes.index.to_numpy()[nearest], dtype=np.int64)


def reference_isochrones_csgraph(
    nodes: gpd.GeoDataFrame, edges: gpd.GeoDataFrame, station_nodes: np.ndarray,
    breaks_s: list[float],
) -> list[Any]:  # fmt: skip
    """Isochrone hulls per station and break with one bounded csgraph Dijkstra (bench reference).

    Used only while the coverage stage's own isochrone function is not available.
    """
    import shapely  # noqa: PLC0415
    from scipy.sparse import csgraph  # noqa: PLC0415

    from pipeline.routing import edge_arrays  # noqa: PLC0415

    arrays = edge_arrays(nodes, edges, "travel_time")
    pos = np.searchsorted(arrays.node_ids, station_nodes) if np.all(
        np.diff(arrays.node_ids) > 0) else np.array(
        [int(np.flatnonzero(arrays.node_ids == s)[0]) for s in station_nodes])  # fmt: skip
    dist = csgraph.dijkstra(arrays.csr(), directed=True, indices=pos, limit=max(breaks_s))
    xy = np.column_stack([nodes["x"].to_numpy(), nodes["y"].to_numpy()])
    hulls = []
    for b in breaks_s:
        st, nd = np.nonzero(dist <= b)
        mp = shapely.multipoints(xy[nd], indices=st)
        hulls.extend(shapely.convex_hull(mp).tolist())
    return hulls


def reference_isochrones_osmnx(
    G: nx.MultiDiGraph, station_nodes: np.ndarray, breaks_s: list[float]
) -> list[Any]:
    """OSMnx notebook isochrones: one ``ego_graph`` per station and break, convex hull of nodes."""
    import networkx as nx  # noqa: PLC0415
    import shapely  # noqa: PLC0415

    hulls = []
    for node in station_nodes:
        for b in breaks_s:
            sub = nx.ego_graph(G, int(node), radius=b, distance="travel_time")
            pts = [(d["x"], d["y"]) for _, d in sub.nodes(data=True)]
            hulls.append(shapely.MultiPoint(pts).convex_hull)
    return hulls


def _coverage_functions() -> tuple[Callable[..., Any] | None, Callable[..., Any] | None, str]:
    """Return the coverage stage's isochrone function and OSMnx baseline, when they exist.

    Looked up in ``pipeline.coverage`` then ``pipeline.isochrones`` as ``isochrones(G,
    station_nodes, breaks_s, *, weight)`` and ``isochrones_baseline_osmnx`` (same signature).
    """
    ours = base = None
    found = []
    for name in ("pipeline.coverage", "pipeline.isochrones"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        found.append(name)
        ours = ours or getattr(module, "isochrones", None)
        base = base or getattr(module, "isochrones_baseline_osmnx", None)
    if ours and base:
        return ours, base, f"{ours.__module__}"
    return ours, base, f"coverage isochrones not available yet (looked in {found or 'nothing'})"


def worker_isochrones(slug: str, root: Path, method: str) -> dict[str, Any]:
    """Time one isochrone method on a dataset's ingested graph (run as its own process).

    Parameters
    ----------
    slug, root
        The dataset.
    method
        ``"ours"`` or ``"osmnx"``.

    Returns
    -------
    dict
        ``seconds`` of the isochrones alone (graph loading excluded), ``prep_s``, counts and
        which implementation ran.
    """
    import networkx as nx  # noqa: F401, PLC0415 - imported before the clock starts
    import scipy.sparse.csgraph  # noqa: F401, PLC0415
    import shapely  # noqa: F401, PLC0415

    from pipeline.graph import to_graph  # noqa: PLC0415

    config = load_config(slug, root=root)
    paths = ProvincePaths(slug, root)
    t0 = time.perf_counter()
    nodes, edges = _travel_time_edges(config, paths)
    stations = _station_nodes(paths, nodes)
    breaks_s = [m * 60.0 for m in config.response.isochrone_breaks_min]
    ours, base, note = _coverage_functions()
    impl = note if (ours if method == "ours" else base) else f"bench reference ({note})"
    if method == "osmnx":
        G = to_graph(nodes, edges)
        prep = time.perf_counter() - t0
        t1 = time.perf_counter()
        if base is not None:
            result = base(G, stations, breaks_s, weight="travel_time")
        else:
            result = reference_isochrones_osmnx(G, stations, breaks_s)
    elif ours is not None:  # the coverage stage's: from an OSMnx graph, as the baseline
        G = to_graph(nodes, edges)
        # Its graph -> arrays conversion (when offered) is preparation, as to_graph is for the
        # baseline: both timings cover the isochrones alone.
        convert = getattr(importlib.import_module(ours.__module__), "graph_arrays", None)
        graph: Any = convert(G, weight="travel_time") if convert is not None else G
        prep = time.perf_counter() - t0
        t1 = time.perf_counter()
        result = ours(graph, stations, breaks_s, weight="travel_time")
    else:
        prep = time.perf_counter() - t0
        t1 = time.perf_counter()
        result = reference_isochrones_csgraph(nodes, edges, stations, breaks_s)
    seconds = time.perf_counter() - t1
    return {"method": method, "impl": impl, "seconds": round(seconds, 3), "prep_s": round(prep, 2),
            "stations": len(stations), "breaks": len(breaks_s), "graph_nodes": len(nodes),
            "graph_edges": len(edges), "polygons": len(result)}  # fmt: skip


def _bind(fn: Callable[..., Any], edges: Any, buildings: Any, config: ProvinceConfig) -> Any:  # noqa: ANN401
    """Call a gap-width function, filling its parameters by name from the data and config."""
    access = config.access.model_dump()
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for name, p in inspect.signature(fn).parameters.items():
        if name in ("edges", "gdf", "streets", "G"):
            value = edges
        elif name == "lines":
            value = edges.geometry.to_numpy()
        elif name in ("buildings", "footprints"):
            value = buildings.geometry.to_numpy()
        elif f"gap_{name}" in access or f"gap_sample_{name}" in access:
            a = access.get(f"gap_{name}", access.get(f"gap_sample_{name}"))
            value = a["value"] if isinstance(a, dict) and "value" in a else a
        elif name in ("config", "cfg", "access"):
            value = config.access
        elif name in access:
            a = access[name]
            value = a["value"] if isinstance(a, dict) and "value" in a else a
        elif p.default is not inspect.Parameter.empty:
            continue
        else:
            msg = f"cannot fill parameter {name!r} of {fn.__name__}{inspect.signature(fn)}"
            raise TypeError(msg)
        if p.kind is inspect.Parameter.KEYWORD_ONLY:
            kwargs[name] = value
        else:
            args.append(value)
    return fn(*args, **kwargs)


def _gap_functions() -> tuple[Callable[..., Any] | None, Callable[..., Any] | None, str]:
    from pipeline.corridor import gap_widths, gap_widths_loop_baseline  # noqa: PLC0415

    return gap_widths, gap_widths_loop_baseline, "pipeline.corridor"


def worker_gaps(slug: str, root: Path, method: str, sample: int) -> dict[str, Any]:
    """Time building-gap width inference (``"ours"``: all edges; ``"loop"``: a sample)."""
    from pipeline._io import read_geoparquet  # noqa: PLC0415
    from pipeline.graph import read_graph_layers  # noqa: PLC0415

    ours, base, note = _gap_functions()
    fn = ours if method == "ours" else base
    if fn is None:
        return {"method": method, "available": False, "impl": note}
    config = load_config(slug, root=root)
    paths = ProvincePaths(slug, root)
    _, edges = read_graph_layers(
        paths.artifact("ingest", "graph_nodes"), paths.artifact("ingest", "graph_edges")
    )
    edges = edges[~edges["reversed"].to_numpy()]
    if method == "loop" and len(edges) > sample:
        edges = edges.iloc[
            np.sort(np.random.default_rng(0).choice(len(edges), sample, replace=False))
        ]
    buildings = read_geoparquet(paths.artifact("ingest", "buildings"))
    t0 = time.perf_counter()
    _bind(fn, edges, buildings, config)
    seconds = time.perf_counter() - t0
    return {"method": method, "available": True, "impl": f"{fn.__module__}.{fn.__name__}",
            "edges": len(edges), "seconds": round(seconds, 3),
            "s_per_1000_edges": round(1000 * seconds / max(len(edges), 1), 4)}  # fmt: skip


def run_worker(kind: str, method: str, ds: Dataset, logs: Path, *, sample: int) -> dict[str, Any]:
    """Run a baseline worker in a fresh process; return its JSON result with its peak RSS."""
    out = logs / f"{ds.slug}-{kind}-{method}.json"
    out.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "pipeline.bench", "--worker", kind, "--method", method,
           "--province", ds.slug, "--root", str(ds.root), "--worker-out", str(out),
           "--gap-sample", str(sample)]  # fmt: skip
    m = run_measured(cmd, logs / f"{ds.slug}-{kind}-{method}.log")
    result = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {"failed": True}
    result.update(dataset=ds.label, wall_s=round(m.wall_s, 2), peak_rss_mb=round(m.peak_rss_mb, 1),
                  ok=m.returncode == 0)  # fmt: skip
    logger.info("bench: %s %s/%s: %s", ds.label, kind, method, result)
    return result


# --- report ---------------------------------------------------------------------------------


def markdown_table(rows: list[StageRow]) -> str:
    """Return the per-stage table: wall time, stage time, peak RSS, items and items per second."""
    lines = [
        "| dataset | stage | items (edges+buildings) | wall s | stage s | peak RSS MB | items/s |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    lines.extend(
        f"| {r.dataset} | {r.stage}{'' if r.ok else ' (FAILED)'} | {r.items:,} | "
        f"{r.wall_s:.1f} | {r.stage_s if r.stage_s is not None else float('nan'):.1f} | "
        f"{r.peak_rss_mb:,.0f} | {r.items_per_s:,.0f} |"
        for r in rows
    )
    return "\n".join(lines)


def baseline_table(results: list[dict[str, Any]]) -> str:
    """Return the baselines' table: method, implementation, seconds and peak RSS."""
    lines = ["| dataset | test | method | implementation | seconds | peak RSS MB | notes |",
             "|---|---|---|---|---:|---:|---|"]  # fmt: skip
    for r in results:
        notes = ""
        if r.get("kind") == "gaps" and r.get("available"):
            notes = f"{r['edges']:,} edges, {r['s_per_1000_edges']} s per 1,000 edges"
        elif r.get("kind") == "isochrones" and "stations" in r:
            notes = (f"{r['stations']} stations x {r['breaks']} breaks, {r['graph_nodes']:,} nodes,"
                     f" prep {r['prep_s']} s")  # fmt: skip
        lines.append(
            f"| {r['dataset']} | {r['kind']} | {r['method']} | {r.get('impl', '')} | "
            f"{r.get('seconds', 'n/a')} | {r['peak_rss_mb']:,.0f} | {notes} |"
        )
    return "\n".join(lines)


def speedup_line(results: list[dict[str, Any]]) -> str:
    """Return the last line: isochrone speed-up of ours over OSMnx on the largest dataset."""
    iso = [r for r in results if r.get("kind") == "isochrones" and r.get("seconds")]
    by_ds: dict[str, dict[str, dict[str, Any]]] = {}
    for r in iso:
        by_ds.setdefault(r["dataset"], {})[r["method"]] = r
    pairs = [(d["ours"], d["osmnx"]) for d in by_ds.values() if {"ours", "osmnx"} <= set(d)]
    if not pairs:
        return "isochrone speed-up: not measured (no dataset ran both methods)"
    ours, base = max(pairs, key=lambda p: p[0]["graph_nodes"])
    ratio = base["seconds"] / max(ours["seconds"], 1e-9)
    return (
        f"isochrone speed-up on {ours['dataset']} ({ours['graph_nodes']:,} nodes, "
        f"{ours['stations']} stations x {ours['breaks']} breaks): {ratio:,.1f}x "
        f"(ours {ours['seconds']:.2f} s, {ours['peak_rss_mb']:,.0f} MB; OSMnx ego_graph "
        f"{base['seconds']:.2f} s, {base['peak_rss_mb']:,.0f} MB)"
    )


def _real_dataset() -> Dataset | None:
    cfg = PROJECT_ROOT / "data" / "provinces" / "ha_noi.yaml"
    shared = PROJECT_ROOT.parent / "shared" / "data" / "hanoi_osm_sample" / "map.osm"
    if cfg.exists() and shared.exists():
        return Dataset("ha_noi (real)", "ha_noi", PROJECT_ROOT, None)
    logger.warning("bench: real Hà Nội sample not found at %s; skipped", shared)
    return None


def run_bench(
    *,
    scales: list[float],
    seed: int = 42,
    real: bool = True,
    baselines: bool = True,
    out_dir: Path = PROJECT_ROOT / "outputs" / "bench",
    root: Path = BENCH_ROOT,
    gap_sample: int = GAP_LOOP_SAMPLE,
    stages: list[str] | None = None,
    cache_dir: Path = CACHE_DIR,
) -> dict[str, Any]:
    """Run the whole bench; write ``<out_dir>/<date>.json`` and ``.md``; return the results.

    Parameters
    ----------
    scales
        Generated sizes (1 = province); the largest also runs the baselines.
    seed
        Generator seed.
    real
        Also run the real Hà Nội sample (``data/provinces/ha_noi.yaml``).
    baselines
        Run the isochrone and gap-width baselines.
    out_dir
        Where the JSON and Markdown results go.
    root
        The bench's own project root for the generated provinces.
    gap_sample
        Edges the per-edge loop baseline runs on.
    stages
        Stages to run (default: every available stage, see ``available_stages``).
    cache_dir
        Where generated datasets are cached.

    Returns
    -------
    dict
    """
    stages = available_stages() if stages is None else stages
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H%M%S")
    logs = out_dir / f"{stamp}-logs"
    datasets: list[Dataset] = []
    if real and (r := _real_dataset()):
        datasets.append(r)
    for scale in sorted(scales):
        t0 = time.perf_counter()
        datasets.append(prepare_synth(scale, seed=seed, root=root, cache_dir=cache_dir))
        logger.info("bench: dataset x%g ready (%.1f s)", scale, time.perf_counter() - t0)
    rows: list[StageRow] = []
    results: list[dict[str, Any]] = []
    for ds in datasets:
        rows += bench_stages(ds, stages, logs)
    synth_rows = [r for r in rows if r.dataset.startswith("synth")]
    exponents = growth_exponents(synth_rows)
    if baselines:
        largest = [d for d in datasets if d.scale is not None][-1:]
        real_ds = [d for d in datasets if d.scale is None]
        for ds in [*real_ds, *largest]:
            for method in ("ours", "osmnx"):
                res = run_worker("isochrones", method, ds, logs, sample=gap_sample)
                results.append({"kind": "isochrones", **res})
        gaps_available = _gap_functions()[0] is not None
        if not gaps_available:
            logger.warning("bench: gap widths: %s", _gap_functions()[2])
        for ds in datasets if gaps_available else []:
            methods = ("ours", "loop") if ds in real_ds or ds in largest else ("ours",)
            for method in methods:
                res = run_worker("gaps", method, ds, logs, sample=gap_sample)
                results.append({"kind": "gaps", **res})
    gap_growth = _gap_growth(results, datasets)
    report_map = _map_sizes(datasets)
    doc = {
        "date": stamp, "stages_available": stages, "machine": {"cpus": os.cpu_count()},
        "datasets": [asdict(d) | {"root": str(d.root)} for d in datasets],
        "stages": [asdict(r) | {"items_per_s": r.items_per_s} for r in rows],
        "growth_exponents": exponents, "baselines": results, "totals": _totals(rows),
        "gap_width_growth_exponent": gap_growth, "map_mb": report_map,
    }  # fmt: skip
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{stamp}.json").write_text(json.dumps(doc, indent=2, default=str), "utf-8")
    text = "\n\n".join([
        f"# firegap bench {stamp}", markdown_table(rows),
        "Growth exponents (log stage time vs log items over the generated sizes): "
        + ", ".join(f"{k} {v}" for k, v in exponents.items()),
        "Whole analysis (sum of stage wall times, ingestion included): "
        + ", ".join(f"{k} {v:.0f} s, peak {m:,.0f} MB" for k, (v, m) in _totals(rows).items()),
        f"Gap-width inference growth exponent: {gap_growth}; map sizes (MB): {report_map}",
        baseline_table(results) if results else "Baselines not run.",
        speedup_line(results),
    ])  # fmt: skip
    (out_dir / f"{stamp}.md").write_text(text + "\n", "utf-8")
    doc["markdown"] = text
    return doc


def _totals(rows: list[StageRow]) -> dict[str, tuple[float, float]]:
    """Per dataset: total wall time of its stages and the largest peak RSS among them."""
    out: dict[str, tuple[float, float]] = {}
    for r in rows:
        t, m = out.get(r.dataset, (0.0, 0.0))
        out[r.dataset] = (t + r.wall_s, max(m, r.peak_rss_mb))
    return out


def _gap_growth(results: list[dict[str, Any]], datasets: list[Dataset]) -> float | None:
    synth = {d.label for d in datasets if d.scale is not None}
    pts = [(r["edges"], r["seconds"]) for r in results
           if r.get("kind") == "gaps" and r.get("method") == "ours" and r.get("available")
           and r["dataset"] in synth and r["seconds"] > 0]  # fmt: skip
    if len(pts) < 2:  # noqa: PLR2004
        return None
    return round(
        float(np.polyfit(np.log([p[0] for p in pts]), np.log([p[1] for p in pts]), 1)[0]), 2
    )


def _map_sizes(datasets: list[Dataset]) -> dict[str, float]:
    sizes = {}
    for d in datasets:
        p = ProvincePaths(d.slug, d.root).outputs / "map.html"
        if p.exists():
            sizes[d.label] = round(p.stat().st_size / 1e6, 2)
    return sizes


def main(argv: list[str] | None = None) -> int:
    """``python -m pipeline.bench``: run the bench and print its tables (ratio on the last line)."""
    parser = argparse.ArgumentParser(prog="python -m pipeline.bench", description=__doc__)
    parser.add_argument("--scales", default=DEFAULT_SCALES, help="generated sizes, 1 = province")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--no-real", action="store_true", help="skip the real Hà Nội sample")
    parser.add_argument("--no-baselines", action="store_true", help="skip the baselines")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "outputs" / "bench")
    parser.add_argument("--bench-root", type=Path, default=BENCH_ROOT)
    parser.add_argument("--gap-sample", type=int, default=GAP_LOOP_SAMPLE)
    parser.add_argument(
        "--stages",
        help="comma-separated stages (default: every available one); 'none': only the baselines "
        "on outputs left by an earlier bench",
    )
    # Internal: one baseline measurement in its own process.
    parser.add_argument("--worker", choices=["isochrones", "gaps"], help=argparse.SUPPRESS)
    parser.add_argument("--method", help=argparse.SUPPRESS)
    parser.add_argument("--province", help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--worker-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s",
                        stream=sys.stderr)  # fmt: skip
    if args.worker:
        if args.worker == "isochrones":
            res = worker_isochrones(args.province, args.root, args.method)
        else:
            res = worker_gaps(args.province, args.root, args.method, args.gap_sample)
        args.worker_out.write_text(json.dumps(res, default=str), encoding="utf-8")
        return 0
    doc = run_bench(
        scales=list(iter_scales(args.scales)), seed=args.seed, real=not args.no_real,
        baselines=not args.no_baselines, out_dir=args.out, root=args.bench_root,
        gap_sample=args.gap_sample,
        stages=None if not args.stages else [] if args.stages == "none" else args.stages.split(","),
    )  # fmt: skip
    sys.stdout.write(doc["markdown"] + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
