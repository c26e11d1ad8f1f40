# roles/activate/molecule.mk: Molecule scenarios of the activate and proxy roles; the top Makefile includes it.
#   make test-molecule-activate-proxy     extensions/molecule/{activate,proxy} on the lab (podman, lab image,
#                                         manager simulator, squid proxy). Uses a running lab as it is; when no
#                                         lab exists at all, brings one up (one host) and takes it down after.
#   MOL_AP_SCENARIOS="proxy" to run one of them.
MOL_AP_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))../..)
MOL_AP_LAB := $(MOL_AP_ROOT)/tests/lab
MOL_AP_SCENARIOS ?= activate proxy

.PHONY: test-molecule-activate-proxy

test-molecule-activate-proxy: setup
	@set -euo pipefail; \
	source "$(MOL_AP_LAB)/lib/env.sh"; [ -f "$$CONTAINERS_CONF" ] || lab_write_podman_conf; \
	facts="$$LAB_STATE/facts.json"; started=; \
	if ! podman container exists dsafl-manager || ! podman container exists dsafl-proxy || [ ! -f "$$facts" ]; then \
	    if [ -n "$$(podman ps -aq --filter label=dsafl.role)" ]; then \
	        echo "test-molecule-activate-proxy: a lab is being brought up or down right now; retry when 'make lab-status' shows it up" >&2; \
	        exit 1; \
	    fi; \
	    "$(MOL_AP_LAB)/lab" up --hosts 1; started=1; \
	fi; \
	trap '[ -z "$$started" ] || "$(MOL_AP_LAB)/lab" down' EXIT; \
	export DSAFL_LAB_FACTS="$$facts"; \
	export DSAFL_MANAGER_IP="$$(python -c 'import json,sys; print(json.load(open(sys.argv[1]))["manager"]["ip"])' "$$facts")"; \
	export DSAFL_PROXY_IP="$$(python -c 'import json,sys; print(json.load(open(sys.argv[1]))["proxy"]["ip"])' "$$facts")"; \
	cd "$(MOL_AP_ROOT)"; \
	for scenario in $(MOL_AP_SCENARIOS); do \
	    SECONDS=0; molecule test -s "$$scenario"; echo "molecule $$scenario: $$SECONDS s"; \
	done
