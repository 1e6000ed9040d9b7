# promstack: `make synth` writes dist/, `make test` runs every test. Both bootstrap first.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := synth

VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
# Node 22 from package.json, ahead of any system Node, so cdk8s and jsii run on a supported one.
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: bootstrap synth test promtool schema imports clean

bootstrap: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) -r requirements-dev.txt
	$(PIP) --no-deps -e .
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# cdk8s synth empties its output folder before the app runs, so it writes into .build/ and
# dist/ is swapped in only after a successful run: bad input leaves dist/ untouched.
synth: bootstrap
	rm -rf .build/dist .build/dist.old
	mkdir -p .build
	# On failure show promstack's own lines (file: field: problem; fix), not the CLI's Node stack trace.
	cdk8s synth --no-check-upgrade --output .build/dist > .build/synth.log 2>&1 || { \
	  grep '^promstack: ' .build/synth.log || cat .build/synth.log; exit 1; }
	grep '^promstack: ' .build/synth.log || true
	if [ -d dist ]; then mv dist .build/dist.old; fi
	mv .build/dist dist
	rm -rf .build/dist.old

# promtool and amtool (Debian's prometheus and prometheus-alertmanager packages) check the rendered
# Prometheus and Alertmanager configuration and rules.
promtool:
	command -v promtool >/dev/null && command -v amtool >/dev/null || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    prometheus prometheus-alertmanager >/dev/null; }

# The gate over the committed dist/ and every tracked file, then the test suite.
test: bootstrap promtool
	promstack validate --tracked dist
	$(PY) -m pytest

schema: bootstrap
	promstack schema --output schema/cluster.schema.json

# Regenerate the typed CRD bindings listed under imports: in cdk8s.yaml (from crds/).
imports: bootstrap
	rm -rf imports
	cdk8s import --no-check-upgrade --language python --output imports

clean:
	rm -rf .build $(VENV) node_modules
