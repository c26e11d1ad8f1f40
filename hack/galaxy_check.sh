#!/usr/bin/env bash
# The checks a maintainer and Galaxy run on the built collection (make galaxy-check):
#   1. galaxy-importer (what Galaxy runs on upload) on the tarball, with its ansible-test run off (that
#      one needs a container); any ERROR or WARNING line fails.
#   2. ansible-lint, production profile, on the tarball extracted as ansible_collections/dsa/fleet
#      (its .ansible-lint travels in the tarball).
#   3. antsibull-docs lint-collection-docs --plugin-docs on the same extracted copy.
# Leaves the tarball in .build/galaxy/dist and the importer's result in .build/galaxy/importer_result.json.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/.build/galaxy"
rm -rf "$OUT"
mkdir -p "$OUT/dist" "$OUT/collections/ansible_collections/dsa"
ansible-galaxy collection build --force --output-path "$OUT/dist" "$ROOT" >/dev/null
TARBALL="$(ls "$OUT"/dist/dsa-fleet-*.tar.gz)"
echo "galaxy-check: $TARBALL"

# --- 1. galaxy-importer -------------------------------------------------------------------------
cat > "$OUT/galaxy-importer.cfg" <<CFG
[galaxy-importer]
run_ansible_test = False
run_ansible_lint = True
offline_ansible_lint = True
run_ansible_doc = True
check_changelog = True
check_required_tags = True
CFG
(
    cd "$OUT"
    GALAXY_IMPORTER_CONFIG="$OUT/galaxy-importer.cfg" python -m galaxy_importer.main "$TARBALL" \
        > "$OUT/importer.log" 2>&1
) || { cat "$OUT/importer.log"; echo "galaxy-check: galaxy-importer failed" >&2; exit 1; }
grep -v '^Loading ' "$OUT/importer.log"
if grep -qE '^(WARNING|ERROR):' "$OUT/importer.log"; then
    echo "galaxy-check: galaxy-importer reported warnings or errors (above)" >&2
    exit 1
fi

# --- 2. ansible-lint on the extracted tarball ---------------------------------------------------
DEST="$OUT/collections/ansible_collections/dsa/fleet"
mkdir -p "$DEST"
tar -xzf "$TARBALL" -C "$DEST"
# the dependencies (ansible.posix, community.general, ansible.utils) from .collections, not this tree
for ns in "$ROOT"/.collections/ansible_collections/*; do
    [[ "$(basename "$ns")" == dsa ]] || ln -sfn "$ns" "$OUT/collections/ansible_collections/$(basename "$ns")"
done
export ANSIBLE_COLLECTIONS_PATH="$OUT/collections"
(cd "$DEST" && ansible-lint --nocolor)

# --- 3. the docs lint, as antsibull-docs sees the published collection --------------------------
antsibull-docs lint-collection-docs --plugin-docs "$DEST"
echo "galaxy-check: docs lint passed"
