# Molecule scenarios of the firewall role (one per backend) on the lab image, podman driver.
# Included by the top Makefile:  include roles/firewall/molecule.mk
#   make test-molecule-firewall                      all four backends
#   make test-molecule-firewall FW_BACKENDS=nftables one of them
# Uses the lab's podman settings (tests/lab/lib/env.sh: runc, cgroupfs, ulimits, storage under
# tests/lab/.state) and its image (dsafl-base). Creates one --internal network of its own
# (no NAT, no forwarding, no firewall change on this machine) and removes it and every
# container afterwards, even on failure.
FW_BACKENDS ?= nftables iptables ufw firewalld
FW_NETWORK ?= dsafl-fw
FW_PREFIX ?= 10.231.201
FW_CACHE ?= $(abspath .)/.cache/dsafl-fw
FW_IMAGE ?= localhost/dsafl-base:latest

.PHONY: test-molecule-firewall clean-molecule-firewall

test-molecule-firewall: setup
	@set -euo pipefail; source tests/lab/lib/env.sh; lab_write_podman_conf >/dev/null; \
	export TMPDIR="$(FW_CACHE)/tmp" DSAFL_FW_CACHE="$(FW_CACHE)" DSAFL_FW_IMAGE="$(FW_IMAGE)" \
	       DSAFL_FW_NETWORK="$(FW_NETWORK)" DSAFL_FW_PREFIX="$(FW_PREFIX)"; \
	mkdir -p "$$TMPDIR" $(foreach b,$(FW_BACKENDS),"$(FW_CACHE)/debs-$(b)"); \
	podman image exists "$(FW_IMAGE)" || bash tests/lab/image/build.sh >/dev/null; \
	podman image exists "$(FW_IMAGE)" || { echo "no lab image $(FW_IMAGE) (set FW_IMAGE)"; exit 1; }; \
	if ip -4 -o addr | grep -v ' dsafl' | grep -q ' $(FW_PREFIX)\.'; then echo "$(FW_PREFIX).0/24 in use: set FW_PREFIX"; exit 1; fi; \
	cleanup() { for c in $(FW_BACKENDS); do podman rm -f -t 0 dsafl-fw-$$c-agent dsafl-fw-$$c-other >/dev/null 2>&1 || true; done; \
	            podman network rm -f "$(FW_NETWORK)" >/dev/null 2>&1 || true; }; \
	trap cleanup EXIT; rc=0; \
	for b in $(FW_BACKENDS); do \
	    cleanup; \
	    podman network create --internal --disable-dns --subnet "$(FW_PREFIX).0/24" --gateway "$(FW_PREFIX).1" \
	        "$(FW_NETWORK)" >/dev/null; \
	    start=$$(date +%s); \
	    if molecule test -s firewall_$$b; then r=ok; else r=FAILED; rc=1; fi; \
	    echo "molecule firewall_$$b: $$r in $$(( $$(date +%s) - start )) s"; \
	done; exit $$rc

clean-molecule-firewall:
	@source tests/lab/lib/env.sh; export TMPDIR="$(FW_CACHE)/tmp"; mkdir -p "$$TMPDIR"; \
	for b in $(FW_BACKENDS); do podman rm -f -t 0 dsafl-fw-$$b-agent dsafl-fw-$$b-other >/dev/null 2>&1 || true; done; \
	podman network rm -f "$(FW_NETWORK)" >/dev/null 2>&1 || true
