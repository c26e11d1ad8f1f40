#!/usr/bin/env bash
# Set-up of the lab: Debian packages (only those missing) and the lab's own podman configuration.
# The base image and the agent package are built (cached) by `lab up` / `lab image`.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/lib/env.sh"
[ "$(id -u)" = 0 ] || { echo "lab: setup needs root" >&2; exit 1; }
need=()
for spec in podman:podman runc:runc debootstrap:debootstrap dpkg-deb:dpkg-dev nft:nftables \
            netavark:netavark conmon:conmon openssl:openssl rpmbuild:rpm ssh:openssh-client ssh-keygen:openssh-client \
            iptables:iptables; do
    cmd=${spec%%:*}; pkg=${spec#*:}
    if ! command -v "$cmd" >/dev/null 2>&1 && ! [ -x "/usr/lib/podman/$cmd" ] && ! [ -x "/usr/libexec/podman/$cmd" ]; then
        need+=("$pkg")
    fi
done
if [ ${#need[@]} -gt 0 ]; then
    echo ">> installing: ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
lab_write_podman_conf
