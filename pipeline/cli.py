"""Command line: ``python -m pipeline <stage> --province <slug> [--osm FILE] [--force]``."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from pipeline._errors import ConfigError, FiregapError
from pipeline.config import ProvinceConfig, load_config
from pipeline.paths import PROJECT_ROOT, ProvincePaths
from pipeline.stage import available_stages, close_logging, run_pipeline, setup_logging

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """Return the CLI's argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m pipeline",
        description="firegap: fire-fighting infrastructure gaps of a province from OSM data.",
    )
    parser.add_argument(
        "stage",
        choices=[*available_stages(), "analyze", "validate"],
        help="the stage to run (its upstream stages run first when out of date); "
        "'analyze' runs them all; 'validate' measures the width inference against the width "
        "tags of the OSM data (outputs/validate/)",
    )
    parser.add_argument(
        "--province", "-p", required=True, help="slug of data/provinces/<slug>.yaml"
    )
    parser.add_argument(
        "--osm", type=Path, help="OSM file (.osm.pbf, .osm or Overpass .json) overriding osm.file"
    )
    parser.add_argument(
        "--lang", choices=["vi", "en"], help="language of maps and reports (overrides config)"
    )
    parser.add_argument(
        "--scale", type=float, help="density of a generated province (PROVINCE=synth; 1 = real)"
    )
    parser.add_argument("--force", action="store_true", help="rerun even when cached")
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bars (log lines only)"
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="debug logging")
    parser.add_argument(
        "--root", type=Path, default=PROJECT_ROOT, help="project folder (data/, outputs/, cache/)"
    )
    return parser


def apply_overrides(
    config: ProvinceConfig, *, osm: Path | None, lang: str | None, scale: float | None = None
) -> ProvinceConfig:
    """Return the config with command-line overrides applied (the inputs stay frozen).

    A generated province (``synth:`` in its config) gets its dataset generated (or reused from
    the cache) here, at ``scale`` when given, and its OSM, boundary and ward files set to it.
    """
    if scale is not None and config.synth is None:
        msg = f"--scale / SCALE= is for a generated province (synth:), not {config.slug}"
        raise ConfigError(msg)
    if config.synth is not None:
        try:
            from tools.synth import use_generated  # noqa: PLC0415 - only generated provinces
        except ImportError as e:
            msg = (
                f"{config.slug}: a generated province needs the developer tooling in tools/ "
                f"(run from the repository root: make analyze PROVINCE={config.slug}); {e}"
            )
            raise ConfigError(msg) from e
        config = use_generated(config, scale=scale)
    if osm is not None:
        osm_path = osm.expanduser().resolve()
        config = config.model_copy(
            update={"osm": config.osm.model_copy(update={"file": str(osm_path)})}
        )
    if lang is not None:
        config = config.model_copy(
            update={"report": config.report.model_copy(update={"language": lang})}
        )
    return config


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return 0 on success, 2 on a reported error (bad input, bad config)."""
    args = build_parser().parse_args(argv)
    paths = ProvincePaths(args.province, args.root)
    setup_logging(None, verbose=args.verbose)
    t0 = time.perf_counter()
    try:
        config = apply_overrides(
            load_config(args.province, root=args.root),
            osm=args.osm,
            lang=args.lang,
            scale=args.scale,
        )
        setup_logging(paths, verbose=args.verbose)
        if args.stage == "validate":
            from pipeline.validate import run_validation  # noqa: PLC0415 - only this command

            run_validation(config, paths, progress=not args.no_progress)
        else:
            run_pipeline(args.stage, config, paths, force=args.force, progress=not args.no_progress)
    except FiregapError as e:
        logger.debug("error", exc_info=True)
        close_logging()
        sys.stderr.write(f"firegap: error: {e}\n")
        return 2
    logger.info("%s for %s finished in %.1f s", args.stage, args.province, time.perf_counter() - t0)
    close_logging()
    return 0
