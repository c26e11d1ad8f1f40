#!/usr/bin/env bash
# make demo: the main job on a simulated fleet. Brings up the lab (tests/lab: podman hosts with a
# simulated Deep Security Agent, a simulated manager, a proxy, and one fault per host), runs
# dsa.fleet.remediate against it (diagnose, fix what can be fixed, re-diagnose), prints the before/after
# summary and where the reports are. The lab stays up to look around; `make lab-down` removes it.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$ROOT/.collections" ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false
export ANSIBLE_FORKS="${ANSIBLE_FORKS:-10}"
REPORT_DIR="${DSA_FLEET_REPORT_DIR:-$ROOT/dsa-fleet-report}"
SPEC="${LAB_SPEC:-$ROOT/tests/lab/specs/all-faults.yml}"
INVENTORY="$ROOT/tests/lab/.state/inventory.yml"

echo "== 1/3 the lab fleet ($(basename "$SPEC")): one host per fault, plus healthy hosts"
tests/lab/lab up --spec "$SPEC"

echo "== 2/3 dsa.fleet.remediate: diagnose, apply the fixes the findings call for, re-diagnose"
rm -rf "$REPORT_DIR"
ansible-playbook -i "$INVENTORY" playbooks/remediate.yml -e @hack/lab-vars.yml \
    -e "dsa_fleet_report_dir=$REPORT_DIR" | tail -n 40

echo
echo "== 3/3 before and after"
cat "$REPORT_DIR/remediation.md"
echo
echo "reports:"
echo "  before:       $REPORT_DIR/before/report.html"
echo "  after:        $REPORT_DIR/after/report.html"
echo "  before/after: $REPORT_DIR/remediation.html"
echo "the lab is still up (tests/lab/lab status); remove it with: make lab-down"
