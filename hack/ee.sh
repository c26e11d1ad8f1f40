#!/usr/bin/env bash
# make ee: build the dsa.fleet execution environment (ee/execution-environment.yml) with ansible-builder on
# podman, offline, from the lab's locally built Debian image (tests/lab/image/build.sh, cached).
# Cached: the image is tagged dsa-fleet-ee:<hash of its inputs> and not rebuilt while they are unchanged
# (the base image, the EE files, the pins and the collection's files as its built tarball lists them).
# podman runs with the lab's own configuration and storage (tests/lab/.state/podman; `lab down --purge`
# removes them). Run it under the lab lock: flock /work/.lab.lock make ee (the Makefile does).
# Prints the image name (localhost/dsa-fleet-ee:<hash>, also tagged :latest).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
# podman, runc, debootstrap ... (only what is missing) and the lab's podman configuration
bash tests/lab/setup.sh
source tests/lab/lib/env.sh
start=$(date +%s)

# 1. the base image (the lab's; cached by its recipe)
BASE="$(bash tests/lab/image/build.sh | tail -1)"
BASE_ID="$(podman image inspect --format '{{.Id}}' "$BASE")"

# 2. the collections, as tarballs: dsa.fleet built now, the dependencies made artifacts again from
#    .collections (the pinned ansible package's copies; hack/collection_artifact.py)
FILES="$ROOT/ee/files"
rm -rf "$FILES/collections"; mkdir -p "$FILES/collections" "$FILES/wheels"
DIST="$(mktemp -d "$ROOT/.build/ee-dist.XXXXXX" 2>/dev/null || { mkdir -p "$ROOT/.build"; mktemp -d "$ROOT/.build/ee-dist.XXXXXX"; })"
trap 'rm -rf "$DIST"' EXIT
ansible-galaxy collection build --force --output-path "$DIST" "$ROOT" >/dev/null
cp "$DIST"/dsa-fleet-*.tar.gz "$FILES/collections/dsa-fleet.tar.gz"
for c in ansible/posix community/general ansible/utils; do
    python "$ROOT/hack/collection_artifact.py" "$ROOT/.collections/ansible_collections/$c" \
        "$FILES/collections/${c/\//-}.tar.gz"
done

# 3. the wheelhouse (cached by the pins)
WSTAMP="$FILES/wheels/.pins.sha256"
WHASH="$(cat requirements/ee.txt requirements/ee-constraints.txt | sha256sum | cut -c1-16)"
if [[ "$(cat "$WSTAMP" 2>/dev/null)" != "$WHASH" ]]; then
    rm -rf "$FILES/wheels"; mkdir -p "$FILES/wheels"
    python -m pip wheel --quiet --disable-pip-version-check -w "$FILES/wheels" \
        -r requirements/ee.txt -c requirements/ee-constraints.txt > "$ROOT/.build/ee-wheels.log" 2>&1 \
        || { tail -20 "$ROOT/.build/ee-wheels.log" >&2; exit 1; }
    echo "$WHASH" > "$WSTAMP"
fi

# 4. the image, unless one for these inputs exists
HASH="$( {
    echo "$BASE_ID"
    cat ee/execution-environment.yml ee/requirements.yml requirements/collections.txt "$WSTAMP"
    tar -xzOf "$FILES/collections/dsa-fleet.tar.gz" FILES.json
} | sha256sum | cut -c1-12)"
IMAGE="localhost/dsa-fleet-ee:$HASH"
if podman image exists "$IMAGE"; then
    podman tag "$IMAGE" localhost/dsa-fleet-ee:latest
    echo ">> $IMAGE is up to date" >&2
    echo "$IMAGE"; exit 0
fi
CONTEXT="$ROOT/.build/ee-context"
rm -rf "$CONTEXT"
echo ">> ansible-builder build $IMAGE (base $BASE)" >&2
ansible-builder build --container-runtime podman -f ee/execution-environment.yml -c "$CONTEXT" \
    --build-arg EE_BASE_IMAGE="localhost/$BASE" -t "$IMAGE" -t localhost/dsa-fleet-ee:latest \
    --extra-build-cli-args='--network=none' -v 2 > "$ROOT/.build/ee-build.log" 2>&1 \
    || { tail -40 "$ROOT/.build/ee-build.log" >&2; exit 1; }
# dangling intermediate stages of earlier builds
podman image prune -f >/dev/null 2>&1 || true
echo ">> built in $(( $(date +%s) - start )) s" >&2
echo "$(( $(date +%s) - start ))" > "$ROOT/.build/ee-build-seconds"
echo "$IMAGE"
