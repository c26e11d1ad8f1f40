#!/bin/sh
# shellcheck disable=SC2016  # the dpkg-query/dpkg-deb format strings are meant literally
# dsa.fleet reinstall role helper (runs on the managed host, POSIX sh, no dependencies beyond dpkg/rpm).
# FORMAT (deb, rpm or none) is the package format dsa.fleet.agent_info decided for this host (package_format):
# this helper never decides it again.
#   status FORMAT                     package state as one JSON line: format, state, status, version, arch
#   pkginfo FILE                      name, version, arch of a package file as one JSON line
#   repack FORMAT OUTDIR              rebuild the installed ds-agent .deb from its installed files (deb only),
#                                     only when `dpkg --verify` finds every file intact; prints the file's path
#   remove FORMAT PURGE FORCE_SCRIPTS remove ds-agent / ds_agent, coping with a half-installed package;
#                                     FORCE_SCRIPTS=1 allows setting a failing prerm script aside (never when the
#                                     agent refuses because of self-protection)
set -u
DEB=ds-agent
RPM=ds_agent
FMT=none

set_fmt() {
    case "${1:-}" in
        deb|rpm|none) FMT=$1 ;;
        *) echo "dsa_fleet_pkg.sh: FORMAT must be deb, rpm or none (agent_info's package_format), got '${1:-}'" >&2; exit 2 ;;
    esac
}

json_str() { printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' | tr -d '\n\r')"; }

status() {
    f=$FMT; state=absent; raw=""; ver=""; arch=""
    if [ "$f" = deb ]; then
        out=$(dpkg-query -W -f '${Status}|${Version}|${Architecture}\n' "$DEB" 2>/dev/null | head -n1)
        if [ -n "$out" ]; then
            raw=${out%%|*}; rest=${out#*|}; ver=${rest%%|*}; arch=${rest#*|}
            case "$raw" in
                *" ok installed") state=installed ;;
                *" not-installed") state=absent ;;
                *" config-files") state=config-files ;;
                *) state=half-installed ;;
            esac
        fi
    elif [ "$f" = rpm ]; then
        if out=$(rpm -q --qf '%{VERSION}-%{RELEASE}|%{ARCH}\n' "$RPM" 2>/dev/null) && [ -n "$out" ]; then
            n=$(printf '%s\n' "$out" | wc -l)
            out=$(printf '%s\n' "$out" | tail -n1)
            ver=${out%%|*}; arch=${out#*|}; raw="installed"; state=installed
            [ "$n" -gt 1 ] && { state=half-installed; raw="$n versions in the rpm database"; }
        fi
    fi
    printf '{"pkg_format": %s, "state": %s, "status": %s, "version": %s, "arch": %s}\n' \
        "$(json_str "$f")" "$(json_str "$state")" "$(json_str "$raw")" "$(json_str "$ver")" "$(json_str "$arch")"
}

pkginfo() {
    file=$1
    case "$file" in
        *.rpm) out=$(rpm -qp --qf '%{NAME}|%{VERSION}-%{RELEASE}|%{ARCH}' "$file" 2>&1) || { echo "not an rpm package: $out" >&2; exit 2; } ;;
        *) out=$(dpkg-deb -W --showformat '${Package}|${Version}|${Architecture}' "$file" 2>&1) || { echo "not a deb package: $out" >&2; exit 2; } ;;
    esac
    name=${out%%|*}; rest=${out#*|}; ver=${rest%%|*}; arch=${rest#*|}
    printf '{"name": %s, "version": %s, "arch": %s}\n' "$(json_str "$name")" "$(json_str "$ver")" "$(json_str "$arch")"
}

repack() {
    out=$1
    [ "$FMT" = deb ] || { echo "repack: only deb packages can be rebuilt from installed files" >&2; exit 3; }
    dpkg-query -W -f '${Status}' "$DEB" 2>/dev/null | grep -q ' ok installed$' \
        || { echo "repack: $DEB is not fully installed" >&2; exit 3; }
    bad=$(dpkg --verify "$DEB" 2>&1)
    if [ -n "$bad" ]; then
        echo "repack: installed files of $DEB differ from the package, a rebuilt package would not be the working agent:" >&2
        printf '%s\n' "$bad" | head -n 20 >&2
        exit 3
    fi
    ver=$(dpkg-query -W -f '${Version}' "$DEB"); arch=$(dpkg-query -W -f '${Architecture}' "$DEB")
    root=$(mktemp -d) || exit 4
    trap 'rm -rf "$root"' EXIT
    mkdir -p "$root/DEBIAN"
    dpkg-query -L "$DEB" | while IFS= read -r p; do
        [ -z "$p" ] || [ "$p" = "/." ] && continue
        if [ -L "$p" ] || [ -f "$p" ]; then
            mkdir -p "$root$(dirname "$p")"; cp -a "$p" "$root$p"
        elif [ -d "$p" ]; then
            mkdir -p "$root$p"; chmod --reference="$p" "$root$p"
        fi
    done
    # the control file: the package's own fields, without the database's Status line
    dpkg-query -s "$DEB" | awk '
        /^[A-Za-z-]+:/ { f=$1; keep = (f !~ /^(Status|Conffiles|Config-Version):$/) }
        keep { print }' > "$root/DEBIAN/control"
    for s in preinst postinst prerm postrm config templates triggers shlibs symbols conffiles; do
        src=/var/lib/dpkg/info/$DEB.$s
        [ -f "$src" ] && cp -a "$src" "$root/DEBIAN/$s"
    done
    mkdir -p "$out"
    file="$out/${DEB}_$(printf '%s' "$ver" | tr ':' '_')_${arch}.deb"
    dpkg-deb --root-owner-group -Zgzip --build "$root" "$file" >/dev/null || exit 4
    echo "$file"
}

remove() {
    purge=$1; force_scripts=$2
    f=$FMT
    if [ "$f" = deb ]; then
        act=--remove; [ "$purge" = 1 ] && act=--purge
        st=$(dpkg-query -W -f '${Status}' "$DEB" 2>/dev/null || true)
        case "$st" in ""|*" not-installed") echo "step: $DEB is not installed"; echo "result: absent"; return 0 ;; esac
        case "$st" in *" config-files") [ "$purge" = 1 ] || { echo "step: only configuration files left"; echo "result: absent"; return 0; } ;; esac
        echo "step: dpkg $act $DEB (status: $st)"
        if out=$(dpkg $act "$DEB" 2>&1); then echo "result: removed"; return 0; fi
        printf '%s\n' "$out" | sed 's/^/  dpkg: /'
        if printf '%s' "$out" | grep -qi 'self-protection\|self protection'; then
            echo "result: refused by the agent's self-protection"; return 5
        fi
        echo "step: dpkg $act --force-remove-reinstreq $DEB"
        if out=$(dpkg $act --force-remove-reinstreq "$DEB" 2>&1); then echo "result: removed"; return 0; fi
        printf '%s\n' "$out" | sed 's/^/  dpkg: /'
        if [ "$force_scripts" = 1 ] && [ -f "/var/lib/dpkg/info/$DEB.prerm" ]; then
            echo "step: the package's prerm script fails: set aside as /var/lib/dpkg/info/$DEB.prerm.dsa_fleet"
            mv "/var/lib/dpkg/info/$DEB.prerm" "/var/lib/dpkg/info/$DEB.prerm.dsa_fleet"
            echo "step: dpkg $act --force-remove-reinstreq $DEB"
            if out=$(dpkg $act --force-remove-reinstreq "$DEB" 2>&1); then
                rm -f "/var/lib/dpkg/info/$DEB.prerm.dsa_fleet"; echo "result: removed"; return 0
            fi
            printf '%s\n' "$out" | sed 's/^/  dpkg: /'
        fi
        echo "result: failed"; return 1
    elif [ "$f" = rpm ]; then
        rpm -q "$RPM" >/dev/null 2>&1 || { echo "step: $RPM is not installed"; echo "result: absent"; return 0; }
        echo "step: rpm -ev --allmatches $RPM"
        if out=$(rpm -ev --allmatches "$RPM" 2>&1); then echo "result: removed"; return 0; fi
        printf '%s\n' "$out" | sed 's/^/  rpm: /'
        if printf '%s' "$out" | grep -qi 'self-protection\|self protection'; then
            echo "result: refused by the agent's self-protection"; return 5
        fi
        if [ "$force_scripts" = 1 ]; then
            echo "step: rpm -ev --allmatches --noscripts $RPM"
            if out=$(rpm -ev --allmatches --noscripts "$RPM" 2>&1); then echo "result: removed"; return 0; fi
            printf '%s\n' "$out" | sed 's/^/  rpm: /'
        fi
        echo "result: failed"; return 1
    fi
    echo "result: no package format for this host (neither dpkg nor rpm)"; return 1
}

cmd=${1:-}; shift || true
case "$cmd" in
    status) set_fmt "${1:-}"; status ;;
    pkginfo) pkginfo "$1" ;;
    repack) set_fmt "${1:-}"; repack "${2:-}" ;;
    remove) set_fmt "${1:-}"; remove "${2:-0}" "${3:-0}" ;;
    *) echo "usage: $0 status FORMAT | pkginfo FILE | repack FORMAT OUTDIR | remove FORMAT PURGE FORCE_SCRIPTS" >&2; exit 2 ;;
esac
