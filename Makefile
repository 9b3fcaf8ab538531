# pantheon.platform: `make demo` clones a small fleet against the local emulator;
# `make test` runs every test. Both set up what they need (hacking/setup-env.sh).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST := $(PY) -m pytest

.PHONY: setup test test-long reliability sanity matrix units integration emulator-tests lint docs demo build benchmark clean

setup:
	@bash hacking/setup-env.sh

test: setup
	@bash hacking/run-tests.sh

# the longer matrix left out of `make test` (pytest marker `long`): role-level kills of steps a
# module resumes on its own (make test kills those modules directly)
test-long: setup
	$(PYTEST) -n 2 --dist worksteal -m long --durations=30

# issue 11's reliability figures: the full fault profile (20 clones, marker `long`) and the bad-input
# table, then docs/reliability.md written from their results (hacking/reliability_report.py)
reliability: setup
	$(PYTEST) -n 2 --dist worksteal tests/integration/test_fault_profile.py tests/integration/test_bad_input.py --durations=10
	$(PY) hacking/reliability_report.py

sanity: setup
	@bash hacking/sanity.sh

# ansible-test sanity and the unit tests on the older supported ansible-core releases (.venv-<version>)
matrix: setup
	@bash hacking/matrix.sh

# ansible-lint --profile production on the whole collection (.ansible-lint, .yamllint)
lint: setup
	@PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(VENV)/bin/ansible-lint

# the documentation site (antsibull-docs + Sphinx, offline) in .tmp/docs/html
docs: setup
	@bash hacking/docs.sh

units: setup
	$(PYTEST) tests/unit

emulator-tests: setup
	$(PYTEST) tests/emulator

integration: setup
	$(PYTEST) tests/integration

demo: setup
	@bash hacking/demo.sh

build: setup
	$(VENV)/bin/ansible-galaxy collection build --force --output-path .tmp/dist

benchmark: setup
	@bash hacking/benchmark.sh

clean:
	rm -rf .tmp collections tests/output demo-output .ansible
