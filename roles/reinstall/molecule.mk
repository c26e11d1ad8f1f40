# roles/reinstall/molecule.mk: Molecule scenarios of the reinstall role (included by the top Makefile).
#   make test-molecule-reinstall [REINSTALL_SCENARIOS="reinstall_install reinstall_rollback"]
# Needs root (rootful podman, as the lab). Uses the lab's podman configuration (tests/lab/lib/env.sh), the lab image
# and agent package (built and cached by `tests/lab/lab image`), and an internal podman network of its own,
# dsafl-reinstall (10.231.207.0/24), created before and removed after. Each scenario runs its own manager simulator.
REINSTALL_MK_DIR := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
REINSTALL_ROOT := $(abspath $(REINSTALL_MK_DIR)/../..)
REINSTALL_SCENARIOS ?= reinstall_install reinstall_reinstall reinstall_rollback reinstall_uninstall
REINSTALL_NET ?= dsafl-reinstall
REINSTALL_SUBNET ?= 10.231.207.0/24
REINSTALL_GATEWAY ?= 10.231.207.1

.PHONY: test-molecule-reinstall
test-molecule-reinstall: SHELL := /bin/bash

test-molecule-reinstall:
	@set -euo pipefail; cd "$(REINSTALL_ROOT)"; \
	export PATH="$(REINSTALL_ROOT)/.venv/bin:$$PATH" ANSIBLE_COLLECTIONS_PATH="$(REINSTALL_ROOT)/.collections" \
	       ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false ANSIBLE_NOCOLOR=1; \
	source tests/lab/lib/env.sh; [ -f "$$CONTAINERS_CONF" ] || lab_write_podman_conf; mkdir -p "$$TMPDIR"; \
	image="$$(tests/lab/lab image)"; \
	export DSAFL_AGENT_DEB="$$(grep -E '/ds-agent_20[^/]*\.deb$$' <<<"$$image" | tail -n1)" \
	       DSAFL_AGENT_RPM="$$(grep -E '/ds_agent-20[^/]*\.rpm$$' <<<"$$image" | tail -n1)"; \
	[ -n "$$DSAFL_AGENT_DEB" ] && [ -n "$$DSAFL_AGENT_RPM" ] || { echo "tests/lab/lab image built no 20.x agent .deb and .rpm" >&2; exit 1; }; \
	if ! podman network exists $(REINSTALL_NET); then \
	    if ip -4 route | grep -q "^$(REINSTALL_SUBNET) "; then echo "subnet $(REINSTALL_SUBNET) is in use" >&2; exit 1; fi; \
	    podman network create --internal --disable-dns --subnet $(REINSTALL_SUBNET) --gateway $(REINSTALL_GATEWAY) $(REINSTALL_NET) >/dev/null; \
	fi; \
	trap 'podman network rm -f $(REINSTALL_NET) >/dev/null 2>&1 || true' EXIT; \
	mkdir -p "$(REINSTALL_ROOT)/.cache"; rc=0; for s in $(REINSTALL_SCENARIOS); do \
	    t0=$$(date +%s); \
	    if molecule test -s "$$s"; then r=passed; else r=FAILED; rc=1; fi; \
	    echo ">> molecule $$s: $$r in $$(( $$(date +%s) - t0 )) s" | tee -a "$(REINSTALL_ROOT)/.cache/molecule-reinstall-timings.txt"; \
	done; exit $$rc
