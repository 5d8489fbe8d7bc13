"""Benchmarks: every stage on real and generated data, scaling exponents, and the baselines."""

from __future__ import annotations

import argparse
import datetime as dt
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
from tools.map_bench import browser_section
from tools.synth import CACHE_DIR, generate, iter_scales

if TYPE_CHECKING:
    from collections.abc import Callable

    from pipeline.config import ProvinceConfig, ResponseConfig

logger = logging.getLogger(__name__)

#: Default scales of the scaling check (1 = the province).
DEFAULT_SCALES = "0.125,0.25,0.5,1"
#: With one generated scale asked for, the stages also run at that scale divided by this, so
#: that every stage gets a growth exponent from one run (two sizes).
GROWTH_DIVISOR = 8
#: Where the bench keeps its own project (configs of generated provinces and their outputs).
BENCH_ROOT = PROJECT_ROOT / "cache" / "bench" / "project"
#: Edges the per-edge Python loop baseline of gap widths runs on (its time is per 1,000 edges).
GAP_LOOP_SAMPLE = 2000
#: Isochrone stations the OSMnx baseline runs from at most (the same set for both methods).
MAX_ISO_STATIONS = 12


@dataclass
class Measure:
    """One process run: wall time, peak RSS, exit code and CPU time (user + system).

    On a shared machine the wall time includes waiting for a core; ``cpu_s`` does not.
    """

    wall_s: float
    peak_rss_mb: float
    returncode: int
    cpu_s: float = float("nan")


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
    cpu_s: float = float("nan")

    @property
    def items_per_s(self) -> float:
        """Items (graph edges + buildings) per second of stage time."""
        t = self.stage_s or self.wall_s
        return self.items / t if t > 0 else float("nan")


#: A tiny launcher between the bench and each measured process. A child's ``ru_maxrss``
#: starts at the RSS of the process that forked it (Linux keeps the pre-exec high-water mark),
#: so the bench's own memory would be counted; the launcher is about 10 MB. ``ru_maxrss`` is
#: also the peak of ONE process: a stage that runs a second process at the same time (the
#: report's PDF, the forked ward-map workers) would hide it. So the launcher also samples
#: the memory of the whole process tree every 20 ms: the RSS (``/proc/<pid>/statm``) while
#: the process is alone, the sum of the proportional set sizes (``smaps_rollup`` ``Pss``: a
#: page shared by k processes counts 1/k in each) while it has children, so pages a forked
#: worker shares with its parent are counted once, not once per process. The bench reports
#: the larger of that and ``ru_maxrss``. Reading ``smaps_rollup`` makes the kernel walk each
#: process's page tables (50-100 ms for the report stage's three processes at scale 1), so
#: after a reading the sampler waits nine times as long as it took: it uses at most a tenth
#: of one core. Read back to back, every 20 ms, it held about one of the machine's two
#: cores and slowed the report stage it measured by ~15 s (61 s alone, 76 s measured).
_LAUNCHER = (
    "import json, os, sys, threading, time\n"
    "page = os.sysconf('SC_PAGE_SIZE')\n"
    "def tree(pid):\n"
    "    out, todo = [], [pid]\n"
    "    while todo:\n"
    "        p = todo.pop()\n"
    "        out.append(p)\n"
    "        try:\n"
    "            for t in os.listdir(f'/proc/{p}/task'):\n"
    "                with open(f'/proc/{p}/task/{t}/children') as f:\n"
    "                    todo.extend(int(c) for c in f.read().split())\n"
    "        except OSError:\n"
    "            pass\n"
    "    return out\n"
    "def rss(p):\n"
    "    try:\n"
    "        with open(f'/proc/{p}/statm') as f:\n"
    "            return int(f.read().split()[1]) * page\n"
    "    except (OSError, IndexError, ValueError):\n"
    "        return 0\n"
    "def pss(p):\n"
    "    try:\n"
    "        with open(f'/proc/{p}/smaps_rollup') as f:\n"
    "            for line in f:\n"
    "                if line.startswith('Pss:'):\n"
    "                    return int(line.split()[1]) * 1024\n"
    "    except (OSError, IndexError, ValueError):\n"
    "        pass\n"
    "    return rss(p)\n"
    "def held(ps):\n"
    "    return rss(ps[0]) if len(ps) == 1 else sum(pss(p) for p in ps)\n"
    "peak, done = [0], threading.Event()\n"
    "def sample(pid):\n"
    "    wait = 0.02\n"
    "    while not done.wait(wait):\n"
    "        t = time.perf_counter()\n"
    "        peak[0] = max(peak[0], held(tree(pid)))\n"
    "        wait = max(0.02, 9 * (time.perf_counter() - t))\n"
    "pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ)\n"
    "watch = threading.Thread(target=sample, args=(pid,), daemon=True)\n"
    "watch.start()\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "done.set()\n"
    "watch.join()\n"
    "with open(sys.argv[1], 'w') as f:\n"
    "    json.dump({'rc': os.waitstatus_to_exitcode(status), 'maxrss_kb': usage.ru_maxrss,\n"
    "               'tree_rss_kb': peak[0] // 1024,\n"
    "               'cpu_s': usage.ru_utime + usage.ru_stime}, f)\n"
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
        ``peak_rss_mb``: the larger of ``ru_maxrss`` from ``os.wait4`` in a small launcher
        process (the measured process and its waited-for children, not the bench) and the
        sampled sum over the process tree (processes running at the same time add up).
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
    # Linux reports ru_maxrss in KiB; the tree sum covers processes running side by side.
    peak_kb = max(usage["maxrss_kb"], usage.get("tree_rss_kb", 0))
    return Measure(wall, peak_kb / 1024, int(usage["rc"]), float(usage["cpu_s"]))


@dataclass(frozen=True)
class Dataset:
    """A province the bench runs: its label, slug, project root, scale (None: real) and seed."""

    label: str
    slug: str
    root: Path
    scale: float | None
    seed: int = 42


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
    return Dataset(f"synth x{scale:g}", slug, root, scale, seed)


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
            ok=m.returncode == 0, summary=entry.get("summary", {}), cpu_s=round(m.cpu_s, 1),
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


def _drive_graph(paths: ProvincePaths, resp: ResponseConfig) -> Any:  # noqa: ANN401
    """Read a dataset's drivable graph from the ingest and network artifacts (the baseline's way).

    Parquet edges and nodes, truck travel times per edge (``read_drive_graph``): what a
    notebook starting from our artifacts would do before building its OSMnx graph.
    """
    from pipeline.isochrones import read_drive_graph  # noqa: PLC0415

    net = paths.artifact("network", "edges")
    return read_drive_graph(
        paths.artifact("ingest", "graph_nodes"), paths.artifact("ingest", "graph_edges"),
        resp.speed_scenarios_kph[resp.speed_scenario], turn_delay_s=resp.turn_delay_s,
        truck_edges_path=net if net.exists() else None, follow_oneway=resp.follow_oneway,
    )  # fmt: skip


def _nearest_station_nodes(paths: ProvincePaths, ids: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Ids of the graph nodes nearest to the first stations (spread-out nodes when none).

    Only nodes of the ingest graph count (ids >= 0: the coverage stage gives the stations it
    splits into edges negative ids), so both methods start from the same node ids.
    """
    import pyarrow.parquet as pq  # noqa: PLC0415
    import shapely  # noqa: PLC0415

    keep = ids >= 0
    ids, xy = ids[keep], xy[keep]
    st = pq.read_table(paths.artifact("ingest", "stations"), columns=["geometry"])
    pts = shapely.from_wkb(st.column("geometry").to_numpy(zero_copy_only=False))
    pts = pts[:MAX_ISO_STATIONS]
    if len(pts) == 0:  # no station in the data (the Hà Nội sample): use spread-out nodes
        rng = np.random.default_rng(0)
        return np.asarray(rng.choice(np.sort(ids), size=min(5, len(ids)), replace=False))
    # A few stations: one pass over the nodes each (cheaper than building a spatial index).
    x, y = xy[:, 0], xy[:, 1]
    nearest = [np.argmin((x - px) ** 2 + (y - py) ** 2) for px, py in shapely.get_coordinates(pts)]
    return np.asarray(ids[nearest], dtype=np.int64)


def _osmnx_graph(graph: Any) -> Any:  # noqa: ANN401 - a DriveGraph in, a MultiDiGraph out
    """Build the OSMnx graph of the driven edges (``graph_from_gdfs``), as a notebook would."""
    import geopandas as gpd  # noqa: PLC0415
    import shapely  # noqa: PLC0415

    from pipeline.graph import to_graph  # noqa: PLC0415

    crs = "EPSG:32648"
    nodes = gpd.GeoDataFrame(
        graph.nodes, geometry=shapely.points(graph.nodes["x"], graph.nodes["y"]), crs=crs
    )
    driven = np.isfinite(graph.edges["travel_time"].to_numpy())
    edges = gpd.GeoDataFrame(graph.edges[driven], geometry=graph.geometry[driven], crs=crs)
    return to_graph(nodes, edges.set_index(["u", "v", "key"]))


def worker_isochrones(slug: str, root: Path, method: str) -> dict[str, Any]:
    """Time one isochrone method on a dataset, its preparation included (run as a process).

    Each method starts from artifacts on disk and its preparation (``prep_s``) ends with
    what it routes on. Ours: the coverage stage's ``drive_graph.npz`` (adjacency, node
    coordinates and edge vertices the stage already built, the stations split into their
    edges) read back as arrays. OSMnx: the ingest graph and the network stage's truck flags
    read from GeoParquet with truck travel times (``read_drive_graph``), then its
    ``graph_from_gdfs`` MultiDiGraph, as a notebook would. Both pick the same station nodes
    (nearest ingest node to each station) within their preparation. ``seconds`` is the
    isochrones alone; ``total_s`` both.

    Parameters
    ----------
    slug, root
        The dataset.
    method
        ``"ours"`` or ``"osmnx"``.

    Returns
    -------
    dict
    """
    # Libraries are imported and the config read before the clock starts, for both methods.
    import networkx as nx  # noqa: F401, PLC0415
    import osmnx  # noqa: F401, PLC0415
    import pyarrow.parquet  # noqa: F401, PLC0415
    import rasterio.features  # noqa: F401, PLC0415
    import scipy.sparse.csgraph  # noqa: F401, PLC0415
    import shapely  # noqa: F401, PLC0415

    from pipeline.isochrones import (  # noqa: PLC0415
        isochrones,
        isochrones_baseline_osmnx,
        read_street_arrays,
    )

    paths = ProvincePaths(slug, root)
    resp = load_config(slug, root=root).response
    breaks_s = [m * 60.0 for m in resp.isochrone_breaks_min]
    t0 = time.perf_counter()
    if method == "ours":
        prepared: Any = read_street_arrays(paths.artifact("coverage", "drive_graph"))
        ids, xy = prepared.arrays.node_ids, prepared.node_xy
        n_nodes, n_edges = len(ids), len(prepared.arrays.u)
    else:
        graph = _drive_graph(paths, resp)
        prepared = _osmnx_graph(graph)
        ids, xy = graph.nodes.index.to_numpy(), graph.nodes[["x", "y"]].to_numpy()
        n_nodes, n_edges = prepared.number_of_nodes(), prepared.number_of_edges()
    stations: list[int] = _nearest_station_nodes(paths, ids, xy).tolist()
    prep = time.perf_counter() - t0
    t1 = time.perf_counter()
    if method == "ours":
        result = isochrones(prepared, stations, breaks_s, weight="travel_time")
        impl = "pipeline.isochrones.isochrones (coverage/drive_graph.npz)"
    else:
        result = isochrones_baseline_osmnx(prepared, stations, breaks_s, weight="travel_time")
        impl = "OSMnx graph_from_gdfs (from parquet) + nx.ego_graph + convex hull"
    seconds = time.perf_counter() - t1
    return {"method": method, "impl": impl, "seconds": round(seconds, 3), "prep_s": round(prep, 3),
            "total_s": round(prep + seconds, 3), "stations": len(stations),
            "breaks": len(breaks_s), "graph_nodes": n_nodes, "graph_edges": n_edges,
            "polygons": len(result)}  # fmt: skip


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
    cmd = [sys.executable, "-m", "tools.bench", "--worker", kind, "--method", method,
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
        (
            "| dataset | stage | items (edges+buildings) | wall s | stage s | CPU s | peak RSS MB "
            "| items/s |"
        ),
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    lines.extend(
        f"| {r.dataset} | {r.stage}{'' if r.ok else ' (FAILED)'} | {r.items:,} | "
        f"{r.wall_s:.1f} | {r.stage_s if r.stage_s is not None else float('nan'):.1f} | "
        f"{r.cpu_s:.1f} | {r.peak_rss_mb:,.0f} | {r.items_per_s:,.0f} |"
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
            notes = (f"{r['stations']} stations x {r['breaks']} breaks, {r['graph_nodes']:,} nodes;"
                     f" prep {r['prep_s']} s, end to end {r.get('total_s')} s")  # fmt: skip
        lines.append(
            f"| {r['dataset']} | {r['kind']} | {r['method']} | {r.get('impl', '')} | "
            f"{r.get('seconds', 'n/a')} | {r['peak_rss_mb']:,.0f} | {notes} |"
        )
    return "\n".join(lines)


def speedup_line(results: list[dict[str, Any]]) -> str:
    """Return the isochrone ratio line: ours over OSMnx on the largest graph, prep included."""
    iso = [r for r in results if r.get("kind") == "isochrones" and r.get("seconds")]
    by_ds: dict[str, dict[str, dict[str, Any]]] = {}
    for r in iso:
        by_ds.setdefault(r["dataset"], {})[r["method"]] = r
    pairs = [(d["ours"], d["osmnx"]) for d in by_ds.values() if {"ours", "osmnx"} <= set(d)]
    if not pairs:
        return "isochrone speed-up: not measured (no dataset ran both methods)"
    ours, base = max(pairs, key=lambda p: p[0]["graph_nodes"])
    total = base.get("total_s", base["seconds"]) / max(ours.get("total_s", ours["seconds"]), 1e-9)
    alone = base["seconds"] / max(ours["seconds"], 1e-9)
    return (
        f"isochrone speed-up on {ours['dataset']} ({ours['graph_nodes']:,} nodes, "
        f"{ours['stations']} stations x {ours['breaks']} breaks), end to end: {total:,.1f}x "
        f"(ours {ours.get('prep_s', 0):.2f} s prep + {ours['seconds']:.2f} s, "
        f"{ours['peak_rss_mb']:,.0f} MB; OSMnx {base.get('prep_s', 0):.2f} s prep + "
        f"{base['seconds']:.2f} s, {base['peak_rss_mb']:,.0f} MB); isochrones alone {alone:,.1f}x"
    )


def _real_dataset() -> Dataset | None:
    cfg = PROJECT_ROOT / "data" / "provinces" / "ha_noi.yaml"
    shared = PROJECT_ROOT.parent / "shared" / "data" / "hanoi_osm_sample" / "map.osm"
    if cfg.exists() and shared.exists():
        return Dataset("ha_noi (real)", "ha_noi", PROJECT_ROOT, None)
    logger.warning("bench: real Hà Nội sample not found at %s; skipped", shared)
    return None


# --- sections: each measured part of the report is one function ----------------------------


@dataclass
class BenchContext:
    """What the sections see: the datasets, the stage rows, the options and earlier results.

    ``results`` collects the baseline workers' outputs (``kind``: ``isochrones``, ``gaps``,
    or whatever a section adds); ``data`` holds each finished section's ``data`` by name.
    """

    datasets: list[Dataset]
    rows: list[StageRow]
    logs: Path
    baselines: bool
    gap_sample: int
    cache_dir: Path
    results: list[dict[str, Any]] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def largest(self) -> Dataset | None:
        """The largest generated dataset (where the baselines run), if any."""
        synth = [d for d in self.datasets if d.scale is not None]
        return synth[-1] if synth else None

    @property
    def real(self) -> list[Dataset]:
        """The real datasets."""
        return [d for d in self.datasets if d.scale is None]


@dataclass
class Section:
    """One part of the report: data for the JSON, text for the Markdown, closing ratio lines."""

    name: str
    data: Any
    markdown: str
    ratios: list[str] = field(default_factory=list)


def section_stages(ctx: BenchContext) -> Section:
    """Per stage: wall time, stage time, peak RSS, items and items per second; growth; totals."""
    exponents = growth_exponents([r for r in ctx.rows if r.dataset.startswith("synth")])
    totals = _totals(ctx.rows)
    text = "\n\n".join([
        markdown_table(ctx.rows),
        "Growth exponents (log stage time vs log items over the generated sizes): "
        + ", ".join(f"{k} {v}" for k, v in exponents.items()),
        "Whole analysis (sum of stage wall times, ingestion included): "
        + ", ".join(f"{k} {v:.0f} s, peak {m:,.0f} MB" for k, (v, m) in totals.items()),
    ])  # fmt: skip
    cpu = _cpu_totals(ctx.rows)
    largest = ctx.largest.label if ctx.largest else ""
    ratios = [f"whole analysis on {k}: {v:.0f} s wall ({cpu.get(k, 0):.0f} s CPU), "
              f"peak RSS {m:,.0f} MB" for k, (v, m) in totals.items() if k == largest]  # fmt: skip
    data = {"growth_exponents": exponents, "totals": totals, "cpu_totals": cpu}
    return Section("stages", data, text, ratios)


def section_reader(ctx: BenchContext) -> Section:
    """Report the OSM reader's speed: objects in the file per second of reading, per dataset."""
    out = {}
    for d in ctx.datasets:
        s = _manifest(d).get("ingest", {}).get("summary", {})
        read_s = s.get("osm_read_s")
        if not read_s:
            continue
        meta = _synth_meta(d, ctx.cache_dir)
        in_file = (meta.get("osm_nodes", 0) + meta.get("osm_ways", 0)
                   + meta.get("osm_relations", 0)) if meta else None  # fmt: skip
        cpu_s = s.get("osm_read_cpu_s")
        out[d.label] = {"read_s": read_s, "read_cpu_s": cpu_s, "objects_in_file": in_file,
                        "objects_kept": s.get("osm_objects_kept"),
                        "objects_per_s": round(in_file / read_s) if in_file else None,
                        "objects_per_cpu_s": round(in_file / cpu_s) if in_file and cpu_s
                        else None}  # fmt: skip
    head = (
        "| dataset | OSM objects in the file | kept (tags of interest) | read s (wall) "
        "| read s (CPU) | objects/s (wall) | objects/s (CPU) |"
    )
    lines = [head,
             "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    lines += [f"| {k} | {v['objects_in_file'] or 0:,} | {v['objects_kept'] or 0:,} | "
              f"{v['read_s']:.1f} | {v['read_cpu_s'] or 0:.1f} | {v['objects_per_s'] or 0:,} | "
              f"{v['objects_per_cpu_s'] or 0:,} |" for k, v in out.items()]  # fmt: skip
    label = ctx.largest.label if ctx.largest else ""
    big = out.get(label)
    ratios = []
    if big and big["objects_per_s"]:
        ratios.append(f"OSM read on {label}: {big['objects_per_s']:,} objects/s "
                      f"({big['objects_in_file']:,} objects in {big['read_s']:.1f} s wall, "
                      f"{big['read_cpu_s'] or 0:.1f} s CPU: "
                      f"{big['objects_per_cpu_s'] or 0:,} objects per CPU second)")  # fmt: skip
    return Section("reader", out, "OSM reader:\n\n" + "\n".join(lines), ratios)


def _synth_meta(d: Dataset, cache_dir: Path) -> dict[str, Any]:
    if d.scale is None:
        return {}
    from tools.synth import dataset_dir  # noqa: PLC0415

    path = dataset_dir(d.scale, d.seed, cache_dir) / "meta.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def section_baselines(ctx: BenchContext) -> Section:
    """Isochrones (ours vs OSMnx, preparation included) and gap widths (ours vs a loop)."""
    if not ctx.baselines:
        return Section("baselines", [], "Baselines not run.")
    largest = [ctx.largest] if ctx.largest else []
    results = []
    for ds in [*ctx.real, *largest]:
        for method in ("ours", "osmnx"):
            res = run_worker("isochrones", method, ds, ctx.logs, sample=ctx.gap_sample)
            results.append({"kind": "isochrones", **res})
    gaps_available = _gap_functions()[0] is not None
    if not gaps_available:
        logger.warning("bench: gap widths: %s", _gap_functions()[2])
    for ds in ctx.datasets if gaps_available else []:
        methods = ("ours", "loop") if ds in ctx.real or ds in largest else ("ours",)
        for method in methods:
            res = run_worker("gaps", method, ds, ctx.logs, sample=ctx.gap_sample)
            results.append({"kind": "gaps", **res})
    ctx.results += results
    gap_growth = _gap_growth(results, ctx.datasets)
    text = "\n\n".join([baseline_table(results),
                         f"Gap-width inference growth exponent: {gap_growth}"])  # fmt: skip
    return Section("baselines", {"results": results, "gap_width_growth_exponent": gap_growth},
                   text, [speedup_line(results)])  # fmt: skip


def section_maps(ctx: BenchContext) -> Section:
    """Map sizes (MB) per dataset."""
    sizes = _map_sizes(ctx.datasets)
    return Section("maps", sizes, f"Map sizes (MB): {sizes}")


def section_browser(ctx: BenchContext) -> Section:
    """Measure the maps in headless Chromium: load, redraw, memory (tools.map_bench)."""
    return Section(*browser_section(ctx.datasets))


#: The report, in order. To add a measured part, write ``def section_x(ctx) -> Section`` and
#: add it here: its ``markdown`` joins the report and its ``ratios`` the closing lines.
SECTIONS: list[Callable[[BenchContext], Section]] = [
    section_stages, section_reader, section_baselines, section_maps, section_browser,
]  # fmt: skip


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
    sections: list[Callable[[BenchContext], Section]] | None = None,
    growth_scales: list[float] | None = None,
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
    sections
        The report's parts (default :data:`SECTIONS`).
    growth_scales
        Generated sizes run for the stage table and the growth exponents only (no baselines,
        maps or reader figures): see :func:`companion_scales`.

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
    for scale in sorted(growth_scales or []):
        extra = prepare_synth(scale, seed=seed, root=root, cache_dir=cache_dir)
        rows += bench_stages(extra, stages, logs)
    for ds in datasets:
        rows += bench_stages(ds, stages, logs)
    ctx = BenchContext(datasets, rows, logs, baselines, gap_sample, cache_dir)
    done = []
    for fn in SECTIONS if sections is None else sections:
        sec = fn(ctx)
        ctx.data[sec.name] = sec.data
        done.append(sec)
    doc = {
        "date": stamp, "stages_available": stages, "machine": {"cpus": os.cpu_count()},
        "datasets": [asdict(d) | {"root": str(d.root)} for d in datasets],
        "stages": [asdict(r) | {"items_per_s": r.items_per_s} for r in rows],
        "sections": ctx.data, "baselines": ctx.results,
    }  # fmt: skip
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{stamp}.json").write_text(json.dumps(doc, indent=2, default=str), "utf-8")
    ratios = [line for sec in done for line in sec.ratios]
    text = "\n\n".join([f"# firegap bench {stamp}", *(sec.markdown for sec in done),
                         "Ratios:\n\n" + "\n".join(f"- {r}" for r in ratios)])  # fmt: skip
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


def _cpu_totals(rows: list[StageRow]) -> dict[str, float]:
    """Per dataset: total CPU time (user + system) of its stages."""
    out: dict[str, float] = {}
    for r in rows:
        out[r.dataset] = out.get(r.dataset, 0.0) + (r.cpu_s if r.cpu_s == r.cpu_s else 0.0)
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


def companion_scales(scales: list[float]) -> list[float]:
    """Extra generated sizes for the growth exponents when only one size is asked for.

    Returns
    -------
    list of float
        ``[scale / GROWTH_DIVISOR]`` for a single scale, else nothing (two or more sizes
        give the exponents already).
    """
    return [scales[0] / GROWTH_DIVISOR] if len(scales) == 1 else []


def main(argv: list[str] | None = None) -> int:
    """``python -m tools.bench``: run the bench and print its tables (ratio on the last line)."""
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__)
    parser.add_argument("--scales", default=DEFAULT_SCALES, help="generated sizes, 1 = province")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--no-real", action="store_true", help="skip the real Hà Nội sample")
    parser.add_argument("--no-baselines", action="store_true", help="skip the baselines")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "outputs" / "bench")
    parser.add_argument("--bench-root", type=Path, default=BENCH_ROOT)
    parser.add_argument("--gap-sample", type=int, default=GAP_LOOP_SAMPLE)
    parser.add_argument(
        "--no-growth",
        action="store_true",
        help=f"with one scale, do not also run the stages at scale / {GROWTH_DIVISOR} "
        "(the growth exponents need two sizes)",
    )
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
    scales = list(iter_scales(args.scales))
    doc = run_bench(
        scales=scales, seed=args.seed, real=not args.no_real,
        baselines=not args.no_baselines, out_dir=args.out, root=args.bench_root,
        gap_sample=args.gap_sample,
        stages=None if not args.stages else [] if args.stages == "none" else args.stages.split(","),
        growth_scales=[] if args.no_growth else companion_scales(scales),
    )  # fmt: skip
    sys.stdout.write(doc["markdown"] + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
