# shellcheck shell=bash
# Sourced by every lab script: paths and the podman environment of the lab's own.
# Nothing here writes outside tests/lab/.state (podman reads its config from there).
LAB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LAB_STATE="${LAB_STATE:-$LAB_DIR/.state}"
LAB_PODMAN_DIR="$LAB_STATE/podman"
export CONTAINERS_CONF="$LAB_PODMAN_DIR/containers.conf"
export CONTAINERS_STORAGE_CONF="$LAB_PODMAN_DIR/storage.conf"
export CONTAINERS_REGISTRIES_CONF="$LAB_PODMAN_DIR/registries.conf"
export TMPDIR="${LAB_TMPDIR:-$LAB_STATE/tmp}"
mkdir -p "$TMPDIR" 2>/dev/null || true

lab_write_podman_conf() {
    mkdir -p "$LAB_PODMAN_DIR"/{graph,run,tmp,networks,volumes} "$LAB_STATE/tmp"
    cat > "$CONTAINERS_CONF.new" <<CONF
# containers.conf of the dsa.fleet lab (written by tests/lab/lib/env.sh; do not edit)
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
log_driver = "k8s-file"
# systemd hosts: podman mounts cgroups and tmpfs for us with --systemd=always
[network]
network_backend = "netavark"
network_config_dir = "$LAB_PODMAN_DIR/networks"
default_network = "dsafl-none-default"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$LAB_PODMAN_DIR/events.log"
tmp_dir = "$LAB_PODMAN_DIR/tmp"
static_dir = "$LAB_PODMAN_DIR/graph/libpod"
volume_path = "$LAB_PODMAN_DIR/volumes"
image_copy_tmp_dir = "$LAB_STATE/tmp"
CONF
    mv "$CONTAINERS_CONF.new" "$CONTAINERS_CONF"
    cat > "$CONTAINERS_STORAGE_CONF.new" <<CONF
[storage]
driver = "overlay"
graphroot = "$LAB_PODMAN_DIR/graph"
runroot = "$LAB_PODMAN_DIR/run"
CONF
    mv "$CONTAINERS_STORAGE_CONF.new" "$CONTAINERS_STORAGE_CONF"
    # no registry is reachable and none is used: images are local only
    printf 'unqualified-search-registries = []\n' > "$CONTAINERS_REGISTRIES_CONF"
}
