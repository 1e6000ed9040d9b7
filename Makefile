# promstack: `make synth` writes dist/, `make test` runs every test. Both bootstrap first.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := synth

VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
# Node 22 from package.json, ahead of any system Node, so cdk8s and jsii run on a supported one.
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)
# The cdk8s CLI's upgrade check asks the package registry for a newer CLI on every run (offline: a Node
# stack trace). The CLI reads every option from CDK8S_* variables; this one is --no-check-upgrade.
export CDK8S_CHECK_UPGRADE := false

.PHONY: bootstrap synth lint test promtool checkov checkov-report schema imports clean

bootstrap: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) -r requirements-dev.txt
	$(PIP) --no-deps -e .
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# `promstack synth` renders every cluster into its own folder under .build/ and swaps it into dist/
# only if the whole run succeeded (bad input leaves dist/ as it was). It is what the cdk8s app
# (main.py) runs under `cdk8s synth`, too (tests run both); called directly, it skips the CLI's Node
# start-up, which only launches the app and costs as much as importing cdk8s.
# PYTHONOPTIMIZE skips jsii's run-time type checks of every construct argument (mypy --strict and
# the test suite, which runs without it, check those types); bytecode is cached (some machines set
# PYTHONDONTWRITEBYTECODE) so repeat runs do not recompile the large generated bindings.
synth: bootstrap
	@PYTHONDONTWRITEBYTECODE= PYTHONOPTIMIZE=1 promstack synth

# promtool and amtool (Debian's prometheus and prometheus-alertmanager packages) check the rendered
# Prometheus and Alertmanager configuration and rules.
promtool:
	command -v promtool >/dev/null && command -v amtool >/dev/null || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    prometheus prometheus-alertmanager >/dev/null; }

# checkov (the Kubernetes policy scanner tests/validate/test_checkov.py runs over every cluster in
# dist/) in a virtualenv of its own: its many pinned dependencies would clash with the project's.
CHECKOV_VENV := .venv-checkov
checkov: $(CHECKOV_VENV)/.installed

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	python3 -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $@

# checkov's failed and skipped checks per object of every cluster in dist/, and its run time
# (bench/checkov_report.py --rev A --rev B compares two commits).
checkov-report: bootstrap checkov
	$(PY) bench/checkov_report.py

# ruff (lint, import order) and mypy (strict, pydantic plugin), as configured in pyproject.toml.
lint: bootstrap
	ruff check .
	mypy

# Lint and types, the gate over the committed dist/ and every tracked file, then the test suite.
test: lint promtool checkov
	promstack validate --tracked dist
	$(PY) -m pytest

schema: bootstrap
	promstack schema --output schema/cluster.schema.json

# Regenerate the typed CRD bindings listed under imports: in cdk8s.yaml (from crds/).
imports: bootstrap
	rm -rf imports
	cdk8s import --no-check-upgrade --language python --output imports

clean:
	rm -rf .build $(VENV) $(CHECKOV_VENV) node_modules
