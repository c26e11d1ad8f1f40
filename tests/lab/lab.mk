# tests/lab/lab.mk: the lab's make targets; the top Makefile includes this file.
#   make lab-up [LAB_SPEC=tests/lab/specs/all-faults.yml | LAB_HOSTS=20 LAB_SEED=7]
#   make lab-status | make lab-down [LAB_PURGE=1] | make test-lab | make lab-image
# All need root (rootful podman).  See tests/lab/README.md.
LAB_DIR := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
LAB_CMD := $(LAB_DIR)/lab
LAB_SPEC ?= $(LAB_DIR)/specs/all-faults.yml
LAB_SEED ?= 1
LAB_PYTHON ?= $(abspath $(LAB_DIR)/../..)/.venv/bin/python

.PHONY: lab-up lab-down lab-status lab-image test-lab

lab-up:
	$(LAB_CMD) up $(if $(LAB_HOSTS),--hosts $(LAB_HOSTS) --seed $(LAB_SEED),--spec $(LAB_SPEC))

lab-down:
	$(LAB_CMD) down $(if $(filter 1 yes true,$(LAB_PURGE)),--purge)

lab-status:
	$(LAB_CMD) status

lab-image:
	$(LAB_CMD) image

# Brings up its own fleet (replacing a running lab), checks every fault, and takes it down.
test-lab:
	$(LAB_PYTHON) -m pytest -q -p no:cacheprovider $(LAB_DIR)/tests
