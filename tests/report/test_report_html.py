# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""report.html in a real browser: headless Chromium (Debian's ``chromium`` package) opens the page
rendered from a synthetic fleet, without console errors; its script runs (it marks
``<html data-dsa-ready="true">``), filters and sorts from the URL hash; a screenshot is kept under
tests/output/report/ as a test artifact.

Which rows a user sees is asked of the browser (a copy of the page with ``PROBE`` appended reports, for
each row in document order, whether it has a box and is visible), not read from how the page hides
them (an attribute, a class, a style sheet rule): the page may change how it hides rows, not which.

Skipped when no chromium is installed (``apt-get install chromium``); CI installs it."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
if os.path.join(ROOT, '.collections') not in sys.path:
    sys.path.insert(0, os.path.join(ROOT, '.collections'))

from ansible_collections.dsa.fleet.plugins.plugin_utils._fleet_report import fleet_report, fleet_report_render
from ansible_collections.dsa.fleet.tests.unit.plugins.filter.test_fleet_report import PLANTED, TOTALS_LINE, build, \
    health_result

FLEET_SIZE = TOTALS_LINE.split()[0]   # the synthetic fleet: one host per cause and a few more

OUTPUT = os.path.join(ROOT, 'tests', 'output', 'report')
CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')
FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync',
         '--enable-logging=stderr', '--v=0', '--window-size=1280,1900', '--hide-scrollbars']
# Console output of the page (console.*, uncaught exceptions) as Chromium logs it to stderr.
CONSOLE = re.compile(r'CONSOLE[^\]]*\]\s*(.*)$|(Uncaught .*)$', re.M)

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason='chromium is not installed (apt-get install chromium)')


def chromium(url, *args):
    """Run headless Chromium on ``url`` with a fresh profile; return (stdout, console lines)."""
    profile = tempfile.mkdtemp(prefix='dsa-chromium-')
    try:
        proc = subprocess.run([CHROMIUM] + FLAGS + ['--user-data-dir=%s' % profile] + list(args) + [url],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                              timeout=120, check=False)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    console = [m.group(1) or m.group(2) for m in CONSOLE.finditer(proc.stderr)]
    return proc.stdout, console


@pytest.fixture(scope='module')
def page():
    """report.html of the synthetic fleet, written where the artifacts are kept."""
    if not os.path.isdir(OUTPUT):
        os.makedirs(OUTPUT)
    report = build()
    path = os.path.join(OUTPUT, 'report.html')
    with open(path, 'w') as handle:
        handle.write(fleet_report_render(report, 'html'))
    return {'path': path, 'url': 'file://' + path, 'probe': with_probe(path), 'report': report}


# Appended to a copy of the page: after load (the page's own script has filtered and sorted from the hash by
# then), each row of the host table as [host, data-status or data-outcome, seen]; seen = the row has a box
# (display:none rows have none) and the browser calls it visible (visibility, opacity).
PROBE = r'''<script>
window.addEventListener('load', function () {
  var out = Array.prototype.map.call(document.querySelectorAll('#hosts tbody tr'), function (row) {
    var seen = row.getClientRects().length > 0 && row.checkVisibility({visibilityProperty: true, opacityProperty: true});
    return [row.cells[0].textContent, row.getAttribute('data-status') || row.getAttribute('data-outcome'), seen];
  });
  var pre = document.createElement('pre');
  pre.id = 'dsa-rows';
  pre.hidden = true;
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>'''


def with_probe(path):
    """The file:// URL of a copy of the page at ``path`` with ``PROBE`` in it."""
    probe = path[:-len('.html')] + '.probe.html'
    with open(path) as handle:
        text = handle.read()
    assert text.count('</body>') == 1
    with open(probe, 'w') as handle:
        handle.write(text.replace('</body>', PROBE + '</body>'))
    return 'file://' + probe


def rows(dom):
    """(name, status, hidden) of the host table's rows, in DOM order, as the browser shows them: hidden is
    True for a row the user does not see. ``dom`` is what --dump-dom printed for a ``with_probe`` page."""
    match = re.search(r'<pre id="dsa-rows" hidden="">(.*?)</pre>', dom, re.S)
    assert match, 'the probe reported no rows: %s' % dom[-500:]
    return [(name, status, not seen) for name, status, seen in json.loads(html.unescape(match.group(1)))]


def test_console_detection_works():
    """The console check is not vacuous: a page with an error is caught."""
    bad = tempfile.NamedTemporaryFile('w', suffix='.html', delete=False)
    try:
        bad.write('<html><body><script>console.error("boom"); notAFunction();</script></body></html>')
        bad.close()
        dom, console = chromium('file://' + bad.name, '--dump-dom')
    finally:
        os.unlink(bad.name)
    assert '<body>' in dom
    assert any('notAFunction' in line for line in console), console
    assert any('boom' in line for line in console), console


def test_page_runs_without_console_errors(page):
    dom, console = chromium(page['probe'], '--dump-dom')
    assert console == []
    assert re.search(r'<html[^>]* data-dsa-ready="true"', dom), dom[:500]
    assert not re.search(r'<html[^>]* data-dsa-error=', dom)
    found = rows(dom)
    assert len(found) == page['report']['totals']['hosts']
    assert not any(hidden for name, status, hidden in found)
    assert '%s of %s hosts shown' % (FLEET_SIZE, FLEET_SIZE) in dom
    assert dom.count('<g class="bar"') == len(page['report']['causes'])
    for secret in PLANTED:
        assert secret not in dom


def test_filter_by_cause_from_the_hash(page):
    dom, console = chromium(page['probe'] + '#cause=manager_unreachable', '--dump-dom')
    assert console == []
    shown = sorted(name for name, status, hidden in rows(dom) if not hidden)
    assert shown == ['db-blocked-01', 'h-manager-unreachable']
    assert '2 of %s hosts shown' % FLEET_SIZE in dom
    assert re.search(r'<g class="bar" data-cause="manager_unreachable"[^>]*aria-pressed="true"', dom)


def test_filter_by_text_and_status(page):
    dom, console = chromium(page['probe'] + '#q=lost&status=unreachable', '--dump-dom')
    assert console == []
    assert [(n, s) for n, s, hidden in rows(dom) if not hidden] == [('lost-01', 'unreachable')]


def test_sort_by_header_key_from_the_hash(page):
    dom, console = chromium(page['probe'] + '#sort=name&dir=desc', '--dump-dom')
    assert console == []
    names = [name for name, status, hidden in rows(dom)]
    assert names == sorted(names, reverse=True)
    assert re.search(r'<th data-key="name"[^>]*aria-sort="descending"', dom)
    dom, console = chromium(page['probe'] + '#sort=status', '--dump-dom')
    statuses = [status for name, status, hidden in rows(dom)]
    rank = {'broken': 0, 'failed': 1, 'unreachable': 2, 'healthy': 3}
    assert [rank[s] for s in statuses] == sorted(rank[s] for s in statuses)


def test_screenshot(page):
    shot = os.path.join(OUTPUT, 'report.png')
    if os.path.exists(shot):
        os.unlink(shot)
    out, console = chromium(page['url'], '--screenshot=%s' % shot)
    assert console == []
    with open(shot, 'rb') as handle:
        head = handle.read(24)
    assert head[:8] == b'\x89PNG\r\n\x1a\n'
    width, height = int.from_bytes(head[16:20], 'big'), int.from_bytes(head[20:24], 'big')
    assert (width, height) == (1280, 1900)
    assert os.path.getsize(shot) > 20000   # a blank page compresses to a few KiB
    filtered = os.path.join(OUTPUT, 'report-filtered.png')
    chromium(page['url'] + '#status=broken&sort=name', '--screenshot=%s' % filtered)
    assert os.path.getsize(filtered) > 20000


# Types a filter that hides every row into the filter box, then clears it, and reports: right
# after the clearing, how many <tbody> the script set aside (content-visibility: hidden: far below the window once
# every row is back, so the browser must not lay them out in that frame); three frames later, how many still are
# (none may be: the browser judges them again) and how many rows the user can see; then the same through links
# (the hash with a filter, then without).
CLEAR_PROBE = r'''<script>
window.addEventListener('load', function () {
  function parked() {
    return Array.prototype.filter.call(document.querySelectorAll('#hosts tbody'), function (body) {
      return body.style.contentVisibility === 'hidden';
    }).length;
  }
  function seen() {
    return Array.prototype.filter.call(document.querySelectorAll('#hosts tbody tr'), function (row) {
      return row.getClientRects().length > 0 && row.checkVisibility();
    }).length;
  }
  function report(out) {
    var pre = document.createElement('pre');
    pre.id = 'dsa-clear';
    pre.textContent = JSON.stringify(out);
    document.body.appendChild(pre);
  }
  function type(text) {
    var box = document.getElementById('q');
    box.value = text;
    box.dispatchEvent(new Event('input'));
  }
  var out = {};
  type('no-such-host');
  out.filtered = seen();
  type('');
  out.parked = parked();
  // then, polling (at most 5 s): the page sets its groups back two frames on
  function once(cond, fn) {
    var tries = 0;
    (function poll() {
      if (cond() || tries > 50) { fn(); } else { tries += 1; setTimeout(poll, 100); }
    }());
  }
  function unparked() { return parked() === 0; }
  once(unparked, function () {
    out.parkedLater = parked();
    out.seenLater = seen();
    // a link with a filter, then back to the page without one: every row again
    window.location.hash = '#q=no-such-host';
    once(function () { return seen() === 0; }, function () {
      out.seenLinked = seen();
      window.location.hash = '';
      once(function () { return unparked() && document.getElementById('hosts').getAttribute('data-shown') !== '0'; },
           function () { out.seenUnlinked = seen(); report(out); });
    });
  });
});
</script>'''


def test_clearing_a_filter_sets_far_row_groups_aside_for_one_frame_only():
    """400 hosts (8 groups of 50 rows): after a filter that hid every row is cleared, the groups that the rows
    push far below the window are set aside for the frame of the keystroke (what keeps clearing a 10,000-host
    filter fast, bench/report), and are back two frames later, every row there to see. A hash without a filter
    shows every row again."""
    size = 400
    report = fleet_report(dict(('host-%04d' % i, health_result()) for i in range(size)))
    path = os.path.join(OUTPUT, 'report-clear.html')
    if not os.path.isdir(OUTPUT):
        os.makedirs(OUTPUT)
    with open(path, 'w') as handle:
        handle.write(fleet_report_render(report, 'html').replace('</body>', CLEAR_PROBE + '</body>'))
    dom, console = chromium('file://' + path, '--virtual-time-budget=10000', '--dump-dom')
    assert console == []
    match = re.search(r'<pre id="dsa-clear">(.*?)</pre>', dom, re.S)
    assert match, dom[-500:]
    out = json.loads(html.unescape(match.group(1)))
    assert out['filtered'] == 0, out
    assert out['parked'] >= 5, out          # the groups from the third on are far below the 1900-px window
    assert out['parkedLater'] == 0 and out['seenLater'] == size, out
    # the hash is the filter's whole state: without a filter in it, no row stays filtered out
    assert out['seenLinked'] == 0 and out['seenUnlinked'] == size, out
