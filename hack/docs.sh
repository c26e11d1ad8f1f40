#!/usr/bin/env bash
# make docs: the collection's documentation site with antsibull-docs (every module, filter, action and role,
# from their DOCUMENTATION and argument specs) plus the guides in docs/*.md (through myst-parser), built
# with Sphinx offline. Output: .build/docs/build/html/index.html.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/.build/docs"
GUIDES=(causes report inventory awx development)
rm -rf "$OUT"
mkdir -p "$OUT"
antsibull-docs sphinx-init --use-current --squash-hierarchy --dest-dir "$OUT" dsa.fleet >/dev/null
cat >> "$OUT/conf.py" <<'CONF'

# dsa.fleet (hack/docs.sh): offline (no inventories to fetch), the guides are Markdown
project = 'dsa.fleet'
title = html_title = html_short_title = 'dsa.fleet documentation'
intersphinx_mapping = {}
extensions.append('myst_parser')
source_suffix = {'.rst': 'restructuredtext', '.md': 'markdown'}
myst_heading_anchors = 3
# offline, references into docs.ansible.com cannot resolve (antsibull-docs lint checks the collection's own);
# the guides' plain code blocks are not YAML
suppress_warnings = ['myst.xref_missing', 'ref.ref', 'misc.highlighting_failure']
CONF
mkdir -p "$OUT/rst"
chmod og-w "$OUT/rst"
antsibull-docs --config-file "$OUT/antsibull-docs.cfg" collection --use-current --squash-hierarchy \
    --fail-on-error --dest-dir "$OUT/rst" dsa.fleet
mkdir -p "$OUT/rst/guides"
for g in "${GUIDES[@]}"; do
    cp "$ROOT/docs/$g.md" "$OUT/rst/guides/$g.md"
done
{
    printf '\n.. toctree::\n   :maxdepth: 1\n   :caption: Guides\n\n'
    for g in "${GUIDES[@]}"; do printf '   guides/%s\n' "$g"; done
} >> "$OUT/rst/index.rst"
sphinx-build -M html "$OUT/rst" "$OUT/build" -c "$OUT" -q -W --keep-going
echo "docs: $OUT/build/html/index.html"
