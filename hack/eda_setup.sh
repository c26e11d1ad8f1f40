#!/usr/bin/env bash
# The event-driven remediation test's tools (make test-eda): a Java 17+ runtime from Debian when none is there,
# and .build/eda-venv with ansible-rulebook from requirements/eda.txt + eda-constraints.txt. Re-running is cheap:
# the venv is rebuilt only when those files change. Prints JAVA_HOME on its last line.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.build/eda-venv"
STAMP="$VENV/.requirements.sha256"

java_home() {  # the first JVM of version 17 or later under /usr/lib/jvm
    local d v
    for d in /usr/lib/jvm/*/; do
        [ -x "$d/bin/java" ] || continue
        v="$("$d/bin/java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)"
        if [ -n "$v" ] && [ "$v" -ge 17 ]; then echo "${d%/}"; return 0; fi
    done
    return 1
}

if ! java_home >/dev/null; then
    echo "eda setup: apt-get install openjdk-17-jre-headless" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends openjdk-17-jre-headless >/dev/null
fi

hash_of() { cat requirements/eda.txt requirements/eda-constraints.txt | sha256sum | cut -d' ' -f1; }
if [[ ! -x "$VENV/bin/ansible-rulebook" ]] || [[ "$(cat "$STAMP" 2>/dev/null)" != "$(hash_of)" ]]; then
    echo "eda setup: creating .build/eda-venv from requirements/eda.txt" >&2
    rm -rf "$VENV"
    mkdir -p "$ROOT/.build"
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        -r requirements/eda.txt -c requirements/eda-constraints.txt
    hash_of > "$STAMP"
fi
java_home
