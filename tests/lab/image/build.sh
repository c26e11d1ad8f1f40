#!/usr/bin/env bash
# Build the lab's base image dsafl-base:<recipe-hash> with debootstrap + podman import.
# Cached: does nothing when an image for the current recipe exists.
# The Debian mirror is taken from this machine's apt configuration (never written here).
set -euo pipefail
source "$(dirname "$0")/../lib/env.sh"
lab_write_podman_conf

SUITE=bookworm
PACKAGES=(systemd systemd-sysv python3 python3-apt openssh-server nftables iptables iproute2
          tinyproxy squid ca-certificates procps openssl curl netbase less tzdata rpm libfaketime)

# --- the machine's Debian mirror (deb822 .sources or one-line .list) --------------------------
mirror_of_machine() {
    python3 - "$SUITE" <<'PY'
import glob, re, sys
suite = sys.argv[1]
files = ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")) \
        + sorted(glob.glob("/etc/apt/sources.list.d/*.sources"))
for f in files:
    try:
        text = open(f).read()
    except OSError:
        continue
    if f.endswith(".sources"):
        for stanza in re.split(r"\n\s*\n", text):
            fields = {}
            for line in stanza.splitlines():
                m = re.match(r"^([A-Za-z-]+):\s*(.*)$", line)
                if m:
                    fields[m.group(1).lower()] = m.group(2).split()
            if "deb" in fields.get("types", []) and suite in fields.get("suites", []) \
                    and fields.get("enabled", ["yes"])[0] != "no":
                print(fields["uris"][0]); sys.exit(0)
    else:
        for line in text.splitlines():
            p = re.sub(r"\[[^]]*\]", "", line).split()
            if len(p) >= 3 and p[0] == "deb" and p[2] == suite:
                print(p[1]); sys.exit(0)
sys.exit("no Debian %s mirror found in the machine's apt sources" % suite)
PY
}
MIRROR="$(mirror_of_machine)"

RECIPE_HASH="$( { cat "$0"; echo "$MIRROR"; } | sha256sum | cut -c1-12)"
IMAGE="dsafl-base:$RECIPE_HASH"
if podman image exists "$IMAGE"; then
    podman tag "$IMAGE" dsafl-base:latest
    echo "$IMAGE"; exit 0
fi

start=$(date +%s)
BUILD="$LAB_STATE/build/rootfs-$RECIPE_HASH"
CACHE="$LAB_STATE/cache/debs"
rm -rf "$BUILD"; mkdir -p "$BUILD" "$CACHE"
echo ">> debootstrap $SUITE (minbase + ${#PACKAGES[@]} packages)" >&2
debootstrap --variant=minbase --cache-dir="$CACHE" --include="$(IFS=,; echo "${PACKAGES[*]}")" \
    "$SUITE" "$BUILD" "$MIRROR" >"$LAB_STATE/build/debootstrap.log" 2>&1 \
    || { tail -30 "$LAB_STATE/build/debootstrap.log" >&2; exit 1; }

# --- apt inside the image: the same sources as this machine (Debian ones only) ----------------
rm -f "$BUILD/etc/apt/sources.list"
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    grep -q "$SUITE" "$f" || continue
    grep -qi 'signed-by' "$f" && ! grep -q 'debian-archive-keyring' "$f" && continue
    cp "$f" "$BUILD/etc/apt/${f#/etc/apt/}"
done
grep -hE '^\s*Acquire::Check-(Valid-Until|Date)' /etc/apt/apt.conf.d/* 2>/dev/null \
    > "$BUILD/etc/apt/apt.conf.d/99dsafl-mirror" || true

# --- a host that boots fast and small under podman -------------------------------------------
R="$BUILD"
for u in tinyproxy.service apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer \
         dpkg-db-backup.timer systemd-timesyncd.service getty@tty1.service console-getty.service \
         systemd-update-utmp.service systemd-update-utmp-runlevel.service nftables.service \
         ssh.socket squid.service; do
    chroot "$R" systemctl disable "$u" >/dev/null 2>&1 || true
done
for u in systemd-udevd.service systemd-udev-trigger.service systemd-random-seed.service \
         getty.target console-getty.service systemd-logind.service \
         systemd-hwdb-update.service systemd-journal-flush.service ldconfig.service \
         systemd-firstboot.service tinyproxy.service squid.service; do
    ln -sf /dev/null "$R/etc/systemd/system/$u"
done
chroot "$R" systemctl enable ssh.service >/dev/null 2>&1
mkdir -p "$R/etc/systemd/journald.conf.d"
printf '[Journal]\nStorage=volatile\nRuntimeMaxUse=8M\nForwardToConsole=no\n' \
    > "$R/etc/systemd/journald.conf.d/dsafl.conf"
mkdir -p "$R/etc/systemd/system.conf.d"
printf '[Manager]\nDefaultTimeoutStopSec=5s\nDefaultTasksMax=4096\n' > "$R/etc/systemd/system.conf.d/dsafl.conf"
cat > "$R/etc/ssh/sshd_config.d/dsafl.conf" <<'SSHD'
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
MaxStartups 200:30:400
MaxSessions 50
SSHD
install -d -m 0700 "$R/root/.ssh"
# rpm hosts (tests/lab/README.md): one rpm database for every user, where RHEL keeps it (Debian's rpm defaults to
# ~/.rpmdb); a host is made rpm-native at provisioning (its os-release), the database stays empty until then
mkdir -p "$R/etc/rpm" "$R/var/lib/rpm"
echo '%_dbpath /var/lib/rpm' > "$R/etc/rpm/macros"
# the empty nft ruleset Debian ships (a host without a firewall)
printf '#!/usr/sbin/nft -f\nflush ruleset\n' > "$R/etc/nftables.conf"
echo "dsafl-host" > "$R/etc/hostname"
: > "$R/etc/machine-id"
rm -rf "$R"/var/cache/apt/archives/*.deb "$R"/var/lib/apt/lists/* "$R"/usr/share/doc/* "$R"/usr/share/man/*
mkdir -p "$R/usr/share/doc/.keep"

echo ">> podman import $IMAGE" >&2
tar -C "$R" --numeric-owner -c . | podman import \
    --change 'CMD=["/sbin/init"]' --change 'STOPSIGNAL=SIGRTMIN+3' \
    --change 'ENV=container=podman' - "$IMAGE" >/dev/null
podman tag "$IMAGE" dsafl-base:latest
rm -rf "$BUILD"
echo ">> image built in $(( $(date +%s) - start )) s" >&2
echo "$(( $(date +%s) - start ))" > "$LAB_STATE/build/last-build-seconds"
echo "$IMAGE"
