"""Street widths as evidence: tags, lanes, building corridors, surveys and priors -> intervals."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.corridor import Corridor, corridor_widths
from pipeline.osm_tags import (
    as_text,
    base_highway,
    has_sidewalk,
    is_alley_name,
    normalised_text,
    parse_lanes,
    parse_length_m,
    parse_length_range_m,
)
from pipeline.topology import undirected_twins

if TYPE_CHECKING:
    import geopandas as gpd
    import shapely

    from pipeline.config import AccessConfig

logger = logging.getLogger(__name__)

#: Edges whose evidence notes are joined at a time (bounds Arrow's temporaries).
_EVIDENCE_ROWS_PER_BLOCK = 32_768
#: Sources that are priors (a class-wide guess, not evidence about this street).
PRIOR_SOURCES: frozenset[str] = frozenset(
    {"class_prior", "service_prior", "name_prior", "unknown_prior"}
)


@dataclass
class _Evidence:
    """Working arrays of the width estimate: value, interval, source, and evidence notes."""

    est: np.ndarray
    low: np.ndarray
    high: np.ndarray
    source: np.ndarray
    notes: list[np.ndarray]

    def note(self, mask: np.ndarray, text: np.ndarray | str) -> None:
        """Add an evidence note to the rows of ``mask``."""
        col = np.full(len(self.est), "", dtype=object)
        col[mask] = text[mask] if isinstance(text, np.ndarray) else text
        self.notes.append(col)

    def set(
        self,
        mask: np.ndarray,
        interval: tuple[np.ndarray | float, np.ndarray | float, np.ndarray | float],
        source: str,
    ) -> None:
        """Replace estimate and interval on ``mask`` by ``interval`` = (low, estimate, high)."""
        low, est, high = (np.broadcast_to(np.asarray(a, float), self.est.shape) for a in interval)
        self.low[mask], self.est[mask], self.high[mask] = low[mask], est[mask], high[mask]
        self.source[mask] = source

    def evidence(self) -> np.ndarray:
        """Return the notes of each row joined by ``"; "``."""
        out = np.full(len(self.est), "", dtype=object)
        if not self.notes:
            return out
        # "; ".join of each row's non-empty notes, column by column in Arrow (no Python loop),
        # a block of rows at a time (Arrow's temporaries stay a few MB)
        for a in range(0, len(out), _EVIDENCE_ROWS_PER_BLOCK):
            b = a + _EVIDENCE_ROWS_PER_BLOCK
            texts = [
                pa.array(pd.Series(col[a:b], dtype=object).fillna("").astype(str), pa.string())
                for col in self.notes
            ]
            joined = texts[0]
            for text in texts[1:]:
                both = pc.binary_join_element_wise(joined, text, "; ")
                keep = pc.if_else(pc.equal(text, ""), joined, both)
                joined = pc.if_else(pc.equal(joined, ""), text, keep)
            out[a:b] = joined.to_numpy(zero_copy_only=False)
            del texts, joined
        pa.default_memory_pool().release_unused()
        return out


def _interval_table(
    keys: pd.Series, table: dict[str, tuple[float, float, float]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Look ``keys`` up in a ``{key: (low, typical, high)}`` table; ``found`` says where."""
    frame = pd.DataFrame.from_dict(table, orient="index", columns=["low", "est", "high"])
    hit = frame.reindex(keys.astype(object).to_numpy())
    found = hit["est"].notna().to_numpy()
    return (
        hit["low"].to_numpy(dtype=float),
        hit["est"].to_numpy(dtype=float),
        hit["high"].to_numpy(dtype=float),
        found,
    )


def prior_widths(edges: pd.DataFrame, cfg: AccessConfig) -> _Evidence:
    """Start every edge from its prior: class, ``service=*`` kind, or alley name.

    Parameters
    ----------
    edges
        With ``highway`` and optionally ``service`` and ``name``.
    cfg
        The ``access`` section (``width_priors_m``, ``service_priors_m``,
        ``alley_name_prior_m``...).

    Returns
    -------
    _Evidence
        Priors with their source (``class_prior``, ``service_prior``, ``name_prior`` or
        ``unknown_prior``) and notes (``class=...``, ``service=...``, ``alley name``).
    """
    n = len(edges)
    base = base_highway(edges["highway"])
    low, est, high, known = _interval_table(base, cfg.width_priors_m)
    unknown = cfg.unknown_highway_prior_m
    ev = _Evidence(
        est=np.where(known, est, unknown[1]),
        low=np.where(known, low, unknown[0]),
        high=np.where(known, high, unknown[2]),
        source=np.where(known, "class_prior", "unknown_prior").astype(object),
        notes=[],
    )
    ev.note(np.ones(n, dtype=bool), "class=" + as_text(edges["highway"]))
    if "service" in edges.columns and cfg.service_priors_m:
        kind = normalised_text(edges["service"])
        s_low, s_est, s_high, s_known = _interval_table(kind.fillna(""), cfg.service_priors_m)
        on_service = (base == "service").to_numpy(dtype=bool) & s_known
        ev.set(on_service, (s_low, s_est, s_high), "service_prior")
        ev.note(on_service, "service=" + as_text(kind))
    if "name" in edges.columns:
        alley = is_alley_name(edges["name"], cfg.alley_name_prefixes).to_numpy(dtype=bool)
        a_low, a_est, a_high = cfg.alley_name_prior_m
        takes_prior = base.isin(cfg.alley_name_prior_highways).to_numpy(dtype=bool) | ~known
        replace = alley & takes_prior
        ev.set(replace, (a_low, a_est, a_high), "name_prior")
        # On other vehicle classes (residential...) the name pulls the estimate halfway to the
        # alley prior and widens the interval; footways are never widened by it.
        blend = alley & ~takes_prior & (est > a_est)
        ev.set(
            blend,
            (np.minimum(ev.low, a_low), (ev.est + a_est) / 2, np.maximum(ev.high, a_high)),
            "name_prior",
        )
        ev.note(alley, "alley name")
    return ev


def lanes_widths(
    edges: pd.DataFrame, cfg: AccessConfig
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Carriageway interval from ``lanes`` on car roads: lanes x lane width + an edge strip.

    Returns
    -------
    mask, (low, estimate, high)
        ``mask`` is where ``lanes`` is tagged on one of ``cfg.lanes_highways``.
    """
    n = len(edges)
    lanes = parse_lanes(edges["lanes"]).to_numpy() if "lanes" in edges else np.full(n, np.nan)
    car_road = base_highway(edges["highway"]).isin(cfg.lanes_highways).to_numpy(dtype=bool)
    mask = np.isfinite(lanes) & car_road
    edge = 2 * cfg.carriageway_edge_m.value
    return mask, (
        lanes * cfg.lane_width_min_m.value + edge,
        lanes * cfg.lane_width_m.value + edge,
        lanes * cfg.lane_width_max_m.value + edge,
    )


def tag_widths(
    edges: pd.DataFrame, cfg: AccessConfig
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Carriageway interval from ``width`` (a range keeps its low end) or ``est_width``.

    Returns
    -------
    mask, notes, (low, estimate, high)
    """
    n = len(edges)
    low, est, high = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    notes = np.full(n, "", dtype=object)
    if "est_width" in edges.columns:
        value = parse_length_m(edges["est_width"]).to_numpy()
        ok = np.isfinite(value)
        tol = cfg.est_width_tolerance_m.value
        low[ok], est[ok], high[ok] = np.maximum(value[ok] - tol, 0.1), value[ok], value[ok] + tol
        notes[ok] = "est_width=" + as_text(edges["est_width"])[ok]
    if "width" in edges.columns:
        w_low, w_high = (a.to_numpy() for a in parse_length_range_m(edges["width"]))
        ok = np.isfinite(w_low)
        low[ok], est[ok], high[ok] = w_low[ok], w_low[ok], w_high[ok]
        notes[ok] = "width=" + as_text(edges["width"])[ok]
    return np.isfinite(est), notes, (low, est, high)


def _apply_corridor(
    ev: _Evidence, corridor: Corridor, *, can_raise: np.ndarray, cfg: AccessConfig
) -> None:
    """Cap every interval by a robust corridor; raise alley-like priors by a consistent one."""
    c = corridor.width_m
    robust = corridor.robust & np.isfinite(c)
    text = (
        pd.Series(np.nan_to_num(c)).map("corridor={:.1f} m".format)
        + " ("
        + pd.Series(corridor.n_both).astype(str)
        + " sections, "
        + pd.Series(100 * corridor.share).map("{:.0f}%)".format)
    ).to_numpy(dtype=object)
    enc = cfg.corridor_encroachment_m.value
    top = cfg.corridor_raise_max_m.value
    raise_ = robust & can_raise & (c > ev.est)
    # A wide gap with no sidewalk tag may well hold sidewalks: it shows that a truck fits, not
    # the carriageway, so the raised estimate stops at corridor_raise_max_m.
    ev.set(raise_, (np.minimum(np.maximum(c - enc, 0.1), top), np.minimum(c, top), c), "corridor")
    cap = robust & ~raise_ & (c < ev.high)
    lowered = cap & (c < ev.est)
    ev.high[cap] = c[cap]
    ev.low[cap] = np.minimum(ev.low[cap], c[cap])
    ev.est[lowered] = c[lowered]
    ev.source[lowered] = "corridor"
    ev.note(robust, text)


def estimate_widths(
    edges: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    cfg: AccessConfig,
    *,
    measured: pd.DataFrame | None = None,
    progress: bool = False,
    twins: tuple[np.ndarray, np.ndarray] | None = None,
    building_tree: shapely.STRtree | None = None,
) -> pd.DataFrame:
    """Estimate the carriageway width of every edge as evidence: value, interval, sources.

    Parameters
    ----------
    edges
        Graph edges with ``highway`` and LineString geometry (projected CRS, metres), and the
        tags ``name``, ``service``, ``width``, ``est_width``, ``lanes``, ``sidewalk*`` and
        ``osmid`` where present.
    buildings
        Building footprints in the same CRS.
    cfg
        The ``access`` config section.
    measured
        Surveyed widths per edge (from :func:`pipeline.measured.match_measured_widths`), indexed
        like ``edges``: ``width_m`` and ``note`` (``NaN`` / ``""`` where not surveyed).
    progress
        Show a progress bar for the building-corridor measurement.
    twins
        :func:`pipeline.topology.undirected_twins` of the edges, when the caller has it.
    building_tree
        ``STRtree`` of the footprints, when the caller has it (one index serves the stage).

    Returns
    -------
    pandas.DataFrame
        Indexed like ``edges``: ``width_m`` (the estimate), ``width_low_m``, ``width_high_m``
        (the plausible interval), ``width_source`` in :data:`WIDTH_SOURCES`,
        ``width_evidence`` (the evidence read, ``"; "``-separated), ``width_confidence``
        (0..1), ``corridor_m`` (the robust corridor, ``NaN`` where not robust),
        ``corridor_sections`` and ``gap_width_m`` (the corridor without robustness rules).

    Notes
    -----
    Evidence, weakest first, each replacing or bounding the previous:

    1. a prior by class (``*_link`` take their parent's), by ``service=*`` kind, or by alley
       name (``Ngõ``, ``Hẻm``...: on service / unclassified / track / road / living-street
       ways; halfway on residential ways);
    2. ``lanes`` on car roads: lanes x lane width plus an edge strip each side
       (TCXDVN 104:2007), so a one-lane car road is at least 4 m;
    3. the building corridor, an upper bound: a robust corridor caps the interval (its narrow
       stretches can prove a street impassable); on alley-like ways without sidewalks a
       consistent one raises the prior to ``[corridor - encroachment, corridor]``, the estimate
       stopping at ``corridor_raise_max_m`` (a wider gap may hold untagged sidewalks);
    4. ``width`` / ``est_width`` tags (a range keeps its low end), trusted;
    5. surveyed widths from the authority, labelled ``measured``.

    ``maxwidth`` is a vehicle restriction, not a width: see :func:`pipeline.access.truck_blocks`.
    A line and its reverse twin are measured once.
    """
    t0 = time.perf_counter()
    n = len(edges)
    ev = prior_widths(edges, cfg)
    lanes_mask, lanes_iv = lanes_widths(edges, cfg)
    ev.set(lanes_mask, lanes_iv, "lanes")
    if "lanes" in edges.columns:
        ev.note(lanes_mask, "lanes=" + as_text(edges["lanes"]))

    geoms = edges.geometry.to_numpy()
    codes, first = undirected_twins(geoms) if twins is None else twins
    way = edges["osmid"].to_numpy()[first] if "osmid" in edges.columns else np.arange(len(first))
    corridor_u = corridor_widths(
        geoms[first], buildings.geometry.to_numpy(), way, cfg, progress=progress,
        tree=building_tree,
    )  # fmt: skip
    corridor = Corridor(
        *(np.asarray(getattr(corridor_u, f))[codes] for f in Corridor.__dataclass_fields__)
    )
    base = base_highway(edges["highway"])
    sidewalk = base.isin(cfg.sidewalk_highways).to_numpy(dtype=bool) | has_sidewalk(edges)
    hose_path = base.isin(cfg.hose_path_highways).to_numpy(dtype=bool)
    prior = np.isin(ev.source, list(PRIOR_SOURCES))
    ev.note(sidewalk, "sidewalk")
    _apply_corridor(ev, corridor, can_raise=prior & ~sidewalk & ~hose_path, cfg=cfg)

    tag_mask, tag_notes, tag_iv = tag_widths(edges, cfg)
    ev.set(tag_mask, tag_iv, "tag")
    ev.note(tag_mask, tag_notes)
    if measured is not None:
        m = measured["width_m"].reindex(edges.index).to_numpy(dtype=float)
        surveyed = np.isfinite(m)
        ev.set(surveyed, (m, m, m), "measured")
        ev.note(surveyed, measured["note"].reindex(edges.index).fillna("").to_numpy(dtype=object))

    conf_table = cfg.width_confidence
    confidence = pd.Series(ev.source).map(conf_table).to_numpy(dtype=float, copy=True)
    from_corridor = ev.source == "corridor"
    confidence[from_corridor] *= 0.5 + 0.5 * corridor.share[from_corridor]
    out = pd.DataFrame(
        {
            "width_m": ev.est,
            "width_low_m": ev.low,
            "width_high_m": ev.high,
            "width_source": ev.source.astype(str),
            "width_evidence": ev.evidence(),
            "width_confidence": np.clip(confidence, 0, 1),
            "corridor_m": np.where(corridor.robust, corridor.width_m, np.nan),
            "corridor_sections": corridor.n_both,
            "gap_width_m": corridor.raw_m,
        },
        index=edges.index,
    )
    logger.info(
        "widths: %s edges (%s undirected), %s with a robust building corridor, sources %s (%.1f s)",
        f"{n:,}",
        f"{len(first):,}",
        f"{int(np.isfinite(out['corridor_m']).sum()):,}",
        out["width_source"].value_counts().to_dict(),
        time.perf_counter() - t0,
    )
    return out
