# dsa.fleet: developer entry points. `make demo` and `make test` are the quick start (README.md).
SHELL := /bin/bash
ROOT := $(abspath .)
VENV := $(ROOT)/.venv
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(ROOT)/.collections
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH := false
export PYTHONPATH := $(ROOT)/.collections
export ANSIBLE_NOCOLOR := 1
PYTEST := python -m pytest -q -p no:cacheprovider

.PHONY: setup lint sanity units functional pytest hostile test-e2e test-molecule test demo build changelog clean \
	galaxy-check host-python ee test-ee docs

# DSAFL_SETUP_DONE=1: setup already ran in this `make test` (hack/test.sh), so its parallel lanes skip it
setup:
	@[ -n "$(DSAFL_SETUP_DONE)" ] || bash hack/setup.sh

lint: setup
	ansible-lint

sanity: setup
	bash hack/sanity.sh

# the built tarball as Galaxy sees it: galaxy-importer (its ansible-test run off), ansible-lint on the
# extracted tarball, antsibull-docs lint-collection-docs --plugin-docs (hack/galaxy_check.sh)
galaxy-check: setup
	bash hack/galaxy_check.sh

# host-side code (modules, module_utils) runs on the oldest Python the docs claim; requires_ansible
# matches the oldest ansible-core they claim (tests/unit/test_host_python.py)
host-python: setup
	$(PYTEST) tests/unit/test_host_python.py

# unit tests (recorded CLI output, engine tables, filters) and module tests (real `ansible` runs on
# localhost against a fake agent and loopback servers), plus the report page in headless Chromium
units: setup
	$(PYTEST) tests/unit

functional: setup
	$(PYTEST) tests/functional tests/realworld tests/report

pytest: setup
	$(PYTEST) tests/unit tests/functional tests/realworld tests/report

# the hostile-input suite (tests/hostile/cases.yml): every case one real ansible run on localhost under a
# timeout and a memory cap; nothing on the machine changes (scratch copies of system files only)
hostile: setup
	$(PYTEST) tests/hostile

# the lab fleet end to end: diagnose and remediate (tests/e2e; brings up its own lab fleet)
test-e2e: setup
	$(PYTEST) -s tests/e2e

# Molecule scenarios of the roles, on the lab image (podman)
test-molecule: test-molecule-activate-proxy test-molecule-firewall test-molecule-reinstall

# Every suite (hack/test.sh): static checks and the tests that need no podman side by side with the Molecule
# suites that use podman networks of their own; then the lab, the fleet, the EE and the lab-using roles' scenarios.
test:
	@bash hack/test.sh

# the execution environment (ee/execution-environment.yml), built with ansible-builder on podman from the
# lab's Debian image, offline; cached by its inputs. Uses the lab's podman: one lab-using target at a time.
ee: setup
	bash hack/ee.sh

# ansible-navigator runs the diagnose playbook inside the EE against lab hosts (tests/ee; brings up its own lab)
test-ee: setup
	$(PYTEST) -s tests/ee

demo: setup
	bash hack/demo.sh

# the docs site: antsibull-docs (every module, filter, role) + the guides (docs/*.md); .build/docs/build/html
docs: setup
	bash hack/docs.sh

build: setup
	ansible-galaxy collection build --force --output-path .build/dist

changelog: setup
	antsibull-changelog lint

clean:
	rm -rf .build tests/output

include tests/lab/lab.mk
include roles/activate/molecule.mk
include roles/firewall/molecule.mk
include roles/reinstall/molecule.mk
include bench/bench.mk
