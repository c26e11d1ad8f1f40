#!/usr/bin/env bash
# Build the agent simulator package ds_agent (.rpm) with rpmbuild (Debian's `rpm` package); cached by the hash of
# its sources.  The payload and the maintainer scripts are the deb's (debian/, build_deb.sh): rpm runs them as
#   %post   (install $1=1, upgrade $1=2)  -> postinst configure
#   %preun  (erase $1=0 only)             -> prerm remove   (on an upgrade the old package's %preun runs after
#                                            the new %post: stopping the service there would stop the new agent)
#   %postun (erase $1=0 only)             -> postrm remove  (rpm has no purge: the data folder stays, as with
#                                            `dpkg -r`)
# Also builds tests/lab/.state/pkg/dsafl-debian-userland.noarch.rpm (rpm/dsafl-userland.spec), which the lab
# installs on an rpm host before the agent.  Prints the path of the agent's .rpm (last line).  Output: tests/lab/.state/pkg/ds_agent-<X.Y.Z>-<build>.x86_64.rpm, i.e. the agent
# version 20.0.0.7303 as rpm version 20.0.0, release 7303 (Trend's form ds_agent-10.0.0-2775.el7,
# tests/lab/EVIDENCE.md E15; the lab's one package for every rpm platform carries no .elN tag).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../lib/env.sh"
VERSION="${DSA_AGENT_VERSION:-20.0.0.7303}"
RPM_VERSION="${VERSION%.*}"; RPM_RELEASE="${VERSION##*.}"
# DSAFL_RPM_OUT: another output folder; DSAFL_AGENT_BROKEN=1: a daemon that exits at once (installs fine, never
# comes up: the reinstall Molecule scenarios' rollback test)
OUT="${DSAFL_RPM_OUT:-$LAB_STATE/pkg}"
BROKEN="${DSAFL_AGENT_BROKEN:-0}"
HASH="$( (cd "$HERE" && cat build_rpm.sh rpm/*.spec rpm/*.spec.in debian/* src/*; echo "$VERSION $BROKEN") | sha256sum | cut -c1-12)"
RPM="$OUT/ds_agent-${RPM_VERSION}-${RPM_RELEASE}.x86_64.rpm"
if [ -f "$RPM" ] && [ -f "$OUT/dsafl-debian-userland.noarch.rpm" ] && [ "$(cat "$OUT/.hash-rpm-$VERSION" 2>/dev/null)" = "$HASH" ]; then echo "$RPM"; exit 0; fi
command -v rpmbuild >/dev/null || { echo "build_rpm: rpmbuild not found (Debian package rpm: tests/lab/setup.sh)" >&2; exit 1; }
mkdir -p "$OUT" "$LAB_STATE/tmp"
TOP="$(mktemp -d "$LAB_STATE/tmp/rpm.XXXXXX")"
trap 'rm -rf "$TOP"' EXIT
STAGE="$TOP/stage"
install -d "$STAGE/opt/ds_agent" "$STAGE/usr/lib/systemd/system" "$STAGE/var/opt/ds_agent/dsa_core" \
    "$STAGE/var/opt/ds_agent/diag" "$TOP/SPECS" "$TOP/RPMS"
install -m 0644 "$HERE/debian/ds_agent.service" "$STAGE/usr/lib/systemd/system/ds_agent.service"
for prog in ds_agent dsa_control dsa_query; do     # sources are .py without a shebang (sanity rules)
    { echo '#!/usr/bin/python3'; cat "$HERE/src/$prog.py"; } > "$STAGE/opt/ds_agent/$prog"
    chmod 0755 "$STAGE/opt/ds_agent/$prog"
done
if [ "$BROKEN" = 1 ]; then
    printf '#!/bin/sh\necho "ds_agent: broken build" >&2\nexit 1\n' > "$STAGE/opt/ds_agent/ds_agent"
fi
echo "$VERSION" > "$STAGE/opt/ds_agent/version.txt"
chmod 0700 "$STAGE/var/opt/ds_agent/dsa_core"
# the deb's maintainer scripts, each given the argument dpkg would pass (their own `exit` ends the scriptlet)
scriptlet() {  # scriptlet SECTION CONDITION ARG SCRIPT
    printf '\n%s -p /bin/sh\n' "$1"
    printf 'if %s; then\nset -- %s\n' "$2" "$3"
    grep -v '^#!' "$4"
    printf 'fi\nexit 0\n'
}
{
    sed -e "s/@VERSION@/$RPM_VERSION/" -e "s/@RELEASE@/$RPM_RELEASE/" -e "s|@STAGE@|$STAGE|" \
        "$HERE/rpm/ds_agent.spec.in"
    scriptlet %post true configure "$HERE/debian/postinst"
    # shellcheck disable=SC2016  # "$1" belongs to the scriptlet (rpm's count of installed instances), not to this script
    scriptlet %preun '[ "$1" = 0 ]' remove "$HERE/debian/prerm"
    # shellcheck disable=SC2016
    scriptlet %postun '[ "$1" = 0 ]' remove "$HERE/debian/postrm"
} > "$TOP/SPECS/ds_agent.spec"
rpmbuild -bb --quiet --define "_topdir $TOP" --define "_rpmdir $TOP/RPMS" --define "_build_id_links none" \
    --define "__os_install_post %{nil}" --define "_binary_payload w9.gzdio" --define "_dbpath $TOP/db" \
    "$TOP/SPECS/ds_agent.spec" >"$TOP/build.log" 2>&1 || { cat "$TOP/build.log" >&2; exit 1; }
mv "$TOP/RPMS/x86_64/ds_agent-${RPM_VERSION}-${RPM_RELEASE}.x86_64.rpm" "$RPM"
# the rpm hosts' Debian userland as rpm sees it (rpm/dsafl-userland.spec): installed before the agent
rpmbuild -bb --quiet --define "_topdir $TOP" --define "_rpmdir $TOP/RPMS" --define "_dbpath $TOP/db" \
    "$HERE/rpm/dsafl-userland.spec" >"$TOP/build.log" 2>&1 || { cat "$TOP/build.log" >&2; exit 1; }
mv "$TOP/RPMS/noarch/dsafl-debian-userland-12-1.noarch.rpm" "$OUT/dsafl-debian-userland.noarch.rpm"
echo "$HASH" > "$OUT/.hash-rpm-$VERSION"
echo "$RPM"
