#!/usr/bin/env bash
# Creates everything the tests and the demo need, from pinned requirements, on a fresh machine:
#   .venv/                  Python tools (ansible-core, molecule, ansible-lint, pytest, ...)
#   .collections/           ANSIBLE_COLLECTIONS_PATH: this tree as dsa.fleet (a symlink) and the
#                           collections we use, extracted from PyPI's pinned `ansible` package
#   ~/.ansible/test/cache/  the offline get-pip stand-in ansible-test needs (no internet here)
# Re-running is cheap: each step is skipped when its inputs have not changed.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
VENV="$ROOT/.venv"
STAMP="$VENV/.requirements.sha256"

# Debian packages the tests need (shellcheck: ansible-test sanity; chromium: the report page test).
# Installed only when missing. The lab installs its own (podman, runc, debootstrap, ...).
APT_PACKAGES=(shellcheck git make chromium)
missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if (( ${#missing[@]} )); then
    echo "setup: apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

req_hash() { cat requirements/dev.txt requirements/constraints.txt | sha256sum | cut -d' ' -f1; }

if [[ ! -x "$VENV/bin/python" ]] || [[ "$(cat "$STAMP" 2>/dev/null)" != "$(req_hash)" ]]; then
    echo "setup: creating .venv from requirements/dev.txt"
    rm -rf "$VENV"
    "$PY" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        -r requirements/dev.txt -c requirements/constraints.txt
    req_hash > "$STAMP"
fi

# Collections: extract only the pinned ones from the `ansible` wheel.
COLL="$ROOT/.collections/ansible_collections"
CSTAMP="$ROOT/.collections/.collections.sha256"
if [[ "$(cat "$CSTAMP" 2>/dev/null)" != "$(sha256sum requirements/collections.txt | cut -d' ' -f1)" ]]; then
    echo "setup: extracting collections from the ansible package"
    rm -rf "$ROOT/.collections"
    mkdir -p "$COLL"
    WHEELS="$(mktemp -d)"
    trap 'rm -rf "$WHEELS"' EXIT
    ANSIBLE_PIN="$(grep -E '^ansible==' requirements/collections.txt)"
    "$VENV/bin/python" -m pip download --quiet --disable-pip-version-check --no-deps \
        -d "$WHEELS" "$ANSIBLE_PIN"
    "$VENV/bin/python" "$ROOT/hack/extract_collections.py" "$WHEELS"/ansible-*.whl \
        requirements/collections.txt "$COLL"
    sha256sum requirements/collections.txt | cut -d' ' -f1 > "$CSTAMP"
fi
mkdir -p "$COLL/dsa"
ln -sfn ../../.. "$COLL/dsa/fleet"

# ansible-test's pip bootstrap, offline.
CACHE="$HOME/.ansible/test/cache"
mkdir -p "$CACHE"
for v in $("$VENV/bin/python" - <<'PY'
import re, pathlib, ansible_test
src = pathlib.Path(ansible_test.__file__).parent / '_internal' / 'python_requirements.py'
print(' '.join(sorted(set(v.replace('.', '_') for v in re.findall(r"pip='([0-9.]+)'", src.read_text())))) or '24_2')
PY
); do
    cp hack/get_pip_offline.py "$CACHE/get_pip_$v.py"
done
echo "setup: ready (.venv, .collections)"
