# firegap: every target calls the CLI; the stage dependency logic lives in pipeline/stage.py.
PROVINCE ?= bac_ninh
OSM ?=
LANG_OPT ?=
# SCALE: density of the generated province (PROVINCE=synth only; 1 = the real Bắc Ninh).
SCALE ?=
PYTHON ?= python3
# make bench: generated sizes (1 = a province), generator seed, extra options (--no-real,
# --no-baselines, --gap-sample N; see python -m tools.bench --help).
BENCH_SCALES ?= 0.125,0.25,0.5,1
BENCH_SEED ?= 42
BENCH_OPTS ?=
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CLI := $(PY) -m pipeline
ARGS := --province $(PROVINCE) $(if $(OSM),--osm $(OSM)) $(if $(LANG_OPT),--lang $(LANG_OPT)) $(if $(FORCE),--force) $(if $(SCALE),--scale $(SCALE))

.DEFAULT_GOAL := help
.PHONY: help setup vendor analyze ingest network water coverage report validate test lint typecheck bench clean

help: ## List the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP) vendor ## Create .venv and install the pinned dependencies

LEAFLET := cache/vendor/leaflet-1.9.4
LEAFLET_SHA256 := 84c65a256e50657896f54c33bd857b6849ebe94c817803be818bf32a3dde0b77
$(LEAFLET)/dist/leaflet.js:
	mkdir -p cache/vendor
	cd cache/vendor && npm pack --silent leaflet@1.9.4 >/dev/null \
		&& echo "$(LEAFLET_SHA256)  leaflet-1.9.4.tgz" | sha256sum -c --quiet - \
		&& rm -rf package && tar xzf leaflet-1.9.4.tgz package/LICENSE package/dist/leaflet.js \
			package/dist/leaflet.css package/dist/images \
		&& rm -rf leaflet-1.9.4 && mv package leaflet-1.9.4 && rm leaflet-1.9.4.tgz

vendor: ## Fetch Leaflet 1.9.4 (npm, sha256-pinned) so maps work offline (inlined into map.html)
	@$(MAKE) --no-print-directory $(LEAFLET)/dist/leaflet.js \
		|| echo "vendor: Leaflet could not be fetched; maps will load it from a CDN"

analyze: $(STAMP) vendor ## Run every stage for PROVINCE (OSM=file overrides the OSM source)
	$(CLI) analyze $(ARGS)

ingest: $(STAMP) ## Stage 1: OSM -> clipped layers + street graph
	$(CLI) ingest $(ARGS)

network: $(STAMP) ## Stage 2: widths, truck classes, alleys, dead ends
	$(CLI) network $(ARGS)

water: $(STAMP) ## Stage 3: water sources, reach, gaps, hydrant candidates
	$(CLI) water $(ARGS)

coverage: $(STAMP) ## Stage 4: response-time isochrones, dense unreached areas, scenarios
	$(CLI) coverage $(ARGS)

report: $(STAMP) vendor ## Stage 5: maps, shortlists, report
	$(CLI) report $(ARGS)

validate: $(STAMP) ## Hide the OSM width tags, re-infer them, report the accuracy (outputs/validate/)
	$(CLI) validate $(ARGS)

test: $(STAMP) vendor ## Run the test suite
	$(PY) -m pytest

lint: $(STAMP) ## ruff check + format check
	$(PY) -m ruff check pipeline tools tests
	$(PY) -m ruff format --check pipeline tools tests

typecheck: $(STAMP) ## mypy (strict) on pipeline/ and tools/
	$(PY) -m mypy

bench: $(STAMP) ## Benchmarks: every stage on real + generated data, against baselines
	$(PY) -m tools.bench --scales $(BENCH_SCALES) --seed $(BENCH_SEED) $(BENCH_OPTS)

clean: ## Remove outputs/ for PROVINCE (the download cache is kept)
	rm -rf outputs/$(PROVINCE)
