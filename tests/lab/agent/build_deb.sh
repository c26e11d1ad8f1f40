#!/usr/bin/env bash
# Build the agent simulator package ds-agent (.deb) with dpkg-deb; cached by the hash of its sources.
# Prints the path of the .deb.  Output: tests/lab/.state/pkg/ds-agent_<version>_amd64.deb
# DSA_AGENT_VERSION picks the agent generation (10.x or 20.x: the daemon reads it from version.txt); the lab
# builds one package per generation (tests/lab/lib/labctl.py, AGENT_VERSIONS).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../lib/env.sh"
VERSION="${DSA_AGENT_VERSION:-20.0.0.7303}"
OUT="$LAB_STATE/pkg"
HASH="$( (cd "$HERE" && cat build_deb.sh debian/* src/*; echo "$VERSION") | sha256sum | cut -c1-12)"
DEB="$OUT/ds-agent_${VERSION}_amd64.deb"
if [ -f "$DEB" ] && [ "$(cat "$OUT/.hash-$VERSION" 2>/dev/null)" = "$HASH" ]; then echo "$DEB"; exit 0; fi
mkdir -p "$OUT"
ROOT="$(mktemp -d "$LAB_STATE/tmp/deb.XXXXXX")"
trap 'rm -rf "$ROOT"' EXIT
chmod 0755 "$ROOT"
install -d "$ROOT/DEBIAN" "$ROOT/opt/ds_agent" "$ROOT/lib/systemd/system" \
    "$ROOT/var/opt/ds_agent/dsa_core" "$ROOT/var/opt/ds_agent/diag"
sed "s/@VERSION@/$VERSION/" "$HERE/debian/control" > "$ROOT/DEBIAN/control"
install -m 0755 "$HERE/debian/postinst" "$HERE/debian/prerm" "$HERE/debian/postrm" "$ROOT/DEBIAN/"
install -m 0644 "$HERE/debian/ds_agent.service" "$ROOT/lib/systemd/system/ds_agent.service"
for prog in ds_agent dsa_control dsa_query; do     # sources are .py without a shebang (sanity rules)
    { echo '#!/usr/bin/python3'; cat "$HERE/src/$prog.py"; } > "$ROOT/opt/ds_agent/$prog"
    chmod 0755 "$ROOT/opt/ds_agent/$prog"
done
echo "$VERSION" > "$ROOT/opt/ds_agent/version.txt"
chmod 0700 "$ROOT/var/opt/ds_agent/dsa_core"
dpkg-deb --root-owner-group -Zgzip --build "$ROOT" "$DEB" >/dev/null
echo "$HASH" > "$OUT/.hash-$VERSION"
echo "$DEB"
