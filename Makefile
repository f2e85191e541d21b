# The two commands of the README. Each does its own set-up on a fresh machine:
# a .venv with the project and its test extras, and mosquitto from Debian's packages.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH):/usr/sbin

.PHONY: demo test mosquitto bench clean

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
