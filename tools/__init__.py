"""Developer tooling, apart from the runtime package: benchmarks and the generated province.

``bench`` and ``map_bench`` are ``make bench``; ``synth`` and ``synth_write`` generate a
province shaped like the real Bắc Ninh as a real ``.osm.pbf`` (``make analyze PROVINCE=synth``
loads them lazily from the CLI). Nothing in :mod:`pipeline.stages` imports them.
"""
