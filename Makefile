# The two commands of the README. Each does its own set-up on a fresh machine:
# a .venv with the project and its test extras, and mosquitto from Debian's packages.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH):/usr/sbin

.PHONY: demo test mosquitto clean

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $@

mosquitto:
	@command -v mosquitto >/dev/null 2>&1 || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q mosquitto mosquitto-clients; }

demo: $(STAMP)
	$(VENV)/bin/borderwatch demo $(ARGS)

test: $(STAMP) mosquitto
	$(PY) -m pytest -q $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info runs

# The console's map library (Leaflet), vendored from the npm registry at build time into the
# package's gitignored static/vendor/: the page never loads anything from the internet.
LEAFLET_VERSION := 1.9.4
VENDOR          := borderwatch/console/static/vendor
VENDOR_STAMP    := $(VENDOR)/leaflet/leaflet.js
.PHONY: vendor browser
vendor: $(VENDOR_STAMP)
$(VENDOR_STAMP):
	@command -v npm >/dev/null 2>&1 || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q npm; }
	rm -rf $(VENDOR)/leaflet $(VENDOR)/package && mkdir -p $(VENDOR)
	cd $(VENDOR) && npm pack --silent leaflet@$(LEAFLET_VERSION) >/dev/null && tar -xzf leaflet-$(LEAFLET_VERSION).tgz \
		&& mv package/dist leaflet && rm -rf package leaflet-$(LEAFLET_VERSION).tgz
$(STAMP): | $(VENDOR_STAMP)

# Debian's chromium for the console's page tests (Playwright drives it; never `playwright install`).
browser:
	@test -x /usr/bin/chromium || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }
test: browser

# Resilience benchmarks (docs/operations.md): each starts its own mosquitto on a free port.
# QUICK=1 for the short forms (about a minute each).
.PHONY: bench-faults bench-garbage bench-load bench-pipeline bench-publish bench-gc
bench-faults: $(STAMP) mosquitto
	$(PY) benchmarks/faults.py $(if $(QUICK),--quick) $(ARGS)
bench-garbage: $(STAMP) mosquitto
	$(PY) benchmarks/garbage.py $(if $(QUICK),--quick) $(ARGS)
bench-load: $(STAMP) mosquitto
	$(PY) benchmarks/load.py $(if $(QUICK),--quick) $(ARGS)
bench-pipeline: $(STAMP)
	$(PY) benchmarks/pipeline_inprocess.py $(if $(QUICK),--duration 10) $(ARGS)
bench-publish: $(STAMP) mosquitto
	$(PY) benchmarks/publish_qos0.py $(if $(QUICK),--messages 5000) $(ARGS)
bench-gc: $(STAMP)
	$(PY) benchmarks/gc_pauses.py $(if $(QUICK),--duration 10) $(ARGS)

# Tracking, alerting, simulation and console benchmarks (benchmarks/README.md). QUICK=1 for short runs.
.PHONY: bench-tracker bench-fusion bench-alerts bench-sim bench-console
bench-tracker: $(STAMP)
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) benchmarks/tracker_vs_stonesoup.py $(if $(QUICK),--quick) $(ARGS)
bench-fusion: $(STAMP)
	$(PY) benchmarks/fusion_vs_single_sensor.py $(if $(QUICK),--quick) $(ARGS)
bench-alerts: $(STAMP)
	$(PY) benchmarks/alerting_scenarios.py $(ARGS)
bench-sim: $(STAMP)
	$(PY) benchmarks/bench_simulate.py $(ARGS)
bench-console: $(STAMP) browser mosquitto
	$(PY) benchmarks/console_load.py $(ARGS)
