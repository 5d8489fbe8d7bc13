"""Width accuracy you can measure: hide the width tags of an OSM file, re-infer, compare.

``python -m pipeline validate --province <slug> [--osm FILE]`` (``make validate``) reads the
ingest layers, keeps the streets whose ``width`` / ``est_width`` tags are the truth, infers their
widths again with those tags hidden, and reports per width source: n, km, mean absolute error,
median absolute error, bias, the share within +-1 m and the share of truths inside the
interval; and the passable / not-passable confusion matrix against the tagged truth, with the
precision and recall of "not passable". The same is done against a proxy truth, the carriageway
that ``lanes`` implies, with ``lanes`` hidden: labelled as a proxy, since lanes are not widths.
Outputs go to ``outputs/validate/<slug>/<osm file>/`` (``summary.json``, ``report.md``,
``streets.csv``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pipeline import contracts
from pipeline._io import write_json
from pipeline.access import truck_min_width_m
from pipeline.osm_tags import parse_length_m
from pipeline.stage import run_pipeline
from pipeline.widths import estimate_widths, lanes_widths

if TYPE_CHECKING:
    import geopandas as gpd

    from pipeline.config import AccessConfig, ProvinceConfig
    from pipeline.paths import ProvincePaths

logger = logging.getLogger(__name__)

#: Tags hidden before re-inferring against the tagged truth.
TRUTH_TAGS: tuple[str, ...] = ("width", "est_width")
#: Predicted statuses, in the confusion matrix's column order.
STATUS_COLUMNS: tuple[str, ...] = ("passable", "uncertain", "not_passable")


def width_status(low: np.ndarray, high: np.ndarray, need: float) -> np.ndarray:
    """Status from the width interval alone (restrictions aside: the truth is a width)."""
    return np.select([high < need, low >= need], ["not_passable", "passable"], "uncertain")


def error_table(truth: pd.Series, predicted: pd.DataFrame, length_m: pd.Series) -> pd.DataFrame:
    """Accuracy per width source of the prediction.

    Parameters
    ----------
    truth
        True width per street (metres).
    predicted
        ``width_m``, ``width_low_m``, ``width_high_m`` and ``width_source`` per street.
    length_m
        Street length.

    Returns
    -------
    pandas.DataFrame
        Per source and ``all``: ``n``, ``km``, ``mae_m``, ``median_abs_error_m``, ``bias_m``
        (mean of predicted - true), ``within_1m`` (share) and ``in_interval`` (share).
    """
    err = predicted["width_m"] - truth
    frame = pd.DataFrame(
        {
            "source": predicted["width_source"],
            "err": err,
            "abs": err.abs(),
            "within": err.abs() <= 1.0,
            "inside": (predicted["width_low_m"] <= truth) & (truth <= predicted["width_high_m"]),
            "km": length_m / 1000,
        }
    )

    def stats(g: pd.DataFrame) -> pd.Series:
        return pd.Series(
            {
                "n": len(g),
                "km": g["km"].sum(),
                "mae_m": g["abs"].mean(),
                "median_abs_error_m": g["abs"].median(),
                "bias_m": g["err"].mean(),
                "within_1m": g["within"].mean(),
                "in_interval": g["inside"].mean(),
            }
        )

    rows = {str(k): stats(g) for k, g in frame.groupby("source")}
    rows["all"] = stats(frame)
    out = pd.DataFrame(rows).T
    out["n"] = out["n"].astype(int)
    return out


def confusion(truth_passable: np.ndarray, status: np.ndarray) -> dict[str, Any]:
    """Confusion matrix of the predicted status against the true passability.

    Returns
    -------
    dict
        ``matrix`` (``{truth: {predicted: n}}``), ``precision_not_passable`` and
        ``recall_not_passable`` (``None`` when undefined), ``decided_share`` (not uncertain).
    """
    truth = np.where(truth_passable, "passable", "not_passable")
    matrix = {
        t: {s: int(((truth == t) & (status == s)).sum()) for s in STATUS_COLUMNS}
        for t in ("passable", "not_passable")
    }
    predicted_np = int((status == "not_passable").sum())
    true_np = int((truth == "not_passable").sum())
    hit = matrix["not_passable"]["not_passable"]
    return {
        "matrix": matrix,
        "precision_not_passable": round(hit / predicted_np, 4) if predicted_np else None,
        "recall_not_passable": round(hit / true_np, 4) if true_np else None,
        "decided_share": round(float((status != "uncertain").mean()), 4) if len(status) else None,
    }


def validate_widths(
    edges: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame, cfg: AccessConfig
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Compare widths inferred with the width tags hidden against those tags.

    Parameters
    ----------
    edges
        Ingest graph edges (both directions; each street is counted once).
    buildings
        Footprints (for the building corridor).
    cfg
        The ``access`` section.

    Returns
    -------
    streets, summary
        One row per street with a tagged or lanes-implied truth (``truth_kind``, ``truth_m``,
        the prediction and its status), and the figures of both comparisons.
    """
    streets = edges[~edges["reversed"].to_numpy()]
    need = float(truck_min_width_m(cfg))
    truth = pd.Series(np.nan, index=streets.index)
    truth_tag = pd.Series("", index=streets.index, dtype=object)
    for tag in reversed(TRUTH_TAGS):  # width wins over est_width
        if tag in streets.columns:
            value = parse_length_m(streets[tag])
            truth = value.where(value.notna(), truth)
            truth_tag = truth_tag.where(value.isna(), tag)
    hidden = streets.drop(columns=[c for c in TRUTH_TAGS if c in streets.columns])
    predicted = estimate_widths(hidden, buildings, cfg)
    tagged = truth.notna()
    summary: dict[str, Any] = {"truck_min_width_m": need}
    frames = []
    if tagged.any():
        p = predicted[tagged]
        status = width_status(p["width_low_m"].to_numpy(), p["width_high_m"].to_numpy(), need)
        table = error_table(truth[tagged], p, streets.loc[tagged, "length"])
        summary["tagged"] = {
            "errors": table.round(4).to_dict(orient="index"),
            "confusion": confusion(truth[tagged].to_numpy() >= need, status),
            "truth_tags": truth_tag[tagged].value_counts().to_dict(),
        }
        frames.append(_rows("tag", truth[tagged], p, status, streets.loc[tagged]))
    else:
        summary["tagged"] = {"errors": {}, "confusion": confusion(np.array([]), np.array([]))}
    lanes_mask, (_, lanes_est, _) = lanes_widths(streets, cfg)
    proxy = lanes_mask & ~tagged.to_numpy()
    if proxy.any():
        hidden_lanes = hidden.loc[proxy].drop(columns=["lanes"])
        p = estimate_widths(hidden_lanes, buildings, cfg)
        truth_p = pd.Series(lanes_est[proxy], index=hidden_lanes.index)
        status = width_status(p["width_low_m"].to_numpy(), p["width_high_m"].to_numpy(), need)
        summary["lanes_proxy"] = {
            "errors": error_table(truth_p, p, streets.loc[proxy, "length"])
            .round(4)
            .to_dict(orient="index"),
            "confusion": confusion(truth_p.to_numpy() >= need, status),
        }
        frames.append(_rows("lanes_proxy", truth_p, p, status, streets.loc[proxy]))
    summary["streets"] = len(streets)
    summary["tagged_streets"] = int(tagged.sum())
    summary["lanes_proxy_streets"] = int(proxy.sum())
    out = pd.concat(frames) if frames else pd.DataFrame()
    return out, summary


def _rows(
    kind: str, truth: pd.Series, p: pd.DataFrame, status: np.ndarray, streets: pd.DataFrame
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "truth_kind": kind,
            "osmid": streets["osmid"].to_numpy() if "osmid" in streets else -1,
            "highway": streets["highway"].to_numpy(),
            "name": streets["name"].to_numpy() if "name" in streets else None,
            "length_m": streets["length"].to_numpy(),
            "truth_m": truth.to_numpy(),
            "width_m": p["width_m"].to_numpy(),
            "width_low_m": p["width_low_m"].to_numpy(),
            "width_high_m": p["width_high_m"].to_numpy(),
            "width_source": p["width_source"].to_numpy(),
            "status": status,
            "width_evidence": p["width_evidence"].to_numpy(),
        }
    )


def _markdown(slug: str, source: str, summary: dict[str, Any]) -> str:
    lines = [
        f"# Width validation: {slug}",
        "",
        (
            f"OSM data: `{source}`. {summary['streets']:,} streets; "
            f"{summary['tagged_streets']:,} carry a `width`/`est_width` tag (the truth); "
            f"{summary['lanes_proxy_streets']:,} carry `lanes` on a car road (a proxy truth, "
            f"not a measured width). Truck width {summary['truck_min_width_m']:g} m."
        ),
    ]
    for key, title in (("tagged", "Against the width tags"), ("lanes_proxy", "Against lanes")):
        block = summary.get(key)
        if not block:
            lines += ["", f"## {title}", "", "No street to compare."]
            continue
        lines += ["", f"## {title}", ""]
        if block["errors"]:
            lines += [
                (
                    "| source | n | km | MAE (m) | median |err| (m) | bias (m) | within ±1 m | "
                    "in interval |"
                ),
                "|---|---:|---:|---:|---:|---:|---:|---:|",
            ]
            lines += [
                f"| {src} | {int(r['n'])} | {r['km']:.2f} | {r['mae_m']:.2f} | "
                f"{r['median_abs_error_m']:.2f} | {r['bias_m']:+.2f} | {r['within_1m']:.0%} | "
                f"{r['in_interval']:.0%} |"
                for src, r in block["errors"].items()
            ]
        else:
            lines.append("No street to compare.")
        c = block["confusion"]
        lines += ["", "| truth \\ predicted | passable | uncertain | not passable |",
                  "|---|---:|---:|---:|"]  # fmt: skip
        lines += [
            f"| {t.replace('_', ' ')} | "
            + " | ".join(str(c["matrix"][t][s]) for s in STATUS_COLUMNS)
            + " |"
            for t in ("passable", "not_passable")
        ]
        lines += [
            "",
            (
                f"Precision of 'not passable': {c['precision_not_passable']}; recall: "
                f"{c['recall_not_passable']}; decided (not uncertain): {c['decided_share']}."
            ),
        ]
    return "\n".join(lines) + "\n"


def run_validation(
    config: ProvinceConfig, paths: ProvincePaths, *, progress: bool = False
) -> dict[str, Any]:
    """Run ingest (cached) and the width validation; write ``outputs/validate/<slug>/<osm>/``.

    Returns
    -------
    dict
        The summary written to ``summary.json``.
    """
    run_pipeline("ingest", config, paths, progress=progress)
    _, edges = contracts.read_graph(paths)
    buildings = contracts.read_table(paths, contracts.BUILDINGS, (), crs=config.crs)
    streets, summary = validate_widths(edges, buildings, config.access)
    source = str(config.osm.file or paths.raw_cache)
    summary["osm"] = source
    stem = Path(source).name.split(".")[0]
    folder = paths.root / "outputs" / "validate" / paths.province / stem
    folder.mkdir(parents=True, exist_ok=True)
    write_json(summary, folder / "summary.json")
    streets.to_csv(folder / "streets.csv", index=False, encoding="utf-8-sig")
    (folder / "report.md").write_text(_markdown(paths.province, source, summary), "utf-8")
    tagged = summary["tagged"]["errors"].get("all", {})
    logger.info(
        "validate: %s tagged streets (MAE %s m), %s lanes-proxy streets; written to %s",
        summary["tagged_streets"],
        f"{tagged['mae_m']:.2f}" if tagged else "n/a",
        summary["lanes_proxy_streets"],
        folder,
    )
    return summary
