"""The five stages of the pipeline, in order: ingest, network, water, coverage, report.

Each module's ``run(ctx)`` reads its inputs (the upstream stages' artifacts), runs a short list of
named steps, and writes its artifacts through :class:`pipeline.stage.StageContext`;
:mod:`pipeline.stage` decides which stages to (re)run from their cache keys. The libraries they
use live one level up in :mod:`pipeline`.
"""
