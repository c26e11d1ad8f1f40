# dsa.fleet: developer entry points. `make demo` and `make test` are the quick start.
SHELL := /bin/bash
ROOT := $(abspath .)
VENV := $(ROOT)/.venv
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(ROOT)/.collections
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH := false
export PYTHONPATH := $(ROOT)/.collections
export ANSIBLE_NOCOLOR := 1

.PHONY: setup lint sanity units functional test demo build changelog lab-up lab-down clean

setup:
	@bash hack/setup.sh

lint: setup
	ansible-lint --profile production

sanity: setup
	bash hack/sanity.sh

units: setup
	python -m pytest -q tests/unit

functional: setup
	python -m pytest -q tests/functional

test: lint sanity units functional

demo: setup
	bash hack/demo.sh

build: setup
	ansible-galaxy collection build --force --output-path .build/dist

changelog: setup
	antsibull-changelog lint

clean:
	rm -rf .build tests/output .pytest_cache
