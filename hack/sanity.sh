#!/usr/bin/env bash
# Runs `ansible-test sanity` on a copy of the collection laid out as ansible_collections/dsa/fleet
# (ansible-test needs that path; the repository root is the collection root).
# Only files git knows about (tracked, or new and not ignored) are copied: the venv, the lab state
# and the caches stay out.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$ROOT/.build"
WORK="$(mktemp -d "$ROOT/.build/sanity.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
DEST="$WORK/ansible_collections/dsa/fleet"

mkdir -p "$DEST"
cd "$ROOT"
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
    [[ -e "$f" ]] && printf '%s\0' "$f"
done | tar --null -T - -cf - | tar -xf - -C "$DEST"
cd "$DEST"
# git init so ansible-test lists the same files it would in a checkout
git init -q . && git add -A >/dev/null
export PATH="$ROOT/.venv/bin:$PATH"
ansible-test sanity --venv --python 3.11 --color no "$@"
