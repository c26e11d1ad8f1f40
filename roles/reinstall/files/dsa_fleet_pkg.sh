#!/bin/sh
# shellcheck disable=SC2016  # the dpkg-query/dpkg-deb format strings are meant literally
# dsa.fleet reinstall role helper (runs on the managed host, POSIX sh, no dependencies beyond dpkg/rpm).
# FORMAT (deb, rpm or none) is the package format dsa.fleet.agent_info decided for this host (package_format):
# this helper never decides it again.
#   pkginfo FILE                      name, version, arch of a package file as one JSON line
#   repack FORMAT OUTDIR              rebuild the installed ds-agent .deb from its installed files (deb only),
#                                     only when `dpkg --verify` finds every file intact; prints the file's path
#   keep FORMAT OUTDIR [CACHED]       keep the installed package for rollback in OUTDIR (made, mode 0700): a copy
#                                     of the cache's file CACHED when there is one, else repack's rebuild; prints
#                                     "how: cache" or "how: rebuilt", then the kept file's path
#   remove FORMAT PURGE FORCE_SCRIPTS remove ds-agent / ds_agent, coping with a half-installed package;
#                                     FORCE_SCRIPTS=1 allows setting a failing prerm script aside (never when the
#                                     agent refuses because of self-protection)
#   backup DIR DATA_DIR KEEP [RECORD] make the run's backup folder DIR (mode 0700), save DATA_DIR's diag/,
#                                     dsa_core/ds_agent.config and dsa_fleet/ in DIR/ds_agent-data.tar.gz (once;
#                                     what is missing is left out), write RECORD (base64, so that no quoting can
#                                     break it) decoded to DIR/reinstall.json, then keep the newest KEEP run
#                                     folders (YYYYMMDDTHHMMSSZ) beside DIR, DIR among them (0 keeps all)
#   cache NEW DIR NAME EXT CACHENAME KEEP
#                                     move the installed package file NEW to DIR/CACHENAME, then keep the newest
#                                     KEEP files DIR/NAME_*.EXT (by mtime), CACHENAME among them
# Each change is printed as one line (created:, saved:, removed:, kept:), which the role reads as "changed".
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

keep() {
    out=${1%/}; cached=${2:-}
    absolute OUTDIR "$out"
    umask 077
    mkdir -p "$out" || exit 4
    if [ -n "$cached" ] && [ -f "$cached" ]; then
        cp "$cached" "$out/" || exit 4
        echo "how: cache"
        echo "$out/$(basename "$cached")"
        return 0
    fi
    [ -z "$cached" ] || echo "keep: no copy of the installed package in the package cache ($cached)" >&2
    kept=$(repack "$out") || exit $?
    echo "how: rebuilt"
    echo "$kept"
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

whole_number() {
    case "$2" in ''|*[!0-9]*) echo "dsa_fleet_pkg.sh: $1 must be a whole number, got '$2'" >&2; exit 2 ;; esac
}

absolute() {
    case "$2" in /*) ;; *) echo "dsa_fleet_pkg.sh: $1 must be an absolute path, got '$2'" >&2; exit 2 ;; esac
}

backup() {
    dir=${1%/}; data=${2%/}; keep=$3; record=${4:-}
    absolute DIR "$dir"; absolute DATA_DIR "$data"; whole_number KEEP "$keep"
    case "$record" in *[!A-Za-z0-9+/=]*) echo "dsa_fleet_pkg.sh: RECORD must be base64" >&2; exit 2 ;; esac
    umask 077
    if [ ! -d "$dir" ]; then
        mkdir -p "$dir" || exit 4
        echo "created: $dir"
    fi
    chmod 0700 "$dir" || exit 4
    tarball=$dir/ds_agent-data.tar.gz
    if [ ! -e "$tarball" ]; then
        rel=${data#/}
        # --ignore-failed-read: what is missing (a never-activated agent has no diag/) is a warning, not a failure
        if ! out=$(tar --ignore-failed-read -czf "$tarball" -C / "$rel/diag" "$rel/dsa_core/ds_agent.config" \
                "$rel/dsa_fleet" 2>&1); then
            printf '%s\n' "$out" >&2
            rm -f "$tarball"; exit 4
        fi
        [ -z "$out" ] || printf '%s\n' "$out"
        echo "saved: $tarball"
    fi
    if [ -n "$record" ]; then
        printf '%s' "$record" | base64 -d > "$dir/reinstall.json.tmp" 2>/dev/null \
            || { rm -f "$dir/reinstall.json.tmp"; echo "dsa_fleet_pkg.sh: RECORD is not valid base64" >&2; exit 2; }
        mv -f "$dir/reinstall.json.tmp" "$dir/reinstall.json" || exit 4
        echo "saved: $dir/reinstall.json"
    fi
    [ "$keep" -gt 0 ] || return 0
    parent=$(dirname "$dir"); this=$(basename "$dir")
    # the folders are named by their UTC time, so the names sort by age (a glob expands sorted)
    set -- "$parent"/[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z
    n=0
    for old in "$@"; do [ -d "$old" ] && n=$((n + 1)); done
    drop=$((n - keep))
    for old in "$@"; do
        [ "$drop" -gt 0 ] || break
        [ -d "$old" ] || continue
        drop=$((drop - 1))
        [ "$(basename "$old")" = "$this" ] && continue
        rm -rf "$old" && echo "removed: $old"
    done
}

cache() {
    new=$1; dir=${2%/}; name=$3; ext=$4; cname=$5; keep=$6
    absolute NEW "$new"; absolute DIR "$dir"; whole_number KEEP "$keep"
    case "$cname" in ''|*/*) echo "dsa_fleet_pkg.sh: CACHENAME must be a file name, got '$cname'" >&2; exit 2 ;; esac
    mv -f "$new" "$dir/$cname" || exit 4
    echo "kept: $dir/$cname"
    i=0
    # newest first; the KEEP newest stay, and the package just installed in any case (the names are the
    # role's own NAME_VERSION_ARCH.EXT, so ls can list them)
    # shellcheck disable=SC2012
    ls -1t "$dir" | while IFS= read -r f; do
        case "$f" in "$name"_*."$ext") ;; *) continue ;; esac
        [ -f "$dir/$f" ] || continue
        i=$((i + 1))
        [ "$i" -le "$keep" ] || [ "$f" = "$cname" ] && continue
        rm -f "$dir/$f" && echo "removed: $dir/$f"
    done
}

cmd=${1:-}; shift || true
case "$cmd" in
    pkginfo) pkginfo "$1" ;;
    repack) set_fmt "${1:-}"; repack "${2:-}" ;;
    keep) set_fmt "${1:-}"; keep "${2:-}" "${3:-}" ;;
    remove) set_fmt "${1:-}"; remove "${2:-0}" "${3:-0}" ;;
    backup) backup "${1:-}" "${2:-}" "${3:-}" "${4:-}" ;;
    cache) cache "${1:-}" "${2:-}" "${3:-}" "${4:-}" "${5:-}" "${6:-}" ;;
    *) echo "usage: $0 pkginfo FILE | repack FORMAT OUTDIR | keep FORMAT OUTDIR [CACHED]" \
            "| remove FORMAT PURGE FORCE_SCRIPTS" \
            "| backup DIR DATA_DIR KEEP [RECORD] | cache NEW DIR NAME EXT CACHENAME KEEP" >&2; exit 2 ;;
esac
